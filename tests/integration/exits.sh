#!/bin/bash
# Exit accounting against what a guest provably did: exit_counts touches its
# TPM transport a known number of times and nothing else, and hearth's
# metrics (exits_by_device, summed over the lines) and its exit summary must
# show exactly those accesses, reads of the CRB page never reaching hearth
# and batched writes counted as accesses without exits; where the kernel
# has binary statistics, KVM's own mmio_exits agree with hearth's count. A
# CRB command costs a fixed handful of exits whatever its size.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"

# metric KEY...: the sum over the metrics lines of that nested counter.
metric() {
    python3 -c '
import json, sys
total = 0
for line in open(sys.argv[1]):
    v = json.loads(line)
    for k in sys.argv[2:]:
        v = v.get(k, {}) if isinstance(v, dict) else {}
    total += v if isinstance(v, int) else 0
print(total)' "$T/metrics" "$@"
}

# expect_eq WHAT GOT WANT / expect_range WHAT GOT MIN MAX
expect_eq() {
    CHECKS=$((CHECKS + 1))
    [ "$2" -eq "$3" ] || fail "$1: $2, expected $3"
}
expect_range() {
    CHECKS=$((CHECKS + 1))
    [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1: $2, expected $3..$4"
}

# KVM's MMIO exits to user space are the TPM's: no other device is MMIO.
expect_kvm_agrees() { # DEVICE
    local kvm
    kvm=$(python3 -c '
import json, sys
n = None
for line in open(sys.argv[1]):
    v = json.loads(line).get("kvm_exits", {}).get("mmio_exits")
    if v is not None:
        n = (n or 0) + v
print(-1 if n is None else n)' "$T/metrics")
    if [ "$kvm" -ge 0 ]; then
        expect_eq "KVM's mmio_exits vs hearth's $1 exits" "$kvm" "$(metric exits_by_device "$1" exits)"
    else
        echo "# this kernel has no binary statistics: KVM's own count not compared"
    fi
}

start_swtpm crb
tpm_config exit_counts.elf crb "reads=1000 writes=500 buf=600"
rm -f "$T/metrics"
run_hearth --metrics-path "$T/metrics"
expect_clean_run 1
expect_eq "tpm-crb reads reaching hearth" "$(metric exits_by_device tpm-crb reads)" 0
expect_eq "tpm-crb writes" "$(metric exits_by_device tpm-crb writes)" 1100
# 500 register writes exit; the 600 buffer writes wait in KVM's ring, which
# holds 169 and costs an exit each time it fills.
crb_exits=$(metric exits_by_device tpm-crb exits)
expect_range "tpm-crb exits" "$crb_exits" 500 510
expect_kvm_agrees tpm-crb
expect_log "VM exits: [0-9]+ in KVM \(io [0-9]+, mmio [0-9]+, .*\)\); [0-9]+ reached hearth: .*tpm-crb $crb_exits \(1100 accesses\)"

start_swtpm tis
tpm_config exit_counts.elf tis "reads=1000 buf=200"
rm -f "$T/metrics"
run_hearth --metrics-path "$T/metrics"
expect_clean_run 1
expect_eq "tpm-tis reads" "$(metric exits_by_device tpm-tis reads)" 1000
expect_eq "tpm-tis writes" "$(metric exits_by_device tpm-tis writes)" 202
tis_exits=$(metric exits_by_device tpm-tis exits)
expect_range "tpm-tis exits" "$tis_exits" 1002 1006
expect_kvm_agrees tpm-tis
expect_log "tpm-tis $tis_exits \(1202 accesses\)"

# Real commands over CRB: their bytes go by memory and the coalesced ring,
# so what reaches hearth per command is a few register writes.
start_swtpm basic
tpm_config tpm_basic.elf crb ""
rm -f "$T/metrics"
run_hearth --metrics-path "$T/metrics"
expect_clean_run 12
commands=$(metric tpm commands)
exits=$(metric exits_by_device tpm-crb exits)
echo "# tpm_basic over CRB: $commands commands, $exits exits to hearth"
CHECKS=$((CHECKS + 1))
[ "$commands" -ge 10 ] && [ "$exits" -le $((commands * 4)) ] ||
    fail "tpm_basic over CRB: $exits exits for $commands commands (at most 4 each expected)"
# The payloads' clock for waits that cost no exits: the TSC, calibrated
# against the PIT. A 1 s wait takes about 1 s.
vm_config "$GUEST/exit_counts.elf" "wait=1000"
start=$(date +%s%N)
run_hearth
ms=$((($(date +%s%N) - start) / 1000000))
expect_clean_run 1
echo "# a 1000 ms guest wait took $ms ms"
expect_range "a 1000 ms guest wait, in ms" "$ms" 1000 "$(scaled 3000)"
pass "exits"
