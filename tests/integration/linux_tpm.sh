#!/bin/bash
# The vTPM under Debian's stock Linux drivers: for CRB and TIS the guest's
# kernel binds tpm_crb / tpm_tis, /dev/tpm0 answers, the SHA-256 PCRs are
# readable, IMA extends PCR 10 and lists its measurements; swtpm killed
# under the running guest gives it TPM errors while the VM keeps running.
# The virtio model has no driver in Debian's kernel (it is ChromeOS's
# tpm_virtio): tpm.sh and tpm_faults.sh cover it with the payloads.
# CRB boots from a config file; TIS through the REST API, Firecracker's
# getting-started flow with curl, and its metrics count the TPM's work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
need_linux_kernel
SCRIPT="$ROOT/guest/linux/tpm-report.sh" "$ROOT/scripts/mkinitramfs.sh" "$T/initramfs" LINUX-TPM-INIT

declare -A DRIVER=([crb]=tpm_crb [tis]=tpm_tis)
for model in crb tis; do
    start_swtpm "linux-$model"
    boot='{"kernel_image_path": "'$KDIR/vmlinux'", "initrd_path": "'$T/initramfs'",
           "boot_args": "console=ttyS0 reboot=k panic=-1 quiet hearth.wait_kill"}'
    machine='{"vcpu_count": 2, "mem_size_mib": 256}'
    tpm='{"socket": "'$SOCK'", "model": "'$model'", "timeout_ms": '$(scaled 2000)'}'
    if [ "$model" = crb ]; then
        echo "{\"boot-source\": $boot, \"machine-config\": $machine, \"tpm\": $tpm}" > "$T/vm.json"
        : > "$T/log"
        "$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/out" 2>&1 &
        pid=$!
    else
        api_start "$T/api.sock" --metrics-path "$T/metrics"
        pid=$PID
        api PUT /boot-source "$boot"
        expect_http 204
        api PUT /machine-config "$machine"
        expect_http 204
        api PUT /tpm "$tpm"
        expect_http 204
        api GET /tpm
        expect_http 200 '"model":"tis"'
        api PUT /actions '{"action_type": "InstanceStart"}'
        expect_http 204
        api GET /
        expect_http 200 '"state":"Running"'
    fi
    wait_until 60 grep -q 'linux-tpm: waiting for the host to kill swtpm' "$T/out" ||
        { kill -9 "$pid"; fail "$model: the guest did not get to its TPM report"; }
    kill -9 "$SWTPM_PID"
    wait_until 60 not_running "$pid" || { kill -9 "$pid"; fail "$model: the guest did not finish after the kill"; }
    wait "$pid"
    RC=$?
    linux_console
    expect_rc 0
    expect_out 'LINUX-TPM-INIT'
    expect_out "^linux-tpm: driver ${DRIVER[$model]}$"
    expect_out '^linux-tpm: version 2$'
    for i in 0 7 10; do
        expect_out "^linux-tpm: pcr-sha256 $i [0-9A-F]{64}$"
    done
    # PCR 10 holds IMA's boot aggregate and what ran since: not zero.
    expect_no_out '^linux-tpm: pcr-sha256 10 0{64}$'
    expect_out '^linux-tpm: getrandom 800100000014000000000008[0-9a-f]{16}$'
    # Measured boot: Linux exposes hearth's event log, which tpm2-tools
    # replays to the PCRs the guest reads.
    expect_out '^linux-tpm: event log [0-9]+ bytes$'
    pcr_of() { sed -n "s/^linux-tpm: pcr-sha256 $1 //p" "$T/out"; }
    expect_eventlog_replays 'linux-tpm: ' 0 1 4 8 9
    CHECKS=$((CHECKS + 1))
    grep -q "$(sha256sum "$KDIR/vmlinux" | cut -d' ' -f1)" "$T/eventlog.yaml" ||
        fail "$model: the log lacks the kernel file's digest"
    expect_out '^linux-tpm: ima policy loaded$'
    expect_out '^linux-tpm: ima 10 [0-9a-f]{40} ima-sig sha256:[0-9a-f]{64} boot_aggregate'
    expect_out '^linux-tpm: ima 10 [0-9a-f]{40} ima-sig sha256:[0-9a-f]{64} /bin/busybox'
    # After the kill: the guest's TPM fails, the VM keeps running.
    expect_out '^linux-tpm: reading a PCR failed after the kill$'
    # The kernel turns the device's failure into an error (CRB also sets
    # its fatal bit) or passes TPM_RC_FAILURE through.
    expect_out '^linux-tpm: after the kill, getrandom (error|80010000000a00000101)$'
    expect_out '^linux-tpm: still running$'
    expect_log 'vTPM failed: the connection to swtpm broke'
    expect_log 'VM stopped: guest requested a reset through the i8042'
    if [ "$model" = tis ]; then
        # Lines at the start and the exit; between them the guest's TPM work.
        CHECKS=$((CHECKS + 1))
        python3 -c '
import json, sys
end = [json.loads(l) for l in open(sys.argv[1])][-1]["tpm"]
assert end["commands"] > 10 and end["bytes_in"] > 0 and end["bytes_out"] > 0, end
assert end["failures"] >= 1, end' "$T/metrics" || fail "metrics: $(tail -c 600 "$T/metrics")"
    fi
    echo "# $model: $(grep -c '^linux-tpm:' "$T/out") report lines; PCR 10 $(sed -n 's/^linux-tpm: pcr-sha256 10 //p' "$T/out")"
done
pass "linux tpm"
