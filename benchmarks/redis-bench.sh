#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Redis BGSAVE, stock fork against COW PTE fork, in one boot: an unmodified
# redis-server started by the launcher with "-m off", then with "-m exec",
# each filled with the same data (DEBUG POPULATE), then BGSAVE a few times
# while redisprobe measures the GET/SET latency a client sees.
#
# Each round lets the child save for REDIS_DURING seconds and then stops
# it the way Redis itself does (SIGUSR1, not an error): a full save of 4 GiB
# under TCG takes minutes, and what fork costs the parent shows in the fork
# itself and in the first seconds of the save, when most pages are copied.
#
# Runs in the guest (harness/bench.sh); prints result rows (benchutil.h).
# Settings: QUICK=1, RUNS (rounds per mode), REDIS_GIB (default 4, QUICK 1),
# REDIS_DURING (seconds per round, default 5, QUICK 3), REDIS_FULL_SAVE=1
# to let every save run to completion instead (about 90 s per GiB here),
# REDIS_COW_MODE: the launcher mode of the COW PTE side, exec (default) or
# snapshot (the child copies its tables before it runs; rows get the
# parameter "NGiB-snapshot").
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
PATH=$here:$here/../launcher:$PATH

quick=${QUICK:-0}
rounds=${RUNS:-7}
gib=${REDIS_GIB:-$([ "$quick" = 1 ] && echo 1 || echo 4)}
during=${REDIS_DURING:-$([ "$quick" = 1 ] && echo 3 || echo 5)}
cow_mode=${REDIS_COW_MODE:-exec}
full=${REDIS_FULL_SAVE:-0}
port=6379
val=10200		# with its header, fills jemalloc's 10 KiB size class
keys=$(( gib * 1024 * 1024 * 1024 / 10240 ))
work=$(mktemp -d /tmp/redis-bench.XXXXXX)

