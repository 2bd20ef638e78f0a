#!/bin/bash
# Debian's cloud kernel, as vmlinux (PVH entry) and as bzImage, boots to a
# busybox /init with 1 and 2 vCPUs, sees the vCPUs and the memory it was
# given, and reboots through the i8042.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
need_linux_kernel
command -v busybox > /dev/null || fail "busybox-static is not installed"
cat > "$T/report.sh" <<'SH'
echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
# The firmware map's usable RAM, as the kernel read it.
dmesg | sed -n 's/.*BIOS-e820: \[mem 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)\] usable/usable \1 \2/p'
SH
SCRIPT=$T/report.sh "$ROOT/scripts/mkinitramfs.sh" "$T/initramfs" HEARTH-USERSPACE-OK
for k in vmlinux vmlinuz; do
    for vcpus in 1 2; do
        cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$KDIR/$k", "initrd_path": "$T/initramfs",
  "boot_args": "console=ttyS0 reboot=k panic=-1 quiet"},
 "machine-config": {"vcpu_count": $vcpus, "mem_size_mib": 256}}
JSON
        TIMEOUT=60 run_hearth
        linux_console
        expect_rc 0
        expect_out 'HEARTH-USERSPACE-OK'
        expect_out "^cpus: $vcpus$"
        # 256 MiB: 0-0x9fbff below the EBDA, then 1 MiB up to 256 MiB.
        expect_out '^usable 0000000000000000 000000000009fbff$'
        expect_out '^usable 0000000000100000 000000000fffffff$'
        expect_log 'VM stopped: guest requested a reset through the i8042'
    done
done
pass "linux userspace"
