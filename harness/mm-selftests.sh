#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The upstream mm kselftests of the base tree.
#
# usage: mm-selftests.sh build
#        mm-selftests.sh guest CATEGORIES...   (inside the guest: run them,
#                                                print one "RESULT name" line each;
#                                                seconds per test in /tmp/mm.times)
#        mm-selftests.sh compare RESULTS EXPECTED [SKIPPED]  (on the host;
#                                                SKIPPED: a regex of the
#                                                tests not run this time)
#        mm-selftests.sh explain LOG NAME  (what a failing test printed)
set -eo pipefail
. "$(dirname "$0")/common.sh"

MMDIR=$BUILD/mm-selftests

case "$1" in
build)
	# sudo: run_vmtests.sh runs on-fault-limit as user nobody.
	need_pkgs liburing-dev libnuma-dev libcap-dev rsync sudo
	"$TOP/harness/headers.sh"
	hdr=$BUILD/out/headers
	note "building mm kselftests into $MMDIR"
	make -s -C "$SRC/tools/testing/selftests" TARGETS=mm \
		KHDR_INCLUDES="-isystem $hdr/usr/include" \
		O="$BUILD/out/mm-objs" INSTALL_PATH="$MMDIR" install >"$BUILD/mm-build.log" 2>&1 ||
		{ tail -20 "$BUILD/mm-build.log" >&2; die "mm kselftests failed to build (see $BUILD/mm-build.log)"; }
	;;
