#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test guest. The root is the host's, read-only over 9p; the
# host passes the command, its working directory and the environment through
# the writable "cowpte-out" share, and reads back the exit status and dmesg.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# devtmpfs lacks the links udev would add; the kselftest runner needs them.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
for d in /tmp /run /var/tmp /root /dev/shm; do
	mount -t tmpfs -o mode=1777 tmpfs "$d"
done
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/out /dev/hugepages
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 cowpte-out /run/out

out=/run/out
finish() {
	echo "$1" >$out/rc.tmp
	dmesg >$out/dmesg 2>/dev/null
	mv $out/rc.tmp $out/rc
	sync
	echo o >/proc/sysrq-trigger
	sleep 5
	echo b >/proc/sysrq-trigger
}

# The host's name, which its /etc/hosts resolves (sudo asks).
hostname "$(cat /etc/hostname 2>/dev/null || echo localhost)"
ip link set lo up 2>/dev/null

# Swap on zram, so reclaim and swap-in paths can be driven.
if [ -e /sys/block/zram0/disksize ]; then
	echo "${COWPTE_SWAP:-1G}" >/sys/block/zram0/disksize &&
		mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
fi

# shellcheck disable=SC1091
. $out/env
cd "$COWPTE_CWD" || finish 125
echo 1 >/proc/sys/kernel/sysrq
bash -c "$COWPTE_CMD" </dev/null >/dev/console 2>&1
finish $?
