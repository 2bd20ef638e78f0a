/* Firecracker's I/O rate limiter: two token buckets, bytes and operations.
 * A bucket of `size` tokens refills completely in `refill_time` ms (lazily,
 * when it is used), starts full, and spends its `one_time_burst` first,
 * which never refills. A request larger than the bucket passes when the
 * bucket is not in debt and drives it negative; one that does not fit
 * fails, and the device retries when the limiter's timer fires: when the
 * buckets will hold it (Firecracker polls every 100 ms; waiting exactly
 * loses no tokens to a bucket that filled up meanwhile). */
#ifndef HEARTH_RATELIMIT_H
#define HEARTH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* A bucket with size 0 or refill_time 0 is disabled (no limit). */
struct tbucket_config {
    uint64_t size;
    uint64_t one_time_burst;
    uint64_t refill_time; /* ms */
};

struct ratelimit_config {
    struct tbucket_config bandwidth, ops;
};

struct tbucket {
    bool on;
    uint64_t size, refill_ns;
    uint64_t burst; /* one-time burst left */
    int64_t budget; /* negative: in debt after an oversized request */
    uint64_t last_ns;
    uint64_t carry; /* refill credit below one token, in token * ns / refill_ns units */
};

struct ratelimit {
    struct tbucket bw, ops;
    int timer_fd;       /* timerfd, armed while blocked; -1 until ratelimit_open */
    bool blocked;       /* a request was refused: wait for the timer */
    uint64_t throttled; /* refusals, for metrics */
};

bool tbucket_config_enabled(const struct tbucket_config *c);
bool ratelimit_config_enabled(const struct ratelimit_config *c);

/* Sets the buckets from cfg (full), and creates the retry timer.
 * 0 or -errno. */
int ratelimit_open(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t now_ns);
void ratelimit_close(struct ratelimit *rl);

/* One operation of `bytes`: true and consumed, or false (nothing consumed,
 * the limiter blocked and its timer armed). Always false while blocked. */
bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns);

/* For an operation whose size is known only once done (a received frame):
 * true when one may start now (neither bucket empty or in debt), else
 * false with the limiter blocked. Consumes nothing: ratelimit_force after. */
bool ratelimit_ready(struct ratelimit *rl, uint64_t now_ns);

/* Consumes without asking (what was already moved): may drive buckets
 * into debt. */
void ratelimit_force(struct ratelimit *rl, uint64_t ops, uint64_t bytes, uint64_t now_ns);

/* Gives back what a consumed operation did not use after all (never above
 * a bucket's size). */
void ratelimit_refund(struct ratelimit *rl, uint64_t ops, uint64_t bytes);

/* The timer fired (its fd was readable): unblocks. */
void ratelimit_timer_fired(struct ratelimit *rl);

/* A PATCH: buckets whose configuration changed from `old` to `cfg` start
 * over (full) or are disabled; unchanged ones keep their state. */
void ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *old,
                      const struct ratelimit_config *cfg, uint64_t now_ns);

#endif
