# Helpers for hearth-tpmd tests: start and stop the daemon, read its JSON,
# wait for its pool. Sourced after lib.sh; sets TPMD, CLIENT, STATE and
# HEARTH_TPMD_SOCKET.
command -v swtpm > /dev/null || fail "swtpm is not installed"
TPMD=$BUILD/hearth-tpmd
CLIENT=$BUILD/hearth-tpm
STATE=$T/state
chmod 711 "$T" # each swtpm runs as its own uid, which must reach the state dir
export HEARTH_TPMD_SOCKET=$T/api.sock
DAEMON=

# daemon_answers PID SOCK: until the daemon PID answers on SOCK (serving).
daemon_answers() {
    tpmd_status() { "$CLIENT" --socket "$1" status > /dev/null 2>&1; }
    serving "$1" tpmd_status "$2"
}
start_daemon() { # ARGS...: returns once the daemon answers
    "$TPMD" --socket "$HEARTH_TPMD_SOCKET" --state-dir "$STATE" "$@" >> "$T/tpmd.log" 2>&1 &
    DAEMON=$!
    daemon_answers "$DAEMON" "$HEARTH_TPMD_SOCKET" ||
        fail "hearth-tpmd did not start: $(tail -n 5 "$T/tpmd.log")"
}
stop_all() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2> /dev/null && wait "$DAEMON" 2> /dev/null
    DAEMON=
    pkill -9 -f "swtpm.*$STATE" 2> /dev/null
    sleep 0.2
    remove_vtpm_cgroups
}
trap 'stop_all; rm -rf "$T"' EXIT
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
wait_ready() { # N
    has_ready() { [ "$("$CLIENT" status | field ready)" -ge "$1" ] 2> /dev/null; }
    wait_until 30 has_ready "$1" || fail "the pool never had $1 ready vTPMs: $("$CLIENT" status)"
}
# swtpms serving vTPMs (swtpm_setup's own temporary instance excluded).
swtpms() { pgrep -fc "swtpm socket --tpm2 --tpmstate dir=$STATE" || true; }
settled() { # the pool is full and nothing is being manufactured
    is_settled() { "$CLIENT" status | grep -q '"manufacturing":0' && [ "$("$CLIENT" status | field ready)" -ge 2 ]; }
    wait_until 30 is_settled || fail "the pool did not settle: $("$CLIENT" status)"
}
# as_uid UID CMD...: runs CMD as uid and gid UID with no other groups.
as_uid() {
    local u=$1
    shift
    setpriv --reuid "$u" --regid "$u" --clear-groups "$@"
}
