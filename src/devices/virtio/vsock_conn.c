/* vsock's connection state machine: the connection table, handshakes,
 * credit, shutdown and reset, between the virtio half and the sockets. */
#include "devices/virtio/vsock_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Host ports for host-initiated connections (Firecracker's range). */
#define PORT_BASE (1u << 30)

static int vsock_conn_id(const struct vsock_conns *t, const struct vsock_conn *c)
{
    return (int)(c - t->slot);
}

static bool vsock_conn_has_sock(const struct vsock_conn *c)
{
    return c->state != VSOCK_FREE && c->state != VSOCK_RESET;
}

/* A host client still in its handshake has no ports yet: never found. */
static struct vsock_conn *vsock_conn_find(struct vsock_conns *t, uint32_t local_port,
                                          uint32_t peer_port)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &t->slot[i];
        if (c->state != VSOCK_FREE && c->state != VSOCK_HELLO && c->local_port == local_port &&
            c->peer_port == peer_port)
            return c;
    }
    return NULL;
}

static int vsock_conn_free_slot(const struct vsock_conns *t)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (t->slot[i].state == VSOCK_FREE)
            return i;
    return -1;
}

static void vsock_conn_free(struct vsock_conns *t, struct vsock_conn *c)
{
    if (vsock_conn_has_sock(c))
        t->low->close(t->low_ctx, vsock_conn_id(t, c));
    free(c->txbuf);
    *c = (struct vsock_conn){ .state = VSOCK_FREE };
}

static void vsock_conn_kill(struct vsock_conns *t, struct vsock_conn *c, bool reset_guest)
{
    t->stats->conns_killed++;
    if (!reset_guest || c->state == VSOCK_HELLO) {
        vsock_conn_free(t, c);
        return;
    }
    /* The host socket goes now; the guest hears an RST when a chain comes. */
    uint32_t local = c->local_port, peer = c->peer_port;
    vsock_conn_free(t, c);
    *c = (struct vsock_conn){
        .state = VSOCK_RESET, .local_port = local, .peer_port = peer, .pending = 1u << VSOCK_OP_RST
    };
}

/* A handshake or shutdown step begins: it must end within VSOCK_TIMEOUT_MS. */
static void vsock_conn_set_deadline(struct vsock_conns *t, struct vsock_conn *c)
{
    c->deadline_ns = t->low->now_ns(t->low_ctx) + VSOCK_TIMEOUT_MS * 1000000ull;
    t->low->timer_arm(t->low_ctx);
}

/* The guest's REQUEST to host port `port`: OPEN with a RESPONSE owed, or
 * (nobody serves the port) RESET with an RST owed; NULL when the table is
 * full. */
static struct vsock_conn *vsock_conn_guest_connect(struct vsock_conns *t, uint32_t port,
                                                   uint32_t peer_port)
{
    int id = vsock_conn_free_slot(t);
    int r = t->low->connect(t->low_ctx, id, port);
    if (id < 0)
        return NULL;
    struct vsock_conn *c = &t->slot[id];
    if (r < 0)
        *c = (struct vsock_conn){ .state = VSOCK_RESET, .pending = 1u << VSOCK_OP_RST };
    else /* the service may have written already */
        *c = (struct vsock_conn){ .state = VSOCK_OPEN,
                                  .pending = 1u << VSOCK_OP_RESPONSE,
                                  .readable = true };
    c->local_port = port;
    c->peer_port = peer_port;
    return c;
}

/* Writes what the host socket takes now, keeps the rest (in order) until
 * it has room. fwd_cnt counts what the socket took. False when the
 * connection broke (it is reset then). */
static bool vsock_conn_write(struct vsock_conns *t, struct vsock_conn *c, const struct iovec *iov,
                             int n, uint32_t len)
{
    ssize_t w = 0;
    if (!c->txlen && len) {
        w = t->low->write(t->low_ctx, vsock_conn_id(t, c), iov, n);
        if (w < 0 && w != -EAGAIN && w != -EINTR) {
            vsock_conn_kill(t, c, true);
            return false;
        }
        if (w < 0)
            w = 0;
    }
    c->fwd_cnt += (uint32_t)w;
    uint32_t rest = len - (uint32_t)w;
    if (!rest)
        return true;
    /* The guest may not send more than its credit: a peer that does is
     * broken and loses the connection. */
    if (c->txlen + rest > VSOCK_BUF_ALLOC || (!c->txbuf && !(c->txbuf = malloc(VSOCK_BUF_ALLOC)))) {
        vsock_conn_kill(t, c, true);
        return false;
    }
    size_t skip = (size_t)w;
    for (int i = 0; i < n; i++) {
        size_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(c->txbuf + c->txlen, (uint8_t *)iov[i].iov_base + skip, l - skip);
        c->txlen += (uint32_t)(l - skip);
        skip = 0;
    }
    return true;
}

