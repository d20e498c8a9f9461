#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian packages for installing COW PTE on a real (virtual) machine, in
# $BUILD/deb/:
#   linux-image-<release>, linux-headers-<release>: the kernel, built from
#     $BUILD/src with the kernel's own bindeb-pkg into its own output folder
#     (the source tree stays clean);
#   cowpte-tools: the launcher, its preload library, its man page and the
#     COW PTE documentation.
#
# usage: deb.sh, with DEB_CONFIG choosing the kernel configuration:
#   vm (default)   tinyconfig + cowpte.config + cowpte-vm.config, in
#                  $BUILD/out/deb: what a systemd Debian VM on KVM/QEMU boots
#                  from is built in, so it needs no initramfs
#   debian-cloud   Debian's cloud-amd64 configuration (package
#                  linux-config-6.12) with COW PTE, in $BUILD/out/deb-cloud:
#                  drivers are modules, so it boots with an initramfs, as
#                  Debian's own kernel does; a long build
set -eo pipefail
. "$(dirname "$0")/common.sh"

flavor=${DEB_CONFIG:-vm}
case "$flavor" in
vm)           out=$BUILD/out/deb ;;
debian-cloud) out=$BUILD/out/deb-cloud ;;
*)            echo "usage: make deb [DEB_CONFIG=vm|debian-cloud] (not '$flavor')" >&2; exit 2 ;;
esac
debs=$BUILD/deb
start=$SECONDS

need_pkgs gcc make flex bison bc libelf-dev libssl-dev ccache cpio kmod xz-utils \
	dpkg-dev debhelper rsync
mkdir -p "$out" "$debs"
"$TOP/harness/tree.sh" --keep-edits

# Package versions say which commit of this repository they come from, and
# "+dirty" when the kernel tree or the packaged files differ from it. (At
# most two dots in the Debian revision, or lintian calls it malformed.)
commit=$(git -C "$TOP" rev-parse --short=7 HEAD)
cdate=$(git -C "$TOP" log -1 --format=%cd --date=format:%Y%m%d)
dirty=
# shellcheck disable=SC2086 # OVERLAY_DIRS is a list of folders
if [ -n "$(git -C "$TOP" status --porcelain -- $OVERLAY_DIRS launcher)" ] ||
   ! "$TOP/harness/export.sh" check >/dev/null 2>&1; then
	dirty=+dirty
fi
kver=$(make -s -C "$SRC" kernelversion)
pkgver=$kver-1+cowpte.$cdate+g$commit$dirty

kbuild_env
# The packages' maintainer (mkdebian reads these): as given, or this
# repository's git identity.
DEBFULLNAME=${DEBFULLNAME:-$(git -C "$TOP" config user.name || echo "COW PTE harness")}
DEBEMAIL=${DEBEMAIL:-$(git -C "$TOP" config user.email || echo cowpte@example.org)}
export DEBFULLNAME DEBEMAIL
# nice: this build must not slow down the kernel builds of the test harness.
# LOCALVERSION= (empty, but set) keeps setlocalversion from adding "+" for
# the git tree, so the release is exactly 6.12.N + CONFIG_LOCALVERSION.
kmake() {
	nice -n 10 make -s -C "$SRC" O="$out" CC="ccache gcc" LOCALVERSION= \
		-j"$(nproc)" "$@"
}

# Every option a fragment asks for ("=y", "=value" or "is not set") must be
# in the final configuration; a later fragment overrides an earlier one.
check_config() {
	local missing=0 opt val
	while IFS='=' read -r opt val; do
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$out/.config" || continue
			echo "error: '# $opt is not set' from the config fragments did not take" >&2
		else
			grep -qxF "$opt=$val" "$out/.config" && continue
			echo "error: '$opt=$val' from the config fragments did not take (dependency missing?)" >&2
		fi
		missing=1
	done < <(sed -nE -e 's/^(CONFIG_[A-Za-z0-9_]+)=(.*)$/\1=\2/p' \
			-e 's/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1=n/p' "$@" |
		 tac | awk -F= '!seen[$1]++' | tac)
	[ $missing = 0 ] || { rm -f "$out/.config"; die "kernel configuration for 'make deb' ($flavor) is incomplete"; }
}

if [ "$flavor" = vm ]; then
	frags=("$TOP/kernel/configs/cowpte.config" "$TOP/kernel/configs/cowpte-vm.config")
	base=tinyconfig
