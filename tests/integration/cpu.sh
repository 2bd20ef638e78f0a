#!/bin/bash
# The guest's vCPU: CPUID hypervisor leaf and topology for vcpu_count/smt,
# boot MSRs, LAPIC LINT0/LINT1.
. "$(dirname "$0")/lib.sh"

for conf in "1 false 0" "4 false 0" "4 true 1" "32 true 1"; do
    set -- $conf
    vm_config "$GUEST/cpu.elf" "vcpus=$1 smt=$3" "$1" 128
    sed -i "s/\"mem_size_mib\": 128}/\"mem_size_mib\": 128, \"smt\": $2}/" "$T/vm.json"
    run_hearth
    expect_clean_run 11
    expect_out "CPUID.B level 1: $1 logical CPUs per package"
    expect_out "CPUID.B level 0: $(( $3 == 1 ? 2 : 1 )) thread\(s\) per core"
done
pass "cpu"
