/* virtio-vsock (device 19) with Firecracker's Unix-socket model: the
 * guest (CID guest_cid) talks to the host (CID 2) through uds_path.
 * - host-initiated: a client connects to uds_path and writes
 *   "CONNECT <port>\n"; once the guest's listener on <port> accepts, the
 *   client reads "OK <host port>\n" and the stream is the connection.
 * - guest-initiated: a guest connection to CID 2, port P is connected to
 *   the Unix socket "<uds_path>_P" (refused: the guest gets a reset).
 * Stream sockets only; credit-based flow control both ways; at most
 * VSOCK_MAX_CONNS connections. Everything runs on the I/O thread. */
#ifndef HEARTH_VIRTIO_VSOCK_H
#define HEARTH_VIRTIO_VSOCK_H

#include "config/config.h"
#include "bus/device.h"
#include "virtio/mmio.h"

#include <stdint.h>

#define VIRTIO_ID_VSOCK 19
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_MAX_CONNS 64
#define VSOCK_HOST_CID 2
/* What each connection can hold of the guest's data that the host socket
 * has not taken yet (the credit the guest gets; allocated only when the
 * host socket falls behind). */
#define VSOCK_BUF_ALLOC (256u << 10)
#define VSOCK_MAX_PAYLOAD (64u << 10)
/* A handshake or a shutdown that takes longer ends in a reset. */
#define VSOCK_TIMEOUT_MS 2000

struct vsock_hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum vsock_op {
    VSOCK_OP_REQUEST = 1,
    VSOCK_OP_RESPONSE = 2,
    VSOCK_OP_RST = 3,
    VSOCK_OP_SHUTDOWN = 4,
    VSOCK_OP_RW = 5,
    VSOCK_OP_CREDIT_UPDATE = 6,
    VSOCK_OP_CREDIT_REQUEST = 7,
};

enum vsock_state {
    VSOCK_FREE,
    VSOCK_HELLO,       /* host client: waiting for its "CONNECT <port>\n" */
    VSOCK_CONNECTING,  /* REQUEST sent to the guest, waiting for RESPONSE */
    VSOCK_OPEN,
    VSOCK_CLOSING,     /* SHUTDOWN sent to the guest, waiting for its RST */
    VSOCK_RESET,       /* only an RST left to send (no host socket) */
};

struct vsock_conn {
    enum vsock_state state;
    int fd;                       /* the host's Unix socket, or -1 */
    uint32_t local_port, peer_port; /* host side, guest side */
    uint32_t pending;             /* 1 << op: control packets owed to the guest */
    uint32_t shutdown_flags;      /* for a pending SHUTDOWN */
    uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's receive credit */
    uint32_t rx_cnt;              /* payload bytes sent to the guest */
    uint32_t fwd_cnt;             /* guest payload the host socket took */
    uint32_t fwd_cnt_sent;        /* fwd_cnt as last told to the guest */
    bool readable;                /* the host socket may have data (edge-triggered) */
    bool host_eof;
    uint64_t deadline_ns;         /* HELLO, CONNECTING, CLOSING */
    uint8_t *txbuf;               /* guest data the host socket did not take yet */
    uint32_t txlen;
    bool shut_wr_owed;            /* the guest shut its sending side: once txbuf drains */
    bool reset_when_drained;      /* the guest closed: reset once txbuf drains */
};

struct vsock_stats {
    uint64_t rx_packets_count, tx_packets_count, rx_bytes_count, tx_bytes_count;
    uint64_t conns_added, conns_killed, conns_removed, tx_write_fails, rx_read_fails;
};

struct virtio_vsock {
    struct virtio_mmio mmio;
    uint64_t guest_cid;
    char path[CONFIG_UDS_PATH_MAX + 1];
    int listen_fd;
    int epfd;      /* the host sockets and the listener */
    int timer_fd;  /* ticks while a connection has a deadline */
    uint32_t next_port;
    int rr;        /* round robin over connections for the receive queue */
    struct vsock_conn conns[VSOCK_MAX_CONNS];
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

/* Internal, between vsock.c (the guest's side) and vsock_host.c (the
 * host's): with the transport lock held. */
struct vsock_conn *vsock_find(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port);
struct vsock_conn *vsock_new_conn(struct virtio_vsock *v, int fd, enum vsock_state state);
void vsock_kill(struct virtio_vsock *v, struct vsock_conn *c, bool reset_guest);
void vsock_free(struct virtio_vsock *v, struct vsock_conn *c);
/* The guest's connection request to host port `port`: the connection
 * (OPEN, or RESET when refused), NULL when the table is full. */
struct vsock_conn *vsock_guest_connect(struct virtio_vsock *v, uint32_t port, uint32_t peer_port);
/* Guest payload for the host socket; false when the connection broke. */
bool vsock_host_write(struct virtio_vsock *v, struct vsock_conn *c, const struct iovec *iov,
                      int n, uint32_t len);
/* The guest will send no more: the host socket's write side is shut once
 * what the guest already sent has gone to it. */
void vsock_host_shutdown(struct vsock_conn *c);
/* The guest shut both ways: reset now, or (CLOSING, with a deadline) once
 * what it sent has gone to the host socket, which acknowledged data must. */
void vsock_guest_close(struct virtio_vsock *v, struct vsock_conn *c);
void vsock_rx_pump_locked(struct virtio_vsock *v);
void vsock_arm_timer(struct virtio_vsock *v);
/* A handshake or shutdown step begins: it must end within VSOCK_TIMEOUT_MS. */
void vsock_set_deadline(struct virtio_vsock *v, struct vsock_conn *c);

#endif
