#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The COW PTE benchmarks: boot the patched kernel once and run the selected
# benchmarks there, stock fork against COW PTE fork in the same boot; for
# the stock path, boot the patched kernel (COW PTE off) and the unpatched
# kernel in turn. Writes a markdown report with gnuplot PNGs into a results
# folder and copies it to benchmarks/results/.
#
# usage: bench.sh              (make bench) build, boot, run, report
#        bench.sh guest        the part that runs inside the guest
#        bench.sh report DIR   (re)write DIR/report.md and DIR/*.png
#
# Settings (environment; the Makefile passes them through):
#   BENCH          comma-separated subset of micro,redis,prefork,afl,python,
#                  stockpath
#                  (default: all of them)
#   QUICK=1        shorter runs and less memory, for a first look
#   KERNEL         the COW PTE bzImage to boot (default: build the release one)
#   STOCK_KERNEL   the unpatched bzImage (default: build/out/stock, built if missing)
#   MEM            guest memory for the main boot (default 10G, QUICK 4G)
#   RUNS           runs per mode and point (default 7, QUICK 3)
#   STOCK_BOOTS    boots of each kernel for the stock path (default 2, QUICK 1)
#   RESULTS        results folder (default $BUILD/bench/<date>-<time>)
#   ICOUNT=1       count guest instructions instead of time (run.sh): the
#                  report's times are then instruction counts
#   REDIS_COW_MODE exec (default) or snapshot: the launcher mode of the
#                  redis benchmark's COW PTE side
set -o pipefail
. "$(dirname "$0")/common.sh"

ALL_BENCH="micro redis prefork afl python stockpath"

quick=${QUICK:-0}
[[ "$quick" =~ ^[01]$ ]] || die "QUICK takes 0 or 1, not '$quick'"

# The selected benchmarks, in the order they run; dies on unknown names.
selected() {
	local want=${BENCH:-all} b n out=()

	want=${want//,/ }
	for b in $want; do
		[ "$b" = all ] && { echo "$ALL_BENCH"; return; }
		[[ " $ALL_BENCH " == *" $b "* ]] ||
			die "unknown benchmark '$b' in BENCH (choose from: ${ALL_BENCH// /,})"
	done
	for n in $ALL_BENCH; do
		[[ " $want " == *" $n "* ]] && out+=("$n")
	done
	[ ${#out[@]} -gt 0 ] || die "BENCH selects nothing"
	echo "${out[*]}"
}

runs() {
	local r=${RUNS:-$([ "$quick" = 1 ] && echo 3 || echo 7)}
	[[ "$r" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$r'"
	echo "$r"
}

# --------------------------------------------------------------- guest side

# Run one benchmark in the guest: stdout to NAME.tsv, stderr to NAME.log.
# They are written to tmpfs and copied to the 9p share afterwards: a write
# to 9p can pin the writer's pages (zero-copy), and a process that ever
# pinned pages no longer shares PTE tables at fork (MMF_HAS_PINNED).
guest_one() {
	local name=$1 out=/run/out tmp=/tmp/bench-out t0 rc
	shift
	mkdir -p $tmp
	echo "== $name: $*" | tee -a $out/progress.log
	t0=$(date +%s)
	"$@" >"$tmp/$name.tsv" 2>"$tmp/$name.log"
	rc=$?
	cp "$tmp/$name.tsv" "$tmp/$name.log" $out/
	echo "$name $rc $(( $(date +%s) - t0 ))" >>$out/status.txt
	echo "== $name: exit $rc after $(( $(date +%s) - t0 )) s" | tee -a $out/progress.log
	[ $rc = 0 ] || tail -5 "$out/$name.log"
	return $rc
}

guest() {
	local out=/run/out r fails=0 b
	r=$(runs)
	export PATH=$TOP/launcher:$TOP/benchmarks:$PATH QUICK RUNS=$r
	: >$out/status.txt
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "kernel: $(uname -r) $(uname -v)"
		echo "cow_pte: $(cowpte -q true 2>/dev/null && echo yes || echo no)"
		echo "cpus: $(nproc)"
		echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		echo "thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
		echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "quick: $quick"
		echo "runs: $r"
	} >$out/env.txt
	for b in ${GUEST_BENCH:-micro}; do
		case $b in
		micro)
			if [ "$quick" = 1 ]; then
				guest_one micro forkbench -r "$r" -s 0,64,256,1024 -w 64
			else
				guest_one micro forkbench -r "$r" -s 0,64,256,1024,4096 -w 256
			fi ;;
		stockpath)
			guest_one "stockpath-$STOCKPATH_TAG" forkbench -t stockpath -r "$r" \
				-w "$([ "$quick" = 1 ] && echo 64 || echo 256)" ;;
		*)
			guest_one "$b" "$TOP/benchmarks/$b-bench.sh" ;;
		esac || fails=$((fails + 1))
	done
	return $fails
}

# ---------------------------------------------------------------- report

# Format a number for a table: integers when large, 3 digits when small.
AWK_FMT='
function fmt(v) {
	if (v == "-" || v == "") return "-"
	v += 0
	if (v >= 1000 || v <= -1000) return sprintf("%.0f", v)
	if (v >= 100 || v <= -100) return sprintf("%.1f", v)
	if (v >= 10 || v <= -10) return sprintf("%.2f", v)
	return sprintf("%.3g", v)
}'

# The R rows of a results file, grouped by test in order of first appearance.
grouped() {
	awk -F'\t' '$1 == "R" {
		if (!($3 in rows)) order[n++] = $3
		rows[$3] = rows[$3] $0 "\n"
	}
	END { for (i = 0; i < n; i++) printf "%s", rows[order[i]] }' "$1"
}

