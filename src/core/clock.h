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
static inline uint64_t mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

#endif
