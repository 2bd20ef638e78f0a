#!/bin/bash
# hearth-tpmd keeps vTPMs apart and the root daemon out of their reach: each
# swtpm runs as its own uid, cannot open another vTPM's state or control
# socket, and cannot plant a link where the daemon writes; a second daemon
# on the same state directory is refused; a kill -9 of the daemon
# mid-manufacture (either method, with or without cgroups) leaves no process
# or cgroup behind after restart;
# an allocated vTPM whose swtpm dies is reported failed; on-demand
# manufacture obeys --concurrency and refused requests are not demand;
# ready swtpms run at nice 10, allocated ones at 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpmd_lib.sh"
command -v setpriv > /dev/null || fail "setpriv (util-linux) is not installed"
get() { "$CLIENT" raw GET "/vtpms/$1"; }

start_daemon --pool-min 2 --pool-max 2 --manufacture fast
settled
IDS=$("$CLIENT" list | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
A=$(echo "$IDS" | sed -n 1p)
B=$(echo "$IDS" | sed -n 2p)
UA=$(get "$A" | field uid)
UB=$(get "$B" | field uid)
CHECKS=$((CHECKS + 2))
[ "$UA" -ge 1900000000 ] && [ "$UB" -ge 1900000000 ] || fail "vTPM uids $UA $UB are not from the range"
[ "$UA" != "$UB" ] || fail "two vTPMs share uid $UA"
PA=$(get "$A" | field pid)
CHECKS=$((CHECKS + 1))
[ "$(stat -c %u "/proc/$PA")" = "$UA" ] || fail "A's swtpm does not run as $UA"

# Another state directory gets another uid range (two daemons never share
# a uid: wiping a vTPM kills its uid's processes); an operator's range that
# overlaps a live one is refused, naming the owner.
OTHER=$T/other
"$TPMD" --socket "$T/other.sock" --state-dir "$OTHER" --pool-min 1 --pool-max 1 \
    --manufacture fast >> "$T/tpmd.log" 2>&1 &
OTHER_PID=$!
other_ready() { "$CLIENT" --socket "$T/other.sock" list 2> /dev/null | grep -q '"state":"ready"'; }
wait_until 30 other_ready || fail "a second daemon did not fill its pool"
UO=$("$CLIENT" --socket "$T/other.sock" list | field uid)
kill "$OTHER_PID"
wait "$OTHER_PID"
pkill -9 -f "swtpm.*$OTHER/" 2> /dev/null
CHECKS=$((CHECKS + 3))
read -r BA CA < "$STATE/uid-range"
read -r BO CO < "$OTHER/uid-range"
[ "$UA" -ge "$BA" ] && [ "$UA" -lt $((BA + CA)) ] && [ "$UO" -ge "$BO" ] && [ "$UO" -lt $((BO + CO)) ] &&
    { [ $((BA + CA)) -le "$BO" ] || [ $((BO + CO)) -le "$BA" ]; } ||
    fail "two state directories share a uid range ($BA+$CA with $UA, $BO+$CO with $UO)"
# Three more state directories, then each again (a restart): four disjoint
# ranges, each kept across its restart.
ranges() {
    for d in "$STATE" "$T"/s1 "$T"/s2 "$T"/s3; do cat "$d/uid-range"; done | sort -n
}
for round in 1 2; do
    for d in s1 s2 s3; do
        "$TPMD" --socket "$T/$d.sock" --state-dir "$T/$d" --pool-max 0 --pool-min 0 >> "$T/tpmd.log" 2>&1 &
        P=$!
        daemon_answers "$P" "$T/$d.sock" || fail "daemon $d did not start: $(tail -n 5 "$T/tpmd.log")"
        kill "$P"
        wait "$P"
    done
    [ "$round" = 1 ] && FIRST=$(ranges)
done
CHECKS=$((CHECKS + 2))
[ "$(ranges)" = "$FIRST" ] || fail "uid ranges moved across a restart: $FIRST -> $(ranges)"
ranges | awk 'NR > 1 && $1 < end { exit 1 } { end = $1 + $2 }' || fail "uid ranges overlap: $(ranges | tr '\n' ' ')"
# (Exactly $STATE's range: one that also reached into the next range, as
# the vTPM's uid + 65536 does, could be reported against that one.)
"$TPMD" --socket "$T/third.sock" --state-dir "$T/third" --uid-base "$BA" > "$T/out" 2>&1 &&
    fail "an overlapping --uid-base was accepted"
expect_out "^hearth-tpmd: --uid-base $BA: uids [0-9]+\.\.[0-9]+ belong to hearth-tpmd state $STATE; give each state directory its own range"

# One daemon per state directory: a second one on the same directory stops
# at start, naming the directory and the daemon that holds it, and leaves
# the first one's vTPMs alone (with --pool-max 0 it once wiped them).
"$TPMD" --socket "$T/second.sock" --state-dir "$STATE" --pool-min 0 --pool-max 0 > "$T/out" 2>&1 &
SECOND=$!
wait_until 5 not_running "$SECOND" || {
    kill "$SECOND"
    fail "a second daemon on $STATE kept running"
}
wait "$SECOND"
RC=$?
expect_rc 1
expect_out "^hearth-tpmd: --state-dir $(realpath "$STATE") is in use by another hearth-tpmd \(pid $DAEMON\)"
CHECKS=$((CHECKS + 2))
[ ! -e "$T/second.sock" ] || fail "the second daemon listened"
[ "$(get "$A" | field pid)" = "$PA" ] && kill -0 "$PA" && get "$B" | grep -q '"state":"ready"' ||
    fail "the second daemon touched the first one's vTPMs: $("$CLIENT" list)"

# One vTPM's uid cannot read another's state, reach its control socket,
# or list the vTPMs.
DB=$STATE/vtpms/$B
CHECKS=$((CHECKS + 4))
! as_uid "$UA" cat "$DB/tpm/tpm2-00.permall" > /dev/null 2>&1 || fail "uid $UA read B's TPM state"
! as_uid "$UA" python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])" \
    "$DB/tpm/ctrl.sock" 2> /dev/null || fail "uid $UA connected to B's control socket"
