#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# AFL++ execs/s, stock fork against COW PTE fork, in one boot. Two targets
# built with afl-clang-fast: afl-small (a small parser) and afl-large (builds
# an in-memory index of AFL_LARGE_MIB MiB before its deferred fork server
# starts). Each run is afl-fuzz with a fixed seed for a fixed time; COW PTE
# runs give the target libcowpte.so through AFL_PRELOAD. Runs alternate
# between the modes.
#
# Runs in the guest (harness/bench.sh); prints result rows (benchutil.h).
# Settings: QUICK=1, AFL_RUNS (runs per mode and target, default RUNS or 7,
# QUICK 2), AFL_SECONDS (per run, default 20, QUICK 10), AFL_LARGE_MIB (default
# 512, QUICK 256).
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH=$here:$here/../launcher:$PATH
lib=$(cd "$here/../launcher" && pwd)/libcowpte.so

quick=${QUICK:-0}
runs=${AFL_RUNS:-$([ "$quick" = 1 ] && echo 2 || echo "${RUNS:-7}")}
secs=${AFL_SECONDS:-$([ "$quick" = 1 ] && echo 10 || echo 20)}
export AFL_LARGE_MIB=${AFL_LARGE_MIB:-$([ "$quick" = 1 ] && echo 256 || echo 512)}
work=$(mktemp -d /tmp/afl-bench.XXXXXX)

log() { echo "afl-bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v afl-fuzz >/dev/null || die "afl-fuzz not found (install afl++)"
for t in afl-small afl-large; do
	[ -x "$here/$t" ] || die "$here/$t not built (needs afl-clang-fast: install afl++, then make -C benchmarks)"
done
[ -r "$lib" ] || die "$lib not built (make -C launcher)"
cowpte -q true 2>/dev/null || die "this kernel has no COW PTE: nothing to compare"

# The guest has no CPU frequency scaling, no core dump helper, and two CPUs
# the fuzzer should not try to pin.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=300000
unset AFL_PRELOAD

mkdir -p "$work/in-small" "$work/in-large"
printf 'mode=fast;size=12' >"$work/in-small/a"
printf 'xy=hello;mode=slow' >"$work/in-small/b"
printf 'alpha beta gamma' >"$work/in-large/a"
printf '#tag one,two' >"$work/in-large/b"

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# One afl-fuzz run; prints execs_per_sec.
fuzz() {	# target mode run
	local t=$1 mode=$2 out=$work/out-$1-$2-$3 s0 s1 rate
	s0=$(vmstat cow_pte_shared)
	env ${mode:+AFL_PRELOAD=$lib} afl-fuzz -i "$work/in-${t#afl-}" -o "$out" \
		-s 1 -V "$secs" -t 5000 -- "$here/$t" >"$out.log" 2>&1 ||
		{ tail -20 "$out.log" >&2; die "afl-fuzz failed ($t, ${mode:-stock})"; }
	s1=$(vmstat cow_pte_shared)
	rate=$(awk -F' *: *' '$1 == "execs_per_sec" { print $2 }' "$out/default/fuzzer_stats")
	[ -n "$rate" ] || die "no execs_per_sec in $out/default/fuzzer_stats"
	log "$t ${mode:-stock} run $3: $rate execs/s," \
		"$(awk -F' *: *' '$1 == "execs_done" { print $2 }' "$out/default/fuzzer_stats") execs," \
		"$((s1 - s0)) PTE tables shared"
	echo "$((s1 - s0))" >>"$work/shared-$t-${mode:-stock}"
	rm -rf "$out"
	echo "$rate"
}

for t in afl-small afl-large; do
	: >"$work/$t"
	for i in $(seq "$runs"); do
		order="stock cow"
		[ $((i % 2)) = 0 ] && order="cow stock"
		for side in $order; do
			rate=$(fuzz $t "$([ $side = cow ] && echo cow)" "$i") || exit 1
			echo "$side $rate" >>"$work/$t"
		done
	done
done

printf 'I\tafl\ttargets\t-\tafl-small (a small parser), afl-large (%s MiB index built before __AFL_INIT)\n' "$AFL_LARGE_MIB"
printf 'I\tafl\trun\t-\tafl-fuzz -s 1 -V %s, %s runs per mode and target, AFL_PRELOAD=libcowpte.so for COW PTE\n' "$secs" "$runs"
for t in afl-small afl-large; do
	printf 'I\tafl\tpte_tables_shared_%s\t-\tstock %s, cow %s (over all runs)\n' "${t#afl-}" \
		"$(awk '{ s += $1 } END { print s + 0 }' "$work/shared-$t-stock")" \
		"$(awk '{ s += $1 } END { print s + 0 }' "$work/shared-$t-cow")"
done
benchstat afl execs small execs/s higher <"$work/afl-small"
benchstat afl execs large execs/s higher <"$work/afl-large"
rm -rf "$work"
