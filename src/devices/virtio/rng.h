/* virtio-rng (device 4, Firecracker's "entropy"): one queue whose chains'
 * writable parts are filled from the host's getrandom, at most
 * VIRTIO_RNG_MAX_REQUEST bytes a chain, under the entropy rate limiter. */
#ifndef HEARTH_VIRTIO_RNG_H
#define HEARTH_VIRTIO_RNG_H

#include "bus/device.h"
#include "config/config.h"
#include "core/ratelimit.h"
#include "virtio/mmio.h"

#define VIRTIO_ID_RNG 4
#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_MAX_REQUEST 65536

struct virtio_rng {
    struct virtio_mmio mmio;
    struct ratelimit rl;
    /* Metrics (Firecracker's "entropy" group), under the transport lock. */
    uint64_t requests, bytes, host_rng_fails;
};

extern const struct virtio_device_ops virtio_rng_ops;

/* The device on guest memory `mem`, its limiter set from cfg. 0 or -errno. */
int virtio_rng_init(struct virtio_rng *r, const struct entropy_config *cfg,
                    const struct guest_mem *mem);
void virtio_rng_destroy(struct virtio_rng *r);

/* The lifecycle: one virtio-rng when the entropy section is set. (The
 * limiter's timer: virtio_mmio_limiter_fired.) */
extern const struct device_ops virtio_rng_device;

#endif
