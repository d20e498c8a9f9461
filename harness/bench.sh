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
#   BENCH          comma-separated subset of micro,scale,redis,prefork,afl,
#                  python,stockpath
#                  (default: all of them)
#   QUICK=1        shorter runs and less memory, for a first look
#   KERNEL         the COW PTE bzImage to boot (default: build the release one)
#   STOCK_KERNEL   the unpatched bzImage (default: build/out/stock, built if missing)
#   MEM            guest memory for the main boot (default 10G, QUICK 4G)
#   RUNS           runs per mode and point (default 7, QUICK 3)
#   STOCK_BOOTS    boots of each kernel for the stock path (default 2, QUICK 1)
#   RESULTS        results folder (default $BUILD/bench/<date>-<time>)
#   ICOUNT=1       count guest instructions instead of time (run.sh), on one
#                  vCPU: results go to icount-*.tsv beside the wall-clock
#                  ones, and where a folder (RESULTS=) holds both, the
#                  report puts the two advantages side by side
#   REDIS_COW_MODE exec (default) or snapshot: the launcher mode of the
#                  redis benchmark's COW PTE side
#   AFL_RUNS, AFL_SECONDS, AFL_LARGE_MIB, REDIS_GIB, REDIS_DURING,
#   PREFORK_MIB    passed to the benchmark scripts (see each of them)
#   COWPTE_PMD=1   share PMD tables too (vm.cow_pte_pmd=1) in the guest; the
#                  scale benchmark measures both ways whatever this says
set -o pipefail
. "$(dirname "$0")/common.sh"

ALL_BENCH="micro scale redis prefork afl python stockpath"
# Results of an ICOUNT=1 run are named icount-*.
PFX=
[ "${ICOUNT:-0}" = 1 ] && PFX=icount-

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
	local out=/run/out r fails=0 b pfx=
	r=$(runs)
	[ "${COWPTE_ICOUNT:-0}" = 1 ] && pfx=icount-
	export PATH=$TOP/launcher:$TOP/benchmarks:$PATH QUICK RUNS=$r
	case ${COWPTE_PMD:-0} in
	0) ;;
	1) echo 1 >/proc/sys/vm/cow_pte_pmd || die "COWPTE_PMD=1: this kernel has no vm.cow_pte_pmd" ;;
	*) die "COWPTE_PMD takes 0 or 1, not '$COWPTE_PMD'" ;;
	esac
	: >$out/status.txt
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "kernel: $(uname -r) $(uname -v)"
		echo "cow_pte: $(cowpte -q true 2>/dev/null && echo yes || echo no)"
		echo "cow_pte_pmd: $(cat /proc/sys/vm/cow_pte_pmd 2>/dev/null || echo none)"
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
				guest_one ${pfx}micro forkbench -r "$r" -s 0,64,256,1024 -w 64
			else
				guest_one ${pfx}micro forkbench -r "$r" -s 0,64,256,1024,4096 -w 256
			fi ;;
		scale)
			guest_one ${pfx}scale forkbench -t scale -r "$r" -S \
				"$([ "$quick" = 1 ] && echo 0,1024,4096 || echo 0,1024,4096,16384,65536)" ;;
		stockpath)
			guest_one "${pfx}stockpath-$STOCKPATH_TAG" forkbench -t stockpath -r "$r" \
				-w "$([ "$quick" = 1 ] && echo 64 || echo 256)" ;;
		*)
			guest_one "$pfx$b" "$TOP/benchmarks/$b-bench.sh" ;;
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

