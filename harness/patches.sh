#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The overlay as a patch series for reviewers: harness/series/series cuts
# it into steps, harness/series/cover.txt is the cover letter. The commits
# are made from the working tree's files without checking anything out
# (read-tree, update-index, commit-tree in build/src's repository), then
# written with git format-patch.
#
# usage: patches.sh [write]   (make patches) write $BUILD/patches/*.patch
#        patches.sh check     (make check) write them, then: every patch
#                             checkpatch --strict clean, and the series
#                             applies with git am to the untouched base
#        patches.sh build     (make patches-check) also build the kernel
#                             after each patch, COW_PTE on and off
set -eo pipefail
. "$(dirname "$0")/common.sh"

mode=${1:-write}
case "$mode" in
write | check | build) ;;
*) die "usage: patches.sh [write|check|build]" ;;
esac
SERIES=$TOP/harness/series/series
OUT=$BUILD/patches
[ -d "$SRC/.git" ] || die "no working tree at $SRC: run 'make tree' first"
"$TOP/harness/export.sh" check >/dev/null ||
	die "$SRC and the overlay differ: 'make export' (or 'make tree') first"

name=$(git -C "$TOP" log -1 --format=%an)
email=$(git -C "$TOP" log -1 --format=%ae)
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email
export GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
work=$(mktemp -d "$BUILD/patches.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_INDEX_FILE=$work/index
g() { git -C "$SRC" "$@"; }

# The overlay's files, as kernel paths (kernel/configs is ours, not the
# kernel's), to check that the series covers each exactly once.
(cd "$TOP" && find arch Documentation fs include kernel mm tools -type f 2>/dev/null) |
	grep -v '^kernel/configs/' | sed 's/\.diff$//' | sort >"$work/overlay"

# Parse the series into $work/N.{subject,files,maint,tests,body}.
awk -v dir="$work" '
	/^#/ { next }
	/^== / { n++; f = dir "/" n; printf "%s\n", substr($0, 4) >f ".subject"
		 printf "" >f ".files"; printf "" >f ".maint"; printf "" >f ".tests"
		 printf "" >f ".body"; head = 1; next }
	!n { next }
	head && /^files: / { sub(/^files: /, ""); print >f ".files"; next }
	head && /^maintainers: / { sub(/^maintainers: /, ""); print >f ".maint"; next }
	head && /^selftests: / { sub(/^selftests: /, ""); print >f ".tests"; next }
	head && /^$/ { head = 0; next }
	{ print >f ".body" }
	END { print n >dir "/count" }' "$SERIES"
count=$(cat "$work/count")
for ((i = 1; i <= count; i++)); do
	tr ' ' '\n' <"$work/$i.files" | grep -v '^$'
done | sort >"$work/covered"
if ! cmp -s "$work/overlay" "$work/covered"; then
	diff "$work/overlay" "$work/covered" | sed -n 's/^< /  not in the series: /p; s/^> /  not in the overlay: /p' >&2
	die "harness/series/series and the overlay disagree"
fi
[ "$(uniq -d "$work/covered")" = "" ] || die "a file is in two patches of the series"

# The MAINTAINERS entry grows with the files each patch adds.
maintainers() {	# F: lines so far -> MAINTAINERS with the entry, on stdout
	awk -v name="$name" -v email="$email" -v flines="$1" '
		!done && /^CPU FREQUENCY DRIVERS - VEXPRESS/ {
			print "COW PTE (COPY-ON-WRITE PTE TABLES FOR FORK)"
			print "M:\t" name " <" email ">"
			print "L:\tlinux-mm@kvack.org"
			print "S:\tMaintained"
			n = split(flines, f, " ")
			for (i = 1; i <= n; i++) if (f[i] != "") print "F:\t" f[i]
			print ""
			done = 1
		}
		{ print }' <(g show base:MAINTAINERS)
}

# Our selftests as a kselftest directory of the kernel tree.
selftest_files() {	# $1: list of files from selftests/
	local d=tools/testing/selftests/cow_pte f
	for f in $1; do
		# Includes relative to the kselftest root, as from selftests/mm:
		# the Makefile below, like upstream's, adds no -I for it.
		sed -e 's|"\.\./\.\./\.\./mm/|"../../../../mm/|' \
		    -e 's|"\.\./\.\./\.\./lib/|"../../../../lib/|' \
		    -e 's|^#include "\(kselftest[a-z_]*\.h\)"|#include "../\1"|' "$TOP/selftests/$f" |
			stage "$d/$f"
	done
	# Every .c file is a program, but paths_common.c: the helpers of the
	# cow_pte_paths_* programs, compiled once and linked into each.
	local progs='' hdrs='' common=''
	for f in $1; do
		case $f in
		paths_common.c) common=1 ;;
		*.c) progs+=" ${f%.c}" ;;
		*.h) hdrs+=" $f" ;;
		esac
	done
	{
		printf '%s\n' "# SPDX-License-Identifier: GPL-2.0" \
			"CFLAGS += -Wall -O2 -g \$(KHDR_INCLUDES)" \
			"LDLIBS += -lpthread -luring" "" \
			"TEST_GEN_PROGS :=$progs" "LOCAL_HDRS +=$hdrs" "" "include ../lib.mk"
		[ -z "$common" ] ||
			printf '%s\n' "" "\$(OUTPUT)/paths_common.o: paths_common.c \$(LOCAL_HDRS)" \
				$'\t$(call msg,CC,,$@)' $'\t$(Q)$(COMPILE.c) $< -o $@' "" \
				"\$(filter \$(OUTPUT)/cow_pte_paths_%,\$(TEST_GEN_PROGS)): \$(OUTPUT)/paths_common.o" "" \
				"EXTRA_CLEAN += \$(OUTPUT)/paths_common.o"
	} | stage "$d/Makefile"
	printf 'CONFIG_COW_PTE=y\nCONFIG_GUP_TEST=y\nCONFIG_TEST_HMM=m\n' | stage "$d/config"
	g show base:tools/testing/selftests/Makefile |
		sed 's|^TARGETS += core$|&\nTARGETS += cow_pte|' | stage tools/testing/selftests/Makefile
}