guest)
	shift
	# run_vmtests.sh writes next to its binaries; the 9p root is read-only.
	rm -rf /tmp/mm && cp -a "$MMDIR/mm" /tmp/mm
	cd /tmp/mm
	# How many tables the tests' forks shared (cow_pte=force), in /tmp/mm.shared.
	shared() { awk '$1 == "cow_pte_shared" { print $2 }' /proc/vmstat; }
	before=$(shared)
	rm -f /tmp/mm.times
	# run_vmtests.sh's hmm category wants test_hmm as a module (it skips
	# unless modinfo finds one); ours is built in, so "hmm" runs
	# hmm-tests here, framed and reported as run_vmtests.sh would.
	cats=" $* " hmm=
	if [[ $cats == *" hmm "* ]]; then
		hmm=1 cats=${cats// hmm / }
	fi
	# One result line per case ("hmm-tests hmm.FIXTURE.CASE"): the
	# expectations can then accept one flaky case without accepting any
	# failure of the other 57. A case that never reported is missing.
	# Most cases take 1-3 s; the kselftest harness gives each 30 s. A
	# case still running after 8 s, and again after 18 s (the dump
	# itself takes seconds on a loaded host), leaves its tasks' kernel
	# stacks and every CPU's backtrace in the log, where "explain"
	# shows them.
	# A task's kernel stack on one line, without the addresses.
	kstack() {
		sed 's/^\[<[0-9a-f]*>\] //' "$1/stack" 2>/dev/null | tr '\n' ' ' || true
	}
	# Counters that tell a slow case from a stuck one, and what the rest
	# of the machine does meanwhile: the case's own page faults, the
	# kernel's paging and COW PTE events, KSM, and the interrupts each
	# CPU takes (an IPI storm slows a TCG vCPU down). "name value" lines.
	counters() {	# $1: pid of the case
		echo "minflt $(cut -d' ' -f10 "/proc/$1/stat" 2>/dev/null || echo 0)"
		grep -E '^(pgfault|pgalloc_|pgfree|cow_pte_|thp_|compact_|numa_|pgmigrate_|nr_tlb_|ksm_)' \
			/proc/vmstat || true
		echo "ksm_pages_scanned $(cat /sys/kernel/mm/ksm/pages_scanned 2>/dev/null || echo 0)"
		awk '$1 ~ /^[A-Z0-9]+:$/ { s = ""; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++)
			s = s " " $i; if (s != "") print "irq" $1 s }' /proc/interrupts
	}
	# What changed between two counters() snapshots: "name +delta"; an
	# interrupt line that changed gives every CPU's delta, in CPU order.
	rates() {	# $1, $2: the snapshots
		awk 'NR == FNR { for (i = 2; i <= NF; i++) a[$1, i] = $i; next }
		     { d = ""; c = 0
		       for (i = 2; i <= NF; i++) { d = d sprintf(" %+d", $i - a[$1, i]); c += $i != a[$1, i] }
		       if (c) printf "%s%s;", $1, d }' "$1" "$2"
	}
	# An empty file in the shared folder tells a host-side sampler
	# (harness/diag/hostperf.sh) when to look at QEMU itself.
	mark() { [ ! -d /run/out ] || : >"/run/out/$1" 2>/dev/null || true; }
	hmm_watch() {
		local p e t k n op os oc lines
		declare -A dumps
		while sleep 2; do
			# Youngest first: a TEST_F case is a waiting parent and
			# the child that runs the test, whose state matters.
			for p in $(pgrep -x hmm-tests | sort -rn); do
				# The oldest is the harness's parent, alive throughout.
				[ "$p" = "$(pgrep -o -x hmm-tests)" ] && continue
				e=$(ps -o etimes= -p "$p") || continue
				n=${dumps[$p]:-0}
				case $n in 0) k=8 ;; 1) k=18 ;; *) continue ;; esac
				[ "${e// /}" -ge $k ] || continue
				dumps[$p]=$((n + 1))
				mark "hmm-slow.$p.$n"
				echo "# # watchdog: pid $p running for ${e// /}s on CPU $(ps -o psr= -p "$p" | tr -d ' ');" \
				     "load $(cut -d' ' -f1-3 /proc/loadavg)"
				for t in /proc/"$p"/task/*; do
					echo "# # watchdog: task ${t##*/} state $(cut -d' ' -f3 "$t/stat" 2>/dev/null): $(kstack "$t")"
				done
				# A task running in the kernel shows no stack above
				# (a make check case spun there for 21 s): have every
				# CPU print its backtrace (sysrq l) and keep that.
				lines=$(dmesg | wc -l)
				counters "$p" >/tmp/hmm-watch.0
				echo l >/proc/sysrq-trigger 2>/dev/null || true
				sleep 1
				counters "$p" >/tmp/hmm-watch.1
				echo "# # watchdog: in 1 s: $(rates /tmp/hmm-watch.0 /tmp/hmm-watch.1)"
				echo "# # watchdog: ksm run=$(cat /sys/kernel/mm/ksm/run 2>/dev/null)" \
				     "full_scans=$(cat /sys/kernel/mm/ksm/full_scans 2>/dev/null)"
				dmesg | tail -n +$((lines + 1)) | head -80 |
					sed 's/^/# # watchdog: /' || true
				# A slow case may be starved rather than stuck:
				# show who else runs or waits, and the memory left.
				echo "# # watchdog: $(grep -E '^(MemFree|MemAvailable|PageTables):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
				echo "# # watchdog: most CPU time: $(ps -eo pid=,time=,comm= --sort=-time | head -5 | tr -s ' ' | tr '\n' ';')"
				ps -eo pid=,stat=,comm= | while read -r op os oc; do
					[[ $os == [RD]* && $oc != ps && $oc != hmm-tests ]] || continue
					echo "# # watchdog: also $os: pid $op ($oc): $(kstack "/proc/$op")"
				done
			done
		done
	}
	hmm_tests() {
		local n=0 r name skip watch
		echo "# running ./hmm-tests"
		mark hmm-start
		hmm_watch & watch=$!
		./hmm-tests 2>&1 | sed -u 's/^/# /' | tee /tmp/hmm-tests.out || true
		kill $watch 2>/dev/null || true
		wait $watch 2>/dev/null || true
		sed -nE 's/^# (not )?ok [0-9]+ (hmm[^ ]*)( # SKIP.*)?$/\1|\2|\3/p' \
			/tmp/hmm-tests.out |
		while IFS='|' read -r r name skip; do
			n=$((n + 1))
			if [ -n "$r" ]; then
				echo "not ok $n hmm-tests $name"
			elif [ -n "$skip" ]; then
				echo "ok $n hmm-tests $name # SKIP"
			else
				echo "ok $n hmm-tests $name"
			fi
		done
	}
	# Line by line, so that a run cut off by its time limit still leaves
	# the results it had in the shared folder.
	# hmm-tests first: after the other categories, its cases now and then
	# ran past their 30 s, faulting in about a page a second (the fault
	# address's progress) while QEMU took some 700 stores a second to the
	# page being zeroed, each invalidating translated code (README; pages
	# that held code for many processes of the earlier tests, we think).
	{
		[ -z "$hmm" ] || hmm_tests
		[ -z "${cats// /}" ] || ./run_vmtests.sh -t "$cats"
	} 2>&1 | tap_times /tmp/mm.times | tee /tmp/mm.log |
		grep --line-buffered -E '^(not )?ok [0-9]+ ' || true
	after=$(shared)
	echo $(( ${after:-0} - ${before:-0} )) >/tmp/mm.shared
	;;
