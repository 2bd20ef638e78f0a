#!/bin/bash
# The memory map, command line and initrd reach the guest intact through
# all three loaders (PVH ELF, 64-bit ELF vmlinux, bzImage), below and above
# the 32-bit MMIO gap.
. "$(dirname "$0")/lib.sh"

# An initrd whose size is not a page multiple, and its position-weighted sum.
head -c 5000 /dev/urandom > "$T/initrd"
sum=$(od -An -v -tu1 "$T/initrd" | tr -s ' ' '\n' | grep -v '^$' |
    awk '{ s = (s + NR * $1) % 4294967296 } END { printf "%d", s }')

check() { # KERNEL KIND MEM_MIB WITH_INITRD
    local marker=m$RANDOM
    local args="kind=$2 mem_mib=$3 marker=$marker"
    local extra=""
    if [ "$4" = 1 ]; then
        args="$args initrd_size=5000 initrd_sum=$sum"
        cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$1", "boot_args": "$args", "initrd_path": "$T/initrd"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": $3}}
JSON
    else
        vm_config "$1" "$args" 1 "$3"
    fi
    run_hearth
    expect_clean_run 9
    expect_out "^# marker=$marker\$"
}

check "$GUEST/bootinfo.elf" pvh 128 1
check "$GUEST/bootinfo.elf" pvh 4096 0
check "$GUEST/bootinfo.elf" pvh 8192 1
check "$GUEST/bootinfo-vmlinux.elf" linux64 128 1
check "$GUEST/bootinfo-vmlinux.elf" linux64 3584 0
check "$GUEST/bootinfo.bzImage" linux64 256 1
check "$GUEST/bootinfo.bzImage" linux64 5120 0
pass "bootinfo"
