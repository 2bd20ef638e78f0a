#!/bin/bash
# swtpm dies (kill -9) or stops answering (SIGSTOP) while the guest loops on
# TPM commands: the guest sees TPM_RC_FAILURE within the timeout, failure
# stays sticky, hearth logs it once and keeps the VM running until the guest
# resets, then exits 0 leaving no process behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"

OURS=() # every process this test started, for the leak check
TPM_TIMEOUT_MS=$(scaled 500)

# fault MODEL SIGNAL: returns the ms from the signal to the guest's report.
fault() {
    start_swtpm "fault-$1-$2"
    tpm_config tpm_loop.elf "$1" "count=1000000" "\"timeout_ms\": $TPM_TIMEOUT_MS"
    : > "$T/log"
    "$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/out" 2>&1 &
    local pid=$!
    OURS+=("$pid")
    wait_until 2 grep -q '^# looping' "$T/out"
    expect_out '^# looping'
    sleep 0.2
    local t0
    t0=$(date +%s%N)
    kill "-$2" "$SWTPM_PID"
    wait_until 5 grep -q '^# tpm failed' "$T/out"
    ELAPSED_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait "$pid"
    RC=$?
    [ "$2" = STOP ] && kill -9 "$SWTPM_PID"
    expect_clean_run 5
    expect_out '^# tpm failed after [0-9]+ commands: rc 0x101'
    CHECKS=$((CHECKS + 1))
    [ "$(grep -c 'vTPM failed' "$T/log")" -eq 1 ] || fail "the failure was not logged exactly once"
    echo "# $1 after SIG$2: guest saw the failure after ${ELAPSED_MS} ms"
}

for model in crb tis virtio; do
    fault "$model" KILL
    expect_log 'vTPM failed: the connection to swtpm broke'
    CHECKS=$((CHECKS + 1))
    [ "$ELAPSED_MS" -lt "$(scaled 1500)" ] || fail "a dead swtpm took ${ELAPSED_MS} ms to surface"
done

fault crb STOP
expect_log 'vTPM failed: swtpm did not answer within the timeout'
CHECKS=$((CHECKS + 1))
[ "$ELAPSED_MS" -ge $((TPM_TIMEOUT_MS * 4 / 5)) ] && [ "$ELAPSED_MS" -lt $((TPM_TIMEOUT_MS * 5)) ] ||
    fail "a frozen swtpm surfaced after ${ELAPSED_MS} ms; the timeout is $TPM_TIMEOUT_MS ms"

# Nothing of ours left behind: every hearth and swtpm we started is gone.
# Exited processes are reparented to init, which may take a moment to reap
# them; one that persists (running or zombie) is a leak.
leftovers() {
    local n=0 p
    for p in "${OURS[@]}" "${SWTPM_PIDS[@]}"; do [ -e "/proc/$p" ] && n=$((n + 1)); done
    echo "$n"
}
no_leftovers() { [ "$(leftovers)" -eq 0 ]; }
wait_until 5 no_leftovers
CHECKS=$((CHECKS + 1))
[ "$(leftovers)" -eq 0 ] || fail "processes persist: $(for p in "${OURS[@]}" "${SWTPM_PIDS[@]}"; do
    [ -e "/proc/$p" ] && ps -o pid=,stat=,comm= -p "$p"; done)"
CHECKS=$((CHECKS + 1))
! pgrep -f "$T/vm.json" > /dev/null || fail "hearth still running"
pass "tpm faults"
