/* virtio-vsock (device 19) with Firecracker's Unix-socket model: the
 * guest (CID guest_cid) talks to the host (CID 2) through uds_path.
 * - host-initiated: a client connects to uds_path and writes
 *   "CONNECT <port>\n"; once the guest's listener on <port> accepts, the
 *   client reads "OK <host port>\n" and the stream is the connection.
 * - guest-initiated: a guest connection to CID 2, port P is connected to
 *   the Unix socket "<uds_path>_P" (refused: the guest gets a reset).
 * Stream sockets only; credit-based flow control both ways; at most
 * VSOCK_MAX_CONNS connections. Everything runs on the I/O thread.
 * Three layers, each calling only the ones below it; what happens below
 * comes up through callbacks handed in at init:
 * 1. the virtio half (vsock.c, this header): the queues; the guest's
 *    packet headers, every field that needs no connection to judge (CIDs,
 *    type, op, an RW's length against its buffer) checked in one place
 *    before the layers below see the packet; filling receive buffers. It
 *    wires the layers together;
 * 2. the connection state machine (vsock_conn.h);
 * 3. the socket backend (vsock_unix.h). */
#ifndef HEARTH_VIRTIO_VSOCK_H
#define HEARTH_VIRTIO_VSOCK_H

#include "bus/device.h"
#include "config/config.h"
#include "devices/virtio/vsock_conn.h"
#include "devices/virtio/vsock_defs.h"
#include "devices/virtio/vsock_unix.h"
#include "virtio/mmio.h"

#include <stdint.h>

#define VIRTIO_ID_VSOCK 19
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_HOST_CID 2
#define VSOCK_MAX_PAYLOAD (64u << 10)

struct vsock_hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

/* The device, and the three layers it wires together. */
struct virtio_vsock {
    struct virtio_mmio mmio;
    uint64_t guest_cid;       /* the configuration space */
    int rr;                   /* round robin over connections for the receive queue */
    struct vsock_conns conns; /* the connection state machine */
    struct vsock_unix host;   /* the socket backend (epfd, timer_fd: the I/O thread's) */
    struct vsock_stats stats; /* under the transport lock */
};

extern const struct virtio_device_ops virtio_vsock_ops;

/* Binds uds_path (which must not exist) and sets the device up on `mem`.
 * -errno with a message. */
int virtio_vsock_init(struct virtio_vsock *v, const struct vsock_config *cfg,
                      const struct guest_mem *mem, char *err, size_t errlen);
/* Closes every connection and the listener, removes uds_path. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* I/O thread: the host sockets have events (epfd readable); the timer. */
void virtio_vsock_host_events(struct virtio_vsock *v);
void virtio_vsock_timer(struct virtio_vsock *v);

/* PUT /vsock's check: uds_path is free and its directory exists. */
int virtio_vsock_check(const struct vsock_config *cfg, char *err, size_t errlen);

/* The lifecycle (vsock_device.c): one virtio-vsock when the section is
 * set. */
extern const struct device_ops virtio_vsock_device;

void virtio_vsock_stats(struct virtio_vsock *v, struct vsock_stats *out);

#endif
