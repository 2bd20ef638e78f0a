/* virtio-vsock's virtio half: the queues, the guest's packet headers,
 * receive buffers; the device that wires the three layers together, and
 * its lifecycle. */
#include "devices/virtio/vsock.h"

#include "bus/manager.h"
#include "core/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#define Q_RX 0
#define Q_TX 1
#define TYPE_STREAM 1
#define HDR sizeof(struct vsock_hdr)

static void virtio_vsock_put_hdr(struct virtio_vsock *v, const struct virtq_chain *ch,
                                 const struct vsock_pkt *p)
{
    struct vsock_hdr h = { .src_cid = VSOCK_HOST_CID,
                           .dst_cid = v->guest_cid,
                           .src_port = p->src_port,
                           .dst_port = p->dst_port,
                           .len = p->len,
                           .type = TYPE_STREAM,
                           .op = p->op,
                           .flags = p->flags,
                           .buf_alloc = p->buf_alloc,
                           .fwd_cnt = p->fwd_cnt };
    virtq_chain_write(ch, &h, HDR);
}

/* Fills one RX chain for connection id: a control packet, or payload read
 * from the host socket straight into the chain. Returns the used length,
 * or -1 to give the chain back (nothing to send after all). */
static int64_t virtio_vsock_fill_rx(struct virtio_vsock *v, int id, const struct virtq_chain *ch)
{
    struct vsock_pkt p;
    if (vsock_conn_rx_control(&v->conns, id, &p)) {
        virtio_vsock_put_hdr(v, ch, &p);
        return HDR;
    }
    /* Payload after the header, at most the guest's credit. */
    struct iovec iov[VIRTQ_MAX_SEGS];
    size_t room = ch->in_len - HDR, want = vsock_conn_rx_credit(&v->conns, id);
    if (room == 0)
        return 0; /* a buffer with room for a header only: the guest's loss */
    if (want > room)
        want = room;
    if (want > VSOCK_MAX_PAYLOAD)
        want = VSOCK_MAX_PAYLOAD;
    int n = virtq_iov_slice(ch->in, ch->nin, HDR, want, iov, VIRTQ_MAX_SEGS);
    int64_t got = vsock_conn_rx_data(&v->conns, id, &p, iov, n);
    if (got < 0)
        return -1;
    virtio_vsock_put_hdr(v, ch, &p);
    return (int64_t)HDR + got;
}

static void virtio_vsock_rx(struct virtio_vsock *v)
{
    struct virtio_mmio *m = &v->mmio;
    struct virtq *q = &m->queues[Q_RX];
    uint16_t used = q->used_idx;
    struct virtq_chain ch;
    int idle = 0;
    /* Round robin: each connection with something to send gets a chain in
     * turn, until a whole round finds nothing or the ring runs dry. */
    while (virtio_mmio_live_locked(m) && q->ready && idle < VSOCK_MAX_CONNS) {
        int id = v->rr;
        v->rr = (v->rr + 1) % VSOCK_MAX_CONNS;
        if (!vsock_conn_rx_wants(&v->conns, id)) {
            idle++;
            continue;
        }
        int got = virtio_mmio_pop_locked(m, Q_RX, &ch);
        if (got < 0)
            break;
        if (got == 0) {
            v->rr = id; /* its turn comes first next time */
            break;
        }
        if (ch.in_len < HDR) { /* not even a header fits: the guest's loss */
            virtq_push(q, m->mem, ch.head, 0);
            continue;
        }
        int64_t len = virtio_vsock_fill_rx(v, id, &ch);
        if (len < 0) {
            /* The connection's state changed (drained, or closed): another
             * round. Each connection changes so at most twice, so this
             * ends. */
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

/* The one place a guest packet's header is checked: what only the device
 * can judge (addresses, type, op, a payload against the chain that carries
 * it) here; ports, flags and credit against the connection, which the state
 * machine does. */
static void virtio_vsock_tx_packet(struct virtio_vsock *v, const struct vsock_hdr *h,
                                   const struct virtq_chain *ch)
{
    struct vsock_pkt p = { .op = h->op,
                           .src_port = h->src_port,
                           .dst_port = h->dst_port,
                           .len = h->len,
                           .flags = h->flags,
                           .buf_alloc = h->buf_alloc,
                           .fwd_cnt = h->fwd_cnt };
    if (h->src_cid != v->guest_cid || h->dst_cid != VSOCK_HOST_CID || h->type != TYPE_STREAM) {
        vsock_conn_guest_stray(&v->conns, &p);
        return;
    }
    bool rw = p.op == VSOCK_OP_RW;
    if (p.op < VSOCK_OP_REQUEST || p.op > VSOCK_OP_CREDIT_REQUEST ||
        (rw && (p.len > ch->out_len - HDR || p.len > VSOCK_MAX_PAYLOAD))) {
        vsock_conn_guest_bad(&v->conns, &p);
        return;
    }
    struct iovec iov[VIRTQ_MAX_SEGS];
    int n = rw ? virtq_iov_slice(ch->out, ch->nout, HDR, p.len, iov, VIRTQ_MAX_SEGS) : 0;
    vsock_conn_guest_packet(&v->conns, &p, iov, n);
}

static void virtio_vsock_tx(struct virtio_vsock *v)
{
    struct virtio_mmio *m = &v->mmio;
    struct virtq *q = &m->queues[Q_TX];
    uint16_t used = q->used_idx;
    struct virtq_chain ch;
    while (virtio_mmio_live_locked(m)) {
        if (virtio_mmio_pop_locked(m, Q_TX, &ch) <= 0)
            break;
        struct vsock_hdr h;
        if (virtq_chain_read(&ch, &h, HDR) == HDR) {
            v->stats.tx_packets_count++;
            virtio_vsock_tx_packet(v, &h, &ch);
        }
        virtq_push(q, m->mem, ch.head, 0);
    }
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, Q_TX);
    virtio_vsock_rx(v);
}

static void virtio_vsock_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m;
    struct virtio_vsock *v = dev;
    if (q == Q_TX)
        virtio_vsock_tx(v);
    else if (q == Q_RX)
        virtio_vsock_rx(v);
    /* the event queue: only ever used for a transport reset, never sent */
}

/* The driver reset the device: every connection ends. */
static void virtio_vsock_reset(void *dev)
{
    struct virtio_vsock *v = dev;
    vsock_conn_reset(&v->conns);
}

static void virtio_vsock_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
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
    .config_read = virtio_vsock_config_read,
    .notify = virtio_vsock_notify,
    .reset = virtio_vsock_reset,
};

