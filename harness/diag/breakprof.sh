#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Where a break's instructions go: boots the release kernel (KERNEL=...
# for another) with ICOUNT=1 and runs breakloop, the parent's first write
# to each shared table after fork, with 1, 64, 256 and 512 pages present
# per table, COW PTE and stock; a straight line through the counts splits
# a break into a cost per table and a cost per entry copied. Then perf's
# cpu-clock (a sample every PERIOD guest ns, i.e. instructions, at best)
# profiles it by symbol, the faulting program only. Results in
# build/diag/breakprof/.
#
# usage: harness/diag/breakprof.sh [MIB [ROUNDS [PERIOD]]]
#        (defaults 256, 20, 5000)
set -o pipefail
. "$(dirname "$0")/../common.sh"

mib=${1:-256} rounds=${2:-20} period=${3:-5000}
for v in "$mib" "$rounds" "$period"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] ||
		die "usage: harness/diag/breakprof.sh [MIB [ROUNDS [PERIOD]]]"
done

if [ "$COWPTE_GUEST" != 1 ]; then
	command -v perf >/dev/null || need_pkgs linux-perf
	make -s -C "$TOP/harness/diag" || exit 1
	out=$BUILD/diag/breakprof
	mkdir -p "$out"
	cd "$TOP" || exit 1
	rm -f "$out"/*
	ICOUNT=1 LOG=$BUILD/runs/breakprof \
		CMD="COWPTE_GUEST=1 harness/diag/breakprof.sh $mib $rounds $period" \
		"$TOP/harness/run.sh" || exit 1
	cp "$BUILD"/runs/breakprof/share/* "$out"/
	note "profiles in $out"
	exit 0
fi

# In the guest.
loop=$BUILD/diag/breakloop
for p in 1 64 256 512; do
	"$loop" -p $p "$mib" "$rounds" || exit 1
	"$loop" -s -p $p "$mib" "$rounds" || exit 1
done | tee /run/out/breakloop.tsv
# Least squares per mode: cost = per_table + present * per_entry.
awk -F'\t' '{ n[$1]++; x[$1] += $2; y[$1] += $3; xx[$1] += $2 * $2; xy[$1] += $2 * $3 }
END {
	for (m in n) {
		b = (n[m] * xy[m] - x[m] * y[m]) / (n[m] * xx[m] - x[m] * x[m])
		a = (y[m] - b * x[m]) / n[m]
		printf "%s: %.0f per table + %.1f per present entry\n", m, a, b
	}
}' /run/out/breakloop.tsv | sort | tee /run/out/breakloop-fit.txt

perf=$(command -v perf_6.1 || command -v perf) || die "no perf"
for mode in cow_pte stock; do
	arg=
	[ $mode = stock ] && arg=-s
	"$perf" record -q -a -e cpu-clock -c "$period" -o /tmp/perf.$mode \
		-- "$loop" $arg "$mib" $((rounds * 10)) >/dev/null || exit 1
	"$perf" report -i /tmp/perf.$mode --stdio --no-children --comm breakloop \
		--sort sym --percent-limit 0.3 >/run/out/profile-$mode.txt 2>/dev/null
	echo "== $mode"
	grep -v '^#' /run/out/profile-$mode.txt | grep . | head -30
done
