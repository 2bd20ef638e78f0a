/* The virtio-mmio transport (version 2): registers, feature negotiation,
 * status, queue setup and interrupts, shared by every virtio device. A
 * device supplies a const virtio_device_ops and reaches its queues through
 * the transport. */
#ifndef HEARTH_VIRTIO_MMIO_H
#define HEARTH_VIRTIO_MMIO_H

#include "core/mem.h"
#include "core/trap.h"
#include "virtio/queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_MMIO_MAX_QUEUES 4
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050 /* the register KVM's ioeventfds watch */
#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_RING_F_EVENT_IDX (1ULL << 29)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_INT_USED_RING 1
#define VIRTIO_INT_CONFIG 2

struct virtio_mmio;

struct virtio_device_ops {
    const char *name;
    uint32_t device_id;
    uint64_t features; /* besides VIRTIO_F_VERSION_1 (and the instance's own) */
    int nqueues;
    uint16_t queue_max;
    /* Bytes of device-specific configuration space (at 0x100). The
     * transport checks every access against it: the hooks get an offset
     * and length inside it (1, 2, 4 or 8 bytes) and run with the lock held.
     * NULL hooks: reads as zeros, writes ignored. */
    uint32_t config_size;
    void (*config_read)(void *dev, uint32_t offset, uint8_t *data, uint32_t len);
    void (*config_write)(void *dev, uint32_t offset, const uint8_t *data, uint32_t len);
    /* The driver set DRIVER_OK: the queues are set up and the device may
     * start using them (NULL: nothing to do). Lock held. */
    void (*activate)(void *dev, struct virtio_mmio *m);
    /* The driver notified queue `q` (ready, device live): called with the
     * transport lock held, on the device manager's I/O thread (through
     * the queue's ioeventfd) or, with no notify eventfd, on the vCPU
     * thread; must not block. */
    void (*notify)(void *dev, struct virtio_mmio *m, int q);
    /* The driver reset the device: forget everything in flight. Lock held. */
    void (*reset)(void *dev);
    /* The driver stopped queue q (QueueReady 0); its generation has moved
     * on. Whatever the device took from it must be done with guest memory
     * when this returns, as at a reset: the driver may reuse the buffers at
     * once. Lock held; NULL: nothing outlives a notify. */
    void (*queue_stop)(void *dev, int q);
    /* Rate limiter `which` (the order the device gave the device manager)
     * let traffic through again: go on with what it held back. Lock held;
     * NULL: the device has no limiter. */
    void (*limiter_ready)(void *dev, int which);
};

typedef void virtio_irq_fn(void *ctx);

struct virtio_mmio {
    pthread_mutex_t lock; /* guards every field and the device's queue use */
    const struct virtio_device_ops *ops;
    void *dev;
    const struct guest_mem *mem;
    virtio_irq_fn *irq;
    void *irq_ctx;
    uint32_t status, int_status, queue_sel;
    uint32_t config_gen; /* bumped by virtio_mmio_config_changed_locked */
    uint32_t dev_features_sel, drv_features_sel;
    uint64_t driver_features;
    /* What this instance offers: ops->features, plus bits a device sets
     * after virtio_mmio_init and before the guest runs (a read-only
     * disk's VIRTIO_BLK_F_RO, ...). */
    uint64_t features;
    struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
    /* Per queue: the eventfd a QueueNotify signals (KVM's ioeventfd, and
     * the trap path for the same write), or -1: notify runs in place. */
    int notify_fd[VIRTIO_MMIO_MAX_QUEUES];
    /* Bumped whenever a queue stops (QueueReady 0, reset); survives reset. */
    uint32_t queue_gen[VIRTIO_MMIO_MAX_QUEUES];
    /* Each driver mistake is logged once per device; they survive reset. */
    bool warned_status, warned_features, warned_queue, warned_broken;
};

extern const struct trap_ops virtio_mmio_ops;

void virtio_mmio_init(struct virtio_mmio *m, const struct virtio_device_ops *ops, void *dev,
                      const struct guest_mem *mem);
void virtio_mmio_destroy(struct virtio_mmio *m);

/* Where the device's interrupt goes (the device manager sets its slot's
 * GSI); before the vCPUs run. */
void virtio_mmio_set_irq(struct virtio_mmio *m, virtio_irq_fn *irq, void *irq_ctx);

/* On the I/O thread, when queue q's notify eventfd fired: runs the
 * device's notify if the queue exists, is ready and the device is live. */
void virtio_mmio_kick(struct virtio_mmio *m, int q);

/* Resets the device as a driver's write of 0 to Status does (the device's
 * reset hook, then the transport's registers and queues). */
void virtio_mmio_reset(struct virtio_mmio *m);

/* For devices, with the lock held: the next chain of queue q, as
 * virtq_pop (1: a chain, 0: the ring is empty), but a malformed ring marks
 * the device broken (DEVICE_NEEDS_RESET) and returns -1: the device stops
 * taking chains until the driver resets it. */
int virtio_mmio_pop_locked(struct virtio_mmio *m, int q, struct virtq_chain *c);

/* A rate limiter's timer fired (its fd readable): takes the lock, lets
 * the limiter go on and calls the device's limiter_ready(which). */
struct ratelimit;
void virtio_mmio_limiter_fired(struct virtio_mmio *m, struct ratelimit *rl, int which);

/* For devices, with the lock held: the configuration space changed. */
void virtio_mmio_config_changed_locked(struct virtio_mmio *m);

/* For devices, with the lock held: tell the driver the used ring changed;
 * mark the device broken (DEVICE_NEEDS_RESET) after a malformed queue. */
void virtio_mmio_signal_used_locked(struct virtio_mmio *m);
void virtio_mmio_needs_reset_locked(struct virtio_mmio *m);
/* After pushes to queue q: the interrupt, unless the driver suppressed it
 * (EVENT_IDX's used_event, or VRING_AVAIL_F_NO_INTERRUPT). */
void virtio_mmio_queue_signal_locked(struct virtio_mmio *m, int q);

/* With the lock held: whether the device may take chains and return them
 * (DRIVER_OK, and neither DEVICE_NEEDS_RESET nor FAILED). */
bool virtio_mmio_live_locked(const struct virtio_mmio *m);

/* With the lock held. A device that completes a chain asynchronously notes
 * queue q's generation when it takes the chain, and returns the chain only
 * if the queue is still current: same generation (not stopped or reset
 * since), ready, and the device live. Otherwise it drops the completion,
 * writing nothing to guest memory and raising no interrupt. */
uint32_t virtio_mmio_queue_gen_locked(const struct virtio_mmio *m, int q);
bool virtio_mmio_queue_current_locked(const struct virtio_mmio *m, int q, uint32_t gen);

#endif
