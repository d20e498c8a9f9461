# SPDX-License-Identifier: GPL-2.0
# Which Debian linux-source-6.12 the tree is built on. Sourced after
# common.sh, not run.
#
# Results stay reproducible: the pinned version (BASE_DEBVERSION) is what
# gets installed while Debian's archive still serves it, even over a newer
# one. Debian drops old security updates from the archive, though, and a
# fresh machine must still build: then the newest 6.12.y is taken, with one
# line saying so, and tree.sh checks that the overlay applies to it.

# The upstream version in a Debian version: 6.12.118-1~deb12u1 -> 6.12.118.
upstream_of() {
	echo "${1%%-*}"
}

base_installed() {	# the installed Debian version, or nothing
	dpkg-query -W -f='${Status} ${Version}\n' "$BASE_PKG" 2>/dev/null |
		awk '$3 == "installed" { print $4 }' || true
}

base_available() {	# the Debian versions apt can install, newest first
	apt-cache madison "$BASE_PKG" 2>/dev/null |
		awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -Vru || true
}

# Install the base package: the pinned version if the archive has it,
# else the newest. Sets BASE_USED to the upstream version now installed.
base_install() {
	local have want=$BASE_DEBVERSION newest
	have=$(base_installed)
	if [ "$have" != "$want" ]; then
		# The local lists may predate the pin: look again before giving up.
		if ! base_available | grep -qxF "$want"; then
			apt_get update || die "apt-get update failed (see $BUILD/apt.log)"
		fi
		if base_available | grep -qxF "$want"; then
			note "installing $BASE_PKG=$want (the pinned base)"
			apt_get install --allow-downgrades "$BASE_PKG=$want" ||
				die "apt-get could not install $BASE_PKG=$want (see $BUILD/apt.log)"
		else
			newest=$(base_available | head -n1)
			[ -n "$newest" ] ||
				die "apt knows no $BASE_PKG (is bookworm-security in the sources?)"
			if [ "$have" != "$newest" ]; then
				apt_get install "$BASE_PKG=$newest" ||
					die "apt-get could not install $BASE_PKG=$newest (see $BUILD/apt.log)"
			fi
			note "pinned $BASE_PKG $want is gone from the archive;" \
			     "using $newest if the overlay applies to it" \
			     "('make rebase VERSION=$(upstream_of "$newest")' moves the pin)"
		fi
		have=$(base_installed)
	fi
	[ -f "$BASE_TARBALL" ] || die "$BASE_TARBALL missing after installing $BASE_PKG"
	BASE_USED=$(upstream_of "$have")
}

# The upstream version a tree was extracted from: the working tree's base
# commit names it, the stock tree has it in a file (extract_base writes
# both).
base_of_tree() {	# $1: tree
	if [ -d "$1/.git" ]; then
		git -C "$1" log -1 --format=%s base 2>/dev/null | awk '{ print $3 }'
	else
		cat "$1/.cowpte-base" 2>/dev/null
	fi
}
