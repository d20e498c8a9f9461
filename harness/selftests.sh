#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run our selftests (selftests/, kselftest framework) inside the guest and
# end with the totals line "N passed, N failed, N skipped".
#
# usage: selftests.sh [TEST...]   (default: every test in selftests/)
set -o pipefail
. "$(dirname "$0")/common.sh"

log=${SELFTESTS_LOG:-/tmp/selftests.log}
# The runner looks for a "settings" file only below the kselftest tree, so
# give our tests their time limit the way run_kselftest.sh does.
export kselftest_override_timeout=${KSFT_TIMEOUT:-900}
if [ $# -gt 0 ]; then
	progs=$(printf "$TOP/selftests/%s " "$@")
	make -s -C "$TOP/selftests" run_tests TEST_GEN_PROGS="$progs" 2>&1 | tee "$log"
else
	make -s -C "$TOP/selftests" run_tests 2>&1 | tee "$log"
fi
summarize_tap "$log"