# The markdown table of one results file.
md_table() {
	awk -F'\t' "$AWK_FMT"'
	BEGIN {
		print "| test | param | unit | runs | stock fork: median [min..max] | COW PTE fork: median [min..max] | COW PTE advantage: median [min..max] |"
		print "|---|---|---|---|---|---|---|"
	}
	$1 == "R" {
		adv = $18 == "-" ? "-" : fmt($18) "x [" fmt($19) ".." fmt($20) "]"
		st = $8 == "-" ? "-" : fmt($8) " [" fmt($9) ".." fmt($10) "]"
		cw = $13 == "-" ? "-" : fmt($13) " [" fmt($14) ".." fmt($15) "]"
		if ($7 == 1) {
			st = fmt($8); cw = fmt($13); adv = $18 == "-" ? "-" : fmt($18) "x"
		}
		printf "| %s | %s | %s%s | %s | %s | %s | %s |\n", $3, $4, $5,
			$6 == "higher" ? " (higher is better)" : "", $7, st, cw, adv
	}' <(grouped "$1")
}

# Data for gnuplot from the rows of @test in @file: index label s_med s_min
# s_max c_med c_min c_max r_med r_min r_max.
plot_data() {
	awk -F'\t' -v test="$2" '
	function v(x) { return x == "-" ? "NaN" : x }
	$1 == "R" && (test == "" || $3 == test) {
		lab = test == "" ? $3 " " $4 : $4
		gsub(/ /, "_", lab)
		printf "%d %s %s %s %s %s %s %s %s %s %s\n", n++, lab, v($8), v($9),
			v($10), v($13), v($14), v($15), v($18), v($19), v($20)
	}' <(grouped "$1")
}

# Stock and COW PTE medians (min..max as error bars) of one test, by param.
plot_values() {	# file test title ylabel png [log]
	local data
	data=$(mktemp)
	plot_data "$1" "$2" >"$data"
	# One point makes no line: the ratio chart shows it.
	[ "$(wc -l <"$data")" -ge 2 ] || { rm -f "$data"; return 1; }
	gnuplot <<-EOF 2>>"$DIR/gnuplot.log"
	set terminal pngcairo size 800,480 noenhanced font ",10"
	set output "$5"
	set title "$3"
	set ylabel "$4"
	set key top left
	set grid ytics
	set offsets 0.3, 0.3, 0, 0
	set bars 2
	${6:+set logscale y}
	plot "$data" using 1:3:4:5:xtic(2) with yerrorlines lw 2 pt 7 title "stock fork", \
	     "" using 1:6:7:8 with yerrorlines lw 2 pt 5 title "COW PTE fork"
	EOF
	rm -f "$data"
}

