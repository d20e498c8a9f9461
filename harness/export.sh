#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn the working tree's changes against the base into overlay form: files
# the base lacks are stored whole, changed base files as "<path>.diff".
#
# usage: export.sh export   write the overlay from the working tree
#        export.sh check    exit 1 and list files when tree and overlay differ
#        export.sh digest   print a hash of the tree's changes
set -eo pipefail
. "$(dirname "$0")/common.sh"

[ -d "$SRC/.git" ] || die "no working tree at $SRC: run 'make tree' first"

gen=$(mktemp -d "${TMPDIR:-/tmp}/cowpte-export.XXXXXX")
trap 'rm -rf "$gen"' EXIT

# Render the tree's changes into $gen.
outside=()
while IFS= read -r -d '' ent; do
	f=${ent:3}
	case "$f" in
	*.rej | *.orig) die "$SRC/$f is left from a hunk that did not apply: port it, then delete it" ;;
	esac
	top=${f%%/*}
	case " $OVERLAY_DIRS " in
	*" $top "*) ;;
	*) outside+=("$f"); continue ;;
	esac
	mkdir -p "$gen/$(dirname "$f")"
	if git -C "$SRC" cat-file -e "base:$f" 2>/dev/null; then
		# A fixed abbreviation: git's default depends on how many objects
		# the tree's repository holds at the moment.
		git -C "$SRC" diff --no-color --no-ext-diff --abbrev=9 base -- "$f" >"$gen/$f.diff"
	else
		cp "$SRC/$f" "$gen/$f"
	fi
done < <(git -C "$SRC" status --porcelain -z --untracked-files=all --no-renames)

if [ ${#outside[@]} -ne 0 ]; then
	printf 'error: changed outside the overlay folders (%s): %s\n' \
		"$OVERLAY_DIRS" "${outside[*]}" >&2
	exit 1
fi

# Overlay files currently in the checkout, relative to $TOP.
overlay_files() {
	local d
	for d in $OVERLAY_DIRS; do
		[ -d "$TOP/$d" ] && (cd "$TOP" && find "$d" -type f)
	done | sort
}

case "$1" in
digest)
	(cd "$gen" && find . -type f | sort | xargs -r sha256sum) | sha256sum | cut -d' ' -f1
	;;
check)
	bad=0
	while read -r f; do
		if [ ! -f "$TOP/$f" ]; then
			echo "only in working tree: $f"; bad=1
		elif ! cmp -s "$gen/$f" "$TOP/$f"; then
			echo "differs: $f"; bad=1
		fi
	done < <(cd "$gen" && find . -type f | sed 's|^\./||' | sort)
	while read -r f; do
		[ -f "$gen/$f" ] || { echo "only in overlay: $f"; bad=1; }
	done < <(overlay_files)
	if [ $bad = 1 ]; then
		echo "export-check: the working tree and the overlay differ (make export, or make tree)" >&2
		exit 1
	fi
	;;
export)
	while read -r f; do
		[ -f "$gen/$f" ] || { rm -f "$TOP/$f"; echo "removed $f"; }
	done < <(overlay_files)
	while read -r f; do
		if ! cmp -s "$gen/$f" "$TOP/$f"; then
			mkdir -p "$TOP/$(dirname "$f")"
			cp "$gen/$f" "$TOP/$f"
			echo "exported $f"
		fi
	done < <(cd "$gen" && find . -type f | sed 's|^\./||' | sort)
	for d in $OVERLAY_DIRS; do
		[ -d "$TOP/$d" ] && find "$TOP/$d" -type d -empty -delete
	done
	"$0" digest >"$BUILD/applied.sha"
	;;
*)
	die "usage: export.sh export|check|digest"
	;;
esac
