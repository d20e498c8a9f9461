#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Move the pinned base to another Debian linux-source-6.12 version:
# install it, pin it in harness/common.sh, make the working tree again on
# it and apply the overlay. A hunk that no longer applies is left in a
# .rej file beside its file in the tree and named here; port it by hand,
# delete the .rej, then "make export". When everything applies, the
# overlay's diffs are written again against the new base.
#
# usage: rebase.sh VERSION     (make rebase VERSION=6.12.119)
set -eo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/base.sh"

version=$1
[[ "$version" =~ ^6\.12\.[0-9]+$ ]] ||
	die "usage: make rebase VERSION=6.12.N (the upstream version of a Debian $BASE_PKG)"

# Work that lives only in the tree would be lost when it is made again.
if [ -d "$SRC/.git" ] && ! "$TOP/harness/export.sh" check >/dev/null 2>&1 &&
   [ "$(cat "$BUILD/applied.sha" 2>/dev/null)" != "$("$TOP/harness/export.sh" digest)" ]; then
	die "$SRC has edits that are not in the overlay: 'make export' them first"
fi

apt_get update || die "apt-get update failed (see $BUILD/apt.log)"
debversion=$(base_available | grep -m1 -E "^${version//./\\.}-") ||
	die "Debian's archive has no $BASE_PKG $version; it has:" \
	    "$(base_available | head -n5 | tr '\n' ' ')"
if [ "$(base_installed)" != "$debversion" ]; then
	note "installing $BASE_PKG=$debversion"
	apt_get install --allow-downgrades "$BASE_PKG=$debversion" ||
		die "apt-get could not install $BASE_PKG=$debversion (see $BUILD/apt.log)"
fi

old=$BASE_VERSION
sed -i -e "s/^BASE_VERSION=.*/BASE_VERSION=$version/" \
       -e "s/^BASE_DEBVERSION=.*/BASE_DEBVERSION=$debversion/" "$TOP/harness/common.sh"
note "pinned $BASE_PKG $debversion in harness/common.sh (was $old)"

if ! REBASE=1 "$TOP/harness/tree.sh"; then
	echo "error: the overlay does not apply to $version; the hunks that failed are in:" >&2
	find "$SRC" -name '*.rej' -printf '  %p\n' >&2
	die "port each hunk into its file in $SRC, delete the .rej files, then 'make export'"
fi
"$TOP/harness/export.sh" export >/dev/null
"$TOP/harness/export.sh" digest >"$BUILD/applied.sha"
note "rebased onto $BASE_PKG $version: run 'make check', then commit" \
     "harness/common.sh and the overlay"
