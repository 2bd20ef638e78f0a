#!/bin/bash
# Attestation of Debian's Linux in hearth microVMs: vTPMs from hearth-tpmd,
# hearth-attest-agent in the initramfs on vsock, hearth-attest on the VMs'
# vsock sockets. An honest VM matches; a VM booted with another kernel,
# initrd, command line or vCPU count, a replayed quote, a quote from
# another VM's vTPM, a vTPM of a foreign CA, a truncated or edited event
# log are each caught and named; 20 VMs are attested at once by one
# verifier; a guest port nobody listens on is an error that says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpmd_lib.sh"
. "$(dirname "$0")/attest_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
need_linux_kernel
PIDS=""
DAEMON2=
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
    [ -n "$DAEMON2" ] && kill "$DAEMON2" 2> /dev/null
    stop_all
    rm -rf "$T"
}
trap cleanup EXIT

mkinit() { # OUT MARKER
    ATTEST_AGENT=$BUILD/hearth-attest-agent SCRIPT=$ROOT/guest/linux/attest.sh MODULES_DIR=$KDIR/modules \
        MODULES="virtio_mmio vmw_vsock_virtio_transport" "$ROOT/scripts/mkinitramfs.sh" "$1" "$2" ||
        fail "mkinitramfs"
}
mkinit "$T/initramfs" LINUX-ATTEST
mkinit "$T/initramfs.other" LINUX-ATTEST-OTHER
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet hearth.attest"
# The honest VMs boot the bzImage (7 MB): measured boot hashes what boots,
# and the 53 MB vmlinux takes ~4 s of the emulated host's one CPU, which
# starved the TPM probes of the VMs booting beside it. The vmlinux is the
# other kernel.

# alloc NAME [TPMD_SOCKET]: a vTPM for VM NAME from that daemon (the first
# by default). All are made before any VM boots: manufacturing competes
# with the guests for the emulated host's one CPU.
alloc() {
    HEARTH_TPMD_SOCKET=${2:-$HEARTH_TPMD_SOCKET} "$CLIENT" alloc | field ctrl_socket > "$T/$1.ctrl"
    [ -s "$T/$1.ctrl" ] || fail "no vTPM for $1"
}
# vm NAME KERNEL INITRD CMDLINE VCPUS: boots a VM with NAME's vTPM and
# vsock at $T/NAME.vsock.
vm() {
    local ctrl
    ctrl=$(cat "$T/$1.ctrl")
    cat > "$T/$1.json" << JSON
{"boot-source": {"kernel_image_path": "$2", "initrd_path": "$3", "boot_args": "$4"},
 "machine-config": {"vcpu_count": $5, "mem_size_mib": 256},
 "tpm": {"socket": "$ctrl", "model": "crb", "timeout_ms": $(scaled 6000)},
 "vsock": {"guest_cid": 3, "uds_path": "$T/$1.vsock"}}
JSON
    "$HEARTH" --config-file "$T/$1.json" --no-api --log-path "$T/$1.log" < /dev/null > "$T/$1.out" 2>&1 &
    PIDS="$PIDS $!"
}
# up NAME: the guest reported and its agent answers (the first request
# also makes its AK, which takes the emulated vTPM a while).
up() {
    wait_until 120 grep -q '^linux-attest: ' "$T/$1.out" ||
        fail "$1 did not boot: $(tail -5 "$T/$1.out") $(tail -5 "$T/$1.log")"
    CHECKS=$((CHECKS + 1))
    grep -q '^linux-attest: tpm 2, event log [0-9]* bytes, vsock yes, agent running' "$T/$1.out" ||
        fail "$1: $(grep linux-attest "$T/$1.out"); console: $(grep -i tpm "$T/$1.out" | tail -5);" \
            "log: $(tail -5 "$T/$1.log")"
    answers() {
        "$ATTEST" --vsock "$T/$1.vsock" --ca "$T/ca.pem" --policy "$T/policy.json" \
            --timeout-ms "$(scaled 10000)" > /dev/null 2>&1
        [ $? != 2 ]
    }
    wait_until 120 answers "$1" || fail "$1's agent never answered"
}

start_daemon --pool-min 0 --pool-max 0 --manufacture fast
"$TPMD" --socket "$T/api2.sock" --state-dir "$T/state2" --pool-min 0 --pool-max 0 \
    --manufacture fast >> "$T/tpmd.log" 2>&1 &
DAEMON2=$!
daemon_answers "$DAEMON2" "$T/api2.sock" ||
    fail "the second hearth-tpmd did not start: $(tail -n 5 "$T/tpmd.log")"
for v in a b kernel initrd cmdline vcpus $(seq -f h%g 3 20); do
    alloc "$v"
