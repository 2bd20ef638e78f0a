#!/bin/bash
# The guest finds RSDP -> XSDT -> FADT/DSDT/MADT with valid checksums and one
# LAPIC per vCPU, and the MP table; iasl disassembles every table cleanly.
. "$(dirname "$0")/lib.sh"
command -v iasl > /dev/null || fail "iasl (acpica-tools) is not installed"
command -v xxd > /dev/null || fail "xxd is not installed"

for vcpus in 1 3 32; do
    vm_config "$GUEST/acpi.elf" "vcpus=$vcpus mptable=1 dump=$((vcpus == 3))" "$vcpus"
    run_hearth
    expect_clean_run 10
    expect_out "MADT lists $vcpus enabled LAPICs"
    expect_out "MP table lists $vcpus processors"
done

vm_config "$GUEST/acpi.elf" "vcpus=2 dump=1" 2
run_hearth
expect_clean_run 8
disassemble_tables XSDT FACP DSDT APIC
CHECKS=$((CHECKS + 1))
grep -q 'Hardware Reduced (V5) : 1' "$T/tables/FACP.dsl" || fail "FADT is not hardware-reduced"
CHECKS=$((CHECKS + 1))
grep -q 'EisaId ("PNP0501")' "$T/tables/DSDT.dsl" || fail "DSDT lacks COM1 PNP0501"
CHECKS=$((CHECKS + 1))
grep -q 'EisaId ("PNP0303")' "$T/tables/DSDT.dsl" || fail "DSDT lacks the i8042 PNP0303"
CHECKS=$((CHECKS + 1))
grep -Eq 'IO \(Decode16,[[:space:]]*$' "$T/tables/DSDT.dsl" || fail "DSDT has no IO resources"
CHECKS=$((CHECKS + 1))
[ "$(grep -c 'Processor Local APIC' "$T/tables/APIC.dsl")" -ge 2 ] || fail "MADT LAPICs"
pass "acpi"
