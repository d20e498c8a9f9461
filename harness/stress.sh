#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The long randomized stress: selftests/cow_pte_stress on the debug kernel
# (KASAN, lockdep, DEBUG_VM) with page_table_check=on, for STRESS_SECONDS
# (default 1800) with STRESS_SEED (default: from the clock, printed), then
# its fault-injection half and a leak check of STRESS_CYCLES (default
# 100000) fork+exit cycles. Fails on a model mismatch, a leak or a splat.
set -o pipefail
. "$(dirname "$0")/common.sh"

secs=${STRESS_SECONDS:-1800}
seed=${STRESS_SEED:-$(date +%s)}
cycles=${STRESS_CYCLES:-100000}
for v in secs seed cycles; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done

"$TOP/harness/kernel.sh" debug || exit 1
make -s -C "$TOP/selftests" BUILD="$BUILD" || die "building selftests/ failed"
note "stress on the debug kernel: $secs s (+ $((secs / 2 + 1)) s with failures injected), seed $seed, $cycles leak cycles"
cd "$TOP"
# The run itself, the injected half, the leak cycles (slow on the debug
# kernel: about 3 ms each) and slack for booting.
LOG=$BUILD/runs/stress VARIANT=debug NUMA=0 CMDLINE="page_table_check=on" \
	TIMEOUT=$(( secs * 3 / 2 + cycles / 100 + 900 )) \
	CMD="COWPTE_STRESS_SECONDS=$secs COWPTE_STRESS_SEED=$seed COWPTE_LEAK_CYCLES=$cycles selftests/cow_pte_stress" \
	"$TOP/harness/run.sh" 2>&1 | grep -v '^\[ *[0-9.]*\]'
