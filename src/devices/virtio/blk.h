/* virtio-blk (device 2) on a regular file or a block device, Firecracker's
 * "drives": one queue of up to 256 entries; reads, writes, FLUSH (fsync,
 * offered with cache_type Writeback) and GET_ID (the drive_id). Every
 * request is checked against the disk's size before any I/O. The I/O is
 * asynchronous (a restricted io_uring; plain system calls on the I/O thread
 * where the kernel refuses one), so a slow disk stalls no vCPU and no other
 * device. A bad request completes with VIRTIO_BLK_S_IOERR (or UNSUPP);
 * a broken queue marks the device DEVICE_NEEDS_RESET. */
#ifndef HEARTH_VIRTIO_BLK_H
#define HEARTH_VIRTIO_BLK_H

#include "bus/device.h"
#include "config/config.h"
#include "core/ratelimit.h"
#include "virtio/mmio.h"

#include <liburing.h>

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_QUEUE_SIZE 256
/* Data segments in one request: a chain's segments less header and status. */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)
/* Requests in flight at once (Linux queues at most 256 / 3 without
 * indirect descriptors); the rest wait in the ring. */
#define VIRTIO_BLK_INFLIGHT 128
/* The largest request served: Linux sends at most 1.25 MiB. */
#define VIRTIO_BLK_MAX_REQUEST (64u << 20)
/* Bytes of requests in flight at once, what a reset, QueueReady 0, PATCH
 * or teardown may have to wait for (on a vCPU or the VMM thread): 64 MiB,
 * against 128 requests of 64 MiB (8 GiB) unbounded. A request starts only
 * if it fits beside those in flight; the largest fits alone. */
#define VIRTIO_BLK_INFLIGHT_BYTES VIRTIO_BLK_MAX_REQUEST
#define VIRTIO_BLK_ID_BYTES 20

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct blk_req {
    uint16_t head;
    uint8_t type;
    bool busy;
    uint32_t gen;      /* the queue's generation when the chain was taken */
    uint8_t *status;   /* the chain's last writable byte */
    uint32_t used_len; /* bytes written to the guest on success */
    uint64_t len;      /* bytes the I/O must move */
    int niov;
    struct iovec iov[VIRTIO_BLK_SEG_MAX + 2];
};

struct blk_stats {
    uint64_t read_count, write_count, flush_count, read_bytes, write_bytes;
    uint64_t invalid_reqs_count, execute_fails, update_count, update_fails;
};

struct virtio_blk {
    struct virtio_mmio mmio;
    char id[CONFIG_ID_MAX + 1];
    int fd;
    bool read_only, writeback;
    uint64_t sectors; /* capacity in 512-byte sectors */
    bool uring;       /* io_uring, else system calls in place */
    struct io_uring ring;
    int ring_fd; /* eventfd: completions are ready */
    int inflight;
    uint64_t inflight_bytes; /* at most VIRTIO_BLK_INFLIGHT_BYTES */
    struct blk_req *reqs;    /* VIRTIO_BLK_INFLIGHT slots */
    struct ratelimit rl;
    struct ratelimit_config rl_cfg;
    struct blk_stats stats; /* under the transport lock */
};

extern const struct virtio_device_ops virtio_blk_ops;

/* Opens cfg's backing file and sets the device up on `mem`. -errno with
 * a message naming the drive and the file. */
int virtio_blk_init(struct virtio_blk *b, const struct drive_config *cfg,
                    const struct guest_mem *mem, char *err, size_t errlen);
/* Waits for what is in flight, then releases everything. */
void virtio_blk_destroy(struct virtio_blk *b);

/* On the I/O thread: completions are ready. (The limiter's timer:
 * virtio_mmio_limiter_fired.) */
void virtio_blk_complete(struct virtio_blk *b);

/* PATCH /drives: a new backing file (path, or NULL to keep) and rate
 * limiter. The new file is opened first; in-flight requests finish on the
 * old one; the guest is told the new size. -errno with a message, the
 * device unchanged, on failure. */
int virtio_blk_update(struct virtio_blk *b, const char *path, const struct ratelimit_config *rl,
                      char *err, size_t errlen);

/* Checks that cfg's backing file opens as the drive would use it (PUT
 * /drives, like Firecracker): -errno with a message. */
int virtio_blk_check(const struct drive_config *cfg, char *err, size_t errlen);

/* The lifecycle: one virtio-blk per configured drive, PATCHable. */
extern const struct device_ops virtio_blk_device;

void virtio_blk_stats(struct virtio_blk *b, struct blk_stats *out, uint64_t *throttled);

#endif
