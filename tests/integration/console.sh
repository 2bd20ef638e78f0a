#!/bin/bash
# The serial console: a prompt without a newline reaches stdout while the VM
# runs, the guest's last line is flushed at exit, and a console nobody reads
# neither stalls the guest nor keeps SIGTERM from stopping hearth.
. "$(dirname "$0")/lib.sh"

PID=
trap '[ -z "$PID" ] || kill -9 "$PID" 2> /dev/null; rm -rf "$T"' EXIT

# stdin is a FIFO the test holds open and types a name into later.
vm_config "$GUEST/prompt.elf" ""
mkfifo "$T/in"
exec 3<> "$T/in"
: > "$T/log"
"$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < "$T/in" > "$T/out" 2> "$T/err" &
PID=$!
CHECKS=$((CHECKS + 1))
wait_until 20 grep -q '^login: $' "$T/out" || fail "the prompt (no newline) did not reach stdout"
CHECKS=$((CHECKS + 1))
kill -0 "$PID" 2> /dev/null || fail "hearth ended before the name was typed"
printf 'root\r' >&3
wait_until 20 not_running "$PID" || fail "hearth did not end after the name was typed"
wait "$PID"
RC=$?
PID=
exec 3>&-
expect_clean_run 1
# Printed just before the reset: only the flush at exit may write it.
expect_out '^hello, root$'

# stdout is a FIFO the test holds open and never reads: once the guest has
# printed more than the pipe and hearth's buffer hold, hearth drops output
# and says so, the guest goes on to halt, and SIGTERM still ends hearth.
vm_config "$GUEST/prompt.elf" "flood=204800 halt"
mkfifo "$T/stall"
exec 4<> "$T/stall"
: > "$T/log"
"$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/stall" 2> "$T/err" &
PID=$!
CHECKS=$((CHECKS + 1))
wait_until 60 grep -q 'guest output is being dropped' "$T/log" ||
    fail "no drop reported with stdout stalled (is a vCPU blocked writing it?)"
CHECKS=$((CHECKS + 1))
kill -0 "$PID" 2> /dev/null || fail "hearth ended on its own with stdout stalled"
kill -TERM "$PID"
wait_until 5 not_running "$PID" || fail "SIGTERM did not stop hearth with its stdout stalled"
wait "$PID"
RC=$?
PID=
exec 4<&-
expect_rc 1
expect_log 'VM stopped: stopped by signal 15'
expect_log 'serial: [0-9]+ bytes of guest output were dropped in all'

# The reader of stdout goes away (hearth | head): an EPIPE for the console,
# not a SIGPIPE death; the VM runs on until SIGTERM.
vm_config "$GUEST/prompt.elf" "flood=204800 halt"
: > "$T/log"
mkfifo "$T/pipe"
head -c 16 < "$T/pipe" > /dev/null &
"$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/pipe" 2> "$T/err" &
PID=$!
CHECKS=$((CHECKS + 1))
wait_until 60 grep -q 'serial: writing guest output failed (Broken pipe)' "$T/log" ||
    fail "no EPIPE reported when stdout's reader went away"
CHECKS=$((CHECKS + 1))
kill -0 "$PID" 2> /dev/null || fail "hearth died when stdout's reader went away"
kill -TERM "$PID"
wait_until 5 not_running "$PID" || fail "SIGTERM did not stop hearth"
wait "$PID"
RC=$?
PID=
expect_rc 1
expect_log 'VM stopped: stopped by signal 15'
pass "console"
