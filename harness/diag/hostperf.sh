#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side look at QEMU while a guest's hmm-tests case is slow.
#
# usage: hostperf.sh RUNDIR   (RUNDIR: the LOG of a harness/run.sh guest)
#
# The guest's mm-selftests.sh leaves empty files in RUNDIR/share: hmm-start
# when hmm-tests begins (a normal-speed baseline) and hmm-slow.PID.N when
# its watchdog finds a case running too long. For each, sample QEMU into
# RUNDIR/hostperf/: first 1 s of its memory_notdirty_write_access trace
# (guest stores to pages holding translated code; guests booted with
# DIAG=1 only), then for SECS seconds (default 4) every QEMU thread's CPU
# share (pidstat) and a perf profile by thread, object and symbol.
# Which vCPU runs the case is in the guest log's watchdog line ("on CPU n";
# QEMU names its threads "CPU n/TCG"). Needs root (perf on another process).
set -u
. "$(dirname "$0")/../common.sh"
[ $# = 1 ] || { echo "usage: $0 RUNDIR" >&2; exit 2; }
need_pkgs linux-perf sysstat
run=${1%/}
secs=${SECS:-4}
out=$run/hostperf

# A command to QEMU's human monitor (run.sh gives it RUNDIR/monitor.sock).
monitor() {
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode()); time.sleep(0.2); s.close()' \
		"$run/monitor.sock" "$1" 2>/dev/null
}

# One second of QEMU's memory_notdirty_write_access trace: guest stores to
# pages that hold translated code, each of which invalidates code. By
# guest-physical page (ram_addr) and by the writer's virtual page.
smc() {	# $1: file to write
	local from
	from=$(wc -l <"$run/trace.log")
	monitor "trace-event memory_notdirty_write_access on"
	sleep 1
	monitor "trace-event memory_notdirty_write_access off"
	tail -n +$((from + 1)) "$run/trace.log" | grep memory_notdirty_write_access >"$1.smc"
	echo "== stores to code pages in 1 s: $(wc -l <"$1.smc")"
	echo "-- by physical page (count, ram_addr page):"
	grep -oE 'ram_addr 0x[0-9a-f]+' "$1.smc" | sed -E 's/ram_addr 0x([0-9a-f]*)[0-9a-f]{3}$/0x\1000/' |
		sort | uniq -c | sort -rn | head -10
	echo "-- by virtual page of the store (count, page):"
	grep -oE 'access 0x[0-9a-f]+' "$1.smc" | sed -E 's/access 0x([0-9a-f]*)[0-9a-f]{3}$/0x\1000/' |
		sort | uniq -c | sort -rn | head -10
}

sample() {	# $1: qemu pid, $2: name of the sample
	local f=$out/$2
	[ -S "$run/monitor.sock" ] && smc "$f" >"$f.smctxt"
	LC_ALL=C pidstat -t -p "$1" "$secs" 1 >"$f.pidstat" 2>&1 &
	perf record -q -F 499 -p "$1" -o "$f.data" -- sleep "$secs" >/dev/null 2>&1
	wait $!
	{
		echo "== $2 at $(date +%T): QEMU threads, % of a host CPU over ${secs}s (pidstat -t)"
		# "Average: UID TGID TID %usr %system %guest %wait %CPU CPU Command"
		awk '$1 == "Average:" && $4 ~ /^[0-9]+$/ && ($9 > 0 || /CPU [0-9]/) {
			c = $0; sub(/.*\|__/, "", c); printf "%6.1f%% %s\n", $9, c }' \
			"$f.pidstat" | sort -rn
		# Guest code runs as "[JIT]": its share against QEMU's helpers
		# and the host kernel is the first thing to compare.
		echo "== perf, by thread and object"
		perf report -i "$f.data" --stdio --no-children --sort comm,dso 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -20
		echo "== perf, by thread, object, symbol"
		perf report -i "$f.data" --stdio --no-children --sort comm,dso,sym 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -50
		echo "== host load: $(cut -d' ' -f1-3 /proc/loadavg)"
		cat "$f.smctxt" 2>/dev/null
	} >"$f.txt"
	rm -f "$f.smctxt" "$f.pidstat"
	echo "hostperf: $f.txt"
}

# run.sh empties RUNDIR when it starts: wait for its QEMU before writing.
pid=
for _ in $(seq 600); do
	pid=$(pgrep -f "^qemu-system-x86_64 .*/${run##*/}/share,mount_tag" | head -1)
	[ -n "$pid" ] && break
	sleep 1
done
[ -n "$pid" ] || { echo "hostperf: no QEMU for $run" >&2; exit 1; }
mkdir -p "$out"
declare -A seen
while kill -0 "$pid" 2>/dev/null; do
	for m in "$run"/share/hmm-start "$run"/share/hmm-slow.*; do
		[ -e "$m" ] && [ -z "${seen[$m]:-}" ] || continue
		seen[$m]=1
		sample "$pid" "${m##*/}"
	done
	sleep 0.5
done
