#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the packages of "make deb" the way a user would use them: a minimal
# Debian bookworm with systemd on a raw disk image, the kernel and
# cowpte-tools installed in it with dpkg, booted in QEMU from that disk
# (BIOS, then GRUB from the disk's boot sector, then the packaged vmlinuz from
# its /boot, root=/dev/vda1, systemd as PID 1). A oneshot service in the
# image (harness/deb-check-guest.sh) checks the system, runs the fork demo and
# Redis under the launcher, writes its results to the serial console and
# powers off; this script prints them and exits non-zero on any failure.
#
# The debootstrap folder is cached in $BUILD/deb-check/rootfs-*; each run
# installs the packages into a fresh copy of it.
#
# Settings: DEB_CONFIG=vm|debian-cloud (which kernel package, as for make
# deb), TIMEOUT (seconds for the boot and checks, default 1800).
set -eo pipefail
. "$(dirname "$0")/common.sh"

flavor=${DEB_CONFIG:-vm}
case "$flavor" in
vm)           suffix=-cowpte-vm ;;
debian-cloud) suffix=-cowpte-cloud-amd64 ;;
*)            echo "usage: make deb-check [DEB_CONFIG=vm|debian-cloud] (not '$flavor')" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || die "make deb-check needs root (debootstrap, chroot, mount)"
TIMEOUT=${TIMEOUT:-1800}
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "TIMEOUT must be a number of seconds"
start=$SECONDS
work=$BUILD/deb-check
mkdir -p "$work"

# The last of the files a glob matched; fails when it matched none.
last_file() {
	local f found=
	for f in "$@"; do
		[ -f "$f" ] && found=$f
	done
	[ -n "$found" ] && echo "$found"
}
debs=$BUILD/deb
image=$(last_file "$debs"/linux-image-*"$suffix"_*.deb) ||
	die "no linux-image-*$suffix package in $debs: run 'make deb${DEB_CONFIG:+ DEB_CONFIG=$DEB_CONFIG}' first"
krel=$(dpkg-deb -f "$image" Package)
krel=${krel#linux-image-}
headers=$(last_file "$debs/linux-headers-${krel}_"*.deb) ||
	die "no linux-headers-$krel package in $debs: run 'make deb' first"
tools=$(last_file "$debs"/cowpte-tools_*.deb) ||
	die "no cowpte-tools package in $debs: run 'make deb' first"
note "checking ${image##*/}, ${headers##*/}, ${tools##*/}"

need_pkgs debootstrap qemu-system-x86 fdisk e2fsprogs gcc libc6-dev

# Unmount whatever is mounted below folder $1, deepest first: a folder is
# never removed with the host's /dev or /proc still mounted in it.
unmount_below() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
	while read -r m; do
		umount "$m" || umount -l "$m"
	done
	! grep -q " $1/" /proc/mounts || die "cannot unmount what is mounted below $1"
}