! as_uid "$UA" ls "$STATE/vtpms" > /dev/null 2>&1 || fail "uid $UA lists the vTPMs"
as_uid "$UB" cat "$DB/tpm/tpm2-00.permall" > /dev/null || fail "B's own uid cannot read its state"

# The daemon's files sit where the swtpm's uid cannot write: a link planted
# as status.tmp (the attack that overwrote a root file) is refused, and the
# allocation leaves the victim alone.
echo secret > "$T/victim"
chmod 600 "$T/victim"
CHECKS=$((CHECKS + 2))
! as_uid "$UB" ln -s "$T/victim" "$DB/status.tmp" 2> /dev/null || fail "uid $UB planted a link in the vTPM directory"
! as_uid "$UB" ln -s "$T/victim" "$DB/certs/platform.crt" 2> /dev/null || fail "uid $UB planted a link in certs/"
as_uid "$UB" ln -s "$T/victim" "$DB/tpm/status.tmp" || fail "uid $UB cannot write its own directory"
# Allocations take the oldest ready vTPM first: B's turn comes within a few.
for _ in 1 2 3 4 5 6; do
    get "$B" | grep -q '"state":"allocated"' && break
    "$CLIENT" alloc > /dev/null || fail "alloc"
done
CHECKS=$((CHECKS + 1))
get "$B" | grep -q '"state":"allocated"' || fail "B was never allocated: $(get "$B")"
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/victim")" = secret ] || fail "the victim file was overwritten"

# Ready swtpms at nice 10, allocated at 0.
wait_ready 1
R=$("$CLIENT" list | grep -o '"id":"[0-9a-f]*","state":"ready"' | head -1 | field id)
CHECKS=$((CHECKS + 2))
[ "$(ps -o ni= -p "$(get "$R" | field pid)" | tr -d ' ')" = 10 ] || fail "a ready swtpm is not at nice 10"
PB=$(get "$B" | field pid)
[ "$(ps -o ni= -p "$PB" | tr -d ' ')" = 0 ] || fail "an allocated swtpm is not at nice 0"

# An allocated vTPM whose swtpm dies is reported: state failed, a log line,
# the failed counter; its owner frees it.
FAILED0=$("$CLIENT" status | field failed)
kill -9 "$PB"
is_failed() { get "$B" | grep -q '"state":"failed"'; }
wait_until 5 is_failed || fail "a dead allocated vTPM is still $(get "$B")"
CHECKS=$((CHECKS + 3))
grep -q "vTPM $B: its swtpm (pid $PB) died while allocated" "$T/tpmd.log" || fail "no log line for the dead swtpm"
[ "$("$CLIENT" status | field failed)" -gt "$FAILED0" ] || fail "the failed counter did not move"
"$CLIENT" free "$B" > /dev/null || fail "a failed vTPM cannot be freed"
stop_all

