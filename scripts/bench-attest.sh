#!/bin/bash
# Attestation benchmark: N agents on vTPMs from one hearth-tpmd, then
# `hearth-bench attest` (round trip p50/p99 over RUNS, VMs/s with all N at
# once).
#   bench-attest.sh BUILD host [N]   agents on the host, each vTPM measured
#                                    by hearth's code (tests/vtpm_bridge)
#   bench-attest.sh BUILD vm [N]     N Linux microVMs (Debian's kernel, the
#                                    agent in the initramfs, vsock): needs
#                                    a KVM that runs Linux (scripts/testhost.sh)
# RUNS (100) and ROUNDS (5) pass through to hearth-bench.
set -eu
BUILD=$(cd "$1" && pwd)
MODE=$2
N=${3:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/hearth-bench-attest.XXXXXX)
chmod 711 "$T"
export HEARTH_TPMD_SOCKET=$T/tpmd.sock
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2> /dev/null || true; done
    sleep 0.5
    pkill -9 -f "swtpm.*$T/state" 2> /dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

# Host mode takes vTPMs from a full pool; VMs get theirs made before any
# boots (manufacture would compete with the guests for an emulated CPU).
pool=$N
[ "$MODE" = vm ] && pool=0
"$BUILD/hearth-tpmd" --socket "$HEARTH_TPMD_SOCKET" --state-dir "$T/state" --pool-min "$pool" \
    --pool-max "$pool" --manufacture fast > "$T/tpmd.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 600); do
    "$BUILD/hearth-tpm" status 2> /dev/null | grep -q "\"ready\":$pool," && break
    sleep 0.5
done
"$BUILD/hearth-tpm" ca > "$T/ca.pem"

targets=""
if [ "$MODE" = host ]; then
    head -c 10000000 /dev/urandom > "$T/vmlinux"
    head -c 20000000 /dev/urandom > "$T/initrd"
    CMDLINE="console=ttyS0 hearth.attest"
    for i in $(seq "$N"); do
        ctrl=$("$BUILD/hearth-tpm" alloc | sed 's/.*"ctrl_socket":"\([^"]*\)".*/\1/')
        cat > "$T/vm$i.json" << JSON
{"boot-source": {"kernel_image_path": "$T/vmlinux", "initrd_path": "$T/initrd", "boot_args": "$CMDLINE"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 256}, "tpm": {"socket": "$ctrl"}}
JSON
        "$BUILD/tests/vtpm_bridge" measure "$ctrl" "$T/vm$i.json" "$T/vm$i.log" 2> /dev/null |
            sed "s/^/vm$i: /" | head -n 1
        "$BUILD/hearth-attest-agent" --listen "$T/vm$i.sock" \
            --tcti "cmd:$BUILD/tests/vtpm_bridge relay $ctrl" --event-log "$T/vm$i.log" &
        PIDS="$PIDS $!"
        targets="$targets --unix $T/vm$i.sock"
    done
    "$BUILD/hearth-attest" policy --kernel "$T/vmlinux" --initrd "$T/initrd" --cmdline "$CMDLINE" \
        --vcpus 2 --mem-mib 256 --output "$T/policy.json"
    sleep 0.5
elif [ "$MODE" = vm ]; then
    KDIR=$BUILD/kernel
    "$ROOT/scripts/fetch-kernel.sh" "$KDIR" > /dev/null
    ATTEST_AGENT=$BUILD/hearth-attest-agent SCRIPT=$ROOT/guest/linux/attest.sh MODULES_DIR=$KDIR/modules \
        MODULES="virtio_mmio vmw_vsock_virtio_transport" "$ROOT/scripts/mkinitramfs.sh" \
        "$T/initramfs" LINUX-ATTEST
    CMDLINE="console=ttyS0 reboot=k panic=-1 quiet hearth.attest"
    for i in $(seq "$N"); do
        "$BUILD/hearth-tpm" alloc | sed 's/.*"ctrl_socket":"\([^"]*\)".*/\1/' > "$T/vm$i.ctrl"
    done
    for i in $(seq "$N"); do
        ctrl=$(cat "$T/vm$i.ctrl")
        cat > "$T/vm$i.json" << JSON
{"boot-source": {"kernel_image_path": "$KDIR/vmlinux", "initrd_path": "$T/initramfs", "boot_args": "$CMDLINE"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
 "tpm": {"socket": "$ctrl", "timeout_ms": 120000},
 "vsock": {"guest_cid": 3, "uds_path": "$T/vm$i.vsock"}}
JSON
        "$BUILD/hearth" --config-file "$T/vm$i.json" --no-api --log-path "$T/vm$i.log" \
            < /dev/null > "$T/vm$i.out" 2>&1 &
        PIDS="$PIDS $!"
        targets="$targets --vsock $T/vm$i.vsock"
        # Six boots at a time: more at once starve the guests' TPM probe
        # on an emulated host.
        if [ $((i % 6)) = 0 ] || [ "$i" = "$N" ]; then
            for j in $(seq $(((i - 1) / 6 * 6 + 1)) "$i"); do
                for _ in $(seq 1200); do
                    grep -q '^linux-attest: ' "$T/vm$j.out" && break
                    sleep 0.5
                done
                grep 'measured boot' "$T/vm$j.log" | sed "s/^/vm$j: /"
            done
        fi
    done
    "$BUILD/hearth-attest" policy --kernel "$KDIR/vmlinux" --initrd "$T/initramfs" \
        --cmdline "$CMDLINE" --vcpus 2 --mem-mib 256 --output "$T/policy.json"
    # The tenant's one command, as the README shows it (also the first
    # request to vm1's agent: it makes its AK).
    mkdir "$T/tenant"
    cp "$KDIR/vmlinux" "$T/initramfs" "$T/tenant/"
    cp "$T/ca.pem" "$T/tenant/hearth-tpmd-ca.pem"
    (cd "$T/tenant" && "$BUILD/hearth-attest" --vsock "$T/vm1.vsock" --ca hearth-tpmd-ca.pem \
        --kernel vmlinux --initrd initramfs --cmdline "$CMDLINE" --vcpus 2 --mem-mib 256 \
        --timeout-ms 120000) || true
else
    echo "usage: bench-attest.sh BUILD host|vm [N]" >&2
    exit 2
fi
# shellcheck disable=SC2086 # targets are words
"$BUILD/hearth-bench" attest --build "$BUILD" $targets --ca "$T/ca.pem" --policy "$T/policy.json" \
    --runs "${RUNS:-100}" --rounds "${ROUNDS:-5}"
