/* virtio-rng: guest entropy from the host's getrandom. */
#include "virtio/rng.h"

#include "core/clock.h"

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
        int got = virtq_pop(q, m->mem, &c);
        if (got < 0) {
            virtio_mmio_needs_reset_locked(m);
            break;
        }
        if (got == 0)
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

const struct virtio_device_ops virtio_rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .features = VIRTIO_RING_F_EVENT_IDX,
    .nqueues = 1,
    .queue_max = VIRTIO_RNG_QUEUE_SIZE,
    .notify = rng_notify,
    .reset = rng_reset,
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

void virtio_rng_timer(struct virtio_rng *r)
{
    pthread_mutex_lock(&r->mmio.lock);
    ratelimit_timer_fired(&r->rl);
    process_locked(r);
    pthread_mutex_unlock(&r->mmio.lock);
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    virtio_rng_timer(ctx);
}

static void rng_teardown(void *dev)
{
    virtio_rng_destroy(dev);
    free(dev);
}

int virtio_rng_attach(const struct entropy_config *cfg, struct devmgr *dm,
                      struct virtio_rng **out, char *err, size_t errlen)
{
    struct virtio_rng *r = calloc(1, sizeof(*r));
    int e;
    if (!r) {
        snprintf(err, errlen, "entropy: out of memory");
        return -ENOMEM;
    }
    if ((e = virtio_rng_init(r, cfg, &dm->vm->mem)) < 0) {
        snprintf(err, errlen, "entropy: rate limiter timer: %s", strerror(-e));
        rng_teardown(r);
        return e;
    }
    *out = r;
    const struct devmgr_fd fds[] = { { r->rl.timer_fd, EPOLLIN, on_timer } };
    return devmgr_add_virtio_io(dm, "virtio-rng", &r->mmio, r, rng_teardown, fds, 1, err, errlen);
}
