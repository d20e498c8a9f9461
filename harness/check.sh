#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything CI runs: build the release and debug kernels, run our selftests
# on both, and the upstream mm kselftests on the release kernel against the
# committed expectations. Ends with "N passed, N failed, N skipped".
#
# Results go to $BUILD/runs/check-<kernel>/ (console.log, dmesg, TAP logs).
set -o pipefail
. "$(dirname "$0")/common.sh"

# The categories that fit a 2-CPU TCG guest in a few minutes.
MM_CATEGORIES="cow gup_test ksm userfaultfd thp mkdirty soft_dirty pagemap mremap
	madv_populate mlock mmap migration"
EXPECTED=$TOP/selftests/mm-kselftests.expected

start=$(date +%s)
"$TOP/harness/kernel.sh" release || exit 1
"$TOP/harness/kernel.sh" debug || exit 1

passed=0 failed=0 skipped=0
tally() {	# $1: a "N passed, N failed, N skipped" line
	local p f s
	read -r p _ f _ s _ <<<"$1"
	passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1})) skipped=$((skipped + ${s:-0}))
}

boot() {	# $1: variant, $2: command; the logs land in $BUILD/runs/check-$1
	local rc
	note "booting the $1 kernel: $2"
	LOG=$BUILD/runs/check-$1 VARIANT=$1 CMD="$2" "$TOP/harness/run.sh" \
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
NUMA=1 boot release "$sel; harness/mm-selftests.sh guest $(echo $MM_CATEGORIES) >/run/out/mm.tap; cp /tmp/mm.log /run/out/mm.log"
CMDLINE="page_table_check=on" NUMA=0 boot debug "$sel"

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

mm=$BUILD/runs/check-release/share/mm.tap
if [ -s "$mm" ]; then
	if "$TOP/harness/mm-selftests.sh" compare "$mm" "$EXPECTED"; then
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
			"$TOP/harness/mm-selftests.sh" explain "${mm%.tap}.log" "$t"
		done
	fi
else
	echo "mm kselftests: no results"
	failed=$((failed + 1))
fi

echo "make check took $(( ($(date +%s) - start) / 60 )) min"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