stage() {	# $1: path; the content on stdin
	local blob
	blob=$(g hash-object -w --stdin)
	g update-index --add --cacheinfo "100644,$blob,$1"
}

g read-tree base
parent=$(g rev-parse base)
flines=
for ((i = 1; i <= count; i++)); do
	for f in $(cat "$work/$i.files"); do
		stage "$f" <"$SRC/$f"
	done
	if [ -s "$work/$i.tests" ]; then
		selftest_files "$(cat "$work/$i.tests")"
	fi
	if [ -s "$work/$i.maint" ]; then
		flines="$flines $(cat "$work/$i.maint")"
		flines=$(tr ' ' '\n' <<<"$flines" | grep -v '^$' | sort | tr '\n' ' ')
		maintainers "$flines" | stage MAINTAINERS
	fi
	{
		cat "$work/$i.subject"
		echo
		cat "$work/$i.body"
		echo
		echo "Signed-off-by: $name <$email>"
	} >"$work/$i.msg"
	parent=$(g commit-tree "$(g write-tree)" -p "$parent" -F "$work/$i.msg")
done

rm -rf "$OUT"
mkdir -p "$OUT"
g format-patch -q --cover-letter --base=base -o "$OUT" "base..$parent" >/dev/null
cover=$(ls "$OUT"/0000-*.patch)
# The cover letter's first line is its subject, the rest its text.
awk -v text="$TOP/harness/series/cover.txt" '
	BEGIN {
		getline subject <text
		while ((getline line <text) > 0) {
			if (line != "")
				started = 1
			if (started)
				blurb = blurb line "\n"
		}
		sub(/\n+$/, "", blurb)
	}
	{ sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ { print blurb; next }
	{ print }' "$cover" >"$work/cover" && cp "$work/cover" "$cover"
note "wrote $count patches and a cover letter to $OUT"
[ "$mode" = write ] && exit 0

# checkpatch --strict on every patch, the selftests' included.
unset GIT_INDEX_FILE
bad=0
for p in "$OUT"/0*.patch; do
	[ "$p" = "$cover" ] && continue
	res=$(cd "$SRC" && ./scripts/checkpatch.pl --strict --quiet "$p" 2>/dev/null) || true
	[ -n "$res" ] || continue
	echo "checkpatch: $(basename "$p"):" >&2
	echo "$res" | head -20 | sed 's/^/  /' >&2
	bad=1
done
[ $bad = 0 ] || die "the series is not checkpatch --strict clean"
note "every patch is checkpatch --strict clean"

# git am onto the untouched base, in a sparse worktree of the files the
# series touches (a whole kernel checkout would take minutes).
wt=$work/am
g worktree add -q --no-checkout --detach "$wt" base
trap 'git -C "$SRC" worktree remove --force "$wt" 2>/dev/null; rm -rf "$work"' EXIT
git -C "$wt" sparse-checkout set --no-cone \
	$(sed -n 's|^diff --git a/\([^ ]*\) .*|/\1|p' "$OUT"/0*.patch | sort -u)
git -C "$wt" checkout -q
if ! git -C "$wt" am -q "$OUT"/0*[1-9]*.patch >"$work/am.log" 2>&1; then
	sed 's/^/  /' "$work/am.log" >&2
	die "the series does not apply to the untouched base with git am"
fi
note "the series applies with git am to $BASE_PKG $(git -C "$SRC" log -1 --format=%s base | awk '{print $3}')"
[ "$mode" = check ] && exit 0

# Bisectability: a whole checkout of the base, the patches applied one by
# one, and after each the kernel built with CONFIG_COW_PTE on and off
# (the release config fragment; ccache keeps the builds incremental).
bt=$BUILD/patches-tree
rm -rf "$bt"
git -C "$SRC" worktree prune
g worktree add -q --detach "$bt" base
kbuild_env
log=$BUILD/patches-check.log
: >"$log"
n=0
for p in "$OUT"/0*[1-9]*.patch; do
	n=$((n + 1))
	git -C "$bt" am -q "$p" || die "$(basename "$p") does not apply"
	for cow in y n; do
		out=$BUILD/out/patches-$cow
		mkdir -p "$out"
		{ cat "$TOP/kernel/configs/cowpte.config"; echo "CONFIG_COW_PTE=$cow"; } >"$out/frag"
		make -s -C "$bt" O="$out" tinyconfig >/dev/null
		"$bt/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$out/frag" >/dev/null
		make -s -C "$bt" O="$out" olddefconfig >/dev/null
		if make -s -C "$bt" O="$out" CC="ccache gcc" -j"$(nproc)" bzImage >"$out/build.log" 2>&1; then
			echo "ok $n COW_PTE=$cow $(basename "$p")" | tee -a "$log"
		else
			echo "not ok $n COW_PTE=$cow $(basename "$p")" | tee -a "$log"
			grep -m5 'error' "$out/build.log" | tee -a "$log"
			bad=1
		fi
	done
done
git -C "$SRC" worktree remove --force "$bt"
[ $bad = 0 ] || die "the series does not build at every step (see $log)"
note "every patch builds with CONFIG_COW_PTE=y and =n ($log)"
