#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The harness's handling of the Debian base (harness/base.sh, tree.sh,
# rebase.sh, export.sh) against a fake archive: apt-get, apt-cache,
# dpkg-query and sudo are stand-ins (fakebin/) that install small fake
# linux-source tarballs, so each case takes well under a second.
#
# The fake overlay changes one line of mm/foo.c and adds mm/new.c. Base
# 6.12.118 (the pin) and 6.12.119 hold the same mm/foo.c; in 6.12.120 the
# line the diff changes is gone, so the overlay does not apply there.

bats_load_library bats-support
bats_load_library bats-assert

HARNESS=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# $1: upstream version, $2: the line of mm/foo.c the overlay changes.
make_base() {
	local v=$1 d=$BATS_TEST_TMPDIR/mk/linux-source-6.12
	rm -rf "$d" && mkdir -p "$d/mm"
	printf 'kernelversion:\n\t@echo %s\n' "$v" >"$d/Makefile"
	# As Debian's: everything ignored but what the package lists.
	printf '%s\n' '/*' '!/debian/' '*.o' >"$d/.gitignore"
	printf '%s\n' "int a;" "int b;" "$2" "int d;" "int e;" >"$d/mm/foo.c"
	tar -cJf "$FAKE_ARCHIVE/$v-1~deb12u1.tar.xz" -C "$BATS_TEST_TMPDIR/mk" linux-source-6.12
}

setup() {
	export TOPDIR=$BATS_TEST_TMPDIR/top
	export BUILD=$BATS_TEST_TMPDIR/build
	export FAKE_ARCHIVE=$BATS_TEST_TMPDIR/archive
	export FAKE_STATE=$BATS_TEST_TMPDIR/installed
	export FAKE_LOG=$BATS_TEST_TMPDIR/apt.calls
	export BASE_TARBALL=$BATS_TEST_TMPDIR/linux-source-6.12.tar.xz
	export PATH=$HARNESS/tests/fakebin:$PATH
	unset FORCE REBASE
	mkdir -p "$TOPDIR/harness" "$TOPDIR/mm" "$FAKE_ARCHIVE"
	cp "$HARNESS"/{common,base,tree,export,rebase}.sh "$TOPDIR/harness/"
	sed -i -e 's/^BASE_VERSION=.*/BASE_VERSION=6.12.118/' \
	       -e 's/^BASE_DEBVERSION=.*/BASE_DEBVERSION=6.12.118-1~deb12u1/' \
	       "$TOPDIR/harness/common.sh"
	cat >"$TOPDIR/mm/foo.c.diff" <<-'EOF'
	diff --git a/mm/foo.c b/mm/foo.c
	--- a/mm/foo.c
	+++ b/mm/foo.c
	@@ -2,3 +2,3 @@ int a;
	 int b;
	-int c;
	+int c_cow;
	 int d;
	EOF
	echo "int new;" >"$TOPDIR/mm/new.c"
	make_base 6.12.118 "int c;"
	make_base 6.12.119 "int c;"
	make_base 6.12.120 "long c;"
}

pinned() {
	sed -n 's/^BASE_DEBVERSION=//p' "$TOPDIR/harness/common.sh"
}

drop_from_archive() {	# $1: upstream version
	rm "$FAKE_ARCHIVE/$1-1~deb12u1.tar.xz"
}

@test "pinned version present: installs exactly it, not the newest" {
	run "$TOPDIR/harness/tree.sh"
	assert_success
	assert_equal "$(cat "$FAKE_STATE")" "6.12.118-1~deb12u1"
	assert_equal "$(git -C "$BUILD/src" log -1 --format=%s base)" \
		"Debian linux-source-6.12 6.12.118 (untouched)"
	assert_equal "$(sed -n 3p "$BUILD/src/mm/foo.c")" "int c_cow;"
	assert_equal "$(cat "$BUILD/src/mm/new.c")" "int new;"
	refute_output --partial "gone from the archive"
}

@test "pinned version present, a newer one installed: goes back to the pin" {
	echo "6.12.120-1~deb12u1" >"$FAKE_STATE"
	run "$TOPDIR/harness/tree.sh"
	assert_success
	assert_equal "$(cat "$FAKE_STATE")" "6.12.118-1~deb12u1"
	grep -q -- '--allow-downgrades linux-source-6.12=6.12.118-1~deb12u1' "$FAKE_LOG"
}

