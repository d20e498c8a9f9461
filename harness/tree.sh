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
. "$(dirname "$0")/base.sh"

mkdir -p "$BUILD"

extract_base() {	# $1: destination
	local dest=$1 tmp ver
	tmp=$(mktemp -d "$BUILD/extract.XXXXXX")
	note "extracting $BASE_TARBALL"
	tar -xf "$BASE_TARBALL" -C "$tmp"
	ver=$(make -s -C "$tmp"/linux-source-* kernelversion 2>/dev/null)
	if [ "$ver" != "$BASE_USED" ]; then
		rm -rf "$tmp"
		die "$BASE_TARBALL holds $ver, but $BASE_PKG $BASE_USED is installed"
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

need_pkgs xz-utils
base_install

if [ "$1" = stock ]; then
	[ -f "$STOCK_SRC/Makefile" ] && [ "$(base_of_tree "$STOCK_SRC")" = "$BASE_USED" ] &&
		exit 0
	rm -rf "$STOCK_SRC"
	extract_base "$STOCK_SRC"
	echo "$BASE_USED" >"$STOCK_SRC/.cowpte-base"
	exit 0
fi

stamp=$BUILD/applied.sha

# A tree on another base (the pin moved, or Debian dropped it) is made
# again, unless it holds edits nobody exported.
if [ -d "$SRC/.git" ] && [ "$(base_of_tree "$SRC")" != "$BASE_USED" ]; then
	if [ -n "$(git -C "$SRC" status --porcelain)" ] &&
	   [ "$(cat "$stamp" 2>/dev/null)" != "$("$TOP/harness/export.sh" digest)" ] &&
	   [ -z "$FORCE" ]; then
		die "$SRC is on base $(base_of_tree "$SRC"), not $BASE_USED, and has edits" \
		    "that are not in the overlay: 'make export' them first, or 'make tree FORCE=1'"
	fi
	note "$SRC is on base $(base_of_tree "$SRC"): making it again on $BASE_USED"
	rm -rf "$SRC" "$stamp"
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
	git -C "$SRC" commit -q -m "Debian $BASE_PKG $BASE_USED (untouched)"
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

# One line per overlay file that does not apply, naming the hunk git
# stopped at. REBASE=1 (rebase.sh) applies what it can and leaves the
# rest in <file>.rej beside the file, to be ported by hand.
apply_failed() {	# $1: overlay file, $2: git apply's errors
	local loc line hunk
	loc=$(sed -n 's/^error: patch failed: //p' "$2" | head -n1)
	line=${loc##*:}
	hunk=$(grep -m1 -E "^@@ -$line(,[0-9]+)? " "$TOP/$1" | sed 's/^@@ [^@]* @@ *//')
	if [ -n "$loc" ]; then
		echo "error: overlay $1 does not apply to $BASE_PKG $BASE_USED:" \
		     "the hunk at $loc${hunk:+ ($hunk)} does not match" >&2
	else
		echo "error: overlay $1 does not apply to $BASE_PKG $BASE_USED: $(head -n1 "$2")" >&2
	fi
}

cd "$TOP"
fail=0
reject=()
[ -n "$REBASE" ] && reject=(--reject)
for d in $OVERLAY_DIRS; do
	[ -d "$d" ] || continue
	while read -r f; do
		case "$f" in
		*.diff)
			if ! git -C "$SRC" apply "${reject[@]}" --whitespace=nowarn "$TOP/$f" \
				2>"$BUILD/apply.err"; then
				apply_failed "$f" "$BUILD/apply.err"
				fail=1
			fi
			;;
		*)
			if [ -e "$SRC/$f" ]; then
				echo "error: overlay $f is stored whole but $BASE_PKG $BASE_USED has it;" \
				     "store a .diff" >&2
				fail=1
				continue
			fi
			mkdir -p "$SRC/$(dirname "$f")"
			cp "$f" "$SRC/$f"
			;;
		esac
	done < <(find "$d" -type f | sort)
done
if [ $fail != 0 ]; then
	[ -n "$REBASE" ] && exit 1
	if [ "$BASE_USED" != "$BASE_VERSION" ]; then
		die "the overlay is tested on $BASE_VERSION, which Debian no longer serves," \
		    "and does not apply to $BASE_USED: port it with 'make rebase VERSION=$BASE_USED'"
	fi
	die "the overlay does not apply; $SRC is left at base + what applied"
fi

cd "$save"
find . -type f | while read -r f; do
	cmp -s "$f" "$SRC/$f" && touch -r "$f" "$SRC/$f"
done
"$TOP/harness/export.sh" digest >"$stamp"
note "working tree $SRC = $BASE_PKG $BASE_USED + overlay"
