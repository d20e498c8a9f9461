#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the working tree's UAPI headers into $BUILD/out/headers, so that
# selftests and benchmarks see the prctl numbers this overlay adds.
set -eo pipefail
. "$(dirname "$0")/common.sh"

"$TOP/harness/tree.sh" --keep-edits
hdr=$BUILD/out/headers
stamp=$hdr/usr/include/.overlay.sha
cur=$("$TOP/harness/export.sh" digest)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$cur" ] && exit 0
mkdir -p "$hdr"
make -s -C "$SRC" O="$hdr" headers >/dev/null || die "installing kernel headers failed"
echo "$cur" >"$stamp"