# kill -9 of the daemon while it manufactures, with either method, with and
# without cgroups (HEARTH_TPMD_NO_CGROUPS=1: as on a host where they are not
# writable; swtpm_setup and the swtpm it starts run as root, out of reach of
# a kill by uid): after the restart nothing it started survives unaccounted
# (every swtpm belongs to a listed vTPM) and, with the pool emptied, no
# swtpm, directory or cgroup is left at all. swtpm_setup's processes are
# stopped before the crash, so that they cannot finish on their own: only
# the recovery can end them.
rm -rf "$STATE"
# The cgroups of this state directory's vTPMs (ids seen before each
# restart): other daemons on this machine make and remove their own.
: > "$T/ids"
vtpm_cgroups() {
    local id
    sort -u "$T/ids" | while read -r id; do
        ls -d /sys/fs/cgroup/hearth-tpmd/"$id" /sys/fs/cgroup/*/hearth-tpmd/"$id" 2> /dev/null
    done
}
SETUP_PROCS="swtpm_setup --tpm2 --tpmstate $STATE/|backend-uri=dir://$STATE/"
crash_mid_manufacture() { # METHOD
    start_daemon --pool-min 6 --pool-max 6 --concurrency 3 --manufacture "$1"
    manufacturing() { "$CLIENT" status | grep -q '"manufacturing":[1-9]'; }
    wait_until 10 manufacturing || fail "nothing was being manufactured"
    if [ "$1" = swtpm_setup ]; then
        wait_until 10 pkill -STOP -f "swtpm_setup --tpm2 --tpmstate $STATE/" ||
            fail "no swtpm_setup ran"
        pkill -STOP -f "backend-uri=dir://$STATE/"
    fi
    kill -9 "$DAEMON"
    wait "$DAEMON" 2> /dev/null
    DAEMON=
    ls "$STATE/vtpms" >> "$T/ids"
}
no_setup_procs() { ! pgrep -f "$SETUP_PROCS" > /dev/null; }
empty() { [ "$(swtpms)" = 0 ] && [ -z "$(ls "$STATE/vtpms")" ]; }
for cgroups in 0 1; do
    export HEARTH_TPMD_NO_CGROUPS=$cgroups
    for method in fast fast swtpm_setup swtpm_setup; do
        crash_mid_manufacture "$method"
        # Recovery runs before the daemon answers.
        start_daemon --pool-min 0 --pool-max 0
        CHECKS=$((CHECKS + 1))
        wait_until 2 no_setup_procs ||
            fail "$method, HEARTH_TPMD_NO_CGROUPS=$cgroups: swtpm_setup's processes survived the recovery: $(pgrep -af "$SETUP_PROCS")"
        wait_until 10 empty || fail "after kill -9 mid-manufacture ($method, HEARTH_TPMD_NO_CGROUPS=$cgroups): $(swtpms) swtpms, vTPMs $(ls "$STATE/vtpms" | tr '\n' ' ')"
        kill "$DAEMON"
        wait "$DAEMON"
        DAEMON=
    done
done
unset HEARTH_TPMD_NO_CGROUPS
CHECKS=$((CHECKS + 2))
! pgrep -f "swtpm.*$STATE" > /dev/null || fail "an swtpm of the killed daemon survives"
LEFT=$(vtpm_cgroups)
[ -s "$T/ids" ] && [ -z "$LEFT" ] || fail "vTPM cgroups remain: $LEFT"
stop_all

# On demand: 8 concurrent requests with --concurrency 2 never manufacture
# more than 2 at once, and all are served.
start_daemon --pool-min 0 --pool-max 0 --concurrency 2 --allocate-wait-s "$(scaled 60)"
CLIENTS=()
for c in $(seq 8); do
    ("$CLIENT" alloc > "$T/d$c" || echo FAILED > "$T/d$c") &
    CLIENTS+=($!)
done
MAX=0
running() { for p in "${CLIENTS[@]}"; do kill -0 "$p" 2> /dev/null && return 0; done; return 1; }
while running; do
    M=$("$CLIENT" status | field manufacturing)
    [ "${M:-0}" -gt "$MAX" ] && MAX=$M
done
wait "${CLIENTS[@]}"
echo "# at most $MAX manufactures at once"
CHECKS=$((CHECKS + 2))
[ "$MAX" -le 2 ] || fail "$MAX on-demand manufactures ran at once with --concurrency 2"
[ "$(cat "$T"/d[1-8] | grep -c '"source":"ondemand"')" = 8 ] || fail "not all 8 served: $(cat "$T"/d[1-8])"
stop_all

# Refused requests are not demand: 2 live vTPMs at most, 20 more asked for.
rm -rf "$STATE"
start_daemon --pool-min 0 --pool-max 4 --memory-budget-mib 4 --manufacture fast
"$CLIENT" alloc > /dev/null && "$CLIENT" alloc > /dev/null || fail "two allocations"
for _ in $(seq 20); do ! "$CLIENT" alloc > /dev/null 2>&1 || fail "a third vTPM past the limit"; done
RATE=$("$CLIENT" status | field allocation_rate_per_s)
echo "# allocation rate after 2 served and 20 refused: $RATE/s"
CHECKS=$((CHECKS + 1))
awk -v r="$RATE" 'BEGIN { exit !(r < 0.5) }' || fail "refused requests raised the demand estimate to $RATE/s"
pass "tpmd isolation"