done
alloc foreign "$T/api2.sock"
"$CLIENT" ca > "$T/ca.pem"
"$ATTEST" policy --kernel "$KDIR/vmlinuz" --initrd "$T/initramfs" --cmdline "$CMDLINE" \
    --vcpus 2 --mem-mib 256 --output "$T/policy.json" || fail "policy"

# The honest VM, another honest one, and one for each difference.
vm a "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE" 2
vm b "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE" 2
vm kernel "$KDIR/vmlinux" "$T/initramfs" "$CMDLINE" 2
vm initrd "$KDIR/vmlinuz" "$T/initramfs.other" "$CMDLINE" 2
vm cmdline "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE ignore_loglevel" 2
vm vcpus "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE" 1
vm foreign "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE" 2
for v in a b kernel initrd cmdline vcpus foreign; do
    up "$v"
done

attest 0 --vsock "$T/a.vsock"
expect_out "^hearth-attest: $T/a.vsock port 5252: MATCH, [0-9.]+ ms$"
expect_out "pass  kernel +sha256 [0-9a-f]{16}\.\.\. is vmlinuz's"
expect_out "pass  cmdline +\"$CMDLINE virtio_mmio.device=4K@0xc0001000:5\""
expect_out "pass  vcpus +2 vCPUs"
attest 1 --vsock "$T/kernel.vsock"
expect_mismatch kernel
expect_out "FAIL  kernel +sha256 [0-9a-f]{16}\.\.\. \(\"kernel vmlinux\"\) is not vmlinuz's"
attest 1 --vsock "$T/initrd.vsock"
expect_mismatch initrd
attest 1 --vsock "$T/cmdline.vsock"
expect_mismatch cmdline
expect_out "the guest got \"$CMDLINE ignore_loglevel virtio_mmio"
attest 1 --vsock "$T/vcpus.vsock"
expect_mismatch vcpus
expect_out "FAIL  vcpus +1 vCPUs, expected 2"
attest 1 --vsock "$T/foreign.vsock"
expect_mismatch ek_certificate
expect_out "\(not issued by the given CA\)"

# The host in the middle: a replayed quote, another VM's quote, a
# truncated and an edited event log.
mitm() { # NAME MODE TARGET...
    local name=$1
    shift
    $MITM "$T/$name.sock" "$@" 2>> "$T/mitm.err" &
    PIDS="$PIDS $!"
    wait_until 10 test -S "$T/$name.sock" || fail "no mitm $name"
}
mitm replay replay "vsock:$T/a.vsock:5252"
mitm swap swap-quote "vsock:$T/a.vsock:5252" "vsock:$T/b.vsock:5252"
mitm truncate truncate-log "vsock:$T/a.vsock:5252"
mitm edit edit-log "vsock:$T/a.vsock:5252"
attest 0 --unix "$T/replay.sock"
attest 1 --unix "$T/replay.sock"
expect_mismatch quote_nonce
attest 1 --unix "$T/swap.sock"
expect_mismatch quote_signature
attest 1 --unix "$T/truncate.sock"
expect_mismatch event_log
expect_out "FAIL  event_log +event log: truncated in event 13"
attest 1 --unix "$T/edit.sock"
expect_mismatch event_data
expect_out "FAIL  event_data .*event 12 \(PCR 8 EV_IPL\)"

# No agent on that port: an error that says so.
attest 2 --vsock "$T/a.vsock" --port 6000
expect_out "ERROR: the VM's vsock refused CONNECT 6000: no hearth-attest-agent listens on port 6000"

# 20 VMs attested at once by one verifier.
for v in kernel initrd cmdline vcpus foreign; do
    kill -9 "$(pgrep -f "hearth --config-file $T/$v.json")" 2> /dev/null
done
targets="--vsock $T/a.vsock --vsock $T/b.vsock"
# Booted three at a time (six at once still starved a TPM probe now and then): twenty Linux boots at once on the emulated host's
# one CPU starve their TPM drivers' probe (which gives up after its own
# time-outs); attested all at once below.
for i in $(seq 3 20); do
    vm "h$i" "$KDIR/vmlinuz" "$T/initramfs" "$CMDLINE" 2
    targets="$targets --vsock $T/h$i.vsock"
    if [ $((i % 3)) = 2 ] || [ "$i" = 20 ]; then
        for j in $(seq $((i - (i - 3) % 3)) "$i"); do
            wait_until 120 grep -q '^linux-attest: ' "$T/h$j.out" || fail "h$j did not boot"
        done
    fi
done
for i in $(seq 3 20); do
    up "h$i"
done
# shellcheck disable=SC2086 # targets are words
attest 0 $targets --json
CHECKS=$((CHECKS + 1))
[ "$(grep -o '"verdict":"match"' "$T/out" | wc -l)" = 20 ] || fail "not 20 matches"
pass "attestation of Linux microVMs"
