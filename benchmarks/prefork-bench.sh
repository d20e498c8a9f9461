#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A pre-forking server (benchmarks/prefork), stock fork against COW PTE
# fork, in one boot: two copies of the server warm up the same heap, one
# started by the launcher with "-m off", one with "-m exec"; the client then
# sends batches of requests to each in turn (which goes first alternates),
# and each batch gives a p50, p99 and request rate.
#
# Runs in the guest (harness/bench.sh); prints result rows (benchutil.h).
# Settings: QUICK=1, RUNS (batches per server), PREFORK_MIB (heap, default
# 1024, QUICK 256), PREFORK_REQS (requests per batch, default 40, QUICK 20),
# PREFORK_WRITES / PREFORK_READS (pages each request writes / reads: 16 / 64).
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH=$here:$here/../launcher:$PATH

quick=${QUICK:-0}
rounds=${RUNS:-7}
mib=${PREFORK_MIB:-$([ "$quick" = 1 ] && echo 256 || echo 1024)}
reqs=${PREFORK_REQS:-$([ "$quick" = 1 ] && echo 20 || echo 40)}
writes=${PREFORK_WRITES:-16}
reads=${PREFORK_READS:-64}
work=$(mktemp -d /tmp/prefork-bench.XXXXXX)
pids=()

log() { echo "prefork-bench: $*" >&2; }
die() { log "error: $*"; kill "${pids[@]}" 2>/dev/null; exit 1; }

for p in prefork cowpte benchstat; do
	command -v $p >/dev/null || die "$p not found (make -C benchmarks; make -C launcher)"
done
cowpte -q true 2>/dev/null || die "this kernel has no COW PTE: nothing to compare"

# Start both servers and wait until both have warmed up.
for mode in off exec; do
	cowpte -m $mode -- prefork server -s "$work/$mode.sock" -m "$mib" \
		-r "$reads" -w "$writes" >"$work/$mode.out" 2>"$work/$mode.err" &
	pids+=($!)
done
log "warming up two servers with $mib MiB each"
for i in $(seq 600); do
	grep -q ready "$work/off.out" && grep -q ready "$work/exec.out" && break
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null || die "a server died: $(cat "$work"/*.err)"
	done
	sleep 0.5
done
grep -q ready "$work/exec.out" && grep -q ready "$work/off.out" || die "servers not ready"

# A warm-up batch each, not counted.
for mode in off exec; do
	prefork client -s "$work/$mode.sock" -n 3 -q >/dev/null || die "client failed"
done
for i in $(seq "$rounds"); do
	order="off exec"
	[ $((i % 2)) = 0 ] && order="exec off"
	for mode in $order; do
		side=$([ $mode = off ] && echo stock || echo cow)
		line=$(prefork client -s "$work/$mode.sock" -n "$reqs" -q) ||
			die "client failed ($side, batch $i)"
		log "$side batch $i: $line"
		for kv in $line; do
			echo "$side ${kv#*=}" >>"$work/${kv%%=*}"
		done
	done
done
kill "${pids[@]}"
wait

printf 'I\tprefork\theap\t-\t%s MiB, each request reads %s and writes %s random pages\n' \
	"$mib" "$reads" "$writes"
printf 'I\tprefork\trequests\t-\t%s per batch, one at a time, fresh connection each\n' "$reqs"
param="${mib}MiB"
# Pair run i of each side: the files hold stock and cow lines interleaved.
benchstat prefork p50 "$param" us lower <"$work/p50"
benchstat prefork p99 "$param" us lower <"$work/p99"
benchstat prefork max "$param" us lower <"$work/max"
benchstat prefork rps "$param" req/s higher <"$work/rps"
rm -rf "$work"
