/* virtio-vsock, the guest's side: packets from the TX queue, packets to
 * the RX queue, credit. */
#include "virtio/vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define Q_RX 0
#define Q_TX 1
#define TYPE_STREAM 1
#define SHUTDOWN_RCV 1
#define SHUTDOWN_SEND 2
#define HDR sizeof(struct vsock_hdr)

static uint32_t credit(const struct vsock_conn *c)
{
    uint32_t used = c->rx_cnt - c->peer_fwd_cnt;
    return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

static struct vsock_hdr reply(struct virtio_vsock *v, struct vsock_conn *c, uint16_t op)
{
    c->fwd_cnt_sent = c->fwd_cnt;
    return (struct vsock_hdr){ .src_cid = VSOCK_HOST_CID, .dst_cid = v->guest_cid,
                               .src_port = c->local_port, .dst_port = c->peer_port,
                               .type = TYPE_STREAM, .op = op, .buf_alloc = VSOCK_BUF_ALLOC,
                               .fwd_cnt = c->fwd_cnt };
}

/* The control packet c owes the guest first, or 0. */
static uint16_t next_control(const struct vsock_conn *c)
{
    static const uint16_t order[] = { VSOCK_OP_RST, VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE,
                                      VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_SHUTDOWN };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (c->pending & (1u << order[i]))
            return order[i];
    return 0;
}

static bool has_data(const struct vsock_conn *c)
{
    return c->state == VSOCK_OPEN && c->readable && !c->host_eof && credit(c) > 0;
}

/* Fills one RX chain for c: a control packet, or payload read from the
 * host socket straight into the chain. Returns the used length, or -1 to
 * give the chain back (nothing to send after all). */
static int64_t fill_rx(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_chain *ch)
{
    uint16_t op = next_control(c);
    struct vsock_hdr h;
    if (op) {
        c->pending &= ~(1u << op);
        h = reply(v, c, op);
        if (op == VSOCK_OP_SHUTDOWN)
            h.flags = c->shutdown_flags;
        virtq_chain_write(ch, &h, HDR);
        if (op == VSOCK_OP_RST)
            vsock_free(v, c);
        return HDR;
    }
    /* Payload after the header, at most the guest's credit. */
    struct iovec iov[VIRTQ_MAX_SEGS];
    size_t room = ch->in_len - HDR, want = credit(c);
    if (room == 0)
        return 0; /* a buffer with room for a header only: the guest's loss */
    if (want > room)
        want = room;
    if (want > VSOCK_MAX_PAYLOAD)
        want = VSOCK_MAX_PAYLOAD;
    int n = virtq_iov_slice(ch->in, ch->nin, HDR, want, iov, VIRTQ_MAX_SEGS);
    ssize_t got = readv(c->fd, iov, n);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->readable = false;
        return -1;
    }
    if (got <= 0) {
        if (got < 0)
            v->stats.rx_read_fails++;
        /* The host closed (or broke) its end: tell the guest both ways
         * are done, and give it time to reset. */
        c->host_eof = true;
        c->shutdown_flags = SHUTDOWN_RCV | SHUTDOWN_SEND;
        c->pending |= 1u << VSOCK_OP_SHUTDOWN;
        c->state = VSOCK_CLOSING;
        vsock_set_deadline(v, c);
        return -1;
    }
    h = reply(v, c, VSOCK_OP_RW);
    h.len = (uint32_t)got;
    virtq_chain_write(ch, &h, HDR);
    c->rx_cnt += (uint32_t)got;
    v->stats.rx_bytes_count += (uint64_t)got;
    return (int64_t)(HDR + (size_t)got);
}

void vsock_rx_pump_locked(struct virtio_vsock *v)
{
    struct virtio_mmio *m = &v->mmio;
    struct virtq *q = &m->queues[Q_RX];
    uint16_t used = q->used_idx;
    struct virtq_chain ch;
    int idle = 0;
    /* Round robin: each connection with something to send gets a chain in
     * turn, until a whole round finds nothing or the ring runs dry. */
    while (virtio_mmio_live_locked(m) && q->ready && idle < VSOCK_MAX_CONNS) {
        struct vsock_conn *c = &v->conns[v->rr];
        v->rr = (v->rr + 1) % VSOCK_MAX_CONNS;
        if (c->state == VSOCK_FREE || (!next_control(c) && !has_data(c))) {
            idle++;
            continue;
        }
        int got = virtq_pop(q, m->mem, &ch);
        if (got < 0) {
            virtio_mmio_needs_reset_locked(m);
            break;
        }
        if (got == 0) {
            v->rr = (int)(c - v->conns); /* its turn comes first next time */
            break;
        }
        if (ch.in_len < HDR) { /* not even a header fits: the guest's loss */
            virtq_push(q, m->mem, ch.head, 0);
            continue;
        }
        int64_t len = fill_rx(v, c, &ch);
        if (len < 0) {
            /* c's state changed (drained, or closed): another round. Each
             * connection changes so at most twice, so this ends. */
            virtq_unpop(q);
            idle = 0;
            continue;
        }
        idle = 0;
        v->stats.rx_packets_count++;
        virtq_push(q, m->mem, ch.head, (uint32_t)len);
    }
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, Q_RX);
}

