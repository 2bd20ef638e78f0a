#!/bin/bash
# Attestation without a VM (host suite): vTPMs from hearth-tpmd are
# measured by hearth's own measured-boot code (tests/tools/vtpm_bridge,
# exactly what hearth does before a VM's first instruction), a
# hearth-attest-agent serves each over tpm2-tss's cmd TCTI, and
# hearth-attest judges them. An honest VM matches; a modified kernel,
# initrd, command line or vCPU count, a replayed quote, a quote from
# another vTPM, another vTPM answering for a pinned EK, an EK certificate
# from a foreign CA, a truncated or edited event log are each caught and
# named; an agent that cannot be reached or cannot answer is an error
# that says why. The same checks against Linux guests: attest_linux.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpmd_lib.sh"
. "$(dirname "$0")/attest_lib.sh"
AGENT=$BUILD/hearth-attest-agent
BRIDGE=$BUILD/tests/vtpm_bridge
PIDS=""
DAEMON2=
cleanup() {
    for p in $PIDS; do kill "$p" 2> /dev/null; done
    [ -n "$DAEMON2" ] && kill "$DAEMON2" 2> /dev/null
    stop_all
    rm -rf "$T"
}
trap cleanup EXIT
declare -A AGENT_PID

# alloc NAME: a vTPM from the daemon at $HEARTH_TPMD_SOCKET; its control
# socket in $T/NAME.ctrl, its EK certificate in $T/NAME-ek.pem.
alloc() {
    "$CLIENT" alloc > "$T/$1.alloc" 2>&1 || fail "alloc $1: $(cat "$T/$1.alloc")"
    field ctrl_socket < "$T/$1.alloc" > "$T/$1.ctrl"
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ek_cert_pem"], end="")' \
        "$T/$1.alloc" > "$T/$1-ek.pem"
}

# vm NAME KERNEL INITRD CMDLINE VCPUS: the VM's configuration as hearth gets it.
vm() {
    local initrd=
    [ -n "$3" ] && initrd="\"initrd_path\": \"$3\","
    cat > "$T/$1.json" << JSON
{"boot-source": {"kernel_image_path": "$2", $initrd "boot_args": "$4"},
 "machine-config": {"vcpu_count": $5, "mem_size_mib": 256},
 "tpm": {"socket": "$(cat "$T/$1.ctrl")", "model": "crb"}}
JSON
}

# boot NAME [DEVICES]: measures $T/NAME.json into NAME's vTPM as hearth
# would boot it (PCRs reset: a new boot) and (re)starts NAME's agent on
# $T/NAME.sock with that event log, or with $LOG when set.
boot() {
    [ -n "${AGENT_PID[$1]:-}" ] && kill "${AGENT_PID[$1]}" && wait "${AGENT_PID[$1]}" 2> /dev/null
    "$BRIDGE" measure "$(cat "$T/$1.ctrl")" "$T/$1.json" "$T/$1.log" "${2:-}" > "$T/measure" 2>&1 ||
        fail "measuring $1: $(cat "$T/measure")"
    rm -f "$T/$1.sock"
    "$AGENT" --listen "$T/$1.sock" --tcti "cmd:$BRIDGE relay $(cat "$T/$1.ctrl")" \
        --event-log "${LOG:-$T/$1.log}" 2>> "$T/agent.err" &
    AGENT_PID[$1]=$!
    PIDS="$PIDS $!"
    wait_until 10 test -S "$T/$1.sock" || fail "$1's agent did not listen"
}


start_daemon --pool-min 3 --pool-max 3 --manufacture fast
wait_ready 3
"$CLIENT" ca > "$T/ca.pem"
alloc a
alloc b
head -c 1000000 /dev/urandom > "$T/vmlinux"
head -c 1000000 /dev/urandom > "$T/vmlinux.evil"
head -c 300000 /dev/urandom > "$T/initrd.img"
head -c 300000 /dev/urandom > "$T/initrd.evil"
CMDLINE="console=ttyS0 reboot=k panic=1 hearth.attest"

