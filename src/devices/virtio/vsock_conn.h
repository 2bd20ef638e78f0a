/* vsock's connection state machine, the middle layer: the connection
 * table and Firecracker's semantics for it.
 * - guest-initiated: a REQUEST to host port P connects to P's service
 *   below; the guest hears RESPONSE, or RST when nobody serves P;
 * - host-initiated: a host client's CONNECT line (read below) makes a
 *   REQUEST to the guest, on a host port from 2^30 up; the guest's
 *   RESPONSE opens it and the client hears "OK <port>";
 * - credit both ways: the guest may have VSOCK_BUF_ALLOC bytes in flight
 *   to a socket (a guest that sends more loses the connection; what the
 *   socket did not take waits here), the host no more than the guest's
 *   buf_alloc past what it acknowledged (fwd_cnt);
 * - SHUTDOWN one way or both, RST, and deadlines on the handshakes and
 *   on closing.
 * Above it the virtio half hands in packets whose header it checked and
 * asks for what the guest is owed; below it a socket backend (struct
 * vsock_sock_ops) does the I/O and reports through vsock_conn_sock_events.
 * It knows no virtqueue and no file descriptor; nothing here calls up.
 * Everything under the transport lock. */
#ifndef HEARTH_VIRTIO_VSOCK_CONN_H
#define HEARTH_VIRTIO_VSOCK_CONN_H

#include "devices/virtio/vsock_defs.h"
#include "devices/virtio/vsock_unix.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* What each connection can hold of the guest's data that the host socket
 * has not taken yet (the credit the guest gets; allocated only when the
 * host socket falls behind). */
#define VSOCK_BUF_ALLOC (256u << 10)
/* A handshake or a shutdown that takes longer ends in a reset. */
#define VSOCK_TIMEOUT_MS 2000
#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u

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
    VSOCK_HELLO,      /* host client: waiting for its "CONNECT <port>\n" */
    VSOCK_CONNECTING, /* REQUEST sent to the guest, waiting for RESPONSE */
    VSOCK_OPEN,
    VSOCK_CLOSING, /* SHUTDOWN sent to the guest, waiting for its RST */
    VSOCK_RESET,   /* only an RST left to send (no host socket) */
};

/* A connection. The backend holds a socket for it in every state but
 * FREE and RESET. */
struct vsock_conn {
    enum vsock_state state;
    uint32_t local_port, peer_port;        /* host side, guest side */
    uint32_t pending;                      /* 1 << op: control packets owed to the guest */
    uint32_t shutdown_flags;               /* for a pending SHUTDOWN */
    uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's receive credit */
    uint32_t rx_cnt;                       /* payload bytes sent to the guest */
    uint32_t fwd_cnt;                      /* guest payload the host socket took */
    uint32_t fwd_cnt_sent;                 /* fwd_cnt as last told to the guest */
    bool readable;                         /* the host socket may have data (edge-triggered) */
    bool host_eof;
    uint64_t deadline_ns; /* HELLO, CONNECTING, CLOSING */
    uint8_t *txbuf;       /* guest data the host socket did not take yet */
    uint32_t txlen;
    bool shut_wr_owed;       /* the guest shut its sending side: once txbuf drains */
    bool reset_when_drained; /* the guest closed: reset once txbuf drains */
};

/* A packet's fields that are the connection's business (the CIDs and the
 * type are the virtio half's). From the guest, src_port is the guest's
 * port and dst_port the host's; to the guest the other way round. */
struct vsock_pkt {
    uint16_t op;
    uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
};

struct vsock_conns {
    struct vsock_conn slot[VSOCK_MAX_CONNS]; /* a connection's id is its index */
    uint32_t next_port;                      /* for host-initiated connections */
    const struct vsock_sock_ops *low;
    void *low_ctx;
    struct vsock_stats *stats;
};

/* The state machine's side of the backend's events; ctx: the struct
 * vsock_conns. For the backend's init. */
extern const struct vsock_sock_events vsock_conn_sock_events;

void vsock_conn_init(struct vsock_conns *t, const struct vsock_sock_ops *low, void *low_ctx,
                     struct vsock_stats *stats);
/* Every connection goes, sockets closed, nothing said to the guest. */
void vsock_conn_destroy(struct vsock_conns *t);
/* The driver reset the device: the same, each counted as killed. */
void vsock_conn_reset(struct vsock_conns *t);

/* A packet from the guest, its header checked: for the host CID, a
 * stream, a known op, an RW's payload no longer than the buffer that
 * carried it. `payload` is an RW's len bytes (n 0 otherwise). */
void vsock_conn_guest_packet(struct vsock_conns *t, const struct vsock_pkt *p,
                             const struct iovec *payload, int n);
/* A packet that is not ours (another CID, another type): an RST back,
 * unless it is one. */
void vsock_conn_guest_stray(struct vsock_conns *t, const struct vsock_pkt *p);
/* A malformed packet (unknown op, an RW longer than its buffer): its
 * connection resets; without one, as a stray. */
void vsock_conn_guest_bad(struct vsock_conns *t, const struct vsock_pkt *p);

/* What connection id owes the guest, for one receive buffer at a time:
 * - rx_wants: a control packet, or data it may send now;
 * - rx_control: takes the first control packet owed into *p (an RST also
 *   ends the connection); false when none is;
 * - rx_credit: how much data the guest can take now;
 * - rx_data: reads into iov (at most rx_credit bytes) and fills *p; the
 *   payload's length, or -1 when nothing came (the socket ran dry, or hit
 *   its end: a SHUTDOWN is owed then). */
bool vsock_conn_rx_wants(const struct vsock_conns *t, int id);
bool vsock_conn_rx_control(struct vsock_conns *t, int id, struct vsock_pkt *p);
uint32_t vsock_conn_rx_credit(const struct vsock_conns *t, int id);
int64_t vsock_conn_rx_data(struct vsock_conns *t, int id, struct vsock_pkt *p,
                           const struct iovec *iov, int n);

#endif
