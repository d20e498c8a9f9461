#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh's report from a results folder: instruction counts (icount-*)
# beside TCG wall clock, and the targets' verdicts. Small fixtures in the
# format of benchmarks/benchutil.h; gnuplot is a stand-in that draws
# nothing.

bats_load_library bats-support
bats_load_library bats-assert

HARNESS=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# An R row: file test param unit stock cow ratio [runs]
row() {
	local r=${8:-5}
	printf 'R\tbench\t%s\t%s\t%s\tlower\t%s\t%s\t%s\t%s\t0\t0\t%s\t%s\t%s\t0\t0\t%s\t%s\t%s\n' \
		"$2" "$3" "$4" "$r" "$5" "$5" "$5" "$6" "$6" "$6" "$7" "$7" "$7" >>"$1"
}

setup() {
	DIR=$BATS_TEST_TMPDIR/res
	mkdir -p "$DIR" "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\ncat >/dev/null\n' >"$BATS_TEST_TMPDIR/bin/gnuplot"
	chmod +x "$BATS_TEST_TMPDIR/bin/gnuplot"
	export PATH=$BATS_TEST_TMPDIR/bin:$PATH
}

@test "instructions and wall clock side by side, verdict by instructions" {
	row "$DIR/icount-micro.tsv" fork 1024 us 48000 250 192
	row "$DIR/icount-micro.tsv" forkexit 0 us 362 362.5 0.9986
	row "$DIR/micro.tsv" fork 1024 us 68000 1900 35.7
	row "$DIR/micro.tsv" forkexit 0 us 1400 1500 0.93
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	assert_line --partial "| fork | 1024 | k instr. | 5 | 48000 [48000..48000] | 250.0 [250.0..250.0] | 192.0x [192.0..192.0] | 35.70x [35.70..35.70] |"
	assert_line "| fork of 1 GiB of touched 4 KiB pages >= 20x cheaper than stock | 192.0x [192.0..192.0] | 35.70x [35.70..35.70] | **met** |"
	# 0.93 in wall clock would fail; the instruction count decides.
	assert_line --partial "| 0.999x [0.999..0.999] | 0.93x [0.93..0.93] | **met** |"
	assert_line --partial "| no AFL++ target below 1.0x | - | - | not measured |"
}

@test "wall clock alone: its verdict says so; the worst row is named" {
	row "$DIR/afl.tsv" execs small execs/s 64 60 0.94
	row "$DIR/afl.tsv" execs large execs/s 8.4 54 6.4
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	assert_line "| no AFL++ target below 1.0x | - | 0.94x [0.94..0.94] (execs small) | **NOT met** (wall clock only) |"
	assert_line --partial "| execs | small | execs/s | 5 |"
	refute_line --partial "instr."
}

@test "stock path: the change of the median, against the noise of its kind" {
	for b in 1 2; do
		row "$DIR/icount-stockpath-patched-$b.tsv" fork 0 us 158.9 - - 1
		row "$DIR/icount-stockpath-stock-$b.tsv" fork 0 us 158.6 - - 1
	done
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	assert_line --partial "| fork | 0 | k instr. | 158.9 158.9 | 158.6 158.6 | +0.19% |"
	assert_line --partial "within 0.5% | worst change of a median: 0.19% (fork 0); boot-to-boot spread up to 0% | - | **met** |"
}

@test "report of a folder that does not exist: an error, no report" {
	run "$HARNESS/bench.sh" report "$BATS_TEST_TMPDIR/none"
	assert_failure
	assert_output --partial "no results folder"
}

@test "scale: COW PTE fork of the largest size against an empty fork" {
	row "$DIR/icount-scale.tsv" fork-4k 0 us 160 161 0.99
	row "$DIR/icount-scale.tsv" fork-4k 65536 us 600000 8050 74.5
	row "$DIR/icount-scale.tsv" fork-thp 0 us 160 161 0.99
	row "$DIR/icount-scale.tsv" fork-thp 65536 us 200000 199000 1.005
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	# THP is not covered: 199000 / 161 is the worst, not the 4 KiB pages' 50x.
	assert_line --partial "| 1236x (fork-thp at 65536 MiB) | - | **NOT met** |"
	row "$DIR/scale.tsv" fork-4k 0 us 500 520 0.96
	row "$DIR/scale.tsv" fork-4k 65536 us 9000 600 15
	: >"$DIR/icount-scale.tsv"
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	assert_line --partial "| - | 1.15x (fork-4k at 65536 MiB) | **met** (wall clock only) |"
}

@test "scale: with PMD tables shared, the target goes by those rows" {
	row "$DIR/icount-scale.tsv" fork-4k 0 us 160 161 0.99
	row "$DIR/icount-scale.tsv" fork-4k 65536 us 600000 9200 65
	row "$DIR/icount-scale.tsv" fork-4k-pmd 0 us 160 160 1
	row "$DIR/icount-scale.tsv" fork-4k-pmd 65536 us 600000 184 3260
	row "$DIR/icount-scale.tsv" fork-thp-pmd 0 us 160 160 1
	row "$DIR/icount-scale.tsv" fork-thp-pmd 65536 us 170000 176 965
	run "$HARNESS/bench.sh" report "$DIR"
	assert_success
	run cat "$DIR/report.md"
	assert_line --partial "| 1.15x (fork-4k-pmd at 65536 MiB) | - | **met** |"
}