@test "pinned version installed: apt is not asked" {
	"$TOPDIR/harness/tree.sh"
	rm -f "$FAKE_LOG"
	run "$TOPDIR/harness/tree.sh"
	assert_success
	assert [ ! -e "$FAKE_LOG" ]
}

@test "pinned version gone, overlay applies: newest taken, one line says so" {
	drop_from_archive 6.12.118
	drop_from_archive 6.12.120
	run "$TOPDIR/harness/tree.sh"
	assert_success
	assert_equal "$(cat "$FAKE_STATE")" "6.12.119-1~deb12u1"
	assert_equal "$(grep -c 'gone from the archive' <<<"$output")" 1
	assert_output --partial "make rebase VERSION=6.12.119"
	assert_equal "$(sed -n 3p "$BUILD/src/mm/foo.c")" "int c_cow;"
	assert_equal "$(git -C "$BUILD/src" log -1 --format=%s base)" \
		"Debian linux-source-6.12 6.12.119 (untouched)"
}

@test "pinned version gone, overlay does not apply: stops naming file and hunk" {
	drop_from_archive 6.12.118
	run "$TOPDIR/harness/tree.sh"
	assert_failure
	assert_equal "$(cat "$FAKE_STATE")" "6.12.120-1~deb12u1"
	assert_line --partial "error: overlay mm/foo.c.diff does not apply to linux-source-6.12 6.12.120: the hunk at mm/foo.c:2 (int a;) does not match"
	assert_output --partial "make rebase VERSION=6.12.120"
}

@test "the pin moved: a tree on the old base without edits is made again" {
	"$TOPDIR/harness/tree.sh"
	sed -i -e 's/^BASE_VERSION=.*/BASE_VERSION=6.12.119/' \
	       -e 's/^BASE_DEBVERSION=.*/BASE_DEBVERSION=6.12.119-1~deb12u1/' \
	       "$TOPDIR/harness/common.sh"
	run "$TOPDIR/harness/tree.sh"
	assert_success
	assert_equal "$(git -C "$BUILD/src" log -1 --format=%s base)" \
		"Debian linux-source-6.12 6.12.119 (untouched)"
	assert_equal "$(sed -n 3p "$BUILD/src/mm/foo.c")" "int c_cow;"
}

@test "the pin moved: a tree with unexported edits is kept, with an error" {
	"$TOPDIR/harness/tree.sh"
	echo "int edit;" >>"$BUILD/src/mm/foo.c"
	sed -i -e 's/^BASE_DEBVERSION=.*/BASE_DEBVERSION=6.12.119-1~deb12u1/' \
	       "$TOPDIR/harness/common.sh"
	run "$TOPDIR/harness/tree.sh"
	assert_failure
	assert_output --partial "make export"
	assert_equal "$(tail -n1 "$BUILD/src/mm/foo.c")" "int edit;"
}

@test "make rebase VERSION=6.12.119: moves the pin and the tree" {
	"$TOPDIR/harness/tree.sh"
	run "$TOPDIR/harness/rebase.sh" 6.12.119
	assert_success
	assert_equal "$(pinned)" "6.12.119-1~deb12u1"
	grep -qx 'BASE_VERSION=6.12.119' "$TOPDIR/harness/common.sh"
	assert_equal "$(git -C "$BUILD/src" log -1 --format=%s base)" \
		"Debian linux-source-6.12 6.12.119 (untouched)"
	run "$TOPDIR/harness/export.sh" check
	assert_success
}

@test "make rebase onto a base the overlay does not fit: names the .rej" {
	run "$TOPDIR/harness/rebase.sh" 6.12.120
	assert_failure
	assert_equal "$(pinned)" "6.12.120-1~deb12u1"
	assert_output --partial "$BUILD/src/mm/foo.c.rej"
	assert [ -f "$BUILD/src/mm/foo.c.rej" ]
	# The leftover must never be exported into the overlay.
	run "$TOPDIR/harness/export.sh" export
	assert_failure
	assert_output --partial "foo.c.rej"
	assert [ ! -e "$TOPDIR/mm/foo.c.rej" ]
}

@test "make rebase with a bad or unknown version: usage, nothing moved" {
	run "$TOPDIR/harness/rebase.sh" ""
	assert_failure
	assert_output --partial "usage: make rebase VERSION=6.12.N"
	run "$TOPDIR/harness/rebase.sh" 6.12.999
	assert_failure
	assert_output --partial "has no linux-source-6.12 6.12.999"
	assert_equal "$(pinned)" "6.12.118-1~deb12u1"
}
