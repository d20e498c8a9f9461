#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cow_pmd_* variants of the path tests (every path over a shared PMD
# table, in 4 KiB pages and THPs, from both sides) on the debug kernel with
# page_table_check=on. make check runs them on the release kernel only: on
# the debug kernel they take some 40 min under TCG. Fails on a failing case
# or a splat; logs in build/runs/pmd-paths/.
set -o pipefail
. "$(dirname "$0")/common.sh"

"$TOP/harness/kernel.sh" debug || exit 1
make -s -C "$TOP/selftests" BUILD="$BUILD" || die "building selftests/ failed"
variants="-v cow_pmd_parent -v cow_pmd_child -v cow_pmd_thp_parent -v cow_pmd_thp_child"
cmd="rc=0"
for p in $(make -s --no-print-directory -C "$TOP/selftests" BUILD="$BUILD" list-progs); do
	case $p in
	cow_pte_paths_*) cmd+="; selftests/$p $variants || rc=1" ;;
	esac
done
note "the PMD-level path tests on the debug kernel (about 40 min)"
cd "$TOP"
LOG=$BUILD/runs/pmd-paths VARIANT=debug NUMA=1 \
	CMDLINE="page_table_check=on numa_balancing=disable" TIMEOUT=${TIMEOUT:-5400} \
	CMD="$cmd; exit \$rc" "$TOP/harness/run.sh" 2>&1 | grep -v '^\[ *[0-9.]*\]'
