#!/bin/bash
# Legacy devices: boot timer (and its bad writes), i8042 probe + reset, and
# the UART's registers and input from hearth's stdin; serial output to a file.
. "$(dirname "$0")/lib.sh"

vm_config "$GUEST/boot_timer.elf" ""
run_hearth --boot-timer
expect_clean_run 1
expect_log 'Guest-boot-time = +[0-9]+ us [0-9]+ ms, +[0-9]+ CPU us [0-9]+ CPU ms'

# Without --boot-timer nobody claims the address: no boot-time line.
run_hearth
expect_rc 0
expect_no_log 'Guest-boot-time'
expect_log 'unclaimed mmio write at 0xc0000000'

vm_config "$GUEST/boot_timer.elf" "bad=1"
run_hearth --boot-timer
expect_clean_run 1
expect_no_log 'Guest-boot-time'
expect_log 'boot-timer: ignored 1-byte write of 0x2a at offset 0x0'
CHECKS=$((CHECKS + 1))
[ "$(grep -c 'boot-timer: ignored' "$T/log")" -eq 3 ] || fail "ignored writes not capped at 3 lines"

vm_config "$GUEST/i8042.elf" ""
run_hearth
expect_rc 0
CHECKS=$((CHECKS + 1))
[ "$(grep -c '^ok ' "$T/out")" -eq 6 ] && ! grep -q '^not ok' "$T/out" || fail "i8042 checks"
expect_out '^# guest: i8042 reset now$'
expect_no_out 'still running after the i8042 reset'

vm_config "$GUEST/serial.elf" "expect=from-the-host"
# Input through a pipe on stdin.
: > "$T/log"
echo "from-the-host" | timeout "$(scaled 30)" "$HEARTH" --config-file "$T/vm.json" --no-api \
    --log-path "$T/log" > "$T/out" 2> "$T/err"
RC=$?
expect_clean_run 7
expect_out 'ok 1 - read "from-the-host" from the host'

expect_out '^ok 3 - divisor latch round-trips'

# Input from a terminal: hearth puts it in raw mode, so a carriage return
# reaches the guest as typed.
if command -v script > /dev/null; then
    (sleep 0.5; printf 'from-the-host\r') | timeout "$(scaled 30)" script -qec \
        "$HEARTH --config-file $T/vm.json --no-api --log-path $T/log" /dev/null > "$T/out"
    RC=$?
    expect_rc 0
    expect_out 'ok 1 - read "from-the-host" from the host'
    expect_guest_pass 7
fi

# serial_out_path sends the console to a file instead of stdout.
vm_config "$GUEST/hello.elf" "" 1 128 "\"serial\": {\"serial_out_path\": \"$T/console\"}"
run_hearth
expect_rc 0
CHECKS=$((CHECKS + 1))
grep -q '^hello from a hearth guest$' "$T/console" || fail "console file lacks the guest output"
CHECKS=$((CHECKS + 1))
[ ! -s "$T/out" ] || fail "guest output still went to stdout"
pass "devices"