else
	need_pkgs linux-config-6.12
	debconf=/usr/src/linux-config-6.12/config.amd64_none_cloud-amd64.xz
	[ -f "$debconf" ] || die "$debconf missing after installing linux-config-6.12"
	# COW PTE on, and a release name of its own. COW PTE excludes Xen PV
	# guests (Xen's PVH and HVM guests stay). Debian's trusted keys and
	# module signing key exist only on its build service: no extra trusted
	# keys, and modules signed with a key the build makes itself (the
	# lockdown LSM forces module signing on). No debug information, whose
	# BTF needs pahole and whose package would be huge.
	need_pkgs openssl
	cat >"$out/cowpte-cloud.config" <<-'EOF'
	CONFIG_COW_PTE=y
	# CONFIG_XEN_PV is not set
	CONFIG_LOCALVERSION="-cowpte-cloud-amd64"
	CONFIG_SYSTEM_TRUSTED_KEYS=""
	# CONFIG_SYSTEM_REVOCATION_LIST is not set
	CONFIG_MODULE_SIG_KEY="certs/signing_key.pem"
	CONFIG_DEBUG_INFO_NONE=y
	# CONFIG_DEBUG_INFO_BTF is not set
	EOF
	frags=("$out/cowpte-cloud.config")
	base=$debconf
fi

# Reconfigure only when a fragment or the base configuration changed.
sum=$( { echo "$base"; cat "${frags[@]}"; if [ -f "$base" ]; then xz -dc "$base"; fi; } |
	sha256sum | cut -d' ' -f1)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.fragments.sha" 2>/dev/null)" != "$sum" ]; then
	note "configuring the $flavor package kernel: ${base##*/} + ${frags[*]##*/}"
	if [ "$flavor" = vm ]; then
		kmake tinyconfig >/dev/null
	else
		xz -dc "$base" >"$out/.config"
	fi
	KCONFIG_CONFIG="$out/.config" "$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1 ||
		die "merge_config failed (see $out/merge.log)"
	kmake olddefconfig >/dev/null
	check_config "${frags[@]}"
	echo "$sum" >"$out/.fragments.sha"
fi

# bindeb-pkg leaves its packages, .buildinfo and .changes next to the output
# folder, under the source package name given here; they are moved below.
src_name=linux-cowpte
note "building the $flavor kernel packages ($pkgver) in $out (log: $out/build.log)"
t0=$SECONDS
if ! kmake bindeb-pkg KDEB_PKGVERSION="$pkgver" KDEB_SOURCENAME="$src_name" \
		KDEB_CHANGELOG_DIST=bookworm >"$out/build.log" 2>&1; then
	grep -E 'error|Error' "$out/build.log" | head -30 >&2
	die "kernel package build failed ($flavor; see $out/build.log)"
fi
krel=$(cat "$out/include/config/kernel.release")
# bindeb-pkg runs olddefconfig again: the Kconfig may have moved on since the
# configuration above (a new dependency of COW_PTE, say).
check_config "${frags[@]}"
kmin=$(( (SECONDS - t0 + 30) / 60 ))

# Keep the kernel and its headers; linux-libc-dev (the uapi headers, which
# would replace Debian's own) and the bookkeeping files stay in the output
# folder.
mkdir -p "$out/packages"
rm -f "$debs/"linux-{image,headers}-"$krel"{,-dbg}_*.deb
for f in "$BUILD/out/"linux-{image,headers}-"$krel"{,-dbg}_"$pkgver"_*.deb; do
	[ -f "$f" ] && mv "$f" "$debs/"
done
mv -f "$BUILD/out/linux-libc-dev_$pkgver"_*.deb "$BUILD/out/${src_name}_$pkgver"_* \
	"$out/packages/" 2>/dev/null || true
image=$(ls "$debs/linux-image-${krel}_${pkgver}_"*.deb 2>/dev/null) ||
	die "bindeb-pkg made no linux-image-$krel package (see $out/build.log)"
# (grep reads all of the listing: with -q, dpkg-deb would die of SIGPIPE.)
dpkg-deb -c "$image" | grep "\./boot/vmlinuz-$krel\$" >/dev/null ||
	die "$image holds no /boot/vmlinuz-$krel"