/* The socket has room: what waits in txbuf goes first; the guest hears of
 * the room. */
static void vsock_conn_flush(struct vsock_conns *t, struct vsock_conn *c)
{
    if (!c->txlen)
        return;
    int id = vsock_conn_id(t, c);
    struct iovec iov = { c->txbuf, c->txlen };
    ssize_t w = t->low->write(t->low_ctx, id, &iov, 1);
    if (w < 0 && w != -EAGAIN && w != -EINTR) {
        vsock_conn_kill(t, c, true);
        return;
    }
    if (w <= 0)
        return;
    memmove(c->txbuf, c->txbuf + w, c->txlen - (size_t)w);
    c->txlen -= (uint32_t)w;
    c->fwd_cnt += (uint32_t)w;
    if (c->txlen) {
        c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
        return;
    }
    free(c->txbuf);
    c->txbuf = NULL;
    if (c->reset_when_drained) {
        vsock_conn_kill(t, c, true);
        return;
    }
    if (c->shut_wr_owed)
        t->low->shut_wr(t->low_ctx, id);
    c->shut_wr_owed = false;
    c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
}

/* The guest will send no more: the host socket's write side is shut once
 * what the guest already sent has gone to it. */
static void vsock_conn_guest_shut_send(struct vsock_conns *t, struct vsock_conn *c)
{
    if (c->txlen)
        c->shut_wr_owed = true;
    else if (vsock_conn_has_sock(c))
        t->low->shut_wr(t->low_ctx, vsock_conn_id(t, c));
}

/* The guest shut both ways: reset now, or (CLOSING, with a deadline) once
 * what it sent has gone to the host socket, which acknowledged data must. */
static void vsock_conn_guest_close(struct vsock_conns *t, struct vsock_conn *c)
{
    if (!c->txlen) {
        vsock_conn_kill(t, c, true); /* both ways done: Firecracker resets */
        return;
    }
    c->reset_when_drained = true;
    c->state = VSOCK_CLOSING;
    vsock_conn_set_deadline(t, c);
}

/* A host client in its handshake: once its CONNECT line is in, the guest
 * hears a REQUEST from a host port no connection uses. */
static void vsock_conn_hello(struct vsock_conns *t, struct vsock_conn *c)
{
    uint32_t port;
    int r = t->low->hello(t->low_ctx, vsock_conn_id(t, c), &port);
    if (r == 0)
        return;
    if (r < 0) {
        vsock_conn_kill(t, c, false);
        return;
    }
    do
        c->local_port = PORT_BASE + (t->next_port++ % PORT_BASE);
    while (vsock_conn_find(t, c->local_port, port));
    c->peer_port = port;
    c->state = VSOCK_CONNECTING;
    c->pending = 1u << VSOCK_OP_REQUEST;
    vsock_conn_set_deadline(t, c);
}

void vsock_conn_guest_stray(struct vsock_conns *t, const struct vsock_pkt *p)
{
    if (p->op == VSOCK_OP_RST)
        return; /* never answer a reset with one */
    int id = vsock_conn_free_slot(t);
    if (id < 0)
        return;
    t->slot[id] = (struct vsock_conn){ .state = VSOCK_RESET,
                                       .local_port = p->dst_port,
                                       .peer_port = p->src_port,
                                       .pending = 1u << VSOCK_OP_RST };
}

void vsock_conn_guest_bad(struct vsock_conns *t, const struct vsock_pkt *p)
{
    struct vsock_conn *c = vsock_conn_find(t, p->dst_port, p->src_port);
    if (c)
        vsock_conn_kill(t, c, true);
    else
        vsock_conn_guest_stray(t, p);
}

