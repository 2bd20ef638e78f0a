/* virtio-net: frames between the guest's queues and a TAP device. */
#include "devices/virtio/net.h"

#include "bus/manager.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define Q_RX 0
#define Q_TX 1

#define F_CSUM (1ULL << 0)
#define F_GUEST_CSUM (1ULL << 1)
#define F_MTU (1ULL << 3)
#define F_MAC (1ULL << 5)
#define F_GUEST_TSO4 (1ULL << 7)
#define F_GUEST_TSO6 (1ULL << 8)
#define F_HOST_TSO4 (1ULL << 11)
#define F_HOST_TSO6 (1ULL << 12)
#define CONFIG_SIZE 12 /* mac, status, max_virtqueue_pairs, mtu */

int tap_open(const char *name, bool *offload, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    int hdr = VIRTIO_NET_HDR_LEN;
    const char *what = "/dev/net/tun";
    if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0)
        what = "TUNSETIFF";
    else if (fd >= 0 && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
        what = "TUNSETVNETHDRSZ";
    else if (fd >= 0) {
        /* What the guest may receive: checksum and TSO, if the TAP can
         * hand them over; until the driver asks, nothing. */
        *offload = ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
        ioctl(fd, TUNSETOFFLOAD, 0);
        return fd;
    }
    int e = errno;
    snprintf(err, errlen, "host_dev_name %s: %s: %s", name, what, strerror(e));
    if (fd >= 0)
        close(fd);
    return -e;
}

/* Watches the TAP for what the device can act on now. */
static void watch_locked(struct virtio_net *n)
{
    uint32_t ev =
        (n->rx_starved || n->rx_rl.blocked ? 0 : EPOLLIN) | (n->tx_blocked ? EPOLLOUT : 0);
    if (n->io && ev != n->tap_events && loop_mod(n->io, n->tap, ev) == 0)
        n->tap_events = ev;
}

static void rx_locked(struct virtio_net *n)
{
    struct virtio_mmio *m = &n->mmio;
    struct virtq *q = &m->queues[Q_RX];
    uint16_t used = q->used_idx;
    struct virtq_chain c;
    /* A frame's size is known only once read: the limiter lets a frame
     * start while neither bucket is empty, and is charged after. */
    while (virtio_mmio_live_locked(m) && q->ready && !n->rx_starved &&
           ratelimit_ready(&n->rx_rl, mono_ns())) {
        int got = virtio_mmio_pop_locked(m, Q_RX, &c);
        if (got < 0)
            break;
        if (got == 0) {
            n->rx_starved = true;
            n->stats.no_rx_avail_buffer++;
            break;
        }
        if (c.in_len < VIRTIO_NET_HDR_LEN || c.nout) {
            /* Not a receive buffer: the guest's loss, not ours. */
            virtq_push(q, m->mem, c.head, 0);
            continue;
        }
        ssize_t r = readv(n->tap, c.in, c.nin);
        if (r > (ssize_t)c.in_len) {
            /* A TAP returns a frame's whole length even when it cut the
             * frame to the buffer: the used length would claim bytes past
             * the guest's buffer. That frame is lost; the buffer stays. */
            virtq_unpop(q);
            n->stats.tap_read_fails++;
            continue;
        }
        if (r < VIRTIO_NET_HDR_LEN) {
            virtq_unpop(q);
            if (r < 0 && errno != EAGAIN && errno != EINTR)
                n->stats.tap_read_fails++;
            if (r < 0)
                break;
            continue; /* a runt nobody could use: dropped */
        }
        /* num_buffers: one buffer a frame without VIRTIO_NET_F_MRG_RXBUF
         * (the TAP leaves those two header bytes alone). */
        uint16_t one = 1;
        virtq_chain_write_at(&c, 10, &one, 2);
        uint64_t bytes = (uint64_t)r - VIRTIO_NET_HDR_LEN;
        ratelimit_force(&n->rx_rl, 1, bytes, mono_ns());
        n->stats.rx_packets_count++;
        n->stats.rx_bytes_count += bytes;
        virtq_push(q, m->mem, c.head, (uint32_t)r);
    }
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, Q_RX);
    watch_locked(n);
}

static void tx_locked(struct virtio_net *n)
{
    struct virtio_mmio *m = &n->mmio;
    struct virtq *q = &m->queues[Q_TX];
    uint16_t used = q->used_idx;
    struct virtq_chain c;
    while (virtio_mmio_live_locked(m) && !n->tx_blocked) {
        if (virtio_mmio_pop_locked(m, Q_TX, &c) <= 0)
            break;
        if (c.out_len <= VIRTIO_NET_HDR_LEN || c.out_len > VIRTIO_NET_MAX_FRAME) {
            n->stats.tx_malformed_frames++;
            virtq_push(q, m->mem, c.head, 0);
            continue;
        }
        uint64_t bytes = c.out_len - VIRTIO_NET_HDR_LEN;
        if (!ratelimit_consume(&n->tx_rl, bytes, mono_ns())) {
            virtq_unpop(q); /* again when the limiter's timer fires */
            break;
        }
        ssize_t w = writev(n->tap, c.out, c.nout);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            virtq_unpop(q);
            ratelimit_refund(&n->tx_rl, 1, bytes); /* not sent after all */
            n->tx_blocked = true;
            break;
        }
        if (w < 0)
            n->stats.tap_write_fails++; /* the TAP refused it (a bad GSO header...): dropped */
        else {
            n->stats.tx_packets_count++;
            n->stats.tx_bytes_count += bytes;
        }
        virtq_push(q, m->mem, c.head, 0);
    }
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, Q_TX);
    watch_locked(n);
}

