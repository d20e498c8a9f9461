#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel under QEMU TCG with the host's root shared read-only over 9p,
# run one command as root in the host's current directory, and exit with its
# status. Fails, whatever the command returned, when the guest kernel log
# shows a splat or an mm accounting complaint.
#
# Settings come from the environment (the Makefile passes them through):
#   CMD      command line to run (required)
#   VARIANT  release, debug or stock (default release)
#   MEM      guest memory (default 4G)        SMP      vCPUs (default 2)
#   NUMA=1   two NUMA nodes                   CMDLINE  extra kernel parameters
#   TIMEOUT  seconds before a hung guest is killed (default 1800)
#   LOG      where to keep the console log and dmesg (default $BUILD/runs/last)
#   KERNEL   a bzImage to boot instead of the VARIANT's (for example a copy
#            kept for a long benchmark while the tree is rebuilt)
#   ICOUNT=1 count instructions instead of time: one TCG thread, and the
#            guest clock advances 1 ns per guest instruction (QEMU
#            -icount shift=0), so what a guest program times comes out in
#            instructions, the same from run to run; SMP defaults to 1
set -o pipefail
. "$(dirname "$0")/common.sh"

[ -n "$CMD" ] || die "no command: make run CMD=\"...\""
VARIANT=${VARIANT:-release}
MEM=${MEM:-4G}
ICOUNT=${ICOUNT:-0}
[[ "$ICOUNT" =~ ^[01]$ ]] || die "ICOUNT takes 0 or 1, not '$ICOUNT'"
if [ "$ICOUNT" = 1 ]; then
	SMP=${SMP:-1}
else
	SMP=${SMP:-2}