# COW PTE's advantage (median ratio, min..max of the pairs) of every row.
plot_ratios() {	# file title png
	local data
	data=$(mktemp)
	plot_data "$1" "" | awk '$9 != "NaN"' | awk '{ $1 = NR - 1; print }' >"$data"
	[ -s "$data" ] || { rm -f "$data"; return 1; }
	gnuplot <<-EOF 2>>"$DIR/gnuplot.log"
	set terminal pngcairo size 960,560 noenhanced font ",9"
	set bmargin 8
	set rmargin 8
	set output "$3"
	set title "$2"
	set ylabel "COW PTE advantage (x, log scale; >1 = COW PTE better)"
	set logscale y
	set grid ytics
	set xtics rotate by -45
	set style fill solid 0.5
	set boxwidth 0.6
	unset key
	plot "$data" using 1:9:xtic(2) with boxes, \
	     "" using 1:9:10:11 with yerrorbars lc rgb "black" pt 0, \
	     1 with lines lc rgb "red" dt 2
	EOF
	rm -f "$data"
}

# A row's value: field @f of the R row with test @t and param @p.
row_field() {	# file test param field
	awk -F'\t' -v t="$2" -v p="$3" -v f="$4" \
		'$1 == "R" && $3 == t && $4 == p { print $f; exit }' "$1" 2>/dev/null
}

# "Rx [min..max]" of a row's ratio, or "-".
ratio_cell() {	# file test param
	local r
	r=$(row_field "$1" "$2" "$3" 18)
	if [ -z "$r" ] || [ "$r" = - ]; then
		echo -
	else
		echo "${r}x [$(row_field "$1" "$2" "$3" 19)..$(row_field "$1" "$2" "$3" 20)]"
	fi
}

# met / NOT met / not measured, for a median ratio against a bound.
verdict() {	# value op bound
	[ -z "$1" ] || [ "$1" = - ] && { echo "not measured"; return; }
	awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {
		ok = op == ">=" ? v >= b : v <= b
		print ok ? "**met**" : "**NOT met**"
	}'
}

