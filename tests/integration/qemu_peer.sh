#!/bin/bash
# The same payload images boot under QEMU microvm (the benchmark peer): PVH
# entry, start_info, ACPI, and the isa-debug-exit end of run.
. "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 > /dev/null || fail "qemu-system-x86_64 is not installed"
[ -w /dev/kvm ] || skip "/dev/kvm is not writable"

qemu() { # PAYLOAD APPEND
    timeout -k 5 "$(scaled 30)" qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off -enable-kvm \
        -m 128 -smp 2 -nodefaults -no-user-config -nographic -serial stdio \
        -device isa-debug-exit,iobase=0xf4,iosize=1 \
        -kernel "$GUEST/$1" -append "$2" < /dev/null > "$T/out" 2> "$T/err"
    RC=$?
}

qemu hello.elf ""
expect_rc 1 # isa-debug-exit: (0 << 1) | 1
expect_guest_pass 1
expect_out 'booted through PVH'

qemu bootinfo.elf "kind=pvh mem_mib=128"
# QEMU's memory map follows its own layout (unsorted, with an empty entry);
# what must hold is the PVH hand-off: entry, memmap RAM total, RAM access.
expect_out '^ok 1 - entered through pvh'
expect_out '^ok 3 - RAM totals'
expect_out '^ok 8 - last RAM word'

qemu acpi.elf "vcpus=2 i8042=0"
expect_rc 1
expect_out '^ok 1 - RSDP found'
expect_guest_pass 8
expect_out 'MADT lists 2 enabled LAPICs for 2 vCPUs'
pass "qemu peer"