static void net_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m;
    struct virtio_net *n = dev;
    if (q == Q_TX) {
        tx_locked(n);
    } else {
        n->rx_starved = false; /* new buffers */
        rx_locked(n);
    }
}

/* DRIVER_OK: the TAP hands over what the driver accepts. */
static void net_activate(void *dev, struct virtio_mmio *m)
{
    struct virtio_net *n = dev;
    unsigned off = 0;
    if (n->offload && (m->driver_features & F_GUEST_CSUM)) {
        off = TUN_F_CSUM;
        if (m->driver_features & F_GUEST_TSO4)
            off |= TUN_F_TSO4;
        if (m->driver_features & F_GUEST_TSO6)
            off |= TUN_F_TSO6;
    }
    if (n->offload)
        ioctl(n->tap, TUNSETOFFLOAD, off);
    n->rx_starved = false;
    watch_locked(n);
}

static void net_reset(void *dev)
{
    struct virtio_net *n = dev;
    n->rx_starved = true; /* no buffers until the driver is back */
    n->tx_blocked = false;
    watch_locked(n);
}

static void net_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
    struct virtio_net *n = dev;
    uint8_t cfg[CONFIG_SIZE] = { 0 };
    uint16_t pairs = 1;
    memcpy(cfg, n->mac, 6);
    memcpy(cfg + 8, &pairs, 2);
    memcpy(cfg + 10, &n->mtu, 2);
    memcpy(data, cfg + offset, len);
}

/* Limiter 0 held RX back, limiter 1 TX. */
static void net_limiter_ready(void *dev, int which)
{
    if (which == 0)
        rx_locked(dev);
    else
        tx_locked(dev);
}

const struct virtio_device_ops virtio_net_ops = {
    .name = "net",
    .device_id = VIRTIO_ID_NET,
    /* What the TAP always takes from the guest: checksums to fill and
     * TSO frames to split. */
    .features = VIRTIO_RING_F_EVENT_IDX | F_CSUM | F_HOST_TSO4 | F_HOST_TSO6,
    .nqueues = 2,
    .queue_max = VIRTIO_NET_QUEUE_SIZE,
    .config_size = CONFIG_SIZE,
    .config_read = net_config_read,
    .activate = net_activate,
    .notify = net_notify,
    .reset = net_reset,
    .limiter_ready = net_limiter_ready,
};

int virtio_net_init(struct virtio_net *n, const struct net_config *cfg, int tap, bool offload,
                    const struct guest_mem *mem, char *err, size_t errlen)
{
    memset(n, 0, sizeof(*n));
    n->tap = tap;
    n->offload = offload;
    n->rx_starved = true; /* until the driver gives buffers */
    snprintf(n->id, sizeof(n->id), "%s", cfg->iface_id);
    memcpy(n->mac, cfg->guest_mac, 6);
    n->mtu = (uint16_t)cfg->mtu;
    n->rx_cfg = cfg->rx_rate_limiter;
    n->tx_cfg = cfg->tx_rate_limiter;
    n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
    virtio_mmio_init(&n->mmio, &virtio_net_ops, n, mem);
    n->mmio.features |= (cfg->has_mac ? F_MAC : 0) | (cfg->mtu ? F_MTU : 0) |
                        (offload ? F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 : 0);
    uint64_t now = mono_ns();
    int e = ratelimit_open(&n->rx_rl, &n->rx_cfg, now);
    if (e == 0)
        e = ratelimit_open(&n->tx_rl, &n->tx_cfg, now);
    if (e < 0)
        snprintf(err, errlen, "network-interfaces[%s]: rate limiter timer: %s", n->id,
                 strerror(-e));
    return e;
}

void virtio_net_destroy(struct virtio_net *n)
{
    if (n->tap >= 0)
        close(n->tap);
    n->tap = -1;
    ratelimit_close(&n->rx_rl);
    ratelimit_close(&n->tx_rl);
    virtio_mmio_destroy(&n->mmio);
}

