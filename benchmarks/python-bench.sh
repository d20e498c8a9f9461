#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Python worker benchmark (pyworker.py) over the cases of issue 24:
# arrays of 16 MiB, 512 MiB and 2 GiB with THP as numpy sets it, and
# 512 MiB with THP off (QUICK=1: 16 and 512 MiB only). Run in the guest by
# harness/bench.sh (make bench BENCH=python), or alone:
#
#   make run ICOUNT=1 MEM=8G CMD="benchmarks/python-bench.sh"
#
# Rows (benchutil.h's format) on stdout; on stderr a table of the medians
# (guest instructions under ICOUNT=1, ns otherwise) and stock/mode ratios.
set -eo pipefail
cd "$(dirname "$0")"
runs=${RUNS:-5}
cases="16:madvise 512:madvise 2048:madvise 512:never"
[ "${QUICK:-0}" = 1 ] && cases="16:madvise 512:madvise"
thp=/sys/kernel/mm/transparent_hugepage/enabled
old=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
out=$(mktemp)
trap 'echo "$old" >$thp; rm -f "$out"' EXIT
for c in $cases; do
	./pyworker.py -m "${c%%:*}" --thp "${c#*:}" -r "$runs" | tee -a "$out"
done
{
	printf '\n%-26s %-13s %14s %14s %9s\n' test case stock mode stock/mode
	awk -F'\t' '$1 == "R" {
		printf "%-26s %-13s %14.0f %14.0f %8.2fx\n", $3, $4, $8, $13, $18
	}' "$out"
} >&2