report() {
	DIR=$1
	local md=$DIR/report.md f r met
	[ -d "$DIR" ] || die "no results folder $DIR"
	command -v gnuplot >/dev/null || need_pkgs gnuplot-nox
	rm -f "$DIR"/*.png "$DIR/gnuplot.log"
	if compgen -G "$DIR/stockpath-patched-*.tsv" >/dev/null &&
	   compgen -G "$DIR/stockpath-stock-*.tsv" >/dev/null; then
		stockpath_table "$DIR" >"$DIR/stockpath.tsv"
	fi
	{
	echo "# COW PTE benchmarks"
	echo
	echo "**These are QEMU TCG timings (no KVM), not hardware timings. Only ratios between"
	echo "stock fork and COW PTE fork measured in the same boot mean anything.** Each row"
	echo "gives the median and the range (min..max) over the runs; the COW PTE advantage is"
	echo "stock/COW PTE for times (COW PTE/stock for throughputs), as the median and range"
	echo "over pairs of runs taken next to each other; above 1 means COW PTE is better."
	echo
	echo "## Setup"
	echo
	echo '```'
	cat "$DIR/env.txt" 2>/dev/null
	cat "$DIR/host.txt" 2>/dev/null
	echo '```'
	echo
	echo "## Targets"
	echo
	echo "| target | measured (median [min..max]) | verdict |"
	echo "|---|---|---|"
	f=$DIR/micro.tsv
	echo "| fork of 1 GiB of touched 4 KiB pages >= 20x faster than stock | $(ratio_cell "$f" fork 1024) | $(verdict "$(row_field "$f" fork 1024 18)" ">=" 20) |"
	f=$DIR/afl.tsv
	echo "| AFL++ large-state target >= 3x execs/s | $(ratio_cell "$f" execs large) | $(verdict "$(row_field "$f" execs large 18)" ">=" 3) |"
	r=$(awk -F'\t' '$1 == "R" && $3 == "execs" && $18 != "-" {
		if (min == "" || $18 < min) min = $18 } END { print min }' "$f" 2>/dev/null)
	echo "| no AFL++ target slower than 0.97x | worst median: $([ -n "$r" ] && echo "${r}x" || echo -) | $(verdict "$r" ">=" 0.97) |"
	f=$DIR/redis.tsv
	local gb p
	gb=$(awk -F'\t' '$1 == "I" && $3 == "data_gib" { print $5; exit }' "$f" 2>/dev/null)
	p=$(awk -F'\t' '$1 == "R" && $3 == "latest_fork_usec" { print $4; exit }' "$f" 2>/dev/null)
	echo "| Redis latest_fork_usec at 4 GB >= 20x lower (measured with ${gb:-?} GiB of data) | $(ratio_cell "$f" latest_fork_usec "$p") | $(verdict "$(row_field "$f" latest_fork_usec "$p" 18)" ">=" 20)$(awk -v g="${gb:-0}" 'BEGIN { if (g > 0 && g < 3.9) print " (smaller data set)" }') |"
	if [ -s "$DIR/stockpath.tsv" ]; then
		r=$(awk -F'\t' '$1 == "S" { d = $7 < 0 ? -$7 : $7; if (d > m) m = d } END { print m + 0 }' "$DIR/stockpath.tsv")
		local noise
		noise=$(awk -F'\t' '$1 == "S" && $9 > m { m = $9 } END { print m + 0 }' "$DIR/stockpath.tsv")
		echo "| stock path (patched, COW PTE off vs unpatched) within 1% | worst change of a median: ${r}%, against a boot-to-boot noise of up to ${noise}% | $(verdict "$r" "<=" 1)$(awk -v r="$r" -v n="$noise" 'BEGIN { if (r > 1 && n >= r) print " (not distinguishable from noise here)" }') |"
	else
		echo "| stock path (patched, COW PTE off vs unpatched) within 1% | - | not measured |"
	fi
	echo
	for f in micro redis prefork afl python; do
		[ -s "$DIR/$f.tsv" ] || continue
		echo "## $f"
		echo
		[ -f "$TOP/benchmarks/$f.md" ] && { cat "$TOP/benchmarks/$f.md"; echo; }
		md_table "$DIR/$f.tsv"
		echo
		awk -F'\t' '$1 == "I" { printf "- %s %s: %s\n", $3, $4 == "-" ? "" : $4, $5 }' "$DIR/$f.tsv"
		echo
		if plot_ratios "$DIR/$f.tsv" "$f: COW PTE advantage (median, min..max of pairs)" "$DIR/$f-ratios.png"; then
			echo "![$f ratios]($f-ratios.png)"
			echo
		fi
		for t in $(awk -F'\t' '$1 == "R" { print $3 }' "$DIR/$f.tsv" | uniq); do
			local unit log=
			unit=$(awk -F'\t' -v t="$t" '$1 == "R" && $3 == t { print $5; exit }' "$DIR/$f.tsv")
			[ "$t" = fork ] || [ "$t" = thp ] || [ "$t" = forkexit ] && log=1
			plot_values "$DIR/$f.tsv" "$t" "$f $t: stock vs COW PTE (median, min..max)" \
				"$unit" "$DIR/$f-$t.png" $log && echo "![$f $t]($f-$t.png)"
		done
		echo
		if [ -s "$DIR/status.txt" ] && ! awk -v b="$f" '$1 == b && $2 != 0 { exit 1 }' "$DIR/status.txt"; then
			echo "**$f did not finish cleanly; see $f.log.**"
			echo
		fi
	done
	if [ -s "$DIR/stockpath.tsv" ]; then
		echo "## stock path"
		echo
		echo "The patched kernel with COW PTE off against the unpatched kernel built from the"
		echo "same base and config. These are separate boots, unavoidably: compare with the"
		echo "boot-to-boot spread below before reading anything into a difference."
		echo
		echo "| test | param | unit | patched: median of each boot | unpatched: median of each boot | change of the median | change of the fastest run | boot-to-boot spread of medians |"
		echo "|---|---|---|---|---|---|---|---|"
		awk -F'\t' '$1 == "S" { printf "| %s | %s | %s | %s | %s | %+.2f%% | %+.2f%% | %.1f%% |\n", $2, $3, $4, $5, $6, $7, $8, $9 }' "$DIR/stockpath.tsv"
		echo
		echo "A change smaller than the boot-to-boot spread of the same kernel cannot be told"
		echo "from noise; the 1% target can only be checked on a quiet machine."
		echo
	fi
	} >"$md"
	note "report: $md"
}

# Combine the stock path boots: one S row per test with every boot's median,
# the change of the median of the boots' medians, the change of the fastest
# run (least disturbed by other work on the machine), and the boot-to-boot
# spread of the medians within each kernel, the noise floor of the change.
stockpath_table() {
	local dir=$1
	awk -F'\t' '
	FNR == 1 { kern = (FILENAME ~ /-patched-/) ? "p" : "s" }
	$1 == "R" {
		key = $3 "\t" $4 "\t" $5
		if (!(key in seen)) { seen[key] = 1; keys[n++] = key }
		med[kern, key] = med[kern, key] (med[kern, key] == "" ? "" : " ") $8
		if (!((kern, key) in low) || $9 + 0 < low[kern, key]) low[kern, key] = $9 + 0
	}
	function sorted(list, a,   m, i, j, t) {
		m = split(list, a, " ")
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
			if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return m
	}
	function median(list,   a, m) {
		m = sorted(list, a)
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	function spread(list,   a, m) {
		m = sorted(list, a)
		return a[1] > 0 ? (a[m] / a[1] - 1) * 100 : 0
	}
	END {
		for (i = 0; i < n; i++) {
			k = keys[i]
			if (med["p", k] == "" || med["s", k] == "") continue
			p = median(med["p", k]); s = median(med["s", k])
			sp = spread(med["p", k]); ss = spread(med["s", k])
			printf "S\t%s\t%s\t%s\t%.2f\t%.2f\t%.1f\n", k, med["p", k], med["s", k],
				(p / s - 1) * 100, (low["p", k] / low["s", k] - 1) * 100,
				(sp > ss ? sp : ss)
		}
	}' "$dir"/stockpath-patched-*.tsv "$dir"/stockpath-stock-*.tsv
}

# ---------------------------------------------------------------- host side

# Boot @kernel with memory @mem and run the guest part for @benches.
boot() {	# kernel mem log benches [stockpath tag]
	local cmd
	cmd="GUEST_BENCH='$4' QUICK=$quick RUNS=$(runs) STOCKPATH_TAG='$5'"
	cmd+=" REDIS_COW_MODE=${REDIS_COW_MODE:-exec} harness/bench.sh guest"
	LOG=$3 KERNEL=$1 MEM=$2 TIMEOUT=${BENCH_TIMEOUT:-5400} CMD="$cmd" \
		"$TOP/harness/run.sh" 2>&1 | grep -E --line-buffered '^(==|forkbench:|[a-z]+-bench:)' 
	local rc=${PIPESTATUS[0]}
	cp "$3"/share/*.tsv "$3"/share/*.log "$DIR"/ 2>/dev/null
	cp "$3"/share/env.txt "$DIR/env${5:+-stockpath-$5}.txt" 2>/dev/null
	cat "$3"/share/status.txt >>"$DIR/status.txt" 2>/dev/null
	cp "$3/console.log" "$DIR/console-$(basename "$3").log" 2>/dev/null
	return "$rc"
}

host() {
	local benches main=() b kernel stock_kernel mem fails=0 i
	benches=$(selected) || exit 1
	for b in $benches; do
		[ "$b" = stockpath ] || main+=("$b")
	done
	local pkgs=(gnuplot-nox)
	[[ " $benches " == *" redis "* ]] && pkgs+=(redis-server redis-tools)
	[[ " $benches " == *" afl "* ]] && pkgs+=(afl++ clang llvm)
	[[ " $benches " == *" python "* ]] && pkgs+=(python3-numpy)
	need_pkgs "${pkgs[@]}"
	make -s -C "$TOP/launcher" || die "building launcher/ failed"
	make -s -C "$TOP/benchmarks" BUILD="$BUILD" || die "building benchmarks/ failed"

	if [ -n "$KERNEL" ]; then
		kernel=$(realpath "$KERNEL") || die "no kernel at $KERNEL"
	else
		"$TOP/harness/kernel.sh" release || exit 1
		kernel=$BUILD/out/release/arch/x86/boot/bzImage
	fi
	[ -f "$kernel" ] || die "no kernel at $kernel"
	mem=${MEM:-$([ "$quick" = 1 ] && echo 4G || echo 10G)}

	DIR=${RESULTS:-$BUILD/bench/$(date -u +%Y%m%d-%H%M%S)}
	mkdir -p "$DIR" || die "cannot create $DIR"
	DIR=$(realpath "$DIR")
	# A folder can be filled in several calls (RESULTS=, BENCH=): forget
	# only the earlier status of what runs again.
	touch "$DIR/status.txt"
	for b in $benches; do
		sed -i "/^$b[ -]/d" "$DIR/status.txt"
	done
	{
		[ -s "$DIR/host.txt" ] ||
			echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, shared with other work"
		echo "run $(date -u '+%Y-%m-%d %H:%M UTC'): $benches; benchmarks at commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)"
		echo "  host load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
		if [ "${ICOUNT:-0}" = 1 ]; then
			echo "  qemu: $(qemu-system-x86_64 --version | head -1), -accel tcg,thread=single -icount shift=0,sleep=off,align=off -cpu max -smp ${SMP:-1} -m $mem"
			echo "  ICOUNT=1: every time in this report is a count of guest instructions (1 ns = 1 instruction)"
		else
			echo "  qemu: $(qemu-system-x86_64 --version | head -1), -accel tcg,thread=multi -cpu max -smp ${SMP:-2} -m $mem"
		fi
		echo "  cow pte kernel: $kernel (sha256 $(sha256sum "$kernel" | cut -c1-12))"
	} >>"$DIR/host.txt"
	cd "$TOP" || exit 1

	if [ ${#main[@]} -gt 0 ]; then
		note "booting $kernel (MEM=$mem) for: ${main[*]}"
		boot "$kernel" "$mem" "$BUILD/runs/bench" "${main[*]}" || fails=$((fails + 1))
	fi
	if [[ " $benches " == *" stockpath "* ]]; then
		if [ -n "$STOCK_KERNEL" ]; then
			stock_kernel=$(realpath "$STOCK_KERNEL") || die "no kernel at $STOCK_KERNEL"
		else
			stock_kernel=$BUILD/out/stock/arch/x86/boot/bzImage
			[ -f "$stock_kernel" ] || "$TOP/harness/kernel.sh" stock || exit 1
		fi
		echo "  stock kernel: $stock_kernel (sha256 $(sha256sum "$stock_kernel" | cut -c1-12)), 4G guests" >>"$DIR/host.txt"
		local boots=${STOCK_BOOTS:-$([ "$quick" = 1 ] && echo 1 || echo 2)}
		[[ "$boots" =~ ^[1-9]$ ]] || die "STOCK_BOOTS must be 1..9"
		rm -f "$DIR"/stockpath-*.tsv "$DIR"/env-stockpath-*.txt
		# Which kernel boots first alternates, so a drift in the machine's
		# load does not always favour the same one.
		for ((i = 1; i <= boots; i++)); do
			local order="patched stock" k
			[ $((i % 2)) = 0 ] && order="stock patched"
			for k in $order; do
				note "stock path $i/$boots: $k kernel"
				boot "$([ $k = patched ] && echo "$kernel" || echo "$stock_kernel")" 4G \
					"$BUILD/runs/bench-sp-$k" stockpath "$k-$i" || fails=$((fails + 1))
			done
		done
	fi

	report "$DIR"
	# The latest report, kept with the sources.
	local keep=$TOP/benchmarks/results
	mkdir -p "$keep"
	rm -f "$keep"/*.md "$keep"/*.png "$keep"/*.tsv "$keep"/*.txt
	cp "$DIR"/report.md "$DIR"/*.png "$DIR"/*.tsv "$DIR"/*.txt "$keep"/ 2>/dev/null
	note "results: $DIR (copied to benchmarks/results/)"
	awk '$2 != 0 { printf "error: benchmark %s exited with %s\n", $1, $2; bad = 1 }
	     END { exit bad }' "$DIR/status.txt" >&2 || fails=$((fails + 1))
	[ $fails = 0 ]
}

case "$1" in
"")	host ;;
guest)	guest ;;
report)	[ -n "$2" ] || die "usage: bench.sh report DIR"; report "$2" ;;
*)	die "usage: bench.sh [guest | report DIR]" ;;
esac