void vsock_conn_guest_packet(struct vsock_conns *t, const struct vsock_pkt *p,
                             const struct iovec *payload, int n)
{
    struct vsock_conn *c = vsock_conn_find(t, p->dst_port, p->src_port);
    if (!c && p->op == VSOCK_OP_REQUEST)
        c = vsock_conn_guest_connect(t, p->dst_port, p->src_port);
    if (!c) {
        vsock_conn_guest_stray(t, p);
        return;
    }
    c->peer_buf_alloc = p->buf_alloc;
    c->peer_fwd_cnt = p->fwd_cnt;
    switch (p->op) {
    case VSOCK_OP_REQUEST:
        /* Just answered (accepted or refused) by guest_connect; a request
         * for a connection that was there already is an error. */
        if (!(c->pending & ((1u << VSOCK_OP_RESPONSE) | (1u << VSOCK_OP_RST))))
            vsock_conn_kill(t, c, true);
        return;
    case VSOCK_OP_RESPONSE:
        if (c->state != VSOCK_CONNECTING) {
            vsock_conn_kill(t, c, true);
            return;
        }
        c->state = VSOCK_OPEN;
        c->deadline_ns = 0;
        if (t->low->hello_ok(t->low_ctx, vsock_conn_id(t, c), c->local_port) < 0) {
            vsock_conn_kill(t, c, true);
            return;
        }
        c->readable = true; /* the client may have written already */
        return;
    case VSOCK_OP_RW:
        if (c->state != VSOCK_OPEN && c->state != VSOCK_CLOSING) {
            vsock_conn_kill(t, c, true);
            return;
        }
        t->stats->tx_bytes_count += p->len;
        if (vsock_conn_write(t, c, payload, n, p->len) &&
            c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
            c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
        return;
    case VSOCK_OP_SHUTDOWN:
        if ((p->flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) ==
            (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
            vsock_conn_guest_close(t, c);
            return;
        }
        if (p->flags & VSOCK_SHUTDOWN_SEND)
            vsock_conn_guest_shut_send(t, c);
        return;
    case VSOCK_OP_RST: vsock_conn_kill(t, c, false); return;
    case VSOCK_OP_CREDIT_UPDATE:
        return; /* the credit was taken above; the next RX round sends what fits */
    case VSOCK_OP_CREDIT_REQUEST: c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE; return;
    default: /* the virtio half lets none through; a caller that does resets */
        vsock_conn_kill(t, c, true);
    }
}

static uint32_t vsock_conn_credit(const struct vsock_conn *c)
{
    uint32_t used = c->rx_cnt - c->peer_fwd_cnt;
    return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/* The control packet c owes the guest first, or 0. */
static uint16_t vsock_conn_next_control(const struct vsock_conn *c)
{
    static const uint16_t order[] = { VSOCK_OP_RST, VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE,
                                      VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_SHUTDOWN };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (c->pending & (1u << order[i]))
            return order[i];
    return 0;
}

static bool vsock_conn_has_data(const struct vsock_conn *c)
{
    return c->state == VSOCK_OPEN && c->readable && !c->host_eof && vsock_conn_credit(c) > 0;
}

/* Every packet to the guest tells it our credit as of now. */
static struct vsock_pkt vsock_conn_reply(struct vsock_conn *c, uint16_t op)
{
    c->fwd_cnt_sent = c->fwd_cnt;
    return (struct vsock_pkt){ .op = op,
                               .src_port = c->local_port,
                               .dst_port = c->peer_port,
                               .buf_alloc = VSOCK_BUF_ALLOC,
                               .fwd_cnt = c->fwd_cnt };
}

bool vsock_conn_rx_wants(const struct vsock_conns *t, int id)
{
    const struct vsock_conn *c = &t->slot[id];
    return c->state != VSOCK_FREE && (vsock_conn_next_control(c) || vsock_conn_has_data(c));
}

bool vsock_conn_rx_control(struct vsock_conns *t, int id, struct vsock_pkt *p)
{
    struct vsock_conn *c = &t->slot[id];
    uint16_t op = vsock_conn_next_control(c);
    if (!op)
        return false;
    c->pending &= ~(1u << op);
    *p = vsock_conn_reply(c, op);
    if (op == VSOCK_OP_SHUTDOWN)
        p->flags = c->shutdown_flags;
    if (op == VSOCK_OP_RST)
        vsock_conn_free(t, c);
    return true;
}

uint32_t vsock_conn_rx_credit(const struct vsock_conns *t, int id)
{
    return vsock_conn_credit(&t->slot[id]);
}

int64_t vsock_conn_rx_data(struct vsock_conns *t, int id, struct vsock_pkt *p,
                           const struct iovec *iov, int n)
{
    struct vsock_conn *c = &t->slot[id];
    ssize_t got = t->low->read(t->low_ctx, id, iov, n);
    if (got == -EAGAIN || got == -EINTR) {
        c->readable = false;
        return -1;
    }
    if (got <= 0) {
        /* The host closed (or broke) its end: tell the guest both ways
         * are done, and give it time to reset. */
        c->host_eof = true;
        c->shutdown_flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
        c->pending |= 1u << VSOCK_OP_SHUTDOWN;
        c->state = VSOCK_CLOSING;
        vsock_conn_set_deadline(t, c);
        return -1;
    }
    *p = vsock_conn_reply(c, VSOCK_OP_RW);
    p->len = (uint32_t)got;
    c->rx_cnt += (uint32_t)got;
    t->stats->rx_bytes_count += (uint64_t)got;
    return got;
}

/* The backend's events. */

static void vsock_conn_on_incoming(void *ctx)
{
    struct vsock_conns *t = ctx;
    for (;;) {
        int id = vsock_conn_free_slot(t);
        int r = t->low->accept(t->low_ctx, id);
        if (r == 0)
            return;
        if (r < 0 || id < 0)
            continue; /* a full table, or a client that could not be watched */
        struct vsock_conn *c = &t->slot[id];
        *c = (struct vsock_conn){ .state = VSOCK_HELLO };
        vsock_conn_set_deadline(t, c);
        vsock_conn_hello(t, c);
    }
}

static void vsock_conn_on_ready(void *ctx, int id, uint32_t what)
{
    struct vsock_conns *t = ctx;
    if (id < 0 || id >= VSOCK_MAX_CONNS)
        return;
    struct vsock_conn *c = &t->slot[id];
    if (!vsock_conn_has_sock(c))
        return;
    if (c->state == VSOCK_HELLO) {
        vsock_conn_hello(t, c);
        return;
    }
    if (what & VSOCK_SOCK_OUT)
        vsock_conn_flush(t, c);
    /* The flush may have ended the connection (its socket is gone then). */
    if (vsock_conn_has_sock(c) && (what & VSOCK_SOCK_IN))
        c->readable = true;
    if (vsock_conn_has_sock(c) && (what & VSOCK_SOCK_ERR))
        vsock_conn_kill(t, c, true);
}

static void vsock_conn_on_tick(void *ctx)
{
    struct vsock_conns *t = ctx;
    uint64_t now = t->low->now_ns(t->low_ctx);
    bool waiting = false;
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &t->slot[i];
        bool timed =
            c->state == VSOCK_HELLO || c->state == VSOCK_CONNECTING || c->state == VSOCK_CLOSING;
        if (timed && c->deadline_ns && now >= c->deadline_ns)
            vsock_conn_kill(t, c, c->state != VSOCK_HELLO);
        else if (timed)
            waiting = true;
    }
    if (!waiting)
        t->low->timer_stop(t->low_ctx);
}

const struct vsock_sock_events vsock_conn_sock_events = {
    .incoming = vsock_conn_on_incoming,
    .ready = vsock_conn_on_ready,
    .tick = vsock_conn_on_tick,
};

void vsock_conn_init(struct vsock_conns *t, const struct vsock_sock_ops *low, void *low_ctx,
                     struct vsock_stats *stats)
{
    *t = (struct vsock_conns){ .low = low, .low_ctx = low_ctx, .stats = stats };
}

void vsock_conn_destroy(struct vsock_conns *t)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (t->slot[i].state != VSOCK_FREE)
            vsock_conn_free(t, &t->slot[i]);
}

void vsock_conn_reset(struct vsock_conns *t)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (t->slot[i].state != VSOCK_FREE)
            vsock_conn_kill(t, &t->slot[i], false);
}