/* An RST for a packet that belongs to no connection. */
static void reset_stray(struct virtio_vsock *v, const struct vsock_hdr *h)
{
    if (h->op == VSOCK_OP_RST)
        return; /* never answer a reset with one */
    struct vsock_conn *c = vsock_new_conn(v, -1, VSOCK_RESET);
    if (!c)
        return;
    c->local_port = h->dst_port;
    c->peer_port = h->src_port;
    c->pending = 1u << VSOCK_OP_RST;
}

static void packet(struct virtio_vsock *v, const struct vsock_hdr *h, const struct virtq_chain *ch)
{
    if (h->src_cid != v->guest_cid || h->dst_cid != VSOCK_HOST_CID || h->type != TYPE_STREAM) {
        reset_stray(v, h);
        return;
    }
    struct vsock_conn *c = vsock_find(v, h->dst_port, h->src_port);
    if (!c && h->op == VSOCK_OP_REQUEST)
        c = vsock_guest_connect(v, h->dst_port, h->src_port);
    if (!c) {
        reset_stray(v, h);
        return;
    }
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case VSOCK_OP_REQUEST:
        /* Just answered (accepted or refused) by vsock_guest_connect; a
         * request for a connection that was there already is an error. */
        if (!(c->pending & ((1u << VSOCK_OP_RESPONSE) | (1u << VSOCK_OP_RST))))
            vsock_kill(v, c, true);
        return;
    case VSOCK_OP_RESPONSE:
        if (c->state != VSOCK_CONNECTING) {
            vsock_kill(v, c, true);
            return;
        }
        c->state = VSOCK_OPEN;
        c->deadline_ns = 0;
        {
            char ok[32];
            int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
            struct iovec iov = { ok, (size_t)n };
            if (!vsock_host_write(v, c, &iov, 1, (uint32_t)n))
                return;
            c->fwd_cnt -= (uint32_t)n; /* ours, not the guest's */
            c->readable = true;        /* the client may have written already */
        }
        return;
    case VSOCK_OP_RW: {
        if (c->state != VSOCK_OPEN && c->state != VSOCK_CLOSING) {
            vsock_kill(v, c, true);
            return;
        }
        uint32_t len = h->len;
        if (len > ch->out_len - HDR || len > VSOCK_MAX_PAYLOAD) {
            vsock_kill(v, c, true);
            return;
        }
        struct iovec iov[VIRTQ_MAX_SEGS];
        int n = virtq_iov_slice(ch->out, ch->nout, HDR, len, iov, VIRTQ_MAX_SEGS);
        v->stats.tx_bytes_count += len;
        if (vsock_host_write(v, c, iov, n, len) && c->fwd_cnt - c->fwd_cnt_sent >=
                                                       VSOCK_BUF_ALLOC / 4)
            c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
        return;
    }
    case VSOCK_OP_SHUTDOWN:
        if ((h->flags & (SHUTDOWN_RCV | SHUTDOWN_SEND)) == (SHUTDOWN_RCV | SHUTDOWN_SEND)) {
            vsock_guest_close(v, c);
            return;
        }
        if (h->flags & SHUTDOWN_SEND)
            vsock_host_shutdown(c);
        return;
    case VSOCK_OP_RST:
        vsock_kill(v, c, false);
        return;
    case VSOCK_OP_CREDIT_UPDATE:
        return; /* the credit was taken above; the pump sends what fits */
    case VSOCK_OP_CREDIT_REQUEST:
        c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
        return;
    default:
        vsock_kill(v, c, true);
    }
}

static void process_tx_locked(struct virtio_vsock *v)
{
    struct virtio_mmio *m = &v->mmio;
    struct virtq *q = &m->queues[Q_TX];
    uint16_t used = q->used_idx;
    struct virtq_chain ch;
    while (virtio_mmio_live_locked(m)) {
        int got = virtq_pop(q, m->mem, &ch);
        if (got < 0) {
            virtio_mmio_needs_reset_locked(m);
            break;
        }
        if (got == 0)
            break;
        struct vsock_hdr h;
        if (virtq_chain_read(&ch, &h, HDR) == HDR) {
            v->stats.tx_packets_count++;
            packet(v, &h, &ch);
        }
        virtq_push(q, m->mem, ch.head, 0);
    }
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, Q_TX);
    vsock_rx_pump_locked(v);
}

static void vsock_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m;
    struct virtio_vsock *v = dev;
    if (q == Q_TX)
        process_tx_locked(v);
    else if (q == Q_RX)
        vsock_rx_pump_locked(v);
    /* the event queue: only ever used for a transport reset, never sent */
}

/* The driver reset the device: every connection ends. */
static void vsock_reset(void *dev)
{
    struct virtio_vsock *v = dev;
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state != VSOCK_FREE)
            vsock_kill(v, &v->conns[i], false);
}

static void vsock_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
    struct virtio_vsock *v = dev;
    memcpy(data, (uint8_t *)&v->guest_cid + offset, len);
}

const struct virtio_device_ops virtio_vsock_ops = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .features = VIRTIO_RING_F_EVENT_IDX,
    .nqueues = 3,
    .queue_max = VSOCK_QUEUE_SIZE,
    .config_size = 8,
    .config_read = vsock_config_read,
    .notify = vsock_notify,
    .reset = vsock_reset,
};

void virtio_vsock_stats(struct virtio_vsock *v, struct vsock_stats *out)
{
    pthread_mutex_lock(&v->mmio.lock);
    *out = v->stats;
    pthread_mutex_unlock(&v->mmio.lock);
}
