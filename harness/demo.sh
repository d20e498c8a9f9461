#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fork demo: boot the release kernel and fork a process holding
# DEMO_MIB (default 1024) MiB of touched 4 KiB anonymous memory, with stock
# fork and with COW PTE, in the same boot.
set -o pipefail
. "$(dirname "$0")/common.sh"

mib=${DEMO_MIB:-1024}
[[ "$mib" =~ ^[1-9][0-9]*$ ]] || die "DEMO_MIB must be a number of MiB, not '$mib'"
# The guest needs room for the demo's memory plus the kernel and the child.
mem_mib=$(( mib * 2 + 1024 ))
[ "$mem_mib" -lt 4096 ] && mem_mib=4096
"$TOP/harness/kernel.sh" release || exit 1
make -s -C "$TOP/benchmarks" BUILD="$BUILD" || die "building benchmarks/ failed"
cd "$TOP"
LOG=$BUILD/runs/demo VARIANT=release MEM=${mem_mib}M \
	CMD="benchmarks/forkdemo -m $mib" "$TOP/harness/run.sh" 2>&1 |
	grep -v '^\[ *[0-9.]*\]'