# --- The cached root file system. ---
# minbase has no init: systemd-sysv and udev make it boot; redis, procps
# (pgrep) for the checks; grub-pc-bin for the boot loader, installed below by
# hand. Debian's cloud kernel has its drivers as modules, so that image
# needs an initramfs.
include=systemd-sysv,udev,procps,kmod,redis-server,redis-tools,grub-pc-bin
[ "$flavor" = debian-cloud ] && include+=,initramfs-tools,zstd
rootfs=$work/rootfs-$(echo "$include" | sha256sum | cut -c1-12)
if [ ! -f "$rootfs/.complete" ]; then
	note "debootstrap bookworm (minbase + $include) into $rootfs (once)"
	unmount_below "$rootfs.tmp"
	rm -rf --one-file-system "$rootfs" "$rootfs.tmp"
	t0=$SECONDS
	debootstrap --variant=minbase --include="$include" bookworm "$rootfs.tmp" \
		http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
		die "debootstrap failed (see $work/debootstrap.log)"
	# Drop the downloaded packages; make the image boot quietly into the
	# check: the serial console belongs to it, so no getty there (a getty
	# would hang up the console under the check), and the system's own
	# redis-server stays off (the check starts its own, under the launcher).
	rm -f "$rootfs.tmp"/var/cache/apt/archives/*.deb
	chroot "$rootfs.tmp" systemctl mask -q serial-getty@ttyS0.service
	chroot "$rootfs.tmp" systemctl disable -q redis-server.service
	echo cowpte-vm >"$rootfs.tmp/etc/hostname"
	echo "/dev/vda1 / ext4 errors=remount-ro 0 1" >"$rootfs.tmp/etc/fstab"
	touch "$rootfs.tmp/.complete"
	mv "$rootfs.tmp" "$rootfs"
	note "debootstrap took $(( (SECONDS - t0 + 30) / 60 )) min"
fi

# --- A fresh copy with the packages installed. ---
stage=$work/stage
cleanup() {
	unmount_below "$stage"
}
trap cleanup EXIT
cleanup
rm -rf --one-file-system "$stage"
cp -a "$rootfs" "$stage"
rm "$stage/.complete"
mount --bind /dev "$stage/dev"
mount -t proc proc "$stage/proc"
mount -t sysfs sys "$stage/sys"

mkdir -p "$stage/tmp/debs"
cp "$image" "$headers" "$tools" "$stage/tmp/debs/"
note "installing the packages with dpkg -i"
if ! chroot "$stage" dpkg -i /tmp/debs/"${image##*/}" /tmp/debs/"${headers##*/}" \
		/tmp/debs/"${tools##*/}" >"$work/dpkg.log" 2>&1; then
	cat "$work/dpkg.log" >&2
	die "dpkg -i of the packages failed in the image"
fi
rm -rf "$stage/tmp/debs"
[ -f "$stage/boot/vmlinuz-$krel" ] || die "the image has no /boot/vmlinuz-$krel after dpkg -i"

# The fork demo, linked statically so it needs nothing from the image.
gcc -O2 -Wall -static -o "$stage/usr/local/bin/forkdemo" "$TOP/benchmarks/forkdemo.c" ||
	die "building benchmarks/forkdemo.c failed"
install -m 755 "$TOP/harness/deb-check-guest.sh" "$stage/usr/local/sbin/cowpte-deb-check"
printf 'EXPECT_KREL=%s\nEXPECT_VERSION=%s\n' "$krel" "$(dpkg-deb -f "$image" Version)" \
	>"$stage/etc/cowpte-deb-check.conf"
# After multi-user.target, so the system is up; powers off either way.
cat >"$stage/etc/systemd/system/cowpte-deb-check.service" <<'EOF'
[Unit]
Description=COW PTE package check (make deb-check)
After=multi-user.target
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cowpte-deb-check
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TimeoutStartSec=20min

[Install]
WantedBy=multi-user.target
EOF
chroot "$stage" systemctl enable -q cowpte-deb-check.service

# GRUB in the disk's boot sector and the gap after it (as grub-install does
# for a BIOS machine; grub-install itself needs the disk as a block device
# with partitions, which loop devices here do not give). Its modules and a
# menu with the packaged kernel go into /boot/grub.
mkdir -p "$stage/boot/grub/i386-pc"
cp "$stage"/usr/lib/grub/i386-pc/*.mod "$stage"/usr/lib/grub/i386-pc/*.lst "$stage/boot/grub/i386-pc/"
chroot "$stage" grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img \
	-p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 normal linux serial terminal ||
	die "grub-mkimage failed in the image"
initrd=
if [ -f "$stage/boot/initrd.img-$krel" ]; then
	initrd="initrd /boot/initrd.img-$krel"
fi
cat >"$stage/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry "Debian GNU/Linux, with Linux $krel" {
	linux /boot/vmlinuz-$krel root=/dev/vda1 ro console=ttyS0,115200 loglevel=4
	$initrd
}
EOF
cleanup

# --- The disk: one partition from 1 MiB, ext4 made from the folder. ---
disk=$work/disk.img
rm -f "$disk"
truncate -s 2G "$disk"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$disk" ||
	die "sfdisk could not partition $disk"
mkfs.ext4 -q -F -L cowpte-root -d "$stage" -E offset=$((2048 * 512)) "$disk" $((2048 - 1))M ||
	die "mkfs.ext4 could not make the root file system"
dd if="$stage/usr/lib/grub/i386-pc/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$stage/boot/grub/i386-pc/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
note "disk image $disk ready ($(( SECONDS - start )) s); booting it (QEMU TCG, timeout ${TIMEOUT}s)"

# --- Boot it. ---
# The whole console goes to the log; the check's own lines to the terminal
# as they come.
log=$work/console.log
echo "deb-check: ${image##*/}, ${tools##*/}"
t0=$SECONDS
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp 2 -m 2G \
	-drive file="$disk",format=raw,if=virtio \
	-nic user,model=virtio-net-pci -device virtio-rng-pci \
	-display none -serial stdio -monitor none -no-reboot \
	</dev/null 2>"$work/qemu.err" | tee "$log.raw" |
	grep --line-buffered -a 'cowpte-check: ' | sed -u -e 's/\r$//' -e 's/.*cowpte-check: /   /'
qrc=${PIPESTATUS[0]}
set -e
boot_s=$(( SECONDS - t0 ))
tr -d '\r' <"$log.raw" >"$log" && rm -f "$log.raw"

# --- The verdict. ---
result=$(grep -a 'cowpte-check: RESULT ' "$log" | tail -1 | sed 's/.*cowpte-check: RESULT //' || true)
pattern='BUG:|WARNING:|Oops|general protection fault|Bad rss-counter|Bad page map|'
pattern+='Bad page state|non-zero pgtables_bytes|Kernel panic|list_add corruption|list_del corruption'
splat=$(grep -aE "$pattern" "$log" | sort -u | head -20 || true)
why=
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	why="the guest did not finish within ${TIMEOUT}s and was killed"
elif [ -z "$result" ]; then
	why="the guest reported no result (see $log)"
elif [ "${result%% *}" != PASS ]; then
	why="checks failed: $result"
elif [ -n "$splat" ]; then
	why="the guest kernel reported problems"
	echo "$splat"
fi
if [ -n "$why" ]; then
	grep -v '^$' "$work/qemu.err" >&2 || true
	echo "deb-check: FAIL: $why (console: $log; boot and checks $boot_s s, total $(( SECONDS - start )) s)"
	exit 1
fi
n=${result#PASS (}
echo "deb-check: PASS (${n%)}; boot and checks $boot_s s, total $(( SECONDS - start )) s; console: $log)"