compare)
	results=$2 expected=$3 notrun=${4:-^$}
	# "ok 12 name" -> "PASS name"; a name run twice gets "#2" appended.
	# run_vmtests.sh adds " # exit=N" to a failure; hmm_tests() has none.
	norm() {
		tr -d '\r' <"$1" | sed -nE 's/^ok [0-9]+ (.*) # SKIP$/SKIP \1/p; t
			 s/^ok [0-9]+ (.*)$/PASS \1/p; t
			 s/^not ok [0-9]+ (.*) # exit=[0-9]+$/FAIL \1/p; t
			 s/^not ok [0-9]+ (.*)$/FAIL \1/p' |
		awk '{ n = ++seen[$0]; print (n > 1) ? $0 " #" n : $0 }'
	}
	grep -v '^#' "$expected" | grep -v '^$' |
		awk -v re="$notrun" '{ n = $0; sub(/^[A-Z]+ /, "", n) } n !~ re' \
		>"$results.expected"
	norm "$results" >"$results.got"
	# "FLAKY name" in the expectations accepts PASS or FAIL for that test.
	awk 'NR == FNR { if ($1 == "FLAKY") { $1 = ""; flaky[substr($0, 2)] = 1 } next }
	     { r = $1; $1 = ""; n = substr($0, 2)
	       print ((n in flaky) && (r == "PASS" || r == "FAIL")) ? "FLAKY " n : r " " n }' \
		"$results.expected" "$results.got" >"$results.got.tmp" &&
		mv "$results.got.tmp" "$results.got"
	# In name order: a run may come in parts booted side by side (make
	# check's debug-forced run), so the tests need not be in run order.
	sort -o "$results.expected" "$results.expected"
	sort -o "$results.got" "$results.got"
	if ! diff -u "$results.expected" "$results.got" >"$results.diff"; then
		echo "mm kselftests differ from $expected:"
		grep -E '^[-+][A-Z]' "$results.diff"
		exit 1
	fi
	echo "mm kselftests match $expected ($(wc -l <"$results.got") tests)"
	;;
explain)
	# run_vmtests.sh frames each test with "# running ./NAME" and the
	# "ok/not ok N NAME" line; CI keeps only our output, so show the
	# failing subtests and the end of what the test printed.
	# A case of hmm-tests (one result each, see hmm_tests()) is framed by
	# the kselftest harness's "RUN" line and its own "ok/not ok" line.
	log=$2 name=$3 hcase=
	[[ $name == "hmm-tests "* ]] && hcase=${name#hmm-tests }
	awk -v name="$name" -v hcase="$hcase" '
		hcase == "" && $0 == "# running ./" name { on = 1; n = 0; next }
		hcase != "" && index($0, "RUN           " hcase " ...") { on = 1; n = 0; next }
		on && hcase == "" && $0 ~ /^(not )?ok [0-9]+ / { on = 0; exit }
		on && hcase != "" && $0 ~ "^# (not )?ok [0-9]+ " hcase "( |$)" { on = 0; exit }
		on { buf[n++] = $0 }
		END {
			for (i = 0; i < n; i++)
				if (tolower(buf[i]) ~ /not ok|fail|error|expected|timeout|watchdog/)
					print "    " buf[i]
			print "    --- last lines ---"
			for (i = (n > 15 ? n - 15 : 0); i < n; i++)
				print "    " buf[i]
		}' "$log"
	;;
*)
	die "usage: mm-selftests.sh build | guest CATEGORIES | compare RESULTS EXPECTED | explain LOG NAME"
	;;
esac