# The policy from the files the tenant meant to boot.
"$ATTEST" policy --kernel "$T/vmlinux" --initrd "$T/initrd.img" --cmdline "$CMDLINE" \
    --vcpus 2 --mem-mib 256 --output "$T/policy.json" > "$T/out" 2>&1 || fail "policy: $(cat "$T/out")"
python3 - "$T/policy.json" "$(sha256sum < "$T/vmlinux" | cut -d' ' -f1)" \
    "$(sha256sum < "$T/initrd.img" | cut -d' ' -f1)" "$CMDLINE" > "$T/out" 2>&1 << 'PY' || fail "the policy: $(cat "$T/out")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["hearth_attest_policy"] == 1 and p["bank"] == "sha256", p
assert p["pcrs"] == list(range(10)), p
assert p["kernel"] == {"file": "vmlinux", "digest": sys.argv[2]}, p
assert p["initrd"] == {"file": "initrd.img", "digest": sys.argv[3]}, p
assert p["cmdline"] == sys.argv[4] and p["vcpus"] == 2 and p["mem_mib"] == 256, p
PY
CHECKS=$((CHECKS + 1))

# An honest VM: every check passes, with the CA from a file or from the daemon.
vm a "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
boot a
attest 0 --unix "$T/a.sock"
expect_out "^hearth-attest: $T/a.sock: MATCH, [0-9.]+ ms$"
for c in ek_certificate ek_public ak_binding quote_signature quote_nonce event_log event_data \
    event_sequence hearth vcpus memory kernel cmdline initrd; do
    expect_out "^  pass  $c "
done
expect_out "pass  kernel +sha256 [0-9a-f]{16}\.\.\. is vmlinux's \(\"kernel vmlinux\"\)"
expect_out 'pass  hearth +measured by hearth [0-9]+\.[0-9]+\.[0-9]+$'
"$ATTEST" --tpmd-socket "$HEARTH_TPMD_SOCKET" --policy "$T/policy.json" --unix "$T/a.sock" \
    --json > "$T/out" 2>&1
rc=$?
CHECKS=$((CHECKS + 1))
[ $rc = 0 ] || fail "the CA from GET /ca: $(cat "$T/out")"
expect_out '^\{"target":"[^"]*a.sock","verdict":"match","checks":\[\{"name":"ek_certificate","status":"pass"'
# The policy inline, in one command.
"$ATTEST" --ca "$T/ca.pem" --unix "$T/a.sock" --kernel "$T/vmlinux" --initrd "$T/initrd.img" \
    --cmdline "$CMDLINE" --vcpus 2 --mem-mib 256 > "$T/out" 2>&1
rc=$?
CHECKS=$((CHECKS + 1))
[ $rc = 0 ] || fail "the policy from the command line: $(cat "$T/out")"

# hearth's device entries follow boot_args on the guest's command line and
# are named in PCR 1's configuration: the tenant's policy still matches.
boot a "virtio_mmio.device=4K@0xc0001000:5"
attest 0 --unix "$T/a.sock"
expect_out "pass  cmdline +\"$CMDLINE virtio_mmio.device=4K@0xc0001000:5\""

# Each tampering is caught and named.
vm a "$T/vmlinux.evil" "$T/initrd.img" "$CMDLINE" 2
boot a
attest 1 --unix "$T/a.sock"
expect_mismatch kernel
expect_out "FAIL  kernel +sha256 [0-9a-f]{16}\.\.\. \(\"kernel vmlinux.evil\"\) is not vmlinux's"
vm a "$T/vmlinux" "$T/initrd.evil" "$CMDLINE" 2
boot a
attest 1 --unix "$T/a.sock"
expect_mismatch initrd
vm a "$T/vmlinux" "$T/initrd.img" "$CMDLINE init=/bin/sh" 2
boot a
attest 1 --unix "$T/a.sock"
expect_mismatch cmdline
expect_out "FAIL  cmdline +the guest got \"$CMDLINE init=/bin/sh\", expected \"$CMDLINE\""
vm a "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 3
boot a
attest 1 --unix "$T/a.sock"
expect_mismatch vcpus
expect_out "FAIL  vcpus +3 vCPUs, expected 2"
vm a "$T/vmlinux" "" "$CMDLINE" 2
boot a
attest 1 --unix "$T/a.sock"
expect_mismatch initrd
expect_out "FAIL  initrd +0 EV_IPL events in PCR 9, expected one"

