#!/bin/sh
# Downloads Debian's linux-image-cloud-amd64 (cached under DIR) and extracts
# its bzImage, the uncompressed vmlinux and its modules (DIR/modules, for
# the guests' initramfs). Prints the two kernel paths.
# Usage: fetch-kernel.sh DIR
set -eu
DIR=$1
mkdir -p "$DIR"
cd "$DIR"
if [ ! -s vmlinuz ] || [ ! -s vmlinux ] || [ ! -d modules/kernel ]; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    fi
    [ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
    rm -rf pkg && mkdir pkg
    (cd pkg && apt-get download -qq "$pkg" >/dev/null)
    dpkg-deb -x pkg/*.deb pkg/root
    cp pkg/root/boot/vmlinuz-* vmlinuz.tmp
    # The compressed vmlinux sits at setup_header.payload_offset within the
    # protected-mode part: (setup_sects + 1) * 512 bytes in.
    sects=$(od -An -tu1 -j 497 -N 1 vmlinuz.tmp | tr -d ' ')
    [ "$sects" -eq 0 ] && sects=4
    off=$(od -An -tu4 -j 584 -N 4 vmlinuz.tmp | tr -d ' ')
    len=$(od -An -tu4 -j 588 -N 4 vmlinuz.tmp | tr -d ' ')
    start=$(( (sects + 1) * 512 + off ))
    magic=$(od -An -tx1 -j "$start" -N 4 vmlinuz.tmp | tr -d ' ')
    tail -c +"$((start + 1))" vmlinuz.tmp | head -c "$len" > payload
    case "$magic" in
        02214c18) lz4 -dc payload > vmlinux.tmp 2>/dev/null || [ -s vmlinux.tmp ] ;;
        fd377a58) xz -dc payload > vmlinux.tmp 2>/dev/null || [ -s vmlinux.tmp ] ;;
        28b52ffd) zstd -dc payload > vmlinux.tmp 2>/dev/null || [ -s vmlinux.tmp ] ;;
        1f8b*) gzip -dc payload > vmlinux.tmp 2>/dev/null || [ -s vmlinux.tmp ] ;;
        *) echo "fetch-kernel: unknown payload compression $magic" >&2; exit 1 ;;
    esac
    [ "$(head -c 4 vmlinux.tmp | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
        { echo "fetch-kernel: extracted payload is not an ELF" >&2; exit 1; }
    echo "$pkg" > version
    rm -rf modules
    mv pkg/root/lib/modules/* modules
    mv vmlinux.tmp vmlinux
    mv vmlinuz.tmp vmlinuz
    rm -rf pkg payload
fi
echo "$DIR/vmlinuz"
echo "$DIR/vmlinux"
