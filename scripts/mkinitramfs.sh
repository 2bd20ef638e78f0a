#!/bin/sh
# Builds a busybox initramfs whose /init prints MARKER and reboots.
# Usage: mkinitramfs.sh OUT MARKER
set -eu
OUT=$1
MARKER=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev"
cp "$(command -v busybox)" "$dir/bin/busybox"
for a in sh echo mount reboot; do ln -s busybox "$dir/bin/$a"; done
cat > "$dir/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
echo "$MARKER"
reboot -f
INIT
chmod +x "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -9) > "$OUT"
