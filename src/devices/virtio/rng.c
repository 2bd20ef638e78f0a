/* virtio-rng: guest entropy from the host's getrandom. */
#include "devices/virtio/rng.h"

#include "bus/manager.h"
#include "core/clock.h"
#include "core/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

/* Fills the chain's writable segments, at most `max` bytes; returns how
 * many were filled (fewer only when getrandom fails). */
static size_t fill(const struct virtq_chain *c, size_t max)
{
    size_t done = 0;
    for (int i = 0; i < c->nin && done < max; i++) {
        uint8_t *p = c->in[i].iov_base;
        size_t want = c->in[i].iov_len < max - done ? c->in[i].iov_len : max - done;
        for (size_t got = 0; got < want;) {
            ssize_t n = getrandom(p + got, want - got, GRND_NONBLOCK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return done + got;
            got += (size_t)n;
        }
        done += want;
    }
    return done;
}

static void process_locked(struct virtio_rng *r)
{
    struct virtio_mmio *m = &r->mmio;
    struct virtq *q = &m->queues[0];
    struct virtq_chain c;
    bool pushed = false;
    while (virtio_mmio_live_locked(m) && !r->rl.blocked) {
        if (virtio_mmio_pop_locked(m, 0, &c) <= 0)
            break;
        size_t want = c.in_len < VIRTIO_RNG_MAX_REQUEST ? c.in_len : VIRTIO_RNG_MAX_REQUEST;
        if (want && !ratelimit_consume(&r->rl, want, mono_ns())) {
            virtq_unpop(q); /* again when the limiter's timer fires */
            break;
        }
        size_t done = fill(&c, want);
        r->requests++;
        r->bytes += done;
        r->host_rng_fails += done < want;
        virtq_push(q, m->mem, c.head, (uint32_t)done);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_queue_signal_locked(m, 0);
}

static void rng_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m, (void)q;
    process_locked(dev);
}

static void rng_reset(void *dev)
{
    (void)dev; /* every request completes at once: nothing in flight */
}

static void rng_limiter_ready(void *dev, int which)
{
    (void)which;
    process_locked(dev);
}

const struct virtio_device_ops virtio_rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .features = VIRTIO_RING_F_EVENT_IDX,
    .nqueues = 1,
    .queue_max = VIRTIO_RNG_QUEUE_SIZE,
    .notify = rng_notify,
    .reset = rng_reset,
    .limiter_ready = rng_limiter_ready,
};

int virtio_rng_init(struct virtio_rng *r, const struct entropy_config *cfg,
                    const struct guest_mem *mem)
{
    memset(r, 0, sizeof(*r));
    virtio_mmio_init(&r->mmio, &virtio_rng_ops, r, mem);
    return ratelimit_open(&r->rl, &cfg->rate_limiter, mono_ns());
}

void virtio_rng_destroy(struct virtio_rng *r)
{
    ratelimit_close(&r->rl);
    virtio_mmio_destroy(&r->mmio);
}

/* The lifecycle: one entropy device when the section is set. */

static int rng_count(const struct device_env *env) { return env->cfg->entropy.on; }

static void rng_destroy(void *dev)
{
    virtio_rng_destroy(dev);
    free(dev);
}

static int rng_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct virtio_rng *r = calloc(1, sizeof(*r));
    int e;
    if (!r) {
        snprintf(err, errlen, "entropy: out of memory");
        return -1;
    }
    if ((e = virtio_rng_init(r, &env->cfg->entropy, &env->dm->vm->mem)) < 0) {
        snprintf(err, errlen, "entropy: rate limiter timer: %s", strerror(-e));
        rng_destroy(r);
        return -1;
    }
    const struct devmgr_virtio v = {
        .ops = &virtio_rng_device,
        .name = "virtio-rng",
        .mmio = &r->mmio,
        .dev = r,
        .nlimiters = 1,
        .limiters = { &r->rl },
    };
    return devmgr_attach_virtio(env->dm, &v, NULL, err, errlen) < 0 ? -1 : 0;
}

/* Firecracker's "entropy" group (zeros without the device). */
static void rng_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "entropy_event_count", "entropy_bytes", "host_rng_fails",
                                         "entropy_rate_limiter_throttled" };
    uint64_t e[4] = { 0 };
    for (int i = 0; i < n; i++) {
        struct virtio_rng *r = devs[i];
        pthread_mutex_lock(&r->mmio.lock);
        e[0] += r->requests;
        e[1] += r->bytes;
        e[2] += r->host_rng_fails;
        e[3] += r->rl.throttled;
        pthread_mutex_unlock(&r->mmio.lock);
    }
    json_object_set_new(o, "entropy", metrics_counters(names, e, 4));
}

const struct device_ops virtio_rng_device = {
    .name = "entropy",
    .section = CONFIG_ENTROPY,
    .count = rng_count,
    .create = rng_create,
    .destroy = rng_destroy,
    .metrics = rng_metrics,
};
