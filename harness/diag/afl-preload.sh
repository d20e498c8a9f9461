#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Why the small AFL++ target runs fewer execs per instruction with
# AFL_PRELOAD=libcowpte.so although it shares no table: runs it (ICOUNT=1)
# without a preload, with a preload that does nothing (nop-preload.c), and
# with libcowpte.so, in turns, and prints execs per second (per 10^9 guest
# instructions) of each run.
#
# usage: harness/diag/afl-preload.sh [RUNS [SECONDS]]   (defaults 3, 5)
set -o pipefail
. "$(dirname "$0")/../common.sh"

runs=${1:-3} secs=${2:-5}
[[ "$runs$secs" =~ ^[0-9]+$ ]] || die "usage: harness/diag/afl-preload.sh [RUNS [SECONDS]]"
if [ "$COWPTE_GUEST" != 1 ]; then
	need_pkgs afl++ clang llvm
	make -s -C "$TOP/launcher" && make -s -C "$TOP/benchmarks" BUILD="$BUILD" || exit 1
	mkdir -p "$BUILD/diag"
	gcc -O2 -Wall -shared -fPIC -o "$BUILD/diag/libnop-preload.so" \
		"$TOP/harness/diag/nop-preload.c" || exit 1
	cd "$TOP" || exit 1
	ICOUNT=1 LOG=$BUILD/runs/afl-preload TIMEOUT=${TIMEOUT:-3600} \
		CMD="COWPTE_GUEST=1 harness/diag/afl-preload.sh $runs $secs" \
		"$TOP/harness/run.sh" 2>&1 | grep -E '^(none|nop|cowpte) '
	exit
fi

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=300000
work=$(mktemp -d /tmp/afl-preload.XXXXXX)
mkdir -p "$work/in"
printf 'mode=fast;size=12' >"$work/in/a"
printf 'xy=hello;mode=slow' >"$work/in/b"
for i in $(seq "$runs"); do
	for side in none nop cowpte; do
		case $side in
		none)	pre= ;;
		nop)	pre=$BUILD/diag/libnop-preload.so ;;
		cowpte)	pre=$TOP/launcher/libcowpte.so ;;
		esac
		out=$work/out-$side-$i
		env ${pre:+AFL_PRELOAD=$pre} afl-fuzz -i "$work/in" -o "$out" -s 1 \
			-V "$secs" -t 5000 -- "$TOP/benchmarks/afl-small" >"$out.log" 2>&1 ||
			{ tail -5 "$out.log"; continue; }
		echo "$side $i $(awk -F' *: *' '$1 == "execs_per_sec" || $1 == "execs_done" { printf "%s=%s ", $1, $2 }' "$out/default/fuzzer_stats")"
	done
done
