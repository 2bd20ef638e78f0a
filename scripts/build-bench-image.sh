#!/bin/sh
# The Linux guest for `hearth-bench run --kernel`: Debian's cloud kernel
# (TPM CRB/TIS drivers and IMA built in) and a busybox initramfs that marks
# boot on the boot timer and reboots. Prints the two paths.
# Usage: [KERNEL_DIR=CACHE] build-bench-image.sh DIR
#   hearth-bench run --kernel DIR/vmlinux --initrd DIR/initramfs --setup ...
# Booting it to userspace needs a host with vmx or svm.
set -eu
DIR=$1
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"
KERNEL_DIR=${KERNEL_DIR:-$DIR/kernel} # a kernel cache to reuse
"$SCRIPTS/fetch-kernel.sh" "$KERNEL_DIR" > /dev/null
ln -sf "$(cd "$KERNEL_DIR" && pwd)/vmlinux" "$DIR/vmlinux"
BOOT_TIMER=1 "$SCRIPTS/mkinitramfs.sh" "$DIR/initramfs" HEARTH-BENCH-INIT
echo "$DIR/vmlinux"
echo "$DIR/initramfs"
