#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The harness's own tests (harness/tests/*.bats, with Debian's bats): how
# the Debian base is chosen, installed, moved and refused, and what the
# benchmark report makes of a results folder. They fake apt and gnuplot,
# so they take seconds and need no network. Prints TAP, then the
# "N passed, N failed" line.
set -o pipefail
. "$(dirname "$0")/common.sh"

need_pkgs bats bats-assert bats-support
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bats --tap "$TOP/harness/tests" | tee "$out"
rc=$?
awk '/^ok /{ p++ } /^not ok /{ f++ }
     END { printf "%d passed, %d failed\n", p, f; exit f > 0 || p == 0 }' "$out" || rc=1
exit $rc