void virtio_net_tap_event(struct virtio_net *n, uint32_t events)
{
    pthread_mutex_lock(&n->mmio.lock);
    if ((events & (EPOLLERR | EPOLLHUP)) && n->io) {
        /* The TAP went away under us (deleted on the host): epoll would
         * report that forever. The guest's frames are dropped from now. */
        log_warn("network interface %s: its TAP failed; no more frames to the guest", n->id);
        loop_del(n->io, n->tap);
        n->io = NULL;
    }
    if (events & EPOLLOUT) {
        n->tx_blocked = false;
        tx_locked(n);
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        rx_locked(n);
    pthread_mutex_unlock(&n->mmio.lock);
}

void virtio_net_update(struct virtio_net *n, const struct ratelimit_config *rx,
                       const struct ratelimit_config *tx)
{
    pthread_mutex_lock(&n->mmio.lock);
    uint64_t now = mono_ns();
    ratelimit_update(&n->rx_rl, &n->rx_cfg, rx, now);
    ratelimit_update(&n->tx_rl, &n->tx_cfg, tx, now);
    n->rx_cfg = *rx;
    n->tx_cfg = *tx;
    pthread_mutex_unlock(&n->mmio.lock);
}

int virtio_net_check(const struct net_config *cfg, char *err, size_t errlen)
{
    bool offload;
    char why[200];
    int fd = tap_open(cfg->host_dev_name, &offload, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "network-interfaces[%s].%s", cfg->iface_id, why);
        return fd;
    }
    close(fd);
    return 0;
}

void virtio_net_stats(struct virtio_net *n, struct net_stats *out, uint64_t *rx_throttled,
                      uint64_t *tx_throttled)
{
    pthread_mutex_lock(&n->mmio.lock);
    *out = n->stats;
    *rx_throttled = n->rx_rl.throttled;
    *tx_throttled = n->tx_rl.throttled;
    pthread_mutex_unlock(&n->mmio.lock);
}

/* The lifecycle: one virtio-net per configured interface, PATCHable. */

static int net_count(const struct device_env *env) { return env->cfg->nnets; }

static int net_check(const struct vm_config *next, char *err, size_t errlen)
{
    for (int i = 0; i < next->nnets; i++)
        if (virtio_net_check(&next->nets[i], err, errlen) < 0)
            return -1;
    return 0;
}

static void net_destroy(void *dev)
{
    virtio_net_destroy(dev);
    free(dev);
}

static int net_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    const struct net_config *cfg = &env->cfg->nets[index];
    struct virtio_net *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(err, errlen, "network-interfaces[%s]: out of memory", cfg->iface_id);
        return -1;
    }
    bool offload = false;
    char why[200];
    int tap = tap_open(cfg->host_dev_name, &offload, why, sizeof(why));
    if (tap < 0) {
        snprintf(err, errlen, "network-interfaces[%s].%s", cfg->iface_id, why);
        free(n);
        return -1;
    }
    if (virtio_net_init(n, cfg, tap, offload, &env->dm->vm->mem, err, errlen) < 0) {
        net_destroy(n);
        return -1;
    }
    n->io = &env->dm->io; /* the TAP is watched once the driver is ready */
    const struct devmgr_virtio v = {
        .ops = &virtio_net_device,
        .name = "virtio-net",
        .mmio = &n->mmio,
        .dev = n,
        .nfds = 1,
        .fds = { { n->tap, 0 } },
        .nlimiters = 2,
        .limiters = { &n->rx_rl, &n->tx_rl },
    };
    return devmgr_attach_virtio(env->dm, &v, NULL, err, errlen) < 0 ? -1 : 0;
}

static void net_io_ready(void *dev, int index, uint32_t events)
{
    (void)index; /* the TAP */
    virtio_net_tap_event(dev, events);
}

static int net_update(void *dev, int index, const struct vm_config *old,
                      const struct vm_config *next, char *err, size_t errlen)
{
    (void)old, (void)err, (void)errlen;
    virtio_net_update(dev, &next->nets[index].rx_rate_limiter, &next->nets[index].tx_rate_limiter);
    return 0;
}

_Static_assert(sizeof(struct net_stats) == 9 * sizeof(uint64_t), "net_stats: counters only");

/* Per interface "net_<id>", and "net" summing them (Firecracker's). */
static void net_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "rx_packets_count",         "rx_bytes_count",
                                         "tx_packets_count",         "tx_bytes_count",
                                         "tap_read_fails",           "tap_write_fails",
                                         "tx_malformed_frames",      "no_rx_avail_buffer",
                                         "no_tx_avail_buffer",       "rx_rate_limiter_throttled",
                                         "tx_rate_limiter_throttled" };
    uint64_t sum[11] = { 0 };
    for (int i = 0; i < n; i++) {
        struct virtio_net *dev = devs[i];
        uint64_t c[11];
        virtio_net_stats(dev, (struct net_stats *)c, &c[9], &c[10]);
        metrics_add_device(o, "net", dev->id, names, c, sum, 11);
    }
    json_object_set_new(o, "net", metrics_counters(names, sum, 11));
}

const struct device_ops virtio_net_device = {
    .name = "net",
    .section = CONFIG_NETS,
    .count = net_count,
    .check = net_check,
    .create = net_create,
    .destroy = net_destroy,
    .update = net_update,
    .io_ready = net_io_ready,
    .metrics = net_metrics,
};
