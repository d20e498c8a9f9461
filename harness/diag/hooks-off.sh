#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Show that each path test (the cow_pte_paths_* programs, and
# cow_pte_soundness for the hooks it drives) fails without its hook (issue
# 4): build build/out/hooksoff, the release kernel patched by hooks-off.py
# so that cow_pte_off=MASK switches hooks off at boot, then boot it once
# per hook with only that hook off, running the tests that drive its path
# (COW PTE variants only), and once with every hook on as the baseline.
#
# usage: harness/diag/hooks-off.sh [HOOK...]   (names from hooks-off.py
#        --list, or baseline; default: all). Logs: build/runs/hooksoff-NAME/; summary:
#        build/runs/hooksoff.txt. REBUILD=0 keeps the last build; SUMMARY=1
#        only summarises the last runs; PAIRS (below) boots given masks.
set -eo pipefail
. "$(dirname "$0")/../common.sh"

diag=$TOP/harness/diag
out=$BUILD/out/hooksoff
runs=$BUILD/runs
[ -f "$BUILD/out/release/vmlinux" ] || die "build the release kernel first (make kernel)"
# The path tests are split by area into the cow_pte_paths_* programs;
# prog_of[TEST] is the one that has TEST, from the harness's listing (-l:
# a FIXTURE, VARIANT and TEST column, the test last).
paths_progs=$(make -s --no-print-directory -C "$TOP/selftests" BUILD="$BUILD" list-progs |
	tr ' ' '\n' | grep '^cow_pte_paths_') || die "no cow_pte_paths_* programs in selftests/"
declare -A prog_of
for p in $paths_progs; do
	[ -x "$TOP/selftests/$p" ] || die "build the selftests first (make selftests)"
	for t in $("$TOP/selftests/$p" -l 2>&1 | awk '!/^[#-]/ && NF { print $NF }'); do
		prog_of[$t]=$p
	done
done
for t in $(python3 "$diag/hooks-off.py" --list | cut -d' ' -f3-); do
	case $t in
	soundness/*) ;;
	*) [ -n "${prog_of[$t]:-}" ] || die "no cow_pte_paths_* program has the test $t" ;;
	esac
done

if [ "${REBUILD:-1}" = 1 ] && [ "${SUMMARY:-0}" != 1 ]; then
	"$diag/patched-build.sh" hooksoff "$(python3 "$diag/hooks-off.py" --files)" \
		python3 "$diag/hooks-off.py" "$SRC"
fi

# One boot: $1 run name, $2 mask, $3... tests.
boot() {
	local name=$1 mask=$2 sound=() t p skip cmd=
	local -A paths=()
	shift 2
	for t in "$@"; do
		case $t in
		soundness/*) sound+=(-t "${t#soundness/}") ;;
		*)
			p=${prog_of[$t]:-}
			[ -n "$p" ] || die "no cow_pte_paths_* program has the test $t"
			paths[$p]+=" -t $t"
			;;
		esac
	done
	# A hook of one level is driven by that level's variants: leave the
	# other level's out (-V first: the harness takes the first match).
	case $name in
	pmd_*) skip="-V cow_pte_parent -V cow_pte_child" ;;
	baseline) skip= ;;
	*) skip="-V cow_pmd_parent -V cow_pmd_child -V cow_pmd_thp_parent -V cow_pmd_thp_child" ;;
	esac
	for p in $paths_progs; do
		[ -z "${paths[$p]:-}" ] ||
			cmd+="selftests/$p $skip${paths[$p]} >>/run/out/t.log 2>&1; "
	done
	[ ${#sound[@]} = 0 ] ||
		cmd+="selftests/cow_pte_soundness ${sound[*]} >>/run/out/t.log 2>&1;"
	echo "$mask" >"$runs/hooksoff-$name.mask"
	LOG=$runs/hooksoff-$name KERNEL=$out/arch/x86/boot/bzImage VARIANT=release NUMA=1 \
		CMDLINE="cow_pte_off=$mask loglevel=3" TIMEOUT=${TIMEOUT:-1500} \
		CMD="export COWPTE_SKIP_STOCK=1; $cmd dmesg >/run/out/dmesg.full" \
		"$TOP/harness/run.sh" >"$runs/hooksoff-$name.out" 2>&1 || true
}

# What one boot found: its tests' totals, the failing cases (a timeout
# is a hang of the case), and what the kernel reported.
summary() {	# $1: run name
	local log=$runs/hooksoff-$1/share/t.log
	echo "$1 (cow_pte_off=$(cat "$runs/hooksoff-$1.mask" 2>/dev/null)):" \
	     "$(sed -n 's/^# Totals: //p' "$log" 2>/dev/null | paste -sd ';' || true)"
	sed -nE 's/^ok [0-9]+ (paths|sound|race)\.cow_(pte|pmd)_?([a-z_]*)\.([a-z_0-9]+)$/    passed: \4 (\2 \3)/p;
		 s/^not ok [0-9]+ (paths|sound|race)\.cow_(pte|pmd)_?([a-z_]*)\.([a-z_0-9]+)$/    FAILED: \4 (\2 \3)/p;
		 s/^# ([a-z_0-9]+: Test terminated by timeout)/    (\1)/p' "$log" 2>/dev/null
	[ -s "$log" ] || echo "    no results"
	grep -hE 'error:|Bad rss|Bad page|BUG:|WARNING:|non-zero pgtables' "$runs/hooksoff-$1.out" |
		sed -E 's/^\[ *[0-9.]+\] //; s/PID: [0-9]+/PID: N/' | sort -u | head -6 |
		sed 's/^/    kernel: /' || true
}

# PAIRS="name:MASK:test,test ..." boots those masks as well, for hooks
# that back each other up (a path that skips shared tables behind one
# that breaks them).
for pair in ${PAIRS:-}; do
	IFS=: read -r name mask tests <<<"$pair"
	[ "${SUMMARY:-0}" = 1 ] || boot "$name" "$mask" ${tests//,/ }
	summary "$name"
done
[ -z "${PAIRS:-}" ] || [ $# != 0 ] || exit 0

want=" $* "
all=()
: >"$runs/hooksoff.txt.new"
while read -r bit name tests; do
	all+=($tests)
	[ $# = 0 ] || [[ $want == *" $name "* ]] || continue
	[ "${SUMMARY:-0}" = 1 ] || boot "$name" $((1 << bit)) $tests
	summary "$name" | tee -a "$runs/hooksoff.txt.new"
done < <(python3 "$diag/hooks-off.py" --list)
if [ $# = 0 ] || [[ $want == *" baseline "* ]]; then
	# The same tests with every hook on: they must all pass here.
	[ "${SUMMARY:-0}" = 1 ] || boot baseline 0 $(printf '%s\n' "${all[@]}" | sort -u)
	summary baseline | tee -a "$runs/hooksoff.txt.new"
fi
mv "$runs/hooksoff.txt.new" "$runs/hooksoff.txt"