# cowpte-tools: staged by hand and built with dpkg-deb. The launcher finds
# libcowpte.so next to its own executable (symbolic links resolved), so
# both live in /usr/lib/cowpte and /usr/bin/cowpte is a link to it.
tools_deb() {
	local stage=$BUILD/out/cowpte-tools obj ver doc deps f
	ver=0.1+$cdate+g$commit$dirty
	rm -rf "$stage"
	obj=$stage/obj
	stage=$stage/root
	doc=$stage/usr/share/doc/cowpte-tools
	mkdir -p "$obj" "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/cowpte" \
		"$stage/usr/share/man/man1" "$doc"
	# The launcher's own Makefile, building in $obj from the sources in
	# launcher/ (vpath for the sources only: launcher/ may hold a build of
	# its own). Debian's hardening flags come through the environment, so
	# that the Makefile still adds its warnings.
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
		make -s -C "$obj" -f "$TOP/launcher/Makefile" \
			--eval "vpath %.c $TOP/launcher" --eval "vpath %.h $TOP/launcher" ||
		die "building launcher/ for cowpte-tools failed"
	install -m 755 "$obj/cowpte" "$stage/usr/lib/cowpte/cowpte"
	install -m 644 "$obj/libcowpte.so" "$stage/usr/lib/cowpte/libcowpte.so"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		"$stage/usr/lib/cowpte/cowpte" "$stage/usr/lib/cowpte/libcowpte.so"
	ln -s ../lib/cowpte/cowpte "$stage/usr/bin/cowpte"
	gzip -9n <"$TOP/launcher/cowpte.1" >"$stage/usr/share/man/man1/cowpte.1.gz"
	install -m 644 "$TOP/Documentation/admin-guide/mm/cow_pte.rst" "$doc/cow_pte.rst"
	cat >"$doc/copyright" <<-EOF
	Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
	Upstream-Name: cowpte-tools
	Comment: The COW PTE launcher, preload library and documentation,
	 from the COW PTE kernel overlay (launcher/, Documentation/).

	Files: *
	Copyright: ${cdate:0:4} The COW PTE authors
	License: GPL-2
	 On Debian systems, the full text of the GNU General Public License
	 version 2 can be found in the file /usr/share/common-licenses/GPL-2.
	EOF
	{
		echo "cowpte-tools ($ver) bookworm; urgency=low"
		echo
		echo "  * Built from commit $commit$dirty."
		echo
		echo " -- $DEBFULLNAME <$DEBEMAIL>  $(date -R -d "@$(git -C "$TOP" log -1 --format=%ct)")"
	} | gzip -9n >"$doc/changelog.gz"

	# dpkg-shlibdeps wants a source package around the files it looks at.
	mkdir -p "$obj/debian"
	printf 'Source: cowpte-tools\n\nPackage: cowpte-tools\nArchitecture: any\n' \
		>"$obj/debian/control"
	deps=$(cd "$obj" && dpkg-shlibdeps -O "$stage/usr/lib/cowpte/cowpte" \
		"$stage/usr/lib/cowpte/libcowpte.so" | sed -n 's/^shlibs:Depends=//p')
	[ -n "$deps" ] || die "dpkg-shlibdeps found no dependencies for cowpte-tools"
	cat >"$stage/DEBIAN/control" <<-EOF
	Package: cowpte-tools
	Version: $ver
	Architecture: $(dpkg --print-architecture)
	Maintainer: $DEBFULLNAME <$DEBEMAIL>
	Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
	Depends: $deps
	Section: utils
	Priority: optional
	Description: run programs with copy-on-write page tables for fork()
	 cowpte starts an unmodified program with COW PTE switched on, so that
	 its forks share the PTE tables of its private anonymous memory with the
	 child instead of copying them: a fork of a process with gigabytes of
	 memory (Redis BGSAVE, a fork server) then costs about as much as that
	 of a small one. libcowpte.so switches it on from LD_PRELOAD where no
	 launcher fits (AFL_PRELOAD for AFL++ targets).
	 .
	 Needs a kernel built with CONFIG_COW_PTE, such as the linux-image
	 packages built along with this one.
	EOF
	(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) \
		>"$stage/DEBIAN/md5sums"
	rm -f "$debs/"cowpte-tools_*.deb
	f=$debs/cowpte-tools_${ver}_$(dpkg --print-architecture).deb
	dpkg-deb --root-owner-group -Zxz --build "$stage" "$f" >/dev/null ||
		die "dpkg-deb could not build cowpte-tools"
	if command -v lintian >/dev/null; then
		lintian --allow-root --tag-display-limit 0 "$f" >"$stage/../lintian.log" 2>&1 || true
		if [ -s "$stage/../lintian.log" ]; then
			note "lintian on cowpte-tools ($BUILD/out/cowpte-tools/lintian.log):"
			sed 's/^/   /' "$stage/../lintian.log" >&2
		fi
	fi
}
tools_deb

note "$flavor packages in $debs ($(( (SECONDS - start + 30) / 60 )) min, kernel build $kmin min):"
for f in "$debs/"linux-{image,headers}-"$krel"_*.deb "$debs/"cowpte-tools_*.deb; do
	[ -f "$f" ] && printf '   %-60s %6s kB\n' "${f##*/}" "$(( $(stat -c %s "$f") / 1024 ))" >&2
done
true
