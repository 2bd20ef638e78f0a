#!/bin/bash
# Measured direct boot: on every transport the guest finds hearth's TCG
# event log (through the TPM2 table's LAML/LASA for CRB and TIS), and it
# replays to the PCRs the TPM reports; the kernel's event carries the
# digest of the very file hearth booted and the command line the guest
# got; GET /tpm lists the measurements; measured_boot false measures
# nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"
KERNEL_SHA=$(sha256sum "$GUEST/tpm_measured.elf" | cut -d' ' -f1)

for model in crb tis virtio; do
    start_swtpm "$model"
    tpm_config tpm_measured.elf "$model" "console=ttyS0"
    run_hearth
    # CRB and TIS check the TPM2 table's two log fields too.
    expect_clean_run $([ "$model" = virtio ] && echo 15 || echo 17)
    expect_out '^ok [0-9]+ - the log starts with the Spec ID Event03 header'
    expect_out "^# event pcr=0 type=0x8 sha256=[0-9a-f]{64} data=h.e.a.r.t.h"
    expect_out '^# event pcr=1 type=0xa sha256=[0-9a-f]{64} data=\{"devices":'
    expect_out "^# event pcr=4 type=0xd sha256=$KERNEL_SHA data=kernel tpm_measured.elf$"
    cmdline="tpm=$model console=ttyS0"
    [ "$model" = virtio ] && cmdline="$cmdline virtio_mmio.device=4K@0xc0001000:5"
    expect_out "^# event pcr=8 type=0xd sha256=$(printf '%s' "$cmdline" | sha256sum | cut -d' ' -f1) data=$cmdline$"
    for i in 0 1 2 3 4 5 6 7; do
        expect_out "^# event pcr=$i type=0x4 sha256=df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119 data=....$"
    done
    expect_out '^ok [0-9]+ - PCR 9 replays from the log'
    expect_log 'measured boot: 12 events into PCRs \(banks [a-z0-9,]*sha256'
    # tpm2-tools reads the same log and replays it to the same PCRs.
    pcr_of() { sed -n "s/^ok [0-9]* - PCR $1 replays from the log: //p" "$T/out"; }
    expect_eventlog_replays '# ' 0 1 4 8
done

# An initrd is measured into PCR 9.
start_swtpm with-initrd
tpm_config tpm_measured.elf crb ""
head -c 100000 /dev/urandom > "$T/initrd.img"
sed -i "s|\"boot_args\"|\"initrd_path\": \"$T/initrd.img\", \"boot_args\"|" "$T/vm.json"
run_hearth
expect_clean_run 17
expect_out "^# event pcr=9 type=0xd sha256=$(sha256sum "$T/initrd.img" | cut -d" " -f1) data=initrd initrd.img$"

# Through the API: GET /tpm lists what was measured.
start_swtpm api
api_start "$T/api.sock"
api PUT /boot-source "{\"kernel_image_path\": \"$GUEST/api_probe.elf\"}"
api PUT /tpm "{\"socket\": \"$SOCK\", \"timeout_ms\": $(scaled 2000)}"
api PUT /actions '{"action_type": "InstanceStart"}'
expect_http 204
api GET /tpm
expect_http 200 '"measured_boot":true,"measurements":\[\{"pcr":0,"event":"EV_S_CRTM_VERSION"'
expect_http 200 "\"pcr\":4,\"event\":\"EV_IPL\",\"digests\":\\{[^}]*\"sha256\":\"$(sha256sum "$GUEST/api_probe.elf" | cut -d' ' -f1)\""
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_until 20 not_running "$PID" || fail "the API guest did not stop"

# Off: no log, PCRs untouched (tpm_basic prints PCR 0), no log fields.
start_swtpm off
tpm_config tpm_basic.elf crb "" '"measured_boot": false'
run_hearth
expect_clean_run 12
expect_out '^# pcr0: 0{64}$'
expect_no_log 'measured boot'
pass "measured boot"
