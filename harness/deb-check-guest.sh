#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The checks of "make deb-check", inside the Debian image it builds: run by
# cowpte-deb-check.service once the system is up, which powers the machine
# off afterwards. Every result is a line "cowpte-check: PASS|FAIL|INFO ..."
# on the serial console, which harness/deb-check.sh reads; the last one is
# "cowpte-check: RESULT PASS|FAIL ...". Exits non-zero when a check failed.
#
# /etc/cowpte-deb-check.conf (written by deb-check.sh) sets EXPECT_KREL and
# EXPECT_VERSION, the release and package version of the packaged kernel
# that must be running.
set -o pipefail
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck disable=SC1091 # written into the image by deb-check.sh
. /etc/cowpte-deb-check.conf

checks=0
failed=0
say() { echo "cowpte-check: $*"; }
pass() { checks=$((checks + 1)); say "PASS $*"; }
fail() { checks=$((checks + 1)); failed=$((failed + 1)); say "FAIL $*"; }
info() { say "INFO $*"; }
# expect NAME DETAIL COMMAND...: PASS or FAIL by the command's status.
expect() {
	local name=$1 detail=$2
	shift 2
	if "$@"; then pass "$name: $detail"; else fail "$name: $detail"; fi
}
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# --- The system: the packaged kernel, booted by systemd from the disk. ---
info "up $(cut -d' ' -f1 /proc/uptime) s when the check started"
krel=$(uname -r)
expect kernel "uname -r is $krel, the packaged $EXPECT_KREL" [ "$krel" = "$EXPECT_KREL" ]
# bindeb-pkg builds the package revision into the version string.
kv=$(uname -v)
expect kernel "uname -v '$kv' is the build of package version $EXPECT_VERSION" \
	[ "${kv%% *}" = "#${EXPECT_VERSION##*-}" ]
info "command line: $(cat /proc/cmdline)"
for p in "linux-image-$EXPECT_KREL" "linux-headers-$EXPECT_KREL" cowpte-tools; do
	st=$(dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$p" 2>/dev/null)
	expect package "$p ${st#ii }" [ "${st:0:3}" = "ii " ]
done
# Installed files as packaged (dpkg's md5sums), the booted vmlinuz among them.
bad=$(dpkg --verify "linux-image-$EXPECT_KREL" cowpte-tools 2>&1)
expect files "dpkg --verify linux-image-$EXPECT_KREL cowpte-tools: ${bad:-all files as packaged}" \
	[ -z "$bad" ]
expect init "PID 1 is $(cat /proc/1/comm) ($(readlink /proc/1/exe))" \
	[ "$(cat /proc/1/comm)" = systemd ]
root=$(findmnt -n -o SOURCE,FSTYPE,OPTIONS /)
expect root "/ is $root" [ "$(findmnt -n -o SOURCE,FSTYPE /)" = "/dev/vda1 ext4" ]
expect cgroup2 "/sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)" \
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]
# Services still starting are not failures; failed ones are.
bad=$(systemctl --failed --no-legend --plain | awk '{ print $1 }' | xargs)
expect units "failed systemd units: ${bad:-none}; state $(systemctl is-system-running)" [ -z "$bad" ]
nics=$(cd /sys/class/net && for n in *; do [ "$n" = lo ] || echo "$n"; done | xargs)
expect virtio-net "network interfaces: ${nics:-none}" [ -n "$nics" ]
rng=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
expect virtio-rng "hw_random: ${rng:-none}" [ "${rng#virtio}" != "$rng" ]

# --- cowpte-tools ---
expect launcher "cowpte -v -- true: $(cowpte -v -- true 2>&1)" cowpte -- true
# -m on finds /usr/lib/cowpte/libcowpte.so through the /usr/bin/cowpte link;
# the library says so on stderr when it cannot switch COW PTE on.
out=$(cowpte -m on -- /bin/true 2>&1)
rc=$?
expect preload "cowpte -m on -- /bin/true: exit $rc, stderr '$out'" [ "$rc:$out" = "0:" ]
expect manpage "/usr/share/man/man1/cowpte.1.gz" [ -s /usr/share/man/man1/cowpte.1.gz ]
expect docs "/usr/share/doc/cowpte-tools/cow_pte.rst" [ -s /usr/share/doc/cowpte-tools/cow_pte.rst ]

# --- The fork demo: 256 MiB, stock fork and COW PTE fork in one process. ---
s0=$(vmstat cow_pte_shared)
if out=$(forkdemo -m 256 -r 3 2>&1); then
	while IFS= read -r line; do info "forkdemo | $line"; done <<<"$out"
	shared=$(( $(vmstat cow_pte_shared) - s0 ))
	# 256 MiB is 128 tables, and the demo forks 4 times with COW PTE.
	expect forkdemo "cow_pte_shared +$shared over its 4 COW PTE forks of 256 MiB (>= 512)" \
		[ "$shared" -ge 512 ]
	expect forkdemo "$(grep -m1 'faster than stock' <<<"$out")" grep -q 'faster than stock' <<<"$out"