fi
TIMEOUT=${TIMEOUT:-1800}
kernel=${KERNEL:-$BUILD/out/$VARIANT/arch/x86/boot/bzImage}
[ -f "$kernel" ] || die "no $VARIANT kernel at $kernel: run 'make kernel' first"
[[ "$MEM" =~ ^[0-9]+[MG]$ ]] || die "MEM must look like 4G or 512M, not '$MEM'"
[[ "$SMP" =~ ^[1-8]$ ]] || die "SMP must be 1..8, not '$SMP'"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "TIMEOUT must be a number of seconds"
case "$PWD" in
/tmp|/tmp/*|/run/*|/var/tmp/*|/root|/root/*)
	die "run from a folder the guest can see ($PWD is hidden by a guest tmpfs)" ;;
esac
command -v qemu-system-x86_64 >/dev/null || need_pkgs qemu-system-x86

LOG=${LOG:-$BUILD/runs/last}
rm -rf "$LOG"
mkdir -p "$LOG/share"
{
	printf 'COWPTE_CMD=%q\n' "$CMD"
	printf 'COWPTE_CWD=%q\n' "$PWD"
	printf 'export COWPTE_VARIANT=%q COWPTE_TOP=%q COWPTE_ICOUNT=%q\n' \
		"$VARIANT" "$TOP" "$ICOUNT"
	[ -n "$COWPTE_SWAP" ] && printf 'COWPTE_SWAP=%q\n' "$COWPTE_SWAP"
} >"$LOG/share/env"

numa=()
smp=$SMP
if [ "${NUMA:-0}" = 1 ]; then
	[ "$SMP" -ge 2 ] && [ $((SMP % 2)) = 0 ] || die "NUMA=1 needs an even SMP"
	# One socket per node: CPUs of different nodes must not share a cache,
	# or the kernel warns (topology_sane) at boot.
	smp="$SMP,sockets=2,cores=$((SMP / 2)),threads=1"
	half=$(( ${MEM%[MG]} / 2 ))${MEM: -1}
	numa=(-object "memory-backend-ram,id=m0,size=$half"
	      -object "memory-backend-ram,id=m1,size=$half"
	      -numa "node,nodeid=0,memdev=m0,cpus=0-$((SMP / 2 - 1))"
	      -numa "node,nodeid=1,memdev=m1,cpus=$((SMP / 2))-$((SMP - 1))")
fi

# A large log buffer, so that thousands of lines from one test (the mm
# kselftests' memory-failure cases) do not push an earlier splat out of the
# dmesg that is checked below.
append="console=ttyS0 loglevel=5 log_buf_len=16M panic=-1 root=hostroot rootfstype=9p"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro"
append+=" init=$TOP/harness/guest-init.sh"
# The debug kernel (KASAN, lockdep) interprets ACPI's PCI interrupt routing
# (_PRT) so slowly under TCG that ACPICA's 30 s loop timeout can abort it;
# the virtio devices then get no interrupt and the 9p root mount hangs
# (seen in every debug boot on 2026-11-28). Route PCI interrupts from the
# BIOS table instead; ACPI still gives the NUMA layout.
[ "$VARIANT" = debug ] && append+=" pci=noacpi"
# KASAN (generic, inline) with 5-level paging gives a false wild-memory-access
# report at early boot when an interrupt lands while identify_cpu() has
# cleared the boot CPU's capability words: pgtable_l5_enabled() then reads
# false, so the shadow's start is computed for 4 levels and direct-map
# addresses (ff11...) look unmapped. Stock code: seen in one of five debug
# boots on 2026-11-30 (rcu_is_watching() from common_interrupt), and
# reported upstream ("kasan: Fix false-positive wild-memory-access on x86
# under 5-level paging", June 2026). The debug kernel boots with 4 levels;
# the release kernel keeps 5.
[ "$VARIANT" = debug ] && append+=" no5lvl"
append+=" $CMDLINE"

# DIAG=1, for harness/diag/hostperf.sh: a monitor socket, and trace output
# (QEMU prints the events the monitor enables only once one was enabled at
# start, so enable one that never fires here: a VFIO quirk). Off by
# default: a socket path longer than 107 bytes would stop QEMU.
diag=(-monitor none)
[ -n "$DIAG" ] && diag=(-monitor "unix:$LOG/monitor.sock,server=on,wait=off"
	-trace vfio_quirk_ati_bonaire_reset_no_smc -D "$LOG/trace.log")
# Instruction counting: with shift=0 each guest instruction advances the
# virtual clock by 1 ns; sleep=off lets idle time pass at once instead of
# in real time, align=off never slows the guest to wall-clock pace. It
# needs a single TCG thread, so all vCPUs take turns on one host thread.
accel=(-accel tcg,thread=multi)
[ "$ICOUNT" = 1 ] && accel=(-accel tcg,thread=single -icount shift=0,sleep=off,align=off)
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
	"${accel[@]}" -cpu max -smp "$smp" -m "$MEM" "${numa[@]}" \
	-kernel "$kernel" -append "$append" \
	-display none -serial stdio -no-reboot \
	-name cowpte,debug-threads=on "${diag[@]}" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$LOG/share,mount_tag=cowpte-out,security_model=none" \
	</dev/null 2>"$LOG/qemu.err" | tee "$LOG/console.log"
qrc=${PIPESTATUS[0]}

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "error: guest did not finish within ${TIMEOUT}s and was killed" >&2
	exit 124
fi
if [ ! -f "$LOG/share/rc" ]; then
	grep -v '^$' "$LOG/qemu.err" >&2
	echo "error: guest ended without reporting a status (panic or crash? see $LOG/console.log)" >&2
	exit 125
fi
rc=$(cat "$LOG/share/rc")
cp "$LOG/share/dmesg" "$LOG/dmesg" 2>/dev/null

# Anything here is a failing test, whatever the command returned.
pattern='BUG:|WARNING:|Oops|KASAN|UBSAN|kernel BUG|general protection fault|'
pattern+='possible circular locking|possible recursive locking|inconsistent lock state|'
pattern+='suspicious RCU usage|Bad rss-counter|Bad page map|Bad page state|'
pattern+='non-zero pgtables_bytes|Kernel panic|list_add corruption|'
pattern+='list_del corruption|stack-protector|rcu_preempt detected stalls|blocked for more than'
if splat=$(cat "$LOG/dmesg" 2>/dev/null | grep -E "$pattern" | sort -u) &&
   [ -n "$splat" ]; then
	echo "error: the guest kernel reported problems (full log: $LOG/dmesg):" >&2
	echo "$splat" | head -40 >&2
	[ "$rc" = 0 ] && rc=86
fi
exit "$rc"
