#!/bin/bash
# A hostile API client names FIFOs where hearth opens files (host suite: no
# KVM needed). A drive's path_on_host is opened when it is PUT; the
# kernel, initrd and serial output at InstanceStart (after /dev/kvm: on a
# host without it the start fails there, and test_paths covers those
# opens). Each is refused at once with a 400 naming the field; the API
# keeps serving and SIGTERM still ends hearth.
. "$(dirname "$0")/lib.sh"
SOCK=$T/api.sock
PID=
# A hearth stuck in an open ignores SIGTERM: not left behind.
trap '[ -n "$PID" ] && kill -KILL "$PID" 2> /dev/null; rm -rf "$T"' EXIT
mkfifo "$T/fifo"

# quick METHOD PATH BODY CODE [BODY_REGEX]: answered within a second.
quick() {
    local t0 ms
    t0=$(date +%s%N)
    CODE=$(curl -s --max-time "$(scaled 2)" --unix-socket "$SOCK" -X "$1" "http://localhost$2" \
        ${3:+-H 'Content-Type: application/json' -d "$3"} -o "$T/body" -w '%{http_code}')
    BODY=$(cat "$T/body")
    ms=$((($(date +%s%N) - t0) / 1000000))
    CHECKS=$((CHECKS + 1))
    [ "$ms" -lt "$(scaled 1000)" ] || fail "$1 $2 took $ms ms (HTTP $CODE)"
    expect_http "$4" "${5:-}"
}

api_start "$SOCK"
for ro in true false; do
    quick PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$T/fifo\", \"is_root_device\": true, \"is_read_only\": $ro}" \
        400 "drives\\[rootfs\\]\\.path_on_host $T/fifo: is a FIFO, not a regular file or block device"
done
quick PUT /logger "{\"log_path\": \"$T/fifo\"}" 400 "logger.log_path $T/fifo: "
quick PUT /metrics "{\"metrics_path\": \"$T/fifo\"}" 400 "metrics.metrics_path $T/fifo: "
quick GET / '' 200 '"state":"Not started"'

# The files InstanceStart opens, in its order: the serial output, the
# kernel, the initrd.
quick PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
quick PUT /serial "{\"serial_out_path\": \"$T/fifo\"}" 204
quick PUT /boot-source "{\"kernel_image_path\": \"$T/fifo\", \"initrd_path\": \"$T/fifo\"}" 204
if [ -w /dev/kvm ]; then
    quick PUT /actions '{"action_type": "InstanceStart"}' 400 \
        "serial.serial_out_path $T/fifo: is a FIFO nobody has open for reading"
    quick PUT /serial "{\"serial_out_path\": \"$T/console\"}" 204
    quick PUT /actions '{"action_type": "InstanceStart"}' 400 \
        "boot-source.kernel_image_path $T/fifo: is a FIFO, not a regular file"
    quick PUT /boot-source "{\"kernel_image_path\": \"$GUEST/hello.elf\", \"initrd_path\": \"$T/fifo\"}" 204
    quick PUT /actions '{"action_type": "InstanceStart"}' 400 \
        "boot-source.initrd_path $T/fifo: is a FIFO, not a regular file"
else
    quick PUT /actions '{"action_type": "InstanceStart"}' 400 "/dev/kvm"
fi
quick GET / '' 200 '"state":"Not started"'

kill -TERM "$PID"
CHECKS=$((CHECKS + 1))
wait_until 5 not_running "$PID" || fail "SIGTERM did not end hearth"
pass "paths named by the API (FIFOs)"
