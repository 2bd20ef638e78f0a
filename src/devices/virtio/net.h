/* virtio-net (device 1) on a TAP device, Firecracker's
 * "network-interfaces": an RX and a TX queue, frames moved between the
 * guest's buffers and the TAP without copies (the TAP speaks the same
 * 12-byte virtio_net_hdr). Checksum offload and TSO both ways where the
 * TAP supports them, the guest MAC and MTU when configured, a rate limiter
 * per direction. Everything runs on the I/O thread. */
#ifndef HEARTH_VIRTIO_NET_H
#define HEARTH_VIRTIO_NET_H

#include "bus/device.h"
#include "config/config.h"
#include "core/loop.h"
#include "core/ratelimit.h"
#include "virtio/mmio.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_HDR_LEN 12
/* The largest frame a chain may carry: 64 KiB of TSO payload and headers. */
#define VIRTIO_NET_MAX_FRAME (65536 + 14 + VIRTIO_NET_HDR_LEN)

struct net_stats {
    uint64_t rx_packets_count, rx_bytes_count, tx_packets_count, tx_bytes_count;
    uint64_t tap_read_fails, tap_write_fails, tx_malformed_frames;
    uint64_t no_rx_avail_buffer, no_tx_avail_buffer;
};

struct virtio_net {
    struct virtio_mmio mmio;
    char id[CONFIG_ID_MAX + 1];
    int tap;      /* the TAP (or, in tests, a datagram socket) */
    bool offload; /* the TAP takes TUNSETOFFLOAD */
    uint8_t mac[6];
    uint16_t mtu;
    struct loop *io;     /* where the TAP is watched; NULL: not watched */
    uint32_t tap_events; /* what it is watched for now */
    bool rx_starved;     /* no RX buffer: wait for the guest's notify */
    bool tx_blocked;     /* the TAP was full: wait for EPOLLOUT */
    struct ratelimit rx_rl, tx_rl;
    struct ratelimit_config rx_cfg, tx_cfg;
    struct net_stats stats; /* under the transport lock */
};

extern const struct virtio_device_ops virtio_net_ops;

/* Opens TAP `name` with virtio_net_hdr and no packet info; *offload says
 * whether it takes checksum and TSO offloads. The fd, or -errno with a
 * message. */
int tap_open(const char *name, bool *offload, char *err, size_t errlen);

/* The device on an open TAP fd (owned from then on), on `mem`. 0 or
 * -errno with a message. */
int virtio_net_init(struct virtio_net *n, const struct net_config *cfg, int tap, bool offload,
                    const struct guest_mem *mem, char *err, size_t errlen);
void virtio_net_destroy(struct virtio_net *n);

/* On the I/O thread: the TAP is readable or writable. (A limiter's timer:
 * virtio_mmio_limiter_fired, limiter 0 RX, 1 TX.) */
void virtio_net_tap_event(struct virtio_net *n, uint32_t events);

/* PATCH /network-interfaces: new rate limiters (left-out buckets kept). */
void virtio_net_update(struct virtio_net *n, const struct ratelimit_config *rx,
                       const struct ratelimit_config *tx);

/* PUT /network-interfaces' check: the TAP opens. */
int virtio_net_check(const struct net_config *cfg, char *err, size_t errlen);

/* The lifecycle: one virtio-net per configured interface, PATCHable. */
extern const struct device_ops virtio_net_device;

void virtio_net_stats(struct virtio_net *n, struct net_stats *out, uint64_t *rx_throttled,
                      uint64_t *tx_throttled);

#endif
