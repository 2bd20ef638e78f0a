/* Clock readings in nanoseconds, for timing everywhere in the project. */
#ifndef HEARTH_CLOCK_H
#define HEARTH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC: for durations and deadlines. */
static inline uint64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* CLOCK_REALTIME `ms` from now, as pthread_cond_timedwait wants it. */
static inline struct timespec realtime_in_ms(int64_t ms)
{
    uint64_t t = clock_ns(CLOCK_REALTIME) + (uint64_t)ms * 1000000ULL;
    struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL),
                           .tv_nsec = (long)(t % 1000000000ULL) };
    return ts;
}

#endif
