#!/bin/bash
# Disks, network, vsock and entropy under Debian's stock Linux drivers, in
# one boot configured through the REST API:
# - the guest finds every virtio-mmio device through ACPI (LNRO0005) and
#   its driver binds it;
# - a file system made on a drive, files written; the VM started again
#   from a config file reads them back and writes one more; the host
#   checks them all in the disk image;
# - a read-only drive refuses writes;
# - ping and a file over TCP through a TAP in a network namespace of the
#   test's (nothing leaves the machine);
# - vsock both ways (guest to a host service; host CONNECT to the guest);
# - /dev/hwrng yields bytes;
# - a drive limited to 2 MiB/s reads at 2 MiB/s (within 10%, over 10 s),
#   and a PATCH makes it 4 MiB/s while the guest reads on.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
need_linux_kernel
command -v ip > /dev/null || skip "iproute2 is not installed"
command -v debugfs > /dev/null || fail "e2fsprogs (debugfs) is not installed"
MODULES="virtio_mmio virtio_blk virtio_net vmw_vsock_virtio_transport virtio-rng" \
    MODULES_DIR=$KDIR/modules BINS=$BUILD/guest/guest_tool \
    SCRIPT="$ROOT/guest/linux/devices-report.sh" "$ROOT/scripts/mkinitramfs.sh" "$T/initramfs" LINUX-DEVICES-INIT ||
    fail "could not build the initramfs"

RATE=$((2 << 20)) # bytes/s: a bucket of a tenth of it, refilled every 100 ms
truncate -s 64M "$T/data.img"
printf 'hearth-ro-disk' > "$T/ro.img"
truncate -s 1M "$T/ro.img"
truncate -s 48M "$T/slow.img"

NS=hearth-dev-$$
cleanup() {
    [ -n "${PID:-}" ] && kill -9 "$PID" 2> /dev/null
    [ -n "${RECV:-}" ] && kill "$RECV" 2> /dev/null
    [ -n "${ECHO:-}" ] && kill "$ECHO" 2> /dev/null
    ip netns del "$NS" 2> /dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || skip "cannot create a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add tap0 mode tap
in_ns ip addr add 172.16.0.1/24 dev tap0
in_ns ip link set tap0 up

# The host's end: a TCP receiver in the namespace, a vsock service on
# <uds_path>_5001 that echoes a line.
in_ns python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("172.16.0.1", 5000)); s.listen(1)
c, _ = s.accept()
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(65536)
        if not b: break
        f.write(b)
c.close()' "$T/received" &
RECV=$!
UDS=$T/v.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
line = c.makefile().readline()
c.sendall(line.encode())
c.close()' "${UDS}_5001" &
ECHO=$!

# vsock_connect PORT LINE: Firecracker's host-initiated connection; prints
# the handshake's answer and the echo.
vsock_connect() {
    python3 -c '
import socket, sys
c = socket.socket(socket.AF_UNIX); c.settimeout(float(sys.argv[4])); c.connect(sys.argv[1])
c.sendall(b"CONNECT " + sys.argv[2].encode() + b"\n")
f = c.makefile("rb")
print(f.readline().decode().strip())
c.sendall(sys.argv[3].encode() + b"\n")
print(f.readline().decode().strip())' "$UDS" "$1" "$2" "$(scaled 10)"
}

: > "$T/log"
in_ns "$HEARTH" --api-sock "$T/api.sock" --log-path "$T/log" --metrics-path "$T/metrics" \
    < /dev/null > "$T/out" 2> "$T/err" &
PID=$!
API_SOCK=$T/api.sock
wait_until 10 test -S "$API_SOCK" || fail "the API socket did not appear"
api PUT /boot-source "{\"kernel_image_path\": \"$KDIR/vmlinux\", \"initrd_path\": \"$T/initramfs\",
    \"boot_args\": \"console=ttyS0 reboot=k panic=-1 quiet hearth.phase=1\"}"
expect_http 204
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
expect_http 204
api PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$T/data.img\", \"is_root_device\": false,
    \"cache_type\": \"Writeback\"}"
