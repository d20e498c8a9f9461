#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a diagnostic kernel: the release build copied to build/out/NAME,
# rebuilt from the source tree patched by a script for this build only.
# The tree's files are put back afterwards, whatever happens, so that
# make export-check stays clean and the release build is untouched.
#
# usage: harness/diag/patched-build.sh NAME "FILES" PATCHER [ARGS...]
#        FILES: the source files PATCHER changes, relative to the tree;
#        PATCHER is run as "PATCHER ARGS..." with SRC set to the tree.
set -eo pipefail
. "$(dirname "$0")/../common.sh"

[ $# -ge 3 ] || die "usage: $0 NAME \"FILES\" PATCHER [ARGS...]"
name=$1 files=$2
shift 2
[[ $name =~ ^[a-z0-9_-]+$ ]] && [ "$name" != release ] && [ "$name" != debug ] ||
	die "bad build name '$name'"
[ -n "$files" ] || die "no files to patch"
[ -f "$BUILD/out/release/vmlinux" ] || die "build the release kernel first (make kernel)"
out=$BUILD/out/$name

saved=$(mktemp -d)
restore() {
	local f

	for f in $files; do
		[ ! -f "$saved/$f" ] || cp -p "$saved/$f" "$SRC/$f"
	done
	rm -rf "$saved"
}
trap restore EXIT
for f in $files; do
	[ -f "$SRC/$f" ] || die "no $SRC/$f"
	mkdir -p "$saved/$(dirname "$f")"
	cp -p "$SRC/$f" "$saved/$f"
done
rm -rf "$out"
cp -a "$BUILD/out/release" "$out"
SRC=$SRC "$@"
kbuild_env
note "building $out"
make -s -C "$SRC" O="$out" CC="ccache gcc" -j"$(nproc)" bzImage >"$out/build-$name.log" 2>&1 ||
	{ grep -E 'error' "$out/build-$name.log" >&2; die "$name build failed (see $out/build-$name.log)"; }
note "built $out/arch/x86/boot/bzImage"
