#!/bin/sh
# Builds a busybox initramfs for a Linux guest of hearth. Its /init mounts
# proc, sys, dev and securityfs, prints MARKER, runs SCRIPT when given (a
# shell fragment, e.g. guest/linux/tpm-report.sh), marks boot on the boot
# timer when BOOT_TIMER=1 (byte 123 to 0xC0000000, like Firecracker's guest
# init), and reboots through the i8042 (the kernel needs reboot=k).
# TPM2_TOOLS=1 adds tpm2-tools and the libraries it loads (device TCTI).
# ATTEST_AGENT=PATH adds hearth-attest-agent (and its libraries); /init
# starts it on vsock before SCRIPT when the kernel command line has
# hearth.attest (port 5252) or hearth.attest=PORT.
# MODULES="virtio_mmio virtio_blk ..." adds those kernel modules from
# MODULES_DIR (the guest kernel's, scripts/fetch-kernel.sh's DIR/modules)
# with what they depend on, loaded by /init in dependency order before
# SCRIPT. BINS="PATH..." adds static programs to /bin.
# Usage: [BOOT_TIMER=1] [SCRIPT=FILE] [TPM2_TOOLS=1] [ATTEST_AGENT=PATH]
#        [MODULES=... MODULES_DIR=DIR] [BINS=...] mkinitramfs.sh OUT MARKER
set -eu
OUT=$1
MARKER=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/etc"
cp "$(command -v busybox)" "$dir/bin/busybox"
for a in $(busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"
done

# add_program PATH: the program in /usr/bin with the libraries it links and
# the device TCTI, which tpm2-tss dlopen()s (so ldd does not list it).
add_program() {
    tcti=$(ls /usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0 2> /dev/null) || {
        echo "mkinitramfs: libtss2-tcti-device is not installed" >&2
        exit 1
    }
    mkdir -p "$dir/usr/bin"
    cp "$1" "$dir/usr/bin/"
    for f in $( (ldd "$1" "$tcti" | awk '/=> \// { print $3 } /^\t\// { print $1 }'; echo "$tcti") | sort -u); do
        mkdir -p "$dir$(dirname "$f")"
        cp -L "$f" "$dir$f"
    done
    # ld.so is found through PT_INTERP; libraries through the default paths.
    [ -e "$dir/lib64" ] || ln -s lib "$dir/lib64" 2> /dev/null || true
}
if [ "${TPM2_TOOLS:-0}" = 1 ]; then
    tpm2=$(command -v tpm2) || {
        echo "mkinitramfs: tpm2-tools is not installed" >&2
        exit 1
    }
    add_program "$tpm2"
fi
if [ -n "${ATTEST_AGENT:-}" ]; then
    [ -x "$ATTEST_AGENT" ] || {
        echo "mkinitramfs: no hearth-attest-agent at $ATTEST_AGENT" >&2
        exit 1
    }
    add_program "$ATTEST_AGENT"
fi

for b in ${BINS:-}; do
    cp "$b" "$dir/bin/"
done

# Modules, dependencies first: each module's "depends" (its .modinfo
# section; the host may have no kmod) before it.
load=""
add_module() {
    local ko dep # recursion: each call its own
    case " $load " in *" $1 "*) return 0 ;; esac
    ko=$(find "$MODULES_DIR/kernel" -name "$1.ko" | head -n 1)
    [ -n "$ko" ] || ko=$(find "$MODULES_DIR/kernel" -name "$(echo "$1" | tr _ -).ko" | head -n 1)
    [ -n "$ko" ] || ko=$(find "$MODULES_DIR/kernel" -name "$(echo "$1" | tr - _).ko" | head -n 1)
    [ -n "$ko" ] || { echo "mkinitramfs: module $1 not in $MODULES_DIR" >&2; exit 1; }
    for dep in $(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout | tr '\0' '\n' |
        sed -n 's/^depends=//p' | tr , ' '); do
        add_module "$dep"
    done
    case " $load " in *" $1 "*) return 0 ;; esac
    mkdir -p "$dir/lib/modules"
    cp "$ko" "$dir/lib/modules/$1.ko"
    load="$load $1"
}
for m in ${MODULES:-}; do
    add_module "$m"
done

{
    echo '#!/bin/sh'
    echo 'export PATH=/bin:/usr/bin'
    echo 'mount -t proc proc /proc'
    echo 'mount -t sysfs sysfs /sys'
    echo 'mount -t devtmpfs dev /dev'
    echo 'mount -t securityfs securityfs /sys/kernel/security 2> /dev/null'
    for m in $load; do
        echo "insmod /lib/modules/$m.ko || echo \"init: insmod $m failed\""
    done
    echo "echo \"$MARKER\""
    if [ -n "${ATTEST_AGENT:-}" ]; then
        # shellcheck disable=SC2016 # written for the guest's shell
        echo 'for a in $(cat /proc/cmdline); do case $a in hearth.attest) port=5252 ;; hearth.attest=*) port=${a#hearth.attest=} ;; esac; done'
        echo '[ -n "${port:-}" ] && hearth-attest-agent --vsock "$port" 2> /dev/console &'
    fi
    if [ -n "${SCRIPT:-}" ]; then
        cat "$SCRIPT"
    else
        echo '[ -e /dev/tpm0 ] && echo "tpm: $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)"'
    fi
    [ "${BOOT_TIMER:-0}" = 1 ] && echo 'devmem 0xc0000000 8 123'
    echo 'reboot -f'
} > "$dir/init"
chmod +x "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -6) > "$OUT"
