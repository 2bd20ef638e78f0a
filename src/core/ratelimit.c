/* Token buckets with Firecracker's semantics, refilled lazily. */
#include "core/ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

bool tbucket_config_enabled(const struct tbucket_config *c) { return c->size && c->refill_time; }

bool ratelimit_config_enabled(const struct ratelimit_config *c)
{
    return tbucket_config_enabled(&c->bandwidth) || tbucket_config_enabled(&c->ops);
}

static void bucket_set(struct tbucket *b, const struct tbucket_config *c, uint64_t now_ns)
{
    memset(b, 0, sizeof(*b));
    if (!tbucket_config_enabled(c))
        return;
    b->on = true;
    b->size = c->size;
    b->refill_ns = c->refill_time * 1000000ull;
    b->burst = c->one_time_burst;
    b->budget = (int64_t)(c->size > INT64_MAX ? INT64_MAX : c->size);
    b->last_ns = now_ns;
}

/* Adds what elapsed since the last use, exactly: size tokens per
 * refill_ns, fractions carried over, never above size. */
static void bucket_refill(struct tbucket *b, uint64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return;
    unsigned __int128 credit = (unsigned __int128)(now_ns - b->last_ns) * b->size + b->carry;
    unsigned __int128 tokens = credit / b->refill_ns;
    b->last_ns = now_ns;
    b->carry = (uint64_t)(credit % b->refill_ns);
    int64_t size = (int64_t)(b->size > INT64_MAX ? INT64_MAX : b->size);
    if ((__int128)tokens >= (__int128)size - b->budget) {
        b->budget = size;
        b->carry = 0;
    } else {
        b->budget += (int64_t)tokens;
    }
}

static bool bucket_reduce(struct tbucket *b, uint64_t tokens, uint64_t now_ns, bool force)
{
    if (!b->on)
        return true;
    if (b->burst) {
        if (b->burst >= tokens) {
            b->burst -= tokens;
            return true;
        }
        tokens -= b->burst;
        b->burst = 0;
    }
    bucket_refill(b, now_ns);
    int64_t t = (int64_t)(tokens > INT64_MAX / 2 ? INT64_MAX / 2 : tokens);
    /* Larger than the bucket: it could never fit, so it passes once the
     * bucket is out of debt, and the debt is paid back by waiting. */
    bool oversized = tokens > b->size && b->budget >= 0;
    if (force || oversized || t <= b->budget) {
        b->budget = b->budget - t < -INT64_MAX / 2 ? -INT64_MAX / 2 : b->budget - t;
        return true;
    }
    return false;
}

int ratelimit_open(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t now_ns)
{
    memset(rl, 0, sizeof(*rl));
    bucket_set(&rl->bw, &cfg->bandwidth, now_ns);
    bucket_set(&rl->ops, &cfg->ops, now_ns);
    rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    return rl->timer_fd < 0 ? -errno : 0;
}

void ratelimit_close(struct ratelimit *rl)
{
    if (rl->timer_fd >= 0)
        close(rl->timer_fd);
    rl->timer_fd = -1;
}

/* How long until b holds `tokens` (or, for more than its size, is out of
 * debt), from its last refill. */
static uint64_t bucket_wait_ns(const struct tbucket *b, uint64_t tokens)
{
    if (!b->on || b->burst >= tokens)
        return 0;
    tokens -= b->burst;
    int64_t need = tokens > b->size ? 0 : (int64_t)tokens;
    if (b->budget >= need)
        return 0;
    unsigned __int128 credit = (unsigned __int128)(need - b->budget) * b->refill_ns;
    if (credit <= b->carry)
        return 0;
    return (uint64_t)((credit - b->carry + b->size - 1) / b->size);
}

/* A refused request: retried when the buckets will hold it (at least
 * 1 ms on), so the guest gets the configured rate, not a fraction lost to
 * polling. */
static void block_for(struct ratelimit *rl, uint64_t ops, uint64_t bytes)
{
    rl->throttled++;
    if (rl->blocked)
        return;
    uint64_t a = bucket_wait_ns(&rl->ops, ops), b = bucket_wait_ns(&rl->bw, bytes);
    uint64_t ns = a > b ? a : b;
    if (ns < 1000000)
        ns = 1000000;
    struct itimerspec t = { .it_value = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) } };
    /* Without the timer nobody would retry: stay unblocked then (the
     * device polls on its next event instead of stalling forever). */
    rl->blocked = rl->timer_fd >= 0 && timerfd_settime(rl->timer_fd, 0, &t, NULL) == 0;
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns)
{
    if (rl->blocked)
        return false;
    /* Both or neither: a refused byte count gives the operation back. */
    struct tbucket ops = rl->ops;
    if (!bucket_reduce(&rl->ops, 1, now_ns, false)) {
        block_for(rl, 1, 0);
        return false;
    }
    if (!bucket_reduce(&rl->bw, bytes, now_ns, false)) {
        rl->ops = ops;
        block_for(rl, 1, bytes);
        return false;
    }
    return true;
}

void ratelimit_force(struct ratelimit *rl, uint64_t ops, uint64_t bytes, uint64_t now_ns)
{
    bucket_reduce(&rl->ops, ops, now_ns, true);
    bucket_reduce(&rl->bw, bytes, now_ns, true);
}

static bool bucket_has(struct tbucket *b, uint64_t now_ns)
{
    if (!b->on || b->burst)
        return true;
    bucket_refill(b, now_ns);
    return b->budget > 0;
}

bool ratelimit_ready(struct ratelimit *rl, uint64_t now_ns)
{
    if (rl->blocked)
        return false;
    if (bucket_has(&rl->ops, now_ns) && bucket_has(&rl->bw, now_ns))
        return true;
    block_for(rl, 1, 1);
    return false;
}

static void bucket_refund(struct tbucket *b, uint64_t tokens)
{
    if (!b->on)
        return;
    int64_t size = (int64_t)(b->size > INT64_MAX ? INT64_MAX : b->size);
    int64_t t = (int64_t)(tokens > INT64_MAX / 2 ? INT64_MAX / 2 : tokens);
    b->budget = b->budget > size - t ? size : b->budget + t;
}

void ratelimit_refund(struct ratelimit *rl, uint64_t ops, uint64_t bytes)
{
    bucket_refund(&rl->ops, ops);
    bucket_refund(&rl->bw, bytes);
}

void ratelimit_timer_fired(struct ratelimit *rl)
{
    uint64_t n;
    if (rl->timer_fd >= 0 && read(rl->timer_fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
        return; /* not expired yet (re-armed since) */
    rl->blocked = false;
}

static bool same_bucket(const struct tbucket_config *a, const struct tbucket_config *b)
{
    return a->size == b->size && a->refill_time == b->refill_time &&
           a->one_time_burst == b->one_time_burst;
}

void ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *old,
                      const struct ratelimit_config *cfg, uint64_t now_ns)
{
    if (!same_bucket(&old->bandwidth, &cfg->bandwidth))
        bucket_set(&rl->bw, &cfg->bandwidth, now_ns);
    if (!same_bucket(&old->ops, &cfg->ops))
        bucket_set(&rl->ops, &cfg->ops, now_ns);
    /* A request refused under the old limits may fit now. */
    if (rl->blocked && rl->timer_fd >= 0) {
        struct itimerspec t = { .it_value = { 0, 1 } };
        timerfd_settime(rl->timer_fd, 0, &t, NULL);
    }
}
