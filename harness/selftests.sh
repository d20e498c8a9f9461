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
export kselftest_override_timeout=${KSFT_TIMEOUT:-1800}
KSFT_DIR=$SRC/tools/testing/selftests
cd "$TOP/selftests" || exit 1
rm -f "$log.times"
progs=$(make -s --no-print-directory list-progs)
[ $# -gt 0 ] && progs=$*
for p in $progs; do
	[ -x "$p" ] || die "selftests/$p is not built: run 'make selftests' on the host"
done
# The kselftest runner, called directly: "make run_tests" would try to
# rebuild in the guest, whose root is read-only.
(
	BASE_DIR=$KSFT_DIR
	. "$KSFT_DIR/kselftest/runner.sh"
	run_many $(printf "$TOP/selftests/%s " $progs)
) 2>&1 | tap_times "$log.times" | tee "$log"
summarize_tap "$log"
