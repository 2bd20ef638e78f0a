#!/bin/bash
# Where the host has hardware virtualization, Debian's cloud kernel (vmlinux
# through PVH, and the bzImage) boots to a busybox initramfs that prints a
# marker and reboots through the i8042. Elsewhere: skipped, saying why.
. "$(dirname "$0")/lib.sh"

have_hw_virt || skip "booting Linux to userspace needs vmx or svm, and /proc/cpuinfo has neither"
KDIR=$BUILD/kernel
"$(dirname "$0")/../../scripts/fetch-kernel.sh" "$KDIR" > "$T/fetch" 2>&1 ||
    { cat "$T/fetch"; skip "could not download linux-image-cloud-amd64 from the Debian archive"; }
command -v busybox > /dev/null || fail "busybox-static is not installed"
"$(dirname "$0")/../../scripts/mkinitramfs.sh" "$T/initramfs" HEARTH-USERSPACE-OK
for k in vmlinux vmlinuz; do
    cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$KDIR/$k", "initrd_path": "$T/initramfs",
  "boot_args": "console=ttyS0 reboot=k panic=-1 quiet"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 256}}
JSON
    TIMEOUT=60 run_hearth
    expect_rc 0
    expect_out 'HEARTH-USERSPACE-OK'
done
pass "linux userspace"