else
	fail "forkdemo: exit $?: $out"
fi

# --- Redis under the launcher: BGSAVE's fork shares the tables. ---
# One round with stock fork (cowpte -m off), one with COW PTE (the default
# mode, PR_COW_PTE_ON_EXEC), with the same data. rdb-key-save-delay slows
# the child's save so that its /proc/PID/status can be read while it runs.
# A child does not count the tables it shares (cow_pte.rst), so its VmPTE
# shows the sharing; Redis's own tables for its libraries and stack are
# copied either way, so the comparison is with the stock round's child.
stock_child_pte=
lt() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -lt "$2" ]; }
redis_round() {	# $1: launcher mode
	local mode=$1 port=6390 dir=/var/tmp/redis-$1 pid child s0 s1 cpte="" crss="" ppte prss fork st
	rcli() { redis-cli -p $port "$@" | tr -d '\r'; }
	rinfo() { rcli info "$1" | awk -F: -v k="$2" '$1 == k { print $2 }'; }
	mkdir -p "$dir"
	cowpte -m "$mode" -- redis-server --port $port --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$dir" --dbfilename dump.rdb \
		--enable-debug-command yes --logfile "$dir/redis.log" &
	pid=$!
	for _ in $(seq 100); do
		rcli ping 2>/dev/null | grep -q PONG && break
		sleep 0.3
	done
	if ! rcli ping 2>/dev/null | grep -q PONG; then
		fail "redis ($mode): redis-server does not answer: $(tail -3 "$dir/redis.log")"
		kill $pid 2>/dev/null
		return
	fi
	rcli debug populate 200000 >/dev/null
	rcli config set rdb-key-save-delay 20 >/dev/null
	ppte=$(status_kb $pid VmPTE)
	prss=$(status_kb $pid VmRSS)
	s0=$(vmstat cow_pte_shared)
	rcli bgsave >/dev/null
	for _ in $(seq 200); do
		child=$(pgrep -P $pid | head -1)
		[ -n "$child" ] && cpte=$(status_kb "$child" VmPTE) && crss=$(status_kb "$child" VmRSS)
		[ -n "$cpte" ] && break
		sleep 0.1
	done
	for _ in $(seq 600); do
		[ "$(rinfo persistence rdb_bgsave_in_progress)" = 0 ] && break
		sleep 0.5
	done
	s1=$(vmstat cow_pte_shared)
	fork=$(rinfo stats latest_fork_usec)
	st=$(rinfo persistence rdb_last_bgsave_status)
	info "redis ($mode): keys $(rcli dbsize), used_memory $(rinfo memory used_memory_human)," \
		"parent VmRSS $prss kB VmPTE $ppte kB; BGSAVE child VmRSS ${crss:-?} kB" \
		"VmPTE ${cpte:-?} kB; latest_fork_usec $fork; cow_pte_shared +$((s1 - s0))"
	expect "redis-$mode" "BGSAVE status $st, dump $(stat -c %s "$dir/dump.rdb" 2>/dev/null || echo none) bytes" \
		[ "$st" = ok ]
	if [ "$mode" = off ]; then
		expect "redis-$mode" "stock fork shared no table (cow_pte_shared +$((s1 - s0)))" \
			[ $((s1 - s0)) = 0 ]
		stock_child_pte=$cpte
	else
		expect "redis-$mode" "BGSAVE's fork shared $((s1 - s0)) PTE tables (cow_pte_shared +$((s1 - s0)))" \
			[ $((s1 - s0)) -gt 0 ]
		expect "redis-$mode" "BGSAVE child VmPTE ${cpte:-?} kB, stock fork's child ${stock_child_pte:-?} kB" \
			lt "$cpte" "$stock_child_pte"
	fi
	rcli shutdown nosave >/dev/null 2>&1
	wait $pid
}
redis_round off
redis_round exec

# Counters over the whole boot, and whatever the kernel complained about.
info "$(grep cow_pte /proc/vmstat | xargs)"
splat=$(dmesg | grep -E 'BUG:|WARNING:|Oops|Bad rss-counter|Bad page map|Bad page state|non-zero pgtables_bytes|Kernel panic' | head -5)
expect dmesg "no kernel warnings${splat:+: $splat}" [ -z "$splat" ]

if [ $failed = 0 ]; then
	say "RESULT PASS ($checks checks)"
else
	say "RESULT FAIL ($failed of $checks checks failed)"
fi
[ $failed = 0 ]
