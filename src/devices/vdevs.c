/* The configured virtio devices: attach, live updates, metrics. */
#include "devices/vdevs.h"

#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

#include <stdio.h>
#include <string.h>

int vdevs_attach(struct vdevs *v, const struct vm_config *cfg, struct devmgr *dm, char *err,
                 size_t errlen)
{
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < cfg->ndrives; i++, v->nblk++)
        if (virtio_blk_attach(&cfg->drives[i], dm, &v->blk[i], err, errlen) < 0)
            return -1;
    for (int i = 0; i < cfg->nnets; i++, v->nnet++)
        if (virtio_net_attach(&cfg->nets[i], dm, &v->net[i], err, errlen) < 0)
            return -1;
    if (cfg->vsock.on && virtio_vsock_attach(&cfg->vsock, dm, &v->vsock, err, errlen) < 0)
        return -1;
    if (cfg->entropy.on && virtio_rng_attach(&cfg->entropy, dm, &v->rng, err, errlen) < 0)
        return -1;
    return 0;
}

void vdevs_clear(struct vdevs *v)
{
    memset(v, 0, sizeof(*v));
}

int vdevs_check(enum config_section s, const struct vm_config *next, char *err, size_t errlen)
{
    if (s == CONFIG_DRIVES)
        for (int i = 0; i < next->ndrives; i++)
            if (virtio_blk_check(&next->drives[i], err, errlen) < 0)
                return -1;
    if (s == CONFIG_NETS)
        for (int i = 0; i < next->nnets; i++)
            if (virtio_net_check(&next->nets[i], err, errlen) < 0)
                return -1;
    if (s == CONFIG_VSOCK && virtio_vsock_check(&next->vsock, err, errlen) < 0)
        return -1;
    return 0;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

int vdevs_update(struct vdevs *v, enum config_section s, const struct vm_config *old,
                 const struct vm_config *next, char *err, size_t errlen)
{
    if (s == CONFIG_DRIVES) {
        /* A PATCH changes one drive; the others compare equal. */
        for (int i = 0; i < next->ndrives && i < v->nblk; i++) {
            const struct drive_config *o = &old->drives[i], *n = &next->drives[i];
            bool new_file = !same(o->path_on_host, n->path_on_host);
            if (!new_file && !memcmp(&o->rate_limiter, &n->rate_limiter, sizeof(n->rate_limiter)))
                continue;
            if (virtio_blk_update(v->blk[i], new_file ? n->path_on_host : NULL, &n->rate_limiter,
                                  err, errlen) < 0)
                return -1;
        }
        return 0;
    }
    if (s == CONFIG_NETS) {
        for (int i = 0; i < next->nnets && i < v->nnet; i++)
            virtio_net_update(v->net[i], &next->nets[i].rx_rate_limiter,
                              &next->nets[i].tx_rate_limiter);
        return 0;
    }
    snprintf(err, errlen, "%s: cannot change after the microVM started", config_section_key(s));
    return -1;
}

/* The metrics are read as arrays of counters. */
_Static_assert(sizeof(struct blk_stats) == 9 * sizeof(uint64_t), "blk_stats: counters only");
_Static_assert(sizeof(struct net_stats) == 9 * sizeof(uint64_t), "net_stats: counters only");
_Static_assert(sizeof(struct vsock_stats) == 9 * sizeof(uint64_t), "vsock_stats: counters only");

static json_t *counters(const char *const *names, const uint64_t *values, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, names[i], json_integer((json_int_t)values[i]));
    return o;
}

static json_t *block_json(const struct blk_stats *b, uint64_t throttled)
{
    static const char *const names[] = { "read_count", "write_count", "flush_count",
                                         "read_bytes", "write_bytes", "invalid_reqs_count",
                                         "execute_fails", "update_count", "update_fails",
                                         "rate_limiter_throttled_events" };
    const uint64_t values[] = { b->read_count, b->write_count, b->flush_count, b->read_bytes,
                                b->write_bytes, b->invalid_reqs_count, b->execute_fails,
                                b->update_count, b->update_fails, throttled };
    return counters(names, values, 10);
}

void vdevs_metrics(struct vdevs *v, json_t *o)
{
    /* Per drive "block_<id>", and "block" summing them (Firecracker's). */
    struct blk_stats sum = { 0 };
    uint64_t sum_throttled = 0;
    for (int i = 0; i < v->nblk; i++) {
        struct blk_stats b;
        uint64_t t;
        virtio_blk_stats(v->blk[i], &b, &t);
        char key[CONFIG_ID_MAX + 8];
        snprintf(key, sizeof(key), "block_%s", v->blk[i]->id);
        json_object_set_new(o, key, block_json(&b, t));
        uint64_t *d = (uint64_t *)&sum;
        const uint64_t *s = (const uint64_t *)&b;
        for (size_t k = 0; k < sizeof(b) / sizeof(uint64_t); k++)
            d[k] += s[k];
        sum_throttled += t;
    }
    json_object_set_new(o, "block", block_json(&sum, sum_throttled));
    static const char *const net[] = { "rx_packets_count", "rx_bytes_count",
                                       "tx_packets_count", "tx_bytes_count", "tap_read_fails",
                                       "tap_write_fails", "tx_malformed_frames",
                                       "no_rx_avail_buffer", "no_tx_avail_buffer",
                                       "rx_rate_limiter_throttled", "tx_rate_limiter_throttled" };
    uint64_t nsum[11] = { 0 };
    for (int i = 0; i < v->nnet; i++) {
        uint64_t n[11];
        virtio_net_stats(v->net[i], (struct net_stats *)n, &n[9], &n[10]);
        char key[CONFIG_ID_MAX + 8];
        snprintf(key, sizeof(key), "net_%s", v->net[i]->id);
        json_object_set_new(o, key, counters(net, n, 11));
        for (int k = 0; k < 11; k++)
            nsum[k] += n[k];
    }
    json_object_set_new(o, "net", counters(net, nsum, 11));
    static const char *const vsock[] = { "rx_packets_count", "tx_packets_count",
                                         "rx_bytes_count", "tx_bytes_count", "conns_added",
                                         "conns_killed", "conns_removed", "tx_write_fails",
                                         "rx_read_fails" };
    struct vsock_stats vs = { 0 };
    if (v->vsock)
        virtio_vsock_stats(v->vsock, &vs);
    json_object_set_new(o, "vsock", counters(vsock, (const uint64_t *)&vs, 9));
    static const char *const entropy[] = { "entropy_event_count", "entropy_bytes",
                                           "host_rng_fails", "entropy_rate_limiter_throttled" };
    uint64_t e[4] = { 0 };
    if (v->rng) {
        pthread_mutex_lock(&v->rng->mmio.lock);
        e[0] = v->rng->requests;
        e[1] = v->rng->bytes;
        e[2] = v->rng->host_rng_fails;
        e[3] = v->rng->rl.throttled;
        pthread_mutex_unlock(&v->rng->mmio.lock);
    }
    json_object_set_new(o, "entropy", counters(entropy, e, 4));
}
