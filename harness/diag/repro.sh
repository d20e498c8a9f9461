#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The forced hmm-tests slowness, caught with its host-side view.
#
# usage: harness/diag/repro.sh TAG   (from the top of the repository;
#                                     LOAD=1 adds a debug guest running our
#                                     selftests, as make check's other lane)
#
# Boots the release kernel twice side by side, cow_pte=force and plain, each
# running the forced run's whole mm kselftest sequence with hmm last, and
# runs hostperf.sh beside each. Logs in build/runs/TAG-{forced,plain,load}.
set -u
[ $# = 1 ] || { echo "usage: $0 TAG" >&2; exit 2; }
tag=$1
export DIAG=1
seq="cow gup_test ksm userfaultfd thp mkdirty soft_dirty pagemap mremap madv_populate mlock mmap migration hmm"
mm="harness/mm-selftests.sh guest $seq >/run/out/mm.tap; cp /tmp/mm.log /tmp/mm.times /run/out/;"
mm+=" cp /tmp/mm.shared /run/out/shared; dmesg > /run/out/dmesg.full"
guest() {	# $1: name, $2: variant, $3: command line, $4: command
	LOG=build/runs/$tag-$1 VARIANT=$2 NUMA=1 CMDLINE="$3" CMD="$4" TIMEOUT=3600 \
		harness/run.sh >"build/runs/$tag-$1.out" 2>&1
}
guest forced release "cow_pte=force loglevel=3" "$mm" &
# Not at the same moment: both would otherwise run apt-get for QEMU.
sleep 20
guest plain release "loglevel=3" "$mm" &
sleep 5
harness/diag/hostperf.sh "build/runs/$tag-forced" >"build/runs/$tag-forced.hp" 2>&1 &
harness/diag/hostperf.sh "build/runs/$tag-plain" >"build/runs/$tag-plain.hp" 2>&1 &
if [ -n "${LOAD:-}" ]; then
	guest load debug "page_table_check=on numa_balancing=disable" \
		'COWPTE_SKIP_STOCK=1 COWPTE_LEAK_CYCLES=500 SELFTESTS_LOG=/run/out/selftests.log harness/selftests.sh >/dev/null' &
fi
wait
grep -H '^not ok' "build/runs/$tag"-*/share/mm.tap
