# Helpers for vTPM tests: one manufactured swtpm state per test run, copied
# for every swtpm so each VM gets a fresh vTPM without paying manufacture.
# Sourced after lib.sh.

SCRIPTS=$(cd "$(dirname "$0")/../../scripts" && pwd)
command -v swtpm > /dev/null || fail "swtpm is not installed"
SWTPM_PIDS=()
trap 'for p in "${SWTPM_PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done; rm -rf "$T"' EXIT

# manufacture: creates $T/base/state once (EK, EK certificate, platform cert).
manufacture() {
    [ -d "$T/base/state" ] && return 0
    "$SCRIPTS/swtpm-start.sh" "$T/base" > /dev/null || fail "swtpm_setup failed"
    kill "$(cat "$T/base/swtpm.pid")" 2> /dev/null
    sleep 0.1
}

# start_swtpm NAME: a running swtpm on a copy of the base state; sets SOCK
# and SWTPM_PID.
start_swtpm() {
    manufacture
    rm -rf "${T:?}/$1"
    mkdir -p "$T/$1"
    cp -a "$T/base/state" "$T/$1/state"
    SOCK=$(MANUFACTURE=0 "$SCRIPTS/swtpm-start.sh" "$T/$1") || fail "swtpm did not start"
    SWTPM_PID=$(cat "$T/$1/swtpm.pid")
    SWTPM_PIDS+=("$SWTPM_PID")
}

# expect_eventlog_replays PREFIX PCRS...: the event log the guest printed as
# "PREFIXeventlog HEX" lines goes through tpm2_eventlog (tpm2-tools), which
# must parse it and replay it to the SHA-256 PCR values the guest printed
# (pcr_of I gives PCR I's value as the guest saw it, in hex).
expect_eventlog_replays() {
    local prefix=$1 i want
    shift
    sed -n "s/^${prefix}eventlog //p" "$T/out" | xxd -r -p > "$T/eventlog.bin"
    CHECKS=$((CHECKS + 1))
    tpm2_eventlog "$T/eventlog.bin" > "$T/eventlog.yaml" 2>&1 ||
        fail "tpm2_eventlog refused the guest's log: $(tail -5 "$T/eventlog.yaml")"
    for i in "$@"; do
        want=$(pcr_of "$i")
        CHECKS=$((CHECKS + 1))
        sed -n '/^pcrs:/,$p' "$T/eventlog.yaml" | sed -n '/sha256:/,/^  [a-z]/p' |
            grep -Eiq "^ *$i *: *0x$want$" ||
            fail "the log does not replay to the guest's PCR $i ($want): $(sed -n '/^pcrs:/,$p' "$T/eventlog.yaml")"
    done
}
