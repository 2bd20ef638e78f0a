#!/bin/sh
# /init of the emulated test host's outer guest (busybox): loads virtio, 9p,
# overlayfs and kvm-amd, makes the machine's root (read-only 9p under a tmpfs
# overlay) the command's root with the checkout writable at its own path,
# runs /ctl/cmd.sh there, records its exit status in /ctl/status, powers off.
# Everything it reports starts with "testhost-init:"; scripts/testhost.sh
# reads those lines back when the outer guest fails.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

die() {
    echo "testhost-init: error: $*" > /dev/console
    [ -d /ctl/. ] && echo "$*" > /ctl/error
    sync
    poweroff -f
    sleep 60
}

for m in $(cat /modules); do
    modprobe "$m" 2> /tmp/modprobe.err || die "modprobe $m failed: $(cat /tmp/modprobe.err)"
done
[ -c /dev/kvm ] || die "kvm-amd loaded but /dev/kvm is missing (no svm in the outer guest's CPU?)"

P9="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /ctl /lower /rw
mount -t 9p -o "$P9" ctl /ctl || die "cannot mount the control share"
. /ctl/params # CHECKOUT, the checkout's path on the machine
mount -t 9p -o "$P9,ro" hostroot /lower || die "cannot mount the machine's root"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    die "cannot mount the overlay root"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
# What udev would add: bash's process substitution needs /dev/fd.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t devpts -o ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o mode=0755 tmpfs $R/run
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || die "cannot mount cgroup2"
mkdir -p $R/dev/hugepages && mount -t hugetlbfs hugetlbfs $R/dev/hugepages
mount -t 9p -o "$P9" checkout "$R$CHECKOUT" || die "cannot mount the checkout at $CHECKOUT"
mkdir -p $R/run/testhost
mount --bind /ctl $R/run/testhost
ip link set lo up
hostname testhost

echo ready > /ctl/ready
# A heartbeat the machine watches: an outer guest that stops scheduling
# (docs/architecture.md: how it is tested) goes silent.
(while :; do echo > /ctl/heartbeat; sleep 5; done) &
echo "testhost-init: the command starts" > /dev/console
echo 4 > /proc/sys/kernel/printk # from now on only errors (lockups, stalls, panics)
# Through a pipe: the command's output is not a terminal, as in CI.
set -o pipefail
chroot $R /bin/sh /run/testhost/cmd.sh < /dev/null 2>&1 | cat > /dev/console
echo $? > /ctl/status
sync
poweroff -f
sleep 60