expect_http 204
api PUT /drives/ro "{\"drive_id\": \"ro\", \"path_on_host\": \"$T/ro.img\", \"is_root_device\": false,
    \"is_read_only\": true}"
expect_http 204
api PUT /drives/slow "{\"drive_id\": \"slow\", \"path_on_host\": \"$T/slow.img\", \"is_root_device\": false,
    \"rate_limiter\": {\"bandwidth\": {\"size\": $((RATE / 10)), \"refill_time\": 100}}}"
expect_http 204
api PUT /drives/bad "{\"drive_id\": \"bad\", \"path_on_host\": \"$T/none.img\", \"is_root_device\": false}"
expect_http 400 "drives\\[bad\\]\\.path_on_host $T/none.img: No such file or directory"
api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}'
expect_http 204
api PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$UDS\"}"
expect_http 204
api PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 100}}}'
expect_http 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect_http 204
api GET /vm/config
expect_http 200 '"drives":\[\{"drive_id":"data".*\{"drive_id":"ro".*"is_read_only":true.*\{"drive_id":"slow"'
expect_http 200 '"vsock":\{"guest_cid":3,"uds_path":"[^"]*v.sock"\}'

# The host's side of the guest's script, step by step. A guest that went
# past a step (or stopped) ends the wait at once.
guest_at() {
    grep -q "$1" "$T/out" || grep -q 'linux-dev: phase 1 done' "$T/out" || ! kill -0 "$PID" 2> /dev/null
}
wait_until 120 guest_at 'linux-dev: vsock-serve: listening on 5005'
grep -q 'linux-dev: vsock-serve: listening on 5005' "$T/out" || fail "the guest did not get to its vsock service"
vsock_connect 5005 hello-from-host > "$T/vsock" 2>&1 || fail "vsock connect: $(cat "$T/vsock")"
CHECKS=$((CHECKS + 1))
grep -Eq '^OK [0-9]+$' "$T/vsock" && grep -q '^hello-from-host$' "$T/vsock" ||
    fail "host-initiated vsock: $(cat "$T/vsock")"
wait_until 60 guest_at 'linux-dev: read-rate '
grep -q 'linux-dev: read-rate ' "$T/out" || fail "the guest did not read the slow drive"
api PATCH /drives/slow "{\"drive_id\": \"slow\", \"rate_limiter\": {\"bandwidth\": {\"size\": $((RATE / 5)), \"refill_time\": 100}}}"
expect_http 204
api PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {"ops": {"size": 1000, "refill_time": 100}}}'
expect_http 204
api PATCH /drives/slow '{"drive_id": "slow", "is_read_only": true}'
expect_http 400 'drives: unknown key'
wait_until 10 guest_at 'vsock-serve: listening on 5006'
grep -q 'vsock-serve: listening on 5006' "$T/out" || fail "the guest did not wait for the PATCH"
vsock_connect 5006 patched > "$T/vsock" 2>&1 || fail "vsock signal: $(cat "$T/vsock")"
wait_until 60 guest_at 'linux-dev: phase 1 done'
grep -q 'linux-dev: phase 1 done' "$T/out" || fail "the guest did not finish"
# (hearth writes a metrics line as it exits: the guest reboots at once)
wait_until 60 not_running "$PID" || fail "the guest did not reboot"
wait "$PID"
RC=$?
PID=
linux_console
expect_rc 0
expect_out 'LINUX-DEVICES-INIT'
expect_no_out 'init: insmod .* failed'
expect_out '^linux-dev: acpi LNRO0005 6$'
for dev in '0x0002 virtio_blk' '0x0001 virtio_net' '0x0013 vmw_vsock_virtio_transport' '0x0004 virtio_rng'; do
    expect_out "^linux-dev: virtio $dev$"