# A replayed quote: the host records an honest answer and plays it back.
vm a "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
boot a
$MITM "$T/replay.sock" replay "unix:$T/a.sock" 2>> "$T/mitm.err" &
PIDS="$PIDS $!"
wait_until 10 test -S "$T/replay.sock" || fail "no mitm"
attest 0 --unix "$T/replay.sock"
attest 1 --unix "$T/replay.sock"
expect_mismatch quote_nonce
expect_out "FAIL  quote_nonce +carries another nonce: a replayed or stale quote"

# A quote from another VM's vTPM (which booted the very same files).
vm b "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
boot b
$MITM "$T/swap.sock" swap-quote "unix:$T/a.sock" "unix:$T/b.sock" 2>> "$T/mitm.err" &
PIDS="$PIDS $!"
wait_until 10 test -S "$T/swap.sock" || fail "no mitm"
attest 1 --unix "$T/swap.sock"
expect_mismatch quote_signature
# Another VM answering for all of it: honest in itself, caught by an EK pin.
"$ATTEST" policy --kernel "$T/vmlinux" --initrd "$T/initrd.img" --cmdline "$CMDLINE" \
    --ek-cert "$T/a-ek.pem" --output "$T/pinned.json" > /dev/null || fail "pinned policy"
POLICY=$T/pinned.json attest 0 --unix "$T/a.sock"
POLICY=$T/pinned.json attest 1 --unix "$T/b.sock"
expect_mismatch ek_pinned

# An EK certificate from a foreign CA: a vTPM of another hearth-tpmd.
"$TPMD" --socket "$T/api2.sock" --state-dir "$T/state2" --pool-min 1 --pool-max 1 \
    --manufacture fast >> "$T/tpmd.log" 2>&1 &
DAEMON2=$!
daemon_answers "$DAEMON2" "$T/api2.sock" ||
    fail "the second hearth-tpmd did not start: $(tail -n 5 "$T/tpmd.log")"
HEARTH_TPMD_SOCKET=$T/api2.sock alloc c
vm c "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
boot c
attest 1 --unix "$T/c.sock"
expect_mismatch ek_certificate
expect_out "FAIL  ek_certificate +/CN=hearth vTPM [0-9a-f]+ EK: unable to get local issuer certificate \(not issued by the given CA\)"
"$ATTEST" --tpmd-socket "$T/api2.sock" --policy "$T/policy.json" --unix "$T/c.sock" > "$T/out" 2>&1
rc=$?
CHECKS=$((CHECKS + 1))
[ $rc = 0 ] || fail "c against its own CA: $(cat "$T/out")"

# A truncated event log, and edited ones.
size=$(stat -c %s "$T/a.log")
head -c $((size - 40)) "$T/a.log" > "$T/truncated.log"
LOG=$T/truncated.log boot a
attest 1 --unix "$T/a.sock"
expect_mismatch event_log
expect_out "FAIL  event_log +event log: truncated in event 13 \(byte [0-9]+ of $((size - 40))\)"
# The command line's data edited (its digest left alone).
python3 - "$T/a.log" "$T/edited.log" << 'PY'
import sys
log = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(log.replace(b"hearth.attest", b"hearth.attesT"))
PY
LOG=$T/edited.log boot a
attest 1 --unix "$T/a.sock"
expect_mismatch event_data
expect_out "FAIL  event_data +data that does not hash to its digest \(edited\): event 12 \(PCR 8 EV_IPL\)"
# A VM that booted the evil kernel, its log claiming the good one.
vm a "$T/vmlinux.evil" "$T/initrd.img" "$CMDLINE" 2
boot a
python3 - "$T/a.log" "$T/lying.log" "$(sha256sum < "$T/vmlinux.evil" | cut -d' ' -f1)" \
    "$(sha256sum < "$T/vmlinux" | cut -d' ' -f1)" << 'PY'
