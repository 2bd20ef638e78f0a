#!/bin/sh
# Builds the emulated test host's boot image, cached in DIR: Debian's generic
# kernel (linux-image-amd64: it has the 9p modules the cloud flavour lacks)
# and an initramfs of busybox, the kernel's own modules for virtio, 9p,
# overlayfs, kvm-amd, TAP devices (tun) and the QEMU peer's vsock
# (vhost_vsock), and scripts/testhost-init.sh as /init.
# Prints the kernel's and the initramfs's paths.
# Usage: testhost-image.sh DIR
set -eu
DIR=$1
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
# What the outer guest loads, in this order (dependencies come from modules.dep).
MODULES="virtio_pci 9pnet_virtio 9p overlay kvm-amd tun vhost_vsock"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
die() {
    echo "testhost-image: $*" >&2
    exit 1
}

# The kernel: downloaded once per package version (and module list).
if [ ! -s "$DIR/vmlinuz" ] || [ ! -d "$DIR/modules" ] ||
    [ "$(cat "$DIR/modules.list" 2> /dev/null)" != "$MODULES" ]; then
    pkg=$(apt-cache depends linux-image-amd64 2> /dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        apt-get update -qq > /dev/null 2>&1 || true
        pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 from the Debian archive"
    work=$(mktemp -d "$DIR/fetch.XXXXXX")
    (cd "$work" && apt-get download -qq "$pkg" > /dev/null 2>&1) || {
        rm -rf "$work"
        die "apt-get download $pkg failed"
    }
    dpkg-deb -x "$work"/*.deb "$work/root"
    kver=$(ls "$work/root/lib/modules")
    busybox depmod -b "$work/root" "$kver"
    mods=$work/root/lib/modules/$kver
    # The closure of MODULES over modules.dep, copied with a trimmed modules.dep.
    rm -rf "$DIR/modules.tmp"
    mkdir -p "$DIR/modules.tmp/$kver"
    for m in $MODULES; do
        line=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$mods/modules.dep") || die "module $m is not in $pkg"
        for f in $(echo "$line" | tr -d ':'); do
            mkdir -p "$DIR/modules.tmp/$kver/$(dirname "$f")"
            cp "$mods/$f" "$DIR/modules.tmp/$kver/$f"
            grep -E "^$f:" "$mods/modules.dep" >> "$DIR/modules.tmp/$kver/modules.dep"
        done
    done
    sort -u -o "$DIR/modules.tmp/$kver/modules.dep" "$DIR/modules.tmp/$kver/modules.dep"
    rm -rf "$DIR/modules"
    mv "$DIR/modules.tmp" "$DIR/modules"
    cp "$work"/root/boot/vmlinuz-* "$DIR/vmlinuz"
    echo "$pkg" > "$DIR/version"
    echo "$MODULES" > "$DIR/modules.list"
    rm -f "$DIR/initramfs" # its modules changed
    rm -rf "$work"
fi

# The initramfs: rebuilt when its init changes.
if [ ! -s "$DIR/initramfs" ] || [ "$SCRIPTS/testhost-init.sh" -nt "$DIR/initramfs" ] ||
    [ "$0" -nt "$DIR/initramfs" ]; then
    command -v busybox > /dev/null || die "busybox-static is not installed"
    root=$(mktemp -d "$DIR/initramfs.XXXXXX")
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib" "$root/tmp" "$root/newroot"
    cp "$(command -v busybox)" "$root/bin/busybox"
    for a in $(busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
    done
    cp -r "$DIR/modules" "$root/lib/modules"
    echo "$MODULES" > "$root/modules"
    cp "$SCRIPTS/testhost-init.sh" "$root/init"
    chmod +x "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$DIR/initramfs.tmp"
    rm -rf "$root"
    mv "$DIR/initramfs.tmp" "$DIR/initramfs"
fi
echo "$DIR/vmlinuz"
echo "$DIR/initramfs"
