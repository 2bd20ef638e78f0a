#!/bin/bash
# The vTPM through each transport (CRB, TIS, virtio-tpm) against a real,
# manufactured swtpm: tpm_basic (capabilities, self test, random, PCR
# arithmetic, EK certificate in NV) and tpm_hostile; swtpm is shut down when
# the VM stops; start-up errors for bad sockets are clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"

for model in crb tis virtio; do
    start_swtpm "$model"
    tpm_config tpm_basic.elf "$model" "ekcert=1"
    run_hearth
    expect_clean_run 13
    expect_out "ok 2 - $model interface probed"
    expect_out 'PCR 10 == SHA-256\(old \|\| digest\)'
    expect_out 'EK certificate in NV 0x01c00002'
    expect_out "ok 3 - SelfTest\(full\) after the monitor's TPM2_Startup \(rc 0x0\)"
    # hearth sent SHUTDOWN: swtpm is gone, with its socket.
    wait_until 3 not_running "$SWTPM_PID"
    CHECKS=$((CHECKS + 1))
    ! kill -0 "$SWTPM_PID" 2> /dev/null || fail "swtpm still runs after the VM stopped ($model)"

    start_swtpm "$model-hostile"
    tpm_config tpm_hostile.elf "$model" ""
    run_hearth
    expect_clean_run 8
    expect_out 'a good command works after'
done

# A TPM slower than a Linux driver's deadline for its commands: a fake
# swtpm holds each command 2 s, where Linux gives GetCapability 750 ms from
# the moment its START or tpmGo write returns, with no last look. The guest
# polls that way (poll_ms=750) and every command must be answered: hearth
# holds the write until the answer is in. (The stall is the injected delay,
# not a time-out: it is not scaled.)
for model in crb tis; do
    SOCK=$T/slow-$model.sock
    "$BUILD/guest/fake_swtpm" "$SOCK" stall=2000 &
    SWTPM_PIDS+=($!)
    disown
    wait_until 1 test -S "$SOCK"
    tpm_config tpm_slow.elf "$model" "poll_ms=750 count=1" "\"timeout_ms\": $(scaled 5000), \"measured_boot\": false"
    run_hearth
    expect_clean_run 4
    expect_out 'ok 4 - slow command 1 answered within its 750 ms deadline \(rc 0x0\)'
done

# The TPM is described to the guest: DSDT MSFT0101 and a TPM2 table with
# the transport's start method; virtio-tpm as LNRO0005 and on the command
# line, like every virtio-mmio device.
for model in crb tis virtio; do
    start_swtpm "acpi-$model"
    tpm_config acpi.elf "$model" "vcpus=1 dump=1"
    run_hearth
    expect_clean_run 8
    case $model in
    crb)
        disassemble_tables DSDT TPM2
        expect_out '^ok [0-9]+ - table TPM2 '
        CHECKS=$((CHECKS + 3))
        grep -q '_HID, "MSFT0101"' "$T/tables/DSDT.dsl" || fail "DSDT lacks MSFT0101"
        grep -Eq 'Start Method : 07' "$T/tables/TPM2.dsl" || fail "TPM2 start method is not CRB"
        grep -Eiq 'Control Address : 00000000FED40040' "$T/tables/TPM2.dsl" || fail "TPM2 control area"
        # Measured boot (on by default): the event log's place.
        CHECKS=$((CHECKS + 2))
        grep -Eiq 'Minimum Log Length : 00010000' "$T/tables/TPM2.dsl" || fail "TPM2 LAML"
        grep -Eiq 'Log Address : 00000000000F0000' "$T/tables/TPM2.dsl" || fail "TPM2 LASA"
        grep -A3 'Memory32Fixed' "$T/tables/DSDT.dsl" | grep -q '0xFED40000' || fail "TPM _CRS base" ;;
    tis)
        disassemble_tables DSDT TPM2
        CHECKS=$((CHECKS + 2))
        grep -Eq 'Start Method : 06' "$T/tables/TPM2.dsl" || fail "TPM2 start method is not TIS"
        grep -A3 'Memory32Fixed' "$T/tables/DSDT.dsl" | grep -q '0x00005000' || fail "TIS _CRS length" ;;
    virtio)
        disassemble_tables DSDT
        CHECKS=$((CHECKS + 2))
        grep -q '_HID, "LNRO0005"' "$T/tables/DSDT.dsl" || fail "DSDT lacks LNRO0005"
        grep -q 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive' "$T/tables/DSDT.dsl" ||
            fail "virtio-mmio interrupt resource" ;;
    esac
done
start_swtpm cmdline-virtio
tpm_config bootinfo.elf virtio "kind=pvh mem_mib=128"
run_hearth
expect_clean_run 9
expect_out '^# cmdline: tpm=virtio kind=pvh mem_mib=128 virtio_mmio.device=4K@0xc0001000:5$'

# Start-up errors name the problem and leave nothing running.
tpm_error() { # EXPECTED_LOG
    run_hearth
    expect_rc 1
    expect_log "start-up failed: $1"
    expect_no_out 'ok 1'
}
SOCK=$T/nonexistent.sock
tpm_config tpm_basic.elf crb ""
tpm_error "tpm.socket $T/nonexistent.sock: does not exist"

start_swtpm dead
kill -9 "$SWTPM_PID"
sleep 0.1
tpm_config tpm_basic.elf crb ""
tpm_error "tpm.socket .*: nothing is listening"

SOCK=$T/silent.sock
"$BUILD/guest/fake_swtpm" "$SOCK" silent &
SWTPM_PIDS+=($!)
disown
wait_until 1 test -S "$SOCK"
tpm_config tpm_basic.elf crb "" "\"timeout_ms\": $(scaled 300)"
start=$(date +%s%N)
tpm_error 'tpm.socket .*silent.sock: swtpm did not answer GET_CAPABILITY'
CHECKS=$((CHECKS + 1))
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt "$(scaled 3000)" ] || fail "a silent swtpm held start-up past its timeout"

SOCK=$T/nocaps.sock
"$BUILD/guest/fake_swtpm" "$SOCK" caps=1 &
SWTPM_PIDS+=($!)
disown
wait_until 1 test -S "$SOCK"
tpm_config tpm_basic.elf crb ""
tpm_error 'swtpm lacks the SHUTDOWN control command'

printf '{"boot-source": {"kernel_image_path": "%s"}, "tpm": {"socket": "/x", "model": "tpm3"}}' \
    "$GUEST/hello.elf" > "$T/vm.json"
"$HEARTH" --config-file "$T/vm.json" --no-api > /dev/null 2> "$T/err"
RC=$?
expect_rc 152
expect_err 'tpm.model: must be "crb", "tis" or "virtio", got "tpm3"'
pass "tpm"
