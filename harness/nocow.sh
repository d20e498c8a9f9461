#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# CONFIG_COW_PTE=n must compile every hook out: build each kernel C file
# the overlay changes (not the upstream selftests under tools/) from the
# release configuration with the option off, warnings counting as errors.
# Object files only: a whole third kernel would cost CI minutes for
# nothing the objects do not show.
#
# usage: nocow.sh   (after "kernel.sh release"; output in build/out/nocow)
set -eo pipefail
. "$(dirname "$0")/common.sh"

[ -f "$BUILD/out/release/.config" ] || die "build the release kernel first (make kernel)"
out=$BUILD/out/nocow
mkdir -p "$out"
cp "$BUILD/out/release/.config" "$out/.config"
sed -i 's/^CONFIG_COW_PTE=y$/# CONFIG_COW_PTE is not set/' "$out/.config"
kbuild_env
kmake() {
	make -s -C "$SRC" O="$out" CC="ccache gcc" -j"$(nproc)" "$@"
}
kmake olddefconfig >/dev/null
grep -qx '# CONFIG_COW_PTE is not set' "$out/.config" ||
	die "could not switch CONFIG_COW_PTE off"
objs=$(cd "$TOP" && git ls-files '*.c.diff' ':!tools/' | sed 's/\.c\.diff$/.o/')
[ -n "$objs" ] || die "no changed C files in the overlay"
note "building with CONFIG_COW_PTE=n: $(echo $objs)"
if ! kmake KCFLAGS=-Werror $objs >"$out/build.log" 2>&1; then
	grep -E 'error|warning' "$out/build.log" | head -30 >&2
	die "the hooks do not build with CONFIG_COW_PTE=n (see $out/build.log)"
fi
note "built $(echo "$objs" | wc -w) objects with CONFIG_COW_PTE=n"
