#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel working tree: the pinned Debian base plus the overlay.
#
# The tree is a git repository whose first commit is the untouched base, so
# every change we carry is "git diff base". Re-running it after the overlay
# changed (git pull, checkout) re-applies the overlay, but refuses to throw away
# edits in the tree that were never exported.
#
# usage: tree.sh [stock | --keep-edits]
#   --keep-edits: for builds; leave a tree with unexported edits as it is
#   instead of refusing (make tree still refuses, so nothing is lost).
set -eo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$BUILD"

extract_base() {	# $1: destination
	local dest=$1 tmp ver
	need_pkgs "$BASE_PKG"
	[ -f "$BASE_TARBALL" ] || die "$BASE_TARBALL missing after installing $BASE_PKG"
	tmp=$(mktemp -d "$BUILD/extract.XXXXXX")
	note "extracting $BASE_TARBALL"
	tar -xf "$BASE_TARBALL" -C "$tmp"
	ver=$(make -s -C "$tmp"/linux-source-* kernelversion 2>/dev/null)
	if [ "$ver" != "$BASE_VERSION" ]; then
		rm -rf "$tmp"
		die "installed $BASE_PKG is $ver, the overlay is tested against $BASE_VERSION" \
		    "(set BASE_VERSION in harness/common.sh after checking the overlay applies)"
	fi
	mv "$tmp"/linux-source-* "$dest"
	rmdir "$tmp"
}

# Debian's .gitignore ignores every top-level entry, which would hide new
# files from "git status". Drop that rule in the tree only, and tell git not
# to report the .gitignore change, so it never reaches the overlay.
unhide_new_files() {
	sed -i -e '\|^/\*$|d' -e '\|^!/debian/$|d' "$SRC/.gitignore"
	git -C "$SRC" update-index --skip-worktree .gitignore
}

if [ "$1" = stock ]; then
	[ -f "$STOCK_SRC/Makefile" ] && exit 0
	extract_base "$STOCK_SRC"
	exit 0
fi

if [ ! -d "$SRC/.git" ]; then
	rm -rf "$SRC"
	extract_base "$SRC"
	note "recording the base as the first commit (once)"
	git -C "$SRC" init -q -b work
	git -C "$SRC" config user.name harness
	git -C "$SRC" config user.email harness@localhost
	git -C "$SRC" config core.untrackedCache true
	git -C "$SRC" add -A -f
	git -C "$SRC" commit -q -m "Debian $BASE_PKG $BASE_VERSION (untouched)"
	git -C "$SRC" tag base
	unhide_new_files
fi

# Nothing to do when the tree already equals base + overlay.
if "$TOP/harness/export.sh" check >/dev/null 2>&1; then
	exit 0
fi

# The tree differs from the overlay. That is fine if the tree still holds
# exactly what was applied last time (the overlay moved on); otherwise the
# tree has edits nobody exported.
stamp=$BUILD/applied.sha
cur=$("$TOP/harness/export.sh" digest)
if [ -n "$(git -C "$SRC" status --porcelain)" ] &&
   { [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$cur" ]; } &&
   [ -z "$FORCE" ]; then
	if [ "$1" = --keep-edits ]; then
		# Building while editing: use the tree as it is.
		note "building $SRC with edits not yet exported ('make export' keeps them)"
		exit 0
	fi
	"$TOP/harness/export.sh" check || true
	die "the working tree has edits that are not in the overlay: run 'make export'" \
	    "to keep them, or 'make tree FORCE=1' to discard them"
fi

# Keep the old copies so that files whose content ends up unchanged get their
# old mtime back, and the kernel build does not recompile for nothing.
save=$(mktemp -d "$BUILD/save.XXXXXX")
trap 'rm -rf "$save"' EXIT
cd "$SRC"
git status --porcelain -z --untracked-files=all | tr '\0' '\n' | cut -c4- |
while read -r f; do
	[ -e "$f" ] || continue
	mkdir -p "$save/$(dirname "$f")"
	cp -p "$f" "$save/$f"
done
git update-index --no-skip-worktree .gitignore
git reset -q --hard base
unhide_new_files
git clean -q -fd

cd "$TOP"
fail=0
for d in $OVERLAY_DIRS; do
	[ -d "$d" ] || continue
	while read -r f; do
		case "$f" in
		*.diff)
			if ! git -C "$SRC" apply --whitespace=nowarn "$TOP/$f" 2>"$BUILD/apply.err"; then
				echo "error: overlay $f does not apply to $BASE_PKG $BASE_VERSION:" >&2
				sed 's/^/  /' "$BUILD/apply.err" >&2
				fail=1
			fi
			;;
		*)
			if [ -e "$SRC/$f" ]; then
				echo "error: overlay $f is stored whole but the base has it; store a .diff" >&2
				fail=1
				continue
			fi
			mkdir -p "$SRC/$(dirname "$f")"
			cp "$f" "$SRC/$f"
			;;
		esac
	done < <(find "$d" -type f | sort)
done
[ $fail = 0 ] || die "overlay does not apply; the working tree is left at base + what applied"

cd "$save"
find . -type f | while read -r f; do
	cmp -s "$f" "$SRC/$f" && touch -r "$f" "$SRC/$f"
done
"$TOP/harness/export.sh" digest >"$stamp"
note "working tree $SRC = $BASE_PKG $BASE_VERSION + overlay"