import sys
log = open(sys.argv[1], "rb").read()
evil, good = bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
assert log.count(evil) == 1
open(sys.argv[2], "wb").write(log.replace(evil, good))
PY
LOG=$T/lying.log boot a
attest 1 --unix "$T/a.sock"
expect_mismatch event_log
expect_out "FAIL  event_log +does not replay to the quoted PCRs: PCR 4 \(log [0-9a-f]{16}\.\.\., TPM [0-9a-f]{16}\.\.\.\)$"
expect_out "skip  kernel +PCR 4 does not replay from the log"

# Several VMs at once against one verifier; JSON for machines.
vm a "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
boot a
attest 0 --unix "$T/a.sock" --unix "$T/b.sock" --unix "$T/a.sock" --unix "$T/b.sock"
CHECKS=$((CHECKS + 1))
[ "$(grep -c ': MATCH, ' "$T/out")" = 4 ] || fail "4 concurrent attestations did not all match"
attest 1 --unix "$T/a.sock" --unix "$T/c.sock" --json
expect_out '^\[\{"target":"[^"]*a.sock","verdict":"match".*\},\{"target":"[^"]*c.sock","verdict":"mismatch","checks":\[\{"name":"ek_certificate","status":"fail"'

# Failures to attest at all are errors (status 2) that say why.
attest 2 --unix "$T/nothing.sock"
expect_out "ERROR: the agent's socket $T/nothing.sock: does not exist"
$MITM "$T/refuse.sock" vsock-refuse 2>> "$T/mitm.err" &
PIDS="$PIDS $!"
$MITM "$T/mux.sock" vsock-mux "unix:$T/a.sock" 2>> "$T/mitm.err" &
PIDS="$PIDS $!"
wait_until 10 test -S "$T/mux.sock" || fail "no mux"
wait_until 10 test -S "$T/refuse.sock" || fail "no mux"
attest 2 --vsock "$T/refuse.sock" --port 7000
expect_out "ERROR: the VM's vsock refused CONNECT 7000: no hearth-attest-agent listens on port 7000 in the guest"
attest 0 --vsock "$T/mux.sock"
"$AGENT" --listen "$T/notpm.sock" --tcti "device:$T/no-such-tpm" 2>> "$T/agent.err" &
PIDS="$PIDS $!"
PIDS="$PIDS $!"
wait_until 10 test -S "$T/notpm.sock" || fail "no agent"
attest 2 --unix "$T/notpm.sock"
expect_out "ERROR: the agent could not give its identity: identity: opening the TPM: "
alloc d
vm d "$T/vmlinux" "$T/initrd.img" "$CMDLINE" 2
LOG=$T/no-such-log boot d
attest 2 --unix "$T/d.sock"
expect_out "ERROR: the agent could not quote: quote: event log $T/no-such-log: No such file or directory"
echo '{"hearth_attest_policy": 1, "bank": "sha256", "pcrs": [0], "kernel": {}, "cmdline": "", "colour": 1}' > "$T/bad.json"
POLICY=$T/bad.json attest 2 --unix "$T/a.sock"
expect_out "policy $T/bad.json: colour: unknown key"
"$ATTEST" --ca "$T/vmlinux" --policy "$T/policy.json" --unix "$T/a.sock" > "$T/out" 2>&1
rc=$?
CHECKS=$((CHECKS + 1))
[ $rc = 2 ] && grep -q "^hearth-attest: --ca $T/vmlinux: no PEM certificate in it$" "$T/out" ||
    fail "a CA file that is not one: $(cat "$T/out")"
pass "attestation, host side"
