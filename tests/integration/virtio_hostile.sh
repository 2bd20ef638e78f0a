#!/bin/bash
# A hostile guest against the virtio-mmio transport, virtio-blk and
# virtio-rng (guest/virtio_hostile.c): cyclic chains, buffers outside RAM
# or wrapping the address space, a head beyond the ring, an avail index
# running ahead, notifications of queues that do not exist, queues changed
# after DRIVER_OK, configuration and register accesses out of range,
# requests beyond the disk. Each leaves the device in DEVICE_NEEDS_RESET or
# the request failed; the monitor runs on and the guest reaches its end.
. "$(dirname "$0")/lib.sh"
printf 'HEARTH-DISK' > "$T/disk.img"
truncate -s 1M "$T/disk.img"
vm_config "$GUEST/virtio_hostile.elf" "blk=0xc0001000 rng=0xc0002000 sectors=2048" 1 128 \
    "\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"$T/disk.img\", \"is_root_device\": false}],
  \"entropy\": {}"
TIMEOUT=120 run_hearth --level Debug
expect_clean_run 27
expect_log 'virtio-blk: the driver broke a queue; device needs a reset'
expect_log 'virtio-rng: the driver broke a queue; device needs a reset'
expect_log 'virtio-blk: status 0x3 -> 0x7 refused'
# Seven broken queues, one line: a guest cannot flood the log.
CHECKS=$((CHECKS + 1))
[ "$(grep -c 'virtio-blk: the driver broke a queue' "$T/log")" = 1 ] || fail "the warning repeats"
# The disk was only read: the hostile writes never reached it.
CHECKS=$((CHECKS + 1))
[ "$(head -c 11 "$T/disk.img")" = HEARTH-DISK ] && [ "$(stat -c %s "$T/disk.img")" = 1048576 ] ||
    fail "the disk changed"
pass "virtio hostile"
