#!/bin/bash
# hearth under hearth-jailer: the tpm_basic payload boots inside the
# chroot, in a new pid namespace, as a non-root uid, its vTPM reached
# through the control channel the jailer connected and handed over (fd 3),
# seccomp on; the cgroup's memory limit holds (a guest touching more RAM
# than the limit gets hearth killed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"
JAILER=$BUILD/hearth-jailer
BASE=$T/jail
UIDN=$((1900000000 + $$ % 100000))
trap 'for p in "${SWTPM_PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
      for d in /sys/fs/cgroup/hearth /sys/fs/cgroup/*/hearth; do
          [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2> /dev/null; done
      rm -rf "$T"' EXIT
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then mem=memory.max; else mem=memory.limit_in_bytes; fi

# jail ID PAYLOAD BOOT_ARGS MEM_MIB LIMIT_MIB [TPM_JSON]: the chroot prepared
# as a user would (kernel and config in its root), then the jailer.
jail() {
    local root=$BASE/hearth/$1/root
    mkdir -p "$root"
    cp "$GUEST/$2" "$root/kernel.elf"
    local tpm=
    [ -n "${6:-}" ] && tpm=", \"tpm\": $6"
    cat > "$root/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "/kernel.elf", "boot_args": "$3"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": $4}$tpm}
JSON
    "$JAILER" --id "$1" --exec-file "$HEARTH" --uid "$UIDN" --gid "$UIDN" --chroot-base-dir "$BASE" \
        --new-pid-ns --cgroup "$mem=$(($5 << 20))" ${6:+--tpm-socket "$SOCK"} -- \
        --config-file /vm.json --no-api < /dev/null > "$T/out" 2> "$T/log"
    RC=$?
}

start_swtpm jailed
jail vm-1 tpm_basic.elf "tpm=crb" 128 256 "{\"socket\": \"fd:3\", \"timeout_ms\": $(scaled 2000)}"
expect_clean_run 12
expect_out 'ok [0-9]+ - PCR 10 == SHA-256'
expect_log 'measured boot: 12 events'
expect_no_log 'seccomp filters are off'

# The limit holds: 48 MiB touched under a 32 MiB limit.
jail vm-2 memtouch.elf "mib=48" 128 32
expect_rc 137
expect_no_out 'touched 48 MiB'
# ... and is not what stopped it: the same guest with room finishes.
jail vm-3 memtouch.elf "mib=48" 128 256
expect_clean_run 1
pass "jailer vm"
