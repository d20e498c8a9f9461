# SPDX-License-Identifier: GPL-2.0
# Shared settings for the harness scripts. Sourced, not run.

# The base the overlay is tested against: Debian's package at exactly this
# version is installed while the archive has it. "make rebase VERSION=..."
# moves both lines (harness/rebase.sh); base.sh says what happens once
# Debian no longer serves it.
BASE_PKG=linux-source-6.12
BASE_VERSION=6.12.118
BASE_DEBVERSION=6.12.118-1~deb12u1
BASE_TARBALL=${BASE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SRC=$BUILD/src
STOCK_SRC=$BUILD/stock-src

# Top-level folders of the checkout that mirror the kernel tree.
OVERLAY_DIRS="arch Documentation fs include kernel mm tools"

die() {
	echo "error: $*" >&2
	exit 1
}

note() {
	echo ">> $*" >&2
}

# Run apt-get as root (directly, or through passwordless sudo), quietly,
# with its output in $BUILD/apt.log. "update" runs at most once an hour.
apt_get() {
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
			die "apt-get $* needs root; run it as root"
		sudo="sudo -n"
	fi
	mkdir -p "$BUILD"
	if [ "$1" = update ]; then
		[ -n "$(find "$BUILD/apt.updated" -mmin -60 2>/dev/null)" ] && return 0
		$sudo apt-get update -qq >>"$BUILD/apt.log" 2>&1 || return 1
		touch "$BUILD/apt.updated"
		return 0
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -qq --no-install-recommends \
		"$@" >>"$BUILD/apt.log" 2>&1
}

# Install Debian packages that are missing; one clear line if that fails.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	note "installing: ${missing[*]}"
	{ apt_get update && apt_get install "${missing[@]}"; } ||
		die "apt-get could not install ${missing[*]} (see $BUILD/apt.log)"
}

# Pass TAP through unchanged and append to $1 one "SECONDS LINE" row per
# result line: the time since the previous result at the same nesting depth
# (for a runner's "ok N prog" line, the whole program). Where check time
# goes is then on record, run by run.
tap_times() {
	local awk=awk
	# mawk reads a pipe in blocks unless told not to, which would stamp
	# a whole block of results with the time of its last line.
	awk -W version 2>/dev/null | grep -q '^mawk' && awk="awk -W interactive"
	$awk -v out="$1" '
	BEGIN { for (d = 0; d < 8; d++) t[d] = systime() }
	{ print; fflush() }
	match($0, /^(# )*(not )?ok [0-9]+ /) {
		d = 0; s = $0
		while (substr(s, 1, 2) == "# ") { d++; s = substr(s, 3) }
		now = systime()
		printf "%6d %s\n", now - t[d], $0 >>out; fflush(out)
		for (i = d; i < 8; i++) t[i] = now
	}'
}

# Sum up a kselftest runner log: each test case is a nested "# ok N ..." or
# "# not ok N ..." line; a program that fails without reporting any failing
# case (a crash, a timeout) counts as one failure. Prints the totals line and
# fails when anything failed.
summarize_tap() {
	awk '
	/^# ok [0-9]+ .*# SKIP/		{ skip++; next }
	/^# ok [0-9]+ /			{ pass++; next }
	/^# not ok [0-9]+ /		{ fail++; inner++; next }
	/^ok [0-9]+ /			{ inner = 0; next }
	/^not ok [0-9]+ /		{ if (!inner) fail++; inner = 0; next }
	END {
		printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
		exit fail > 0 || pass + skip == 0
	}' "$1"
}

# The environment of every kernel build: ccache keyed on paths relative to
# the build folder (so a fresh clone hits the cache) and fixed build
# stamps (so identical sources give identical objects).
kbuild_env() {
	export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
	export CCACHE_BASEDIR=$BUILD
	export KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=cowpte KBUILD_BUILD_HOST=harness
}
