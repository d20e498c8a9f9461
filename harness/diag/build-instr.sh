#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build build/out/instr: the release kernel with cpdbg.py's fault-loop
# detector in mm/memory.c, for diagnosis only. The source tree is patched
# for the build and restored afterwards (make export-check must stay clean).
# Boot it with: KERNEL=build/out/instr/arch/x86/boot/bzImage harness/run.sh
set -eo pipefail
. "$(dirname "$0")/../common.sh"

[ -f "$BUILD/out/release/vmlinux" ] || die "build the release kernel first (make kernel)"
rm -rf "$BUILD/out/instr"
cp -a "$BUILD/out/release" "$BUILD/out/instr"
saved=$(mktemp)
cp -p "$SRC/mm/memory.c" "$saved"
trap 'cp -p "$saved" "$SRC/mm/memory.c"; rm -f "$saved"' EXIT
python3 "$TOP/harness/diag/cpdbg.py" "$SRC/mm/memory.c"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$BUILD
export KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=cowpte KBUILD_BUILD_HOST=harness
make -s -C "$SRC" O="$BUILD/out/instr" CC="ccache gcc" -j"$(nproc)" bzImage \
	>"$BUILD/out/instr/build-instr.log" 2>&1 ||
	{ grep -E 'error' "$BUILD/out/instr/build-instr.log" >&2; die "instrumented build failed"; }
note "built $BUILD/out/instr/arch/x86/boot/bzImage"
