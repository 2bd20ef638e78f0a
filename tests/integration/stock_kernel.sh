#!/bin/bash
# A stock Debian cloud kernel boots far enough to prove the loaders and the
# boot structures: its extracted vmlinux (PVH entry) prints the banner and an
# e820 map matching the configured memory; its bzImage runs the decompressor,
# which reads our command line. (linux_userspace.sh boots it to userspace.)
. "$(dirname "$0")/lib.sh"

need_linux_kernel

# boot_until KERNEL PATTERN SECONDS: boots, waits for PATTERN on the console
# (SECONDS on a KVM host, scaled),
# then stops hearth with SIGTERM (which must end it cleanly with status 1).
boot_until() {
    cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$1",
  "boot_args": "earlyprintk=serial,ttyS0 console=ttyS0 reboot=k panic=-1 nokaslr"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256}}
JSON
    : > "$T/out"
    "$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/out" 2>&1 &
    local pid=$! waited=0 limit
    limit=$(scaled "$3")
    while ! grep -Eq -- "$2" "$T/out"; do
        kill -0 "$pid" 2> /dev/null || { wait "$pid"; RC=$?; fail "hearth exited ($RC) before /$2/"; }
        [ "$waited" -lt $((limit * 2)) ] || { kill -9 "$pid"; fail "no /$2/ within $limit s"; }
        sleep 0.5
        waited=$((waited + 1))
    done
    kill -TERM "$pid"
    wait "$pid"
    RC=$?
    expect_rc 1
    expect_log 'VM stopped: stopped by signal 15'
}

# 256 MiB: usable below the EBDA, reserved BIOS area, usable to 256 MiB.
boot_until "$KDIR/vmlinux" 'BIOS-e820: \[mem 0x00000000c0000000-0x00000000ffffffff\] reserved' 30
expect_out '^\[ *0\.0+\] Linux version 6\.'
expect_out 'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable'
expect_out 'BIOS-e820: \[mem 0x000000000009fc00-0x00000000000fffff\] reserved'
expect_out 'BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable'
expect_out 'Command line: earlyprintk=serial,ttyS0 console=ttyS0 reboot=k panic=-1 nokaslr'

# The decompressor alone takes minutes under instruction emulation; that
# it parsed our command line proves the zero page and the 64-bit entry.
boot_until "$KDIR/vmlinuz" "KASLR disabled: 'nokaslr' on cmdline" 30

# The benchmark's Linux image builds from the same kernel: its init marks
# boot on the boot timer.
KERNEL_DIR=$KDIR "$(dirname "$0")/../../scripts/build-bench-image.sh" "$T/img" > "$T/out" 2> "$T/err"
RC=$?
expect_rc 0
CHECKS=$((CHECKS + 2))
[ -s "$T/img/vmlinux" ] || fail "no vmlinux in the bench image"
zcat "$T/img/initramfs" | cpio -i --quiet --to-stdout init 2> /dev/null | grep -q 'devmem 0xc0000000 8 123' ||
    fail "the bench image's init does not mark boot"
pass "stock kernel early boot"
