#!/bin/bash
# The REST API: Firecracker's getting-started flow with curl, every
# endpoint's success and error answers, pre/post-boot rules, the body limit,
# garbage, pipelined, slow and concurrent clients, pause/resume seen from
# the guest, SendCtrlAltDel, metrics after FlushMetrics, GET /vm/config
# booting the same VM, a failed start that leaves nothing behind, the
# socket's life, and tpm.socket "fd:N" refused (a client naming one of
# hearth's own descriptors, the listener).
. "$(dirname "$0")/lib.sh"
RAW="$(dirname "$0")/../tools/api_raw.py"
SOCK=$T/api.sock

start_api() { api_start "$SOCK" --level Debug "$@"; }

fault() { # METHOD PATH BODY MESSAGE_REGEX
    api "$1" "$2" "$3"
    expect_http 400 "^\\{\"fault_message\":\"$4"
}

listener_fd() { # the number of hearth's descriptor for its API listener
    local inode f
    inode=$(awk -v p="$SOCK" '$8 == p && $4 == "00010000" { print $7; exit }' /proc/net/unix)
    for f in /proc/"$PID"/fd/*; do
        [ "$(readlink "$f")" = "socket:[$inode]" ] && basename "$f"
    done
}

finish() { # waits for hearth to exit; sets RC
    wait_until 20 not_running "$PID" || fail "hearth did not exit"
    wait "$PID"
    RC=$?
}

# --- before the start: configuration and its errors, no KVM needed
start_api --boot-timer
api GET /
expect_http 200 '"state":"Not started"'
expect_http 200 '"id":"anonymous-instance".*"app_name":"hearth"'
api GET /version
expect_http 200 '^\{"firecracker_version":"[0-9]+\.[0-9]+\.[0-9]+"\}$'
api GET /machine-config
expect_http 200 '^\{"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"\}$'
fault PUT /actions '{"action_type": "InstanceStart"}' 'Cannot start microvm without kernel configuration'
fault PUT /boot-source '{"kernel_image_path": 7}' 'boot-source.kernel_image_path: must be a string, got an integer'
fault PUT /boot-source '{"kernel": "x"}' 'boot-source: unknown key'
fault PUT /boot-source '{"kernel_image_path": "/k"' 'An error occurred when deserializing the json body of a request'
fault PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}' 'machine-config.vcpu_count: must be between 1 and 32, got 0'
fault GET /nope '' 'Invalid request method and/or path: GET nope.'
fault POST /actions '{"action_type": "InstanceStart"}' 'Invalid request method and/or path: POST actions.'
fault PATCH /vm '{"state": "Paused"}' 'The requested operation is not supported before starting the microVM.'
fault PUT /actions '{"action_type": "FlushMetrics"}' 'The requested operation is not supported before starting'
fault PUT /actions '{"action_type": "SendCtrlAltDel"}' 'The requested operation is not supported before starting'
fault PUT /drives/rootfs '{"drive_id": "rootfs"}' 'drives.is_root_device: missing required field'
fault PUT /drives/root-fs '{"drive_id": "root-fs"}' 'API Resource IDs can only contain alphanumeric characters and underscores.'
fault PATCH /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "/x"}' 'The requested operation is not supported before starting the microVM.'
fault PUT /logger "{\"log_path\": \"$T/no/such/dir/log\"}" "logger.log_path $T/no/such/dir/log: No such file"
# A hostile client naming one of hearth's own descriptors as swtpm's
# channel (here the API listener): only the config file may say "fd:N",
# else the start would speak swtpm's protocol on it and close it.
N=$(listener_fd)
CHECKS=$((CHECKS + 1))
[ -n "$N" ] || fail "the API listener's descriptor was not found"
fault PUT /tpm "{\"socket\": \"fd:$N\"}" "tpm.socket: .*fd:$N.* names an inherited descriptor: only the config file may"
api GET /
expect_http 200 '"state":"Not started"'
api PUT /boot-source "{\"kernel_image_path\": \"$GUEST/api_probe.elf\", \"boot_args\": \"console=ttyS0\"}"
expect_http 204
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}'
expect_http 204
api PATCH /machine-config '{"mem_size_mib": 96}'
expect_http 204
api GET /machine-config
expect_http 200 '"vcpu_count":2,"mem_size_mib":96'
api PUT /metrics "{\"metrics_path\": \"$T/metrics\"}"
expect_http 204
truncate -s 1M "$T/disk1" "$T/disk2"
api PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T/disk1\", \"is_root_device\": false, \"is_read_only\": false}"
expect_http 204
fault PUT /metrics "{\"metrics_path\": \"$T/metrics2\"}" 'metrics: already configured'
api GET /vm/config
expect_http 200 "\"kernel_image_path\":\"$GUEST/api_probe.elf\""
# Raw HTTP: the body limit, pipelining, junk, slow and many clients.
CHECKS=$((CHECKS + 1))
python3 "$RAW" "$SOCK" big 60000 > "$T/big"
grep -q 'HTTP/1.1 400' "$T/big" && grep -q 'Request payload with size 60000 is larger than the limit of 51200' "$T/big" ||
    fail "a 60000-byte body: $(cat "$T/big")"
CHECKS=$((CHECKS + 1))
[ "$(python3 "$RAW" "$SOCK" pipeline | tr '\n' ' ')" = "HTTP/1.1 200 OK HTTP/1.1 204 No Content HTTP/1.1 200 OK " ] ||
    fail "pipelined requests were not answered in order"
CHECKS=$((CHECKS + 1))
python3 "$RAW" "$SOCK" garbage | grep -q 'HTTP/1.1 200' || fail "junk requests broke the server"
CHECKS=$((CHECKS + 1))
worst=$(python3 "$RAW" "$SOCK" slow 3) || fail "a slow client blocked another"
[ "$worst" -lt "$(scaled 1000)" ] || fail "with a slow client connected, a request took $worst ms"
CHECKS=$((CHECKS + 1))
[ "$(python3 "$RAW" "$SOCK" concurrent 50)" = 500 ] || fail "50 concurrent clients were not all served"
# Past the connection limit (64), an answer at once rather than a wait.
python3 "$RAW" "$SOCK" hold 64 > "$T/hold"
CHECKS=$((CHECKS + 1))
head -1 "$T/hold" | grep -q 'HTTP/1.1 503' || fail "the 65th connection: $(cat "$T/hold")"
[ "$(tail -1 "$T/hold")" -lt "$(scaled 1000)" ] || fail "the 65th connection waited $(tail -1 "$T/hold") ms"
api GET /
expect_http 200 '"state":"Not started"'

# --- the start, then what only a running VM answers
api PUT /actions '{"action_type": "InstanceStart"}'
expect_http 204
api GET /
expect_http 200 '"state":"Running"'
fault PUT /boot-source '{"kernel_image_path": "/k"}' 'The requested operation is not supported after starting the microVM.'
fault PATCH /machine-config '{"vcpu_count": 1}' 'The requested operation is not supported after starting'
fault PUT /actions '{"action_type": "InstanceStart"}' 'The requested operation is not supported after starting'
wait_until 20 grep -q '^tick 2' "$T/out" || fail "the guest did not run"
api PATCH /vm '{"state": "Paused"}'
expect_http 204
api GET /
expect_http 200 '"state":"Paused"'
api PATCH /vm '{"state": "Paused"}'
expect_http 204 # idempotent
sleep 0.3
before=$(wc -c < "$T/out")
sleep 1
CHECKS=$((CHECKS + 1))
[ "$(wc -c < "$T/out")" = "$before" ] || fail "the guest printed while paused"
api PATCH /vm '{"state": "Resumed"}'
expect_http 204
CHECKS=$((CHECKS + 1))
wait_until 10 test "$(wc -c < "$T/out")" -gt "$before" || fail "the guest did not run on after the resume"
fault PATCH /vm '{"state": "Stopped"}' 'vm.state: must be one of'
api PUT /actions '{"action_type": "FlushMetrics"}'
expect_http 204
# A drive's new backing file: opened on the VMM thread, under its filter.
api PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T/disk2\"}"
expect_http 204
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect_http 204
finish
expect_rc 0
expect_out 'api_probe: scan codes( [0-9a-f]{2})* 1d 38 e0 53'
expect_guest_pass 2
expect_log 'microVM started: 2 vCPUs, 96 MiB'
CHECKS=$((CHECKS + 1))
[ ! -e "$SOCK" ] || fail "the API socket outlived hearth"

# Metrics: a line at the start, one per FlushMetrics, one at the exit, each
# counting what happened since the previous one.
python3 - "$T/metrics" > "$T/metrics.check" 2>&1 <<'PY' || fail "metrics: $(cat "$T/metrics.check")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 3, "%d lines" % len(lines)
start, flush, end = lines
for l in lines:
    for k in ("utc_timestamp_ms", "api_server", "vcpu", "uart", "i8042", "latencies_us",
              "put_api_requests", "patch_api_requests", "get_api_requests", "tpm", "logger"):
        assert k in l, "no " + k
assert start["api_server"]["process_startup_time_us"] > 0
assert start["api_server"]["process_startup_time_cpu_us"] > 0
assert flush["api_server"] == start["api_server"], "store metrics changed"
assert flush["patch_api_requests"]["vm_count"] == 4, flush["patch_api_requests"]
assert flush["patch_api_requests"]["vm_fails"] == 1
assert flush["latencies_us"]["pause_vm"] > 0
assert flush["uart"]["write_count"] > 0 and flush["vcpu"]["exit_io_out"] > 0
assert end["i8042"]["read_count"] > 0, "the guest polled the keyboard"
assert end["put_api_requests"]["actions_count"] == 1, "deltas since the flush"
assert end["patch_api_requests"]["vm_count"] == 0
PY
CHECKS=$((CHECKS + 1))

# --- GET /vm/config boots the same VM from a file
start_api
api PUT /boot-source "{\"kernel_image_path\": \"$GUEST/hello.elf\"}"
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 80}'
api GET /vm/config
expect_http 200
echo "$BODY" > "$T/saved.json"
kill "$PID"
finish
CHECKS=$((CHECKS + 1))
[ "$RC" = 1 ] || fail "SIGTERM before the start: exit $RC, expected 1"
cp "$T/saved.json" "$T/vm.json"
run_hearth --level Debug
expect_clean_run
expect_out 'hello from a hearth guest'
expect_log 'microVM started: 2 vCPUs, 80 MiB'

# --- a failed InstanceStart cleans up and can be retried
start_api
head -c 4096 /dev/urandom > "$T/garbage"
api PUT /boot-source "{\"kernel_image_path\": \"$T/garbage\"}"
fault PUT /actions '{"action_type": "InstanceStart"}' "kernel $T/garbage: not an ELF vmlinux"
api GET /
expect_http 200 '"state":"Not started"'
CHECKS=$((CHECKS + 1))
[ "$(find /proc/"$PID"/task -mindepth 1 -maxdepth 1 | wc -l)" -le 2 ] ||
    fail "threads left behind by the failed start: $(ls /proc/"$PID"/task)"
api PUT /boot-source "{\"kernel_image_path\": \"$GUEST/hello.elf\"}"
api PUT /actions '{"action_type": "InstanceStart"}'
expect_http 204
finish
expect_rc 0
expect_out 'hello from a hearth guest'

# --- the socket: a live one is not taken over, a stale one is
start_api
"$HEARTH" --api-sock "$SOCK" > /dev/null 2> "$T/err2"
RC=$?
expect_rc 1
CHECKS=$((CHECKS + 1))
grep -q "in use by another process" "$T/err2" || fail "a second hearth: $(cat "$T/err2")"
kill -9 "$PID"
wait "$PID" 2> /dev/null
start_api # the dead one's socket is still there: replaced
api GET /
expect_http 200
kill "$PID"
finish
pass "api"
