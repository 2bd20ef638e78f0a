#!/bin/sh
# Builds a busybox initramfs whose /init prints MARKER, marks boot on the
# boot timer when BOOT_TIMER=1 (byte 123 to 0xC0000000, like Firecracker's
# guest init), and reboots.
# Usage: [BOOT_TIMER=1] mkinitramfs.sh OUT MARKER
set -eu
OUT=$1
MARKER=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev"
cp "$(command -v busybox)" "$dir/bin/busybox"
for a in sh echo mount reboot devmem cat; do ln -s busybox "$dir/bin/$a"; done
{
    echo '#!/bin/sh'
    echo 'mount -t proc proc /proc'
    echo 'mount -t sysfs sysfs /sys'
    echo 'mount -t devtmpfs dev /dev'
    echo "echo \"$MARKER\""
    echo '[ -e /dev/tpm0 ] && echo "tpm: $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)"'
    [ "${BOOT_TIMER:-0}" = 1 ] && echo 'devmem 0xc0000000 8 123'
    echo 'reboot -f'
} > "$dir/init"
chmod +x "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) > "$OUT"
