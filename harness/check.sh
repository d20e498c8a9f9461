#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything CI runs: build the release and debug kernels, run our selftests
# on both, and the upstream mm kselftests against the committed expectations
# three times: release, release with cow_pte=force, debug with
# cow_pte=force. Ends with "N passed, N failed, N skipped".
#
# Results go to $BUILD/runs/check-<kernel>/ (console.log, dmesg, TAP logs).
set -o pipefail
. "$(dirname "$0")/common.sh"

# The categories that fit a 2-CPU TCG guest in a few minutes.
MM_CATEGORIES="cow gup_test ksm userfaultfd thp mkdirty soft_dirty pagemap mremap
	madv_populate mlock mmap migration"
EXPECTED=$TOP/selftests/mm-kselftests.expected
# On the debug kernel, forced on, within CI's time: every category but the
# daemon- and stress-driven ones (userfaultfd, ksm, thp), which the two
# release runs cover. NOT_ON_DEBUG names their tests for the comparison.
DEBUG_MM_CATEGORIES="cow gup_test mkdirty soft_dirty pagemap mremap madv_populate mlock
	mmap migration"
NOT_ON_DEBUG='^(uffd-|ksm_|khugepaged|transhuge-stress|split_huge_page_test)'

start=$(date +%s)
"$TOP/harness/kernel.sh" release || exit 1
"$TOP/harness/kernel.sh" debug || exit 1

passed=0 failed=0 skipped=0
tally() {	# $1: a "N passed, N failed, N skipped" line
	local p f s
	read -r p _ f _ s _ <<<"$1"
	passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1})) skipped=$((skipped + ${s:-0}))
}

boot() {	# $1: run (release, debug, or either -forced), $2: command; logs in $BUILD/runs/check-$1
	local rc
	note "booting the $1 kernel: $2"
	# The release boot with all mm categories took 28 min here (2026-11-28),
	# too close to run.sh's default of 30.
	LOG=$BUILD/runs/check-$1 VARIANT=${1%-forced} CMD="$2" \
		TIMEOUT=${TIMEOUT:-2700} "$TOP/harness/run.sh" \
		>"$BUILD/runs/check-$1.out" 2>&1
	rc=$?
	cp "$BUILD/runs/check-$1.out" "$BUILD/runs/check-$1/output.log"
	if [ $rc != 0 ]; then
		tail -30 "$BUILD/runs/check-$1.out" >&2
		echo "error: the $1 run failed with status $rc (logs: $BUILD/runs/check-$1/)" >&2
		failed=$((failed + 1))
	fi
}

mkdir -p "$BUILD/runs"
sel='SELFTESTS_LOG=/run/out/selftests.log harness/selftests.sh >/dev/null; echo $? >/run/out/selftests.rc'
# The mm kselftests, and how many tables their forks shared.
mm_run() {	# $1: categories
	echo "harness/mm-selftests.sh guest $(echo $1) >/run/out/mm.tap;" \
	     "cp /tmp/mm.log /run/out/mm.log; cp /tmp/mm.shared /run/out/shared"
}
mm=$(mm_run "$MM_CATEGORIES")
# The mm kselftests print some 12,000 memory-failure lines; on the serial
# console they cost minutes, and dmesg keeps them all anyway.
quiet="loglevel=3"
NUMA=1 CMDLINE="$quiet" boot release "$sel; $mm"
# cow_pte=force: every fork of the upstream tests shares its tables. Their
# results must be the ones of the plain run, so they meet the same file.
NUMA=1 CMDLINE="cow_pte=force $quiet" boot release-forced "$mm"
CMDLINE="page_table_check=on" NUMA=0 boot debug "$sel"
NUMA=1 CMDLINE="cow_pte=force page_table_check=on $quiet" boot debug-forced \
	"$(mm_run "$DEBUG_MM_CATEGORIES")"

for v in release debug; do
	share=$BUILD/runs/check-$v/share
	if [ -f "$share/selftests.log" ]; then
		line=$(summarize_tap "$share/selftests.log")
		echo "selftests on the $v kernel: $line"
		grep -E '^# not ok' "$share/selftests.log" | sed 's/^# /  /'
		tally "$line"
		# A runner that failed or ran nothing, with no failing case to show.
		if [ "$(cat "$share/selftests.rc" 2>/dev/null)" != 0 ] &&
		   [[ "$line" == *" 0 failed"* ]]; then
			echo "  the runner failed (see $share/selftests.log)"
			failed=$((failed + 1))
		fi
	else
		echo "selftests on the $v kernel: no results"
		failed=$((failed + 1))
	fi
done

for v in release release-forced debug-forced; do
	share=$BUILD/runs/check-$v/share
	mm=$share/mm.tap
	shared=$(cat "$share/shared" 2>/dev/null)
	echo "mm kselftests on $v (tables shared by their forks: ${shared:-?}):"
	if [ ! -s "$mm" ]; then
		echo "  no results"
		failed=$((failed + 1))
		continue
	fi
	# A forced run that shared nothing tested the stock fork only.
	if [[ $v == *-forced ]] && ! [ "${shared:-0}" -gt 0 ]; then
		echo "  cow_pte=force shared no table"
		failed=$((failed + 1))
	fi
	notrun=
	[ $v = debug-forced ] && notrun=$NOT_ON_DEBUG
	if "$TOP/harness/mm-selftests.sh" compare "$mm" "$EXPECTED" ${notrun:+"$notrun"} | sed 's/^/  /'; then
		p=$(grep -c '^PASS' "$mm.got") f=$(grep -c '^FAIL' "$mm.got")
		s=$(grep -c '^SKIP' "$mm.got") k=$(grep -c '^FLAKY' "$mm.got")
		echo "  ($p pass, $f fail as expected, $s skip as expected, $k known flaky)"
		grep -h 'not ok' "$mm" | sed 's/^/  flaky this time: /' | grep -F -f <(sed -n 's/^FLAKY //p' "$mm.got") || true
		# An expected failure or a known flake is a match: counted as passed.
		passed=$((passed + p + f + k)) skipped=$((skipped + s))
	else
		# Count each test that moved once: a changed line is one - and one +.
		minus=$(grep -c '^-[A-Z]' "$mm.diff") plus=$(grep -c '^+[A-Z]' "$mm.diff")
		n=$(( minus > plus ? minus : plus ))
		failed=$((failed + (n > 0 ? n : 1)))
		sed -n 's/^+FAIL //p' "$mm.diff" | while read -r t; do
			echo "  $t printed:"
			"$TOP/harness/mm-selftests.sh" explain "$share/mm.log" "$t"
		done
	fi
done

echo "make check took $(( ($(date +%s) - start) / 60 )) min"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
