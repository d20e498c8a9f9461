#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The long randomized stress: selftests/cow_pte_stress on the debug kernel
# (KASAN, lockdep, DEBUG_VM) with page_table_check=on, for STRESS_SECONDS
# (default 1800) with STRESS_SEED (default: from the clock, printed), then
# its fault-injection half and a leak check of STRESS_CYCLES fork+exit
# cycles, then all three over a GiB whose PMD table forks share. Fails on a
# model mismatch, a leak or a splat. STRESS_RELEASE=1
# runs it on the release kernel instead. A leak cycle takes about 100 ms
# on the debug kernel under TCG and 13 ms on release, so the cycles default
# to 10,000 on debug and 100,000 on release.
set -o pipefail
. "$(dirname "$0")/common.sh"

case "${STRESS_RELEASE:-0}" in
0) variant=debug cycles=${STRESS_CYCLES:-10000} ;;
1) variant=release cycles=${STRESS_CYCLES:-100000} ;;
*) die "RELEASE takes 0 or 1, not '$STRESS_RELEASE'" ;;
esac
secs=${STRESS_SECONDS:-1800}
seed=${STRESS_SEED:-$(date +%s)}
for v in secs seed cycles; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
"$TOP/harness/kernel.sh" $variant || exit 1
make -s -C "$TOP/selftests" BUILD="$BUILD" || die "building selftests/ failed"
note "stress on the $variant kernel: $secs s (+ $((secs / 2 + 1)) s with failures injected), seed $seed, $cycles leak cycles"
cd "$TOP"
# The run itself, the injected half, the leak cycles (measured on this
# 2-core host: 100 ms each on debug, 13 ms on release; twice that allowed),
# the same again over a shared PMD table (half the time, a quarter of the
# cycles) and slack for booting.
# Two NUMA nodes, for the operation that moves pages between them.
per_cycle_ms=200 cmdline=page_table_check=on
[ $variant = release ] && per_cycle_ms=30 cmdline=
LOG=$BUILD/runs/stress-$variant VARIANT=$variant NUMA=1 CMDLINE="$cmdline" \
	TIMEOUT=$(( secs * 3 + cycles * 5 / 4 * per_cycle_ms / 1000 + 900 )) \
	CMD="COWPTE_STRESS_SECONDS=$secs COWPTE_STRESS_SEED=$seed COWPTE_LEAK_CYCLES=$cycles selftests/cow_pte_stress" \
	"$TOP/harness/run.sh" 2>&1 | grep -v '^\[ *[0-9.]*\]'