/* After the sockets' events and the timer's, the guest gets what they
 * made it owed (the state machine never calls up for that). */
void virtio_vsock_host_events(struct virtio_vsock *v)
{
    pthread_mutex_lock(&v->mmio.lock);
    vsock_unix_poll(&v->host);
    virtio_vsock_rx(v);
    pthread_mutex_unlock(&v->mmio.lock);
}

void virtio_vsock_timer(struct virtio_vsock *v)
{
    pthread_mutex_lock(&v->mmio.lock);
    if (vsock_unix_timer(&v->host))
        virtio_vsock_rx(v);
    pthread_mutex_unlock(&v->mmio.lock);
}

void virtio_vsock_stats(struct virtio_vsock *v, struct vsock_stats *out)
{
    pthread_mutex_lock(&v->mmio.lock);
    *out = v->stats;
    pthread_mutex_unlock(&v->mmio.lock);
}

int virtio_vsock_check(const struct vsock_config *cfg, char *err, size_t errlen)
{
    return vsock_unix_check(cfg->uds_path, err, errlen);
}

int virtio_vsock_init(struct virtio_vsock *v, const struct vsock_config *cfg,
                      const struct guest_mem *mem, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->guest_cid = cfg->guest_cid;
    virtio_mmio_init(&v->mmio, &virtio_vsock_ops, v, mem);
    vsock_conn_init(&v->conns, &vsock_unix_ops, &v->host, &v->stats);
    return vsock_unix_init(&v->host, cfg->uds_path, &vsock_conn_sock_events, &v->conns, &v->stats,
                           err, errlen);
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
    vsock_conn_destroy(&v->conns);
    vsock_unix_destroy(&v->host);
    virtio_mmio_destroy(&v->mmio);
}

/* The lifecycle: one virtio-vsock when the vsock section is set; its host
 * sockets and timer served on the I/O thread. */

enum { FD_HOST, FD_TIMER };

static int vsock_count(const struct device_env *env) { return env->cfg->vsock.on; }

static int vsock_check(const struct vm_config *next, char *err, size_t errlen)
{
    return virtio_vsock_check(&next->vsock, err, errlen) < 0 ? -1 : 0;
}

static void vsock_destroy(void *dev)
{
    virtio_vsock_destroy(dev);
    free(dev);
}

static int vsock_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct virtio_vsock *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vsock: out of memory");
        return -1;
    }
    if (virtio_vsock_init(v, &env->cfg->vsock, &env->dm->vm->mem, err, errlen) < 0) {
        vsock_destroy(v);
        return -1;
    }
    const struct devmgr_virtio d = {
        .ops = &virtio_vsock_device,
        .name = "virtio-vsock",
        .mmio = &v->mmio,
        .dev = v,
        .nfds = 2,
        .fds = { [FD_HOST] = { v->host.epfd, EPOLLIN },
                 [FD_TIMER] = { v->host.timer_fd, EPOLLIN } },
    };
    return devmgr_attach_virtio(env->dm, &d, NULL, err, errlen) < 0 ? -1 : 0;
}

static void vsock_io_ready(void *dev, int index, uint32_t events)
{
    (void)events;
    if (index == FD_HOST)
        virtio_vsock_host_events(dev);
    else
        virtio_vsock_timer(dev);
}

_Static_assert(sizeof(struct vsock_stats) == 9 * sizeof(uint64_t), "vsock_stats: counters only");

/* Firecracker's "vsock" group (zeros without the device). */
static void vsock_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "rx_packets_count", "tx_packets_count", "rx_bytes_count",
                                         "tx_bytes_count",   "conns_added",      "conns_killed",
                                         "conns_removed",    "tx_write_fails",   "rx_read_fails" };
    struct vsock_stats sum = { 0 };
    for (int i = 0; i < n; i++) {
        struct vsock_stats st;
        virtio_vsock_stats(devs[i], &st);
        uint64_t *d = (uint64_t *)&sum;
        const uint64_t *s = (const uint64_t *)&st;
        for (size_t k = 0; k < sizeof(st) / sizeof(uint64_t); k++)
            d[k] += s[k];
    }
    json_object_set_new(o, "vsock", metrics_counters(names, (const uint64_t *)&sum, 9));
}

const struct device_ops virtio_vsock_device = {
    .name = "vsock",
    .section = CONFIG_VSOCK,
    .count = vsock_count,
    .check = vsock_check,
    .create = vsock_create,
    .destroy = vsock_destroy,
    .io_ready = vsock_io_ready,
    .metrics = vsock_metrics,
};