# The markdown table of one results file. An ICOUNT file (icount-*) is
# in instructions; @2, the wall-clock file of the same benchmark, then
# adds its advantage in a last column, row by row.
md_table() {	# file [wall-clock file]
	local ic=0
	[[ "$(basename "$1")" == icount-* ]] && ic=1
	awk -F'\t' -v ic=$ic -v wall="${2:-}" "$AWK_FMT"'
	function unit(u) {
		if (!ic) return u
		if (u == "us") return "k instr."
		if (u == "ms") return "M instr."
		if (u == "s") return "G instr."
		if (u == "ns") return "instr."
		if (u == "ns/page") return "instr./page"
		if (sub(/^us\//, "k instr./", u)) return u
		if (sub(/\/s$/, " per G instr.", u)) return u
		return u
	}
	function adv(a, lo, hi) {
		return a == "-" ? "-" : fmt(a) "x [" fmt(lo) ".." fmt(hi) "]"
	}
	BEGIN {
		if (wall != "")
			while ((getline line < wall) > 0) {
				split(line, w, "\t")
				if (w[1] == "R")
					wadv[w[3], w[4]] = w[7] == 1 ? fmt(w[18]) "x" : adv(w[18], w[19], w[20])
			}
		printf "| test | param | unit | runs | stock fork: median [min..max] | COW PTE fork: median [min..max] | COW PTE advantage%s: median [min..max] |%s\n",
			ic ? " in instructions" : "", wall != "" ? " advantage in TCG wall clock |" : ""
		printf "|---|---|---|---|---|---|---|%s\n", wall != "" ? "---|" : ""
	}
	$1 == "R" {
		a = adv($18, $19, $20)
		st = $8 == "-" ? "-" : fmt($8) " [" fmt($9) ".." fmt($10) "]"
		cw = $13 == "-" ? "-" : fmt($13) " [" fmt($14) ".." fmt($15) "]"
		if ($7 == 1) {
			st = fmt($8); cw = fmt($13); a = $18 == "-" ? "-" : fmt($18) "x"
		}
		printf "| %s | %s | %s%s | %s | %s | %s | %s |", $3, $4, unit($5),
			$6 == "higher" ? " (higher is better)" : "", $7, st, cw, a
		if (wall != "")
			printf " %s |", (($3, $4) in wadv) ? wadv[$3, $4] : "-"
		printf "\n"
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

# COW PTE's advantage (median ratio, min..max of the pairs) of every row;
# with @4, a wall-clock results file, its advantage as a second bar.
plot_ratios() {	# file title png [wall-clock file]
	local data plot bw=0.6
	data=$(mktemp)
	plot_data "$1" "" | awk '$9 != "NaN"' | awk -v wall="${4:-}" '
	BEGIN {
		if (wall != "")
			while ((getline line < wall) > 0) {
				split(line, w, "\t")
				if (w[1] == "R" && w[18] != "-") {
					k = w[3] " " w[4]
					gsub(/ /, "_", k)
					wr[k] = w[18] " " w[19] " " w[20]
				}
			}
	}
	{
		$1 = NR - 1
		print $0, (wall == "" ? "" : ($2 in wr) ? wr[$2] : "NaN NaN NaN")
	}' >"$data"
	[ -s "$data" ] || { rm -f "$data"; return 1; }
	if [ -n "${4:-}" ]; then
		bw=0.4
		plot='"'"$data"'" using ($1 - 0.2):9:xtic(2) with boxes title "instructions", \
	     "" using ($1 - 0.2):9:10:11 with yerrorbars lc rgb "black" pt 0 notitle, \
	     "" using ($1 + 0.2):12 with boxes title "TCG wall clock", \
	     "" using ($1 + 0.2):12:13:14 with yerrorbars lc rgb "black" pt 0 notitle, \
	     1 with lines lc rgb "red" dt 2 notitle'
	else
		plot='"'"$data"'" using 1:9:xtic(2) with boxes notitle, \
	     "" using 1:9:10:11 with yerrorbars lc rgb "black" pt 0 notitle, \
	     1 with lines lc rgb "red" dt 2 notitle'
	fi
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
	set boxwidth $bw
	set key top left
	plot $plot
	EOF
	rm -f "$data"
}

# The worst median ratio of the R rows of @file whose test matches the
# awk regex @re (and param @p, if given), as "value cell"; nothing if none.
worst() {	# file re param op
	[ -s "$1" ] || return 0
	awk -F'\t' -v re="^($2)\$" -v p="$3" -v op="$4" "$AWK_FMT"'
	$1 == "R" && $3 ~ re && (p == "" || $4 == p) && $18 != "-" {
		bad = op == ">=" ? $18 + 0 < w : $18 + 0 > w
		if (n++ == 0 || bad) {
			w = $18 + 0
			c = fmt($18) "x" ($7 > 1 ? " [" fmt($19) ".." fmt($20) "]" : "")
			if (p == "") c = c " (" $3 " " $4 ")"
		}
	}
	END { if (n) print w, c }' "$1"
}

# met / NOT met, for a median ratio against a bound.
verdict() {	# value op bound
	awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {
		ok = op == ">=" ? v >= b : v <= b
		print ok ? "**met**" : "**NOT met**"
	}'
}

# One row of the targets table: the worst median ratio among the rows of
# benchmark @b whose test matches @re, in instructions and in TCG wall
# clock; the verdict goes by instructions where they were measured.
target() {	# text benchmark re param op bound
	local text=$1 b=$2 re=$3 p=$4 op=$5 bound=$6 v c iv= wv= icell=- wcell=-
	read -r v c < <(worst "$DIR/icount-$b.tsv" "$re" "$p" "$op")
	[ -n "$v" ] && { iv=$v; icell=$c; }
	v=; c=
	read -r v c < <(worst "$DIR/$b.tsv" "$re" "$p" "$op")
	[ -n "$v" ] && { wv=$v; wcell=$c; }
	if [ -n "$iv" ]; then
		v="$(verdict "$iv" "$op" "$bound")"
	elif [ -n "$wv" ]; then
		v="$(verdict "$wv" "$op" "$bound") (wall clock only)"
	else
		v="not measured"
	fi
	echo "| $text | $icell | $wcell | $v |"
}

# How fork with COW PTE grows with memory in the scale benchmark: the
# largest size's median over the empty process's, the worst of 4 KiB pages
# and THP (of the rows with PMD tables shared, if any), as "value cell";
# nothing if not measured.
growth() {	# file
	[ -s "$1" ] || return 0
	awk -F'\t' "$AWK_FMT"'
	$1 == "R" && $3 ~ /^fork-/ && $13 != "-" {
		if ($4 == 0) base[$3] = $13
		if (!($3 in top) || $4 + 0 >= top[$3]) { top[$3] = $4 + 0; med[$3] = $13 }
		if ($3 ~ /-pmd$/) pmd = 1
	}
	END {
		for (t in med) {
			# With PMD tables shared, the target is theirs.
			if (pmd && t !~ /-pmd$/) continue
			if (!(t in base) || base[t] <= 0) continue
			r = med[t] / base[t]
			if (n++ == 0 || r > w) { w = r; c = fmt(r) "x (" t " at " top[t] " MiB)" }
		}
		if (n) print w, c
	}' "$1"
}

# The constant-time fork target: fork of the largest size within @bound
# times an empty process's fork.
growth_target() {	# text bound
	local v c iv= icell=- wcell=- verdict
	read -r v c < <(growth "$DIR/icount-scale.tsv")
	[ -n "$v" ] && { iv=$v; icell=$c; }
	v=; c=
	read -r v c < <(growth "$DIR/scale.tsv")
	[ -n "$v" ] && wcell=$c
	if [ -n "$iv" ]; then
		verdict=$(verdict "$iv" "<=" "$2")
	elif [ -n "$v" ]; then
		verdict="$(verdict "$v" "<=" "$2") (wall clock only)"
	else
		verdict="not measured"
	fi
	echo "| $1 | $icell | $wcell | $verdict |"
}

# The stock path target of one kind of measurement (@pfx: icount- or "").
stockpath_target() {	# pfx bound
	local f=$DIR/${1}stockpath.tsv r noise
	[ -s "$f" ] || { echo "-"; return; }
	r=$(awk -F'\t' '$1 == "S" { d = $7 < 0 ? -$7 : $7; if (d >= m) { m = d; t = $2 " " $3 } } END { printf "%.2f%% (%s)", m, t }' "$f")
	noise=$(awk -F'\t' '$1 == "S" && $9 > m { m = $9 } END { print m + 0 }' "$f")
	echo "worst change of a median: $r; boot-to-boot spread up to ${noise}%"
}

stockpath_verdict() {	# pfx bound
	local f=$DIR/${1}stockpath.tsv r noise
	r=$(awk -F'\t' '$1 == "S" { d = $7 < 0 ? -$7 : $7; if (d > m) m = d } END { print m + 0 }' "$f")
	noise=$(awk -F'\t' '$1 == "S" && $9 > m { m = $9 } END { print m + 0 }' "$f")
	echo "$(verdict "$r" "<=" "$2")$(awk -v r="$r" -v n="$noise" -v b="$2" 'BEGIN { if (r > b && n >= r) print " (within the noise of this kind)" }')"
}

# The stock path table of one kind of measurement.
stockpath_section() {	# pfx title
	local f=$DIR/${1}stockpath.tsv ic=0
	[ -s "$f" ] || return 0
	[ -n "$1" ] && ic=1
	echo "### $2"
	echo
	echo "| test | param | unit | patched: median of each boot | unpatched: median of each boot | change of the median | change of the fastest run | boot-to-boot spread of medians |"
	echo "|---|---|---|---|---|---|---|---|"
	awk -F'\t' -v ic=$ic '
	function unit(u) {
		if (!ic) return u
		if (u == "us") return "k instr."
		if (u == "ns/page") return "instr./page"
		return u
	}
	$1 == "S" { printf "| %s | %s | %s | %s | %s | %+.2f%% | %+.2f%% | %.1f%% |\n", $2, $3, unit($4), $5, $6, $7, $8, $9 }' "$f"
	echo
}

report() {
	DIR=$1
	local md=$DIR/report.md f main wall t pfx
	[ -d "$DIR" ] || die "no results folder $DIR"
	command -v gnuplot >/dev/null || need_pkgs gnuplot-nox
	rm -f "$DIR"/*.png "$DIR/gnuplot.log"
	for pfx in "" icount-; do
		if compgen -G "$DIR/${pfx}stockpath-patched-*.tsv" >/dev/null &&
		   compgen -G "$DIR/${pfx}stockpath-stock-*.tsv" >/dev/null; then
			stockpath_table "$DIR" "$pfx" >"$DIR/${pfx}stockpath.tsv"
		else
			rm -f "$DIR/${pfx}stockpath.tsv"
		fi
	done
	{
	echo "# COW PTE benchmarks"
	echo
	echo "**These are QEMU TCG figures (no KVM), not hardware timings, of two kinds.**"
	echo "Counts of guest instructions (\`ICOUNT=1\`: one vCPU, the guest clock advancing"
	echo "1 ns per instruction) repeat within a fraction of a percent from boot to boot; TCG"
	echo "wall-clock times move by tens of percent between boots, so only ratios of stock"
	echo "and COW PTE fork measured in the same boot mean anything there. Instruction"
	echo "counts leave out the cache misses and memory bandwidth that dominate stock fork's"
	echo "copy on hardware. Each row gives the median and the range (min..max) over the"
	echo "runs; the COW PTE advantage is stock/COW PTE for costs (COW PTE/stock for"
	echo "throughputs), as the median and range over pairs of runs taken next to each other;"
	echo "above 1 means COW PTE is better."
	echo
	echo "## Setup"
	echo
	echo '```'
	cat "$DIR/icount-env.txt" 2>/dev/null && echo
	cat "$DIR/env.txt" 2>/dev/null && echo
	cat "$DIR/host.txt" 2>/dev/null
	echo '```'
	echo
	echo "## Targets"
	echo
	echo "The worst median ratio among the rows a target covers; the verdict goes by"
	echo "instructions where they were measured."
	echo
	echo "| target | in instructions | in TCG wall clock | verdict |"
	echo "|---|---|---|---|"
	target "fork of 1 GiB of touched 4 KiB pages >= 20x cheaper than stock" micro fork 1024 ">=" 20
	target "fork+exit of a small process with the mode on: at most 0.2% more than off (>= 0.998x)" micro forkexit 0 ">=" 0.998
	growth_target "fork with COW PTE of the largest size (64 GiB) within 1.25x of an empty process's, 4 KiB pages and THP" 1.25
	target "AFL++ large-state target >= 3x execs" afl execs large ">=" 3
	target "no AFL++ target below 1.0x" afl execs "" ">=" 1
	target "pre-forking server: no measure below 1.0x" prefork "p50|p99|max|rps" "" ">=" 1
	target "Python worker: no total below 1.0x" python "total_cow_pte|total_snapshot" "" ">=" 1
	target "Redis latest_fork_usec >= 20x lower" redis latest_fork_usec "" ">=" 20
	target "Redis GET/SET p99 during BGSAVE no worse than stock's" redis during_p99 "" ">=" 1
	if [ -s "$DIR/icount-stockpath.tsv" ] || [ -s "$DIR/stockpath.tsv" ]; then
		local sv
		if [ -s "$DIR/icount-stockpath.tsv" ]; then
			sv=$(stockpath_verdict icount- 0.5)
		else
			sv="$(stockpath_verdict "" 0.5) (wall clock only)"
		fi
		echo "| stock path (patched, COW PTE off, vs unpatched) within 0.5% | $(stockpath_target icount-) | $(stockpath_target "") | $sv |"
	else
		echo "| stock path (patched, COW PTE off, vs unpatched) within 0.5% | - | - | not measured |"
	fi
	echo
	for f in micro scale redis prefork afl python; do
		main=$DIR/icount-$f.tsv
		wall=$DIR/$f.tsv
		if [ -s "$main" ]; then
			[ -s "$wall" ] || wall=
		elif [ -s "$wall" ]; then
			main=$wall
			wall=
		else
			continue
		fi
		echo "## $f"
		echo
		[ -f "$TOP/benchmarks/$f.md" ] && { cat "$TOP/benchmarks/$f.md"; echo; }
		if [ "$main" = "$DIR/icount-$f.tsv" ]; then
			echo "In guest instructions$([ -n "$wall" ] && echo ", with the TCG wall-clock advantage of the other run in the last column")."
			echo
		fi
		md_table "$main" "$wall"
		echo
		awk -F'\t' '$1 == "I" { printf "- %s %s: %s\n", $3, $4 == "-" ? "" : $4, $5 }' "$main"
		echo
		local kind=
		[ "$main" = "$DIR/icount-$f.tsv" ] && kind=" in instructions"
		if plot_ratios "$main" "$f: COW PTE advantage$kind (median, min..max of pairs)" \
			"$DIR/$f-ratios.png" "$wall"; then
			echo "![$f ratios]($f-ratios.png)"
			echo
		fi
		for t in $(awk -F'\t' '$1 == "R" && !seen[$3]++ { print $3 }' "$main"); do
			local unit log=
			unit=$(awk -F'\t' -v t="$t" '$1 == "R" && $3 == t { print $5; exit }' "$main")
			[ -n "$kind" ] && unit="$unit (1 ns = 1 instruction)"
			[[ "$t" =~ ^(fork|thp|forkexit)$|^fork- ]] && log=1
			plot_values "$main" "$t" "$f $t: stock vs COW PTE$kind (median, min..max)" \
				"$unit" "$DIR/$f-$t.png" $log && echo "![$f $t]($f-$t.png)"
		done
		echo
		if [ -s "$DIR/status.txt" ] &&
		   ! awk -v b="$f" '($1 == b || $1 == "icount-" b) && $2 != 0 { exit 1 }' "$DIR/status.txt"; then
			echo "**$f did not finish cleanly; see $f.log or icount-$f.log.**"
			echo
		fi
	done
	if [ -s "$DIR/icount-stockpath.tsv" ] || [ -s "$DIR/stockpath.tsv" ]; then
		echo "## stock path"
		echo
		echo "The patched kernel with COW PTE off against the unpatched kernel built from the"
		echo "same base and config. These are separate boots, unavoidably: compare with the"
		echo "boot-to-boot spread before reading anything into a difference. In instructions"
		echo "that spread is a fraction of a percent; in TCG wall clock it is tens of percent."
		echo
		stockpath_section icount- "In guest instructions"
		stockpath_section "" "In TCG wall clock"
	fi
	} >"$md"
	note "report: $md"
}

# Combine the stock path boots: one S row per test with every boot's median,
# the change of the median of the boots' medians, the change of the fastest
# run (least disturbed by other work on the machine), and the boot-to-boot
# spread of the medians within each kernel, the noise floor of the change.
stockpath_table() {	# dir pfx
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
	}' "$dir/${2}stockpath-patched-"*.tsv "$dir/${2}stockpath-stock-"*.tsv
}

# ---------------------------------------------------------------- host side

# Boot @kernel with memory @mem and run the guest part for @benches.
boot() {	# kernel mem log benches [stockpath tag]
	local cmd v
	cmd="GUEST_BENCH='$4' QUICK=$quick RUNS=$(runs) STOCKPATH_TAG='$5'"
	cmd+=" REDIS_COW_MODE=${REDIS_COW_MODE:-exec}"
	# The benchmarks' own settings, where given (see each script).
	for v in AFL_RUNS AFL_SECONDS AFL_LARGE_MIB REDIS_GIB REDIS_DURING PREFORK_MIB \
		COWPTE_PMD; do
		[ -n "${!v}" ] && cmd+=" $v=$(printf %q "${!v}")"
	done
	cmd+=" harness/bench.sh guest"
	LOG=$3 KERNEL=$1 MEM=$2 TIMEOUT=${BENCH_TIMEOUT:-5400} CMD="$cmd" \
		"$TOP/harness/run.sh" 2>&1 | grep -E --line-buffered '^(==|forkbench:|[a-z]+-bench:)' 
	local rc=${PIPESTATUS[0]}
	cp "$3"/share/*.tsv "$3"/share/*.log "$DIR"/ 2>/dev/null
	cp "$3"/share/env.txt "$DIR/${PFX}env${5:+-stockpath-$5}.txt" 2>/dev/null
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
	local pkgs=(gnuplot-nox qemu-system-x86)
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
	# A folder can be filled in several calls (RESULTS=, BENCH=, ICOUNT=):
	# forget only the earlier status of what runs again.
	touch "$DIR/status.txt"
	for b in $benches; do
		sed -i "/^$PFX$b[ -]/d" "$DIR/status.txt"
	done
	{
		[ -s "$DIR/host.txt" ] ||
			echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, shared with other work"
		echo "run $(date -u '+%Y-%m-%d %H:%M UTC'): $benches; benchmarks at commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)"
		echo "  host load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
		if [ "${ICOUNT:-0}" = 1 ]; then
			echo "  qemu: $(qemu-system-x86_64 --version | head -1), -accel tcg,thread=single -icount shift=0,sleep=off,align=off -cpu max -smp ${SMP:-1} -m $mem"
			echo "  ICOUNT=1: the times of this run (icount-*) are counts of guest instructions (1 ns = 1 instruction)"
		else
			echo "  qemu: $(qemu-system-x86_64 --version | head -1), -accel tcg,thread=multi -cpu max -smp ${SMP:-2} -m $mem"
		fi
		echo "  cow pte kernel: $kernel (sha256 $(sha256sum "$kernel" | cut -c1-12))"
	} >>"$DIR/host.txt"
	cd "$TOP" || exit 1

	if [ ${#main[@]} -gt 0 ]; then
		note "booting $kernel (MEM=$mem) for: ${main[*]}"
		boot "$kernel" "$mem" "$BUILD/runs/${PFX}bench" "${main[*]}" || fails=$((fails + 1))
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
		rm -f "$DIR/${PFX}stockpath-"*.tsv "$DIR/${PFX}env-stockpath-"*.txt
		# Which kernel boots first alternates, so a drift in the machine's
		# load does not always favour the same one.
		for ((i = 1; i <= boots; i++)); do
			local order="patched stock" k
			[ $((i % 2)) = 0 ] && order="stock patched"
			for k in $order; do
				note "stock path $i/$boots: $k kernel"
				boot "$([ $k = patched ] && echo "$kernel" || echo "$stock_kernel")" 4G \
					"$BUILD/runs/${PFX}bench-sp-$k" stockpath "$k-$i" || fails=$((fails + 1))
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
