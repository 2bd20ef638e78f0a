#!/bin/bash
# Command line and configuration errors: a clear message naming the option
# or key path, the documented exit status, and /dev/kvm never opened.
. "$(dirname "$0")/lib.sh"
command -v strace > /dev/null || fail "strace is not installed"

run_raw() { # ARGS...: runs hearth under strace, records RC and stderr
    strace -f -qq -e trace=openat -o "$T/strace" timeout "$(scaled 20)" "$HEARTH" "$@" \
        < /dev/null > "$T/out" 2> "$T/err"
    RC=$?
}

no_kvm() {
    CHECKS=$((CHECKS + 1))
    ! grep -q '/dev/kvm' "$T/strace" || fail "/dev/kvm was opened before the config was accepted"
}

"$HEARTH" --version > "$T/out"
RC=$?
expect_rc 0
expect_out '^hearth [0-9]+\.[0-9]+\.[0-9]+$'
"$HEARTH" --help > "$T/out"
RC=$?
expect_rc 0
expect_out '--config-file PATH'

run_raw --bogus
expect_rc 153
expect_err 'unknown or incomplete option: --bogus'
run_raw --no-api
expect_rc 153
expect_err -- '--no-api needs --config-file'
vm_config "$GUEST/hello.elf" ""
run_raw --config-file "$T/vm.json" --no-api --api-sock "$T/api.sock"
expect_rc 153
expect_err -- '--api-sock and --no-api exclude each other'
run_raw --api-sock "$T/api.sock" --http-api-max-payload-size 12k
expect_rc 153
expect_err -- '--http-api-max-payload-size must be'
run_raw --api-sock "$T/api.sock" --start-time-us -5
expect_rc 153
expect_err 'a time must be a number of microseconds'
run_raw --config-file "$T/vm.json" --no-api --id 'bad id!'
expect_rc 153
expect_err -- '--id must be'
run_raw --config-file "$T/vm.json" --no-api --level Loud
expect_rc 153
expect_err -- '--level must be'

bad_config() { # JSON EXPECTED_MESSAGE
    printf '%s\n' "$1" > "$T/bad.json"
    run_raw --config-file "$T/bad.json" --no-api
    expect_rc 152
    expect_err "$2"
    no_kvm
}
K="\"kernel_image_path\": \"$GUEST/hello.elf\""
bad_config '{' 'invalid JSON at line'
bad_config '[]' '\(root\): must be an object, got an array'
bad_config '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}' 'boot-source.kernel_image_path: missing required field|boot-source: missing required field'
bad_config "{\"boot-source\": {$K, \"kernal\": 1}}" 'boot-source: unknown key "kernal"'
bad_config "{\"boot-source\": {$K}, \"machin-config\": {}}" '\(root\): unknown key "machin-config"'
bad_config "{\"boot-source\": {$K, \"boot_args\": 7}}" 'boot-source.boot_args: must be a string, got an integer'
bad_config "{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 128}}" 'machine-config.vcpu_count: must be between 1 and 32, got 33'
bad_config "{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 1}}" 'machine-config.mem_size_mib: missing required field'
bad_config "{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}}" 'machine-config.vcpu_count: must be 1 or even when smt is enabled'
bad_config "{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}}" 'machine-config.huge_pages: must be "None" or "2M"'
bad_config "{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128.5}}" 'machine-config.mem_size_mib: must be an integer, got a number'
bad_config "{\"boot-source\": {$K}, \"logger\": {\"level\": \"Loud\"}}" 'logger.level: must be one of'
bad_config "{\"boot-source\": {$K}, \"vsock\": {\"guest_cid\": 3}}" 'vsock.uds_path: missing required field'
bad_config "{\"boot-source\": {$K}, \"balloon\": {\"amount_mib\": 3}}" 'balloon: not supported by this version'
bad_config "{\"boot-source\": {$K}, \"boot-source\": {$K}}" 'duplicate object key'
run_raw --config-file "$T/missing.json" --no-api
expect_rc 152
expect_err 'missing.json.*(No such file|unable to open)'

# Firecracker-generated configs carry empty device lists: accepted.
cat > "$T/vm.json" <<JSON
{"boot-source": {$K, "initrd_path": null}, "drives": [], "network-interfaces": [],
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": false, "huge_pages": "None",
                    "track_dirty_pages": false},
 "logger": {"level": "Debug"}}
JSON
run_hearth
expect_rc 0
expect_log 'DEBUG\] kernel .*hello.elf: PVH entry 0x100000'

# Kernels that are none of the supported formats are refused at start-up.
head -c 4096 /dev/urandom > "$T/garbage"
vm_config "$T/garbage" ""
run_hearth
expect_rc 1
expect_log "start-up failed: kernel $T/garbage: not an ELF vmlinux, PVH ELF or bzImage"
head -c 100 "$GUEST/hello.elf" > "$T/short.elf"
vm_config "$T/short.elf" ""
run_hearth
expect_rc 1
expect_log 'program headers truncated'
vm_config "$T/nonexistent" ""
run_hearth
expect_rc 1
expect_log 'No such file or directory'
"$BUILD/guest/mkbzimage" "$GUEST/bootinfo-vmlinux.bin" "$T/old.bz" version=0x020b
vm_config "$T/old.bz" ""
run_hearth
expect_rc 1
expect_log 'boot protocol 2.11 is older than 2.12'
"$BUILD/guest/mkbzimage" "$GUEST/bootinfo-vmlinux.bin" "$T/no64.bz" no64
vm_config "$T/no64.bz" ""
run_hearth
expect_rc 1
expect_log 'no 64-bit entry point'
"$BUILD/guest/mkbzimage" "$GUEST/bootinfo-vmlinux.bin" "$T/trunc.bz" truncate=2000
vm_config "$T/trunc.bz" ""
run_hearth
expect_rc 1
expect_log 'bzImage truncated'
# An initrd that cannot fit below the MMIO gap above the kernel.
truncate -s 200M "$T/big.initrd"
cat > "$T/vm.json" <<JSON
{"boot-source": {$K, "initrd_path": "$T/big.initrd"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
JSON
run_hearth
expect_rc 1
expect_log 'does not fit between the kernel and'
pass "cli"