done
CHECKS=$((CHECKS + 1))
[ "$(grep -c '^linux-dev: virtio 0x0002 virtio_blk$' "$T/out")" = 3 ] || fail "not three disks"
expect_out '^linux-dev: hwrng virtio_rng\.0 [0-9a-f]{32}$'
expect_no_out '^linux-dev: hwrng virtio_rng\.0 0{32}$'
expect_out '^linux-dev: disk written$'
expect_out '^linux-dev: vdb ro 1 hearth-ro-disk$'
expect_out '^linux-dev: vdb write refused$'
expect_out '^linux-dev: vda serial data$'
expect_out '^linux-dev: eth0 mac 06:00:ac:10:00:02 mtu 1500$'
expect_out '^linux-dev: ping ok$'
expect_out '^linux-dev: tcp-send 2097152 [0-9]+$'
expect_out '^linux-dev: vsock-send: reply hello-from-guest$'
expect_out '^linux-dev: vsock-serve: got hello-from-host$'
expect_out '^linux-dev: patched vsock-serve: got patched$'
wait_until 30 not_running "$RECV" || fail "the TCP receiver got no whole file"
CHECKS=$((CHECKS + 1))
[ "$(sha256sum < "$T/received" | cut -d' ' -f1)" = "$(sed -n 's/^linux-dev: netfile //p' "$T/out")" ] ||
    fail "the file over TCP arrived changed ($(stat -c %s "$T/received") bytes)"

# The limit: N within 10% over 10 s, then 2N after the PATCH.
rate_within() { # LINE_PREFIX EXPECTED
    local bytes ns
    read -r bytes ns < <(sed -n "s/^linux-dev: $1 //p" "$T/out")
    CHECKS=$((CHECKS + 1))
    python3 -c '
import sys
b, ns, want = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rate = b * 1e9 / ns
print("# %s: %.0f B/s, limit %d B/s (%+.1f%%)" % (sys.argv[4], rate, want, 100 * (rate / want - 1)))
sys.exit(0 if abs(rate / want - 1) <= 0.10 else 1)' "$bytes" "$ns" "$2" "$1" ||
        fail "the rate-limited drive read at $bytes bytes in $ns ns, limit $2 B/s"
}
rate_within 'read-rate' "$RATE"
rate_within 'after read-rate' $((RATE * 2))

# The host's metrics saw the devices work.
CHECKS=$((CHECKS + 1))
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
tot = lambda g, k: sum(l.get(g, {}).get(k, 0) for l in lines)
assert tot("block_data", "write_bytes") > 1 << 20, "block_data"
assert tot("block_slow", "read_bytes") > 20 << 20, "block_slow"
assert tot("block_slow", "rate_limiter_throttled_events") > 0, "throttled"
assert tot("block", "update_count") == 1, "update_count"
assert tot("net_eth0", "tx_bytes_count") > 2 << 20, "net tx"
assert tot("vsock", "conns_added") >= 3, "vsock"
assert tot("entropy", "entropy_bytes") >= 16, "entropy"' "$T/metrics" ||
    fail "metrics: $(tail -c 1500 "$T/metrics")"

# Started again, from a config file, the files are there; the host reads
# what both boots wrote.
blob=$(sed -n 's/^linux-dev: blob //p' "$T/out")
cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$KDIR/vmlinux", "initrd_path": "$T/initramfs",
  "boot_args": "console=ttyS0 reboot=k panic=-1 quiet hearth.phase=2"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "drives": [{"drive_id": "data", "path_on_host": "$T/data.img", "is_root_device": false}]}
JSON
TIMEOUT=120 run_hearth
linux_console
expect_rc 0
expect_out '^linux-dev: hello hearth-disk-test$'
expect_out "^linux-dev: blob $blob$"
expect_out '^linux-dev: second boot done$'
CHECKS=$((CHECKS + 1))
[ "$(debugfs -R 'cat /hello.txt' "$T/data.img" 2> /dev/null)" = hearth-disk-test ] &&
    [ "$(debugfs -R 'cat /second.txt' "$T/data.img" 2> /dev/null)" = written-on-second-boot ] &&
    [ "$(debugfs -R 'cat /blob' "$T/data.img" 2> /dev/null | sha256sum | cut -d' ' -f1)" = "$blob" ] ||
    fail "the host does not find the guest's files in the image"
pass "linux devices"
