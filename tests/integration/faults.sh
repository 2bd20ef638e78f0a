#!/bin/bash
# A hostile or broken guest stops the VM with a reason and never crashes or
# hangs hearth: triple fault, instruction-emulation failure, access storms.
. "$(dirname "$0")/lib.sh"

vm_config "$GUEST/triple_fault.elf" ""
run_hearth
expect_rc 1
expect_out '^# guest: faulting now$'
expect_no_out 'survived a fault'
# KVM on AMD resets the vCPU on a shutdown: hearth says the RIP is unknown
# there rather than report the reset vector.
if grep -qw svm /proc/cpuinfo; then
    expect_log 'ERROR\] VM stopped: vcpu0: triple fault \(KVM_EXIT_SHUTDOWN\) at an unknown guest rip \(KVM reset the vCPU'
else
    expect_log 'ERROR\] VM stopped: vcpu0: triple fault \(KVM_EXIT_SHUTDOWN\) at guest rip 0x10[0-9a-f]{4}'
fi

# cmpxchg16b: KVM's instruction emulator cannot run it. With hardware
# virtualization the guest runs it natively; on an emulating host (nested
# PVM, as on our CI) hearth must report the internal error precisely.
vm_config "$GUEST/emulation_failure.elf" ""
run_hearth
if have_hw_virt; then
    expect_clean_run 1
else
    expect_rc 1
    expect_log 'KVM_EXIT_INTERNAL_ERROR suberror 1 \(instruction emulation failed\) at guest rip 0x10[0-9a-f]{4}; data: 0x'
fi

# 20000 unclaimed port and MMIO accesses of each kind: the guest keeps
# running, reads return all ones, the log stays short, the total is counted.
vm_config "$GUEST/storm.elf" "count=20000"
start=$(date +%s)
run_hearth
seconds=$(($(date +%s) - start + 1))
expect_clean_run 3
expect_log '80001 guest accesses hit no device'
# At most one report a second, whatever the storm's pace.
lines=$(grep -c 'unclaimed' "$T/log")
CHECKS=$((CHECKS + 1))
[ "$lines" -le $((seconds + 2)) ] || fail "$lines unclaimed-access log lines for a ${seconds}s storm"
expect_log 'unclaimed port read at 0x2e8'
pass "faults"