log() { echo "redis-bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

for p in redis-server redis-cli cowpte redisprobe benchstat; do
	command -v $p >/dev/null || die "$p not found (install redis-server/redis-tools; make -C benchmarks; make -C launcher)"
done
[[ "$gib" =~ ^[1-9][0-9]*$ ]] || die "REDIS_GIB must be a whole number of GiB"
[[ "$cow_mode" =~ ^(exec|snapshot)$ ]] || die "REDIS_COW_MODE must be exec or snapshot, not '$cow_mode'"
cowpte -q true 2>/dev/null || die "this kernel has no COW PTE: nothing to compare"

rcli() { redis-cli -p $port "$@"; }
info() { rcli info "$1" | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# One redis-server under the launcher in mode @1 (off, exec or snapshot).
run_mode() {
	local mode=$1 side dir pid t0 i line fork child shared0 shared1
	side=$([ "$mode" = off ] && echo stock || echo cow)
	dir=$work/$mode
	mkdir -p "$dir"
	cowpte -m "$mode" -- redis-server --port $port --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$dir" --dbfilename dump.rdb \
		--enable-debug-command yes --stop-writes-on-bgsave-error no \
		--logfile "$dir/redis.log" &
	pid=$!
	for i in $(seq 100); do
		rcli ping >/dev/null 2>&1 && break
		kill -0 $pid 2>/dev/null || die "redis-server ($mode) died: $(tail -3 "$dir/redis.log")"
		sleep 0.3
	done
	rcli ping >/dev/null 2>&1 || die "redis-server ($mode) does not answer"
	log "$side: populating $keys keys of $val bytes ($gib GiB)"
	t0=$(date +%s.%N)
	rcli debug populate $keys key $val >/dev/null || die "DEBUG POPULATE failed"
	log "$side: populated in $(echo "$(date +%s.%N) - $t0" | bc) s," \
		"used_memory $(info memory used_memory_human), rss $(info memory used_memory_rss_human)"
	[ "$side" = stock ] && printf 'I\tredis\tdata_gib\t-\t%s\n' \
		"$(awk -v b="$(info memory used_memory)" 'BEGIN { printf "%.2f", b / 2^30 }')"
	printf 'I\tredis\tvmas_%s\t-\t%s mappings, VmPTE %s kB, THP %s kB\n' "$side" \
		"$(wc -l <"/proc/$pid/maps")" "$(awk '/^VmPTE/ { print $2 }' "/proc/$pid/status")" \
		"$(awk '/^AnonHugePages/ { print $2 }' "/proc/$pid/smaps_rollup")"
	for i in $(seq "$rounds"); do
		shared0=$(vmstat cow_pte_shared)
		line=$(redisprobe -p $port -k $keys -v $val -w 1 -d "$during") ||
			die "redisprobe failed ($side, round $i)"
		shared1=$(vmstat cow_pte_shared)
		fork=$(info stats latest_fork_usec)
		# Stop a save still running, as Redis does: SIGUSR1 is no error.
		if [ "$full" = 1 ]; then
			echo "$side waited" >>"$work/saves"
		elif [ "$(info persistence rdb_bgsave_in_progress)" = 1 ]; then
			child=$(pgrep -P $pid)
			[ -n "$child" ] && kill -USR1 $child
			echo "$side stopped" >>"$work/saves"
		else
			echo "$side completed" >>"$work/saves"
		fi
		for t in $(seq 9000); do
			[ "$(info persistence rdb_bgsave_in_progress)" = 0 ] && break
			sleep 0.2
		done
		[ "$(info persistence rdb_bgsave_in_progress)" = 0 ] ||
			die "BGSAVE still running after 30 minutes ($side, round $i)"
		[ "$full" = 1 ] && [ "$(info persistence rdb_last_bgsave_status)" != ok ] &&
			die "BGSAVE failed ($side, round $i): see $dir/redis.log"
		log "$side round $i: latest_fork_usec=$fork $line tables_shared=$((shared1 - shared0))"
		echo "$side $fork" >>"$work/latest_fork_usec"
		echo "$side $((shared1 - shared0))" >>"$work/tables_shared"
		for kv in $line; do
			echo "$side ${kv#*=}" >>"$work/${kv%%=*}"
		done
	done
	rcli shutdown nosave >/dev/null 2>&1
	wait $pid
}

run_mode off || exit 1
run_mode "$cow_mode" || exit 1

printf 'I\tredis\tkeys\t-\t%s x %s bytes\n' "$keys" "$val"
printf 'I\tredis\tsave_window_s\t-\t%s\n' "$during"
if [ "$full" = 1 ]; then
	printf 'I\tredis\tsaves\t-\tevery save ran to completion (REDIS_FULL_SAVE=1)\n'
else
	printf 'I\tredis\tsaves_completed_in_window\t-\t%s (the others were stopped)\n' \
		"$(awk '$2 == "completed" { c[$1]++ } END { printf "stock %d, cow %d", c["stock"], c["cow"] }' "$work/saves")"
fi
printf 'I\tredis\tpte_tables_shared_per_bgsave\t-\t%s\n' \
	"$(awk '{ s[$1] = $2 } END { printf "stock %d, cow %d", s["stock"], s["cow"] }' "$work/tables_shared")"
param="${gib}GiB"
[ "$cow_mode" = exec ] || param+="-$cow_mode"
benchstat redis latest_fork_usec "$param" us lower <"$work/latest_fork_usec"
benchstat redis bgsave_rtt "$param" us lower <"$work/bgsave_rtt"
benchstat redis during_max "$param" us lower <"$work/during_max"
benchstat redis during_p99 "$param" us lower <"$work/during_p99"
benchstat redis during_p50 "$param" us lower <"$work/during_p50"
benchstat redis before_p99 "$param" us lower <"$work/before_p99"
benchstat redis during_ops "$param" ops higher <"$work/during_ops"
rm -rf "$work"
