# The virtio devices under Debian's stock Linux drivers (a fragment of
# scripts/mkinitramfs.sh's /init; tests/integration/linux_devices.sh reads
# its "linux-dev:" lines). hearth.phase=1 on the command line: every
# device, written to; hearth.phase=2: the disk written in phase 1, read
# back after the VM was started again. Host addresses and ports are the
# test's.
say() { echo "linux-dev: $*"; }
export PREFIX="linux-dev: " # guest_tool's lines
phase=$(sed -n 's/.*hearth\.phase=\([0-9]*\).*/\1/p' /proc/cmdline)

# What the kernel found through ACPI, and the drivers that took it.
say "acpi LNRO0005 $(ls /sys/bus/acpi/devices | grep -c '^LNRO0005:')"
for d in /sys/bus/virtio/devices/virtio*; do
    [ -e "$d/driver" ] && say "virtio $(cat "$d/device") $(basename "$(readlink "$d/driver")")"
done

if [ "$phase" = 2 ]; then
    mkdir -p /mnt
    mount -t ext4 /dev/vda /mnt || say "mount failed"
    say "hello $(cat /mnt/hello.txt)"
    say "blob $(sha256sum /mnt/blob | cut -d' ' -f1)"
    echo written-on-second-boot > /mnt/second.txt
    umount /mnt && say "second boot done"
else
    # Entropy.
    say "hwrng $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=16 count=1 2> /dev/null | od -An -tx1 | tr -d ' \n')"

    # A file system made here, files written, all synced to the host's file.
    mkdir -p /mnt
    mke2fs -q /dev/vda > /dev/null && mount -t ext4 /dev/vda /mnt || say "mkfs or mount failed"
    echo hearth-disk-test > /mnt/hello.txt
    dd if=/dev/urandom of=/mnt/blob bs=64k count=16 2> /dev/null
    say "blob $(sha256sum /mnt/blob | cut -d' ' -f1)"
    umount /mnt && sync && say "disk written"

    # The read-only drive: the kernel knows it, a write fails.
    say "vdb ro $(blockdev --getro /dev/vdb) $(head -c 14 /dev/vdb)"
    if dd if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct 2> /dev/null; then
        say "vdb write went through"
    else
        say "vdb write refused"
    fi
    say "vda serial $(cat /sys/block/vda/serial 2> /dev/null)"

    # The network: ping and a file over TCP to the host's end of the TAP.
    ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
    say "eth0 mac $(cat /sys/class/net/eth0/address) mtu $(cat /sys/class/net/eth0/mtu)"
    ping -c 3 -W 10 172.16.0.1 > /tmp/ping 2>&1 && say "ping ok" || { say "ping failed"; cat /tmp/ping; }
    dd if=/dev/urandom of=/tmp/netfile bs=64k count=32 2> /dev/null
    say "netfile $(sha256sum /tmp/netfile | cut -d' ' -f1)"
    guest_tool tcp-send 172.16.0.1 5000 /tmp/netfile

    # vsock both ways: to the host's service on port 5001, from the host's
    # client to port 5005.
    guest_tool vsock-send 2 5001 hello-from-guest
    guest_tool vsock-serve 5005

    # A rate-limited drive, read for 10 s; the host then PATCHes its limit
    # and says so on vsock port 5006; read again for 5 s.
    guest_tool read-rate /dev/vdc 10
    PREFIX="linux-dev: patched " guest_tool vsock-serve 5006
    PREFIX="linux-dev: after " guest_tool read-rate /dev/vdc 5
    say "phase 1 done"
fi
