#!/bin/bash
# hello boots through PVH, prints, and the i8042 reset ends hearth with 0.
. "$(dirname "$0")/lib.sh"

vm_config "$GUEST/hello.elf" "console=ttyS0"
run_hearth
expect_clean_run 1
expect_out '^hello from a hearth guest$'
expect_out 'booted through PVH'

# The same with 4 vCPUs: the APs wait for SIPI and must not keep hearth alive.
vm_config "$GUEST/hello.elf" "" 4
run_hearth
expect_clean_run 1

# Without a terminal or pipe on stdin and without --log-path, the log goes to
# stderr and the guest output alone to stdout.
timeout "$(scaled 20)" "$HEARTH" --config-file "$T/vm.json" --no-api --id test-1 < /dev/null > "$T/out" 2> "$T/err"
RC=$?
expect_rc 0
expect_err '\[test-1:main:INFO\] VM stopped'
CHECKS=$((CHECKS + 1))
! grep -q 'VM stopped' "$T/out" || fail "log lines leaked into the guest console"
pass "hello"
