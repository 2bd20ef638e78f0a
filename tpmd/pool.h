/* The vTPM pool: ready vTPMs kept at an adaptive target, manufactured in
 * parallel, health-checked, handed out once and wiped when freed. */
#ifndef TPMD_POOL_H
#define TPMD_POOL_H

#include "ca.h"
#include "vtpm.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#define POOL_MAX_WORKERS 16
#define POOL_SAMPLES 1024

struct pool_opts {
    int min, max;         /* ready vTPMs to keep; max 0 disables the pool */
    int concurrency;      /* manufactures in parallel */
    int max_vtpms;        /* live vTPMs at most (from the memory budget) */
    double horizon_s;     /* keep enough for this many seconds of demand */
};

struct samples {
    double v[POOL_SAMPLES];
    int n, next;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pool_opts opts;
    struct vtpm_opts vopts;
    const struct ca *ca;
    struct vtpm *list;   /* ready and allocated */
    int ready, allocated, manufacturing, failed;
    struct samples alloc_ms, manufacture_ms;
    double rate;         /* allocations per second, decaying average */
    double rate_at;      /* when rate was last updated (s) */
    bool stopping;
    int nworkers;
    pthread_t workers[POOL_MAX_WORKERS];
    pthread_t health;
};

/* Recovers STATE/vtpms (allocated vTPMs stay allocated, their swtpm
 * restarted if it died; ready ones whose swtpm still runs are re-adopted,
 * the rest wiped), then starts the workers and the health thread. */
int pool_start(struct pool *p, const struct pool_opts *o, const struct vtpm_opts *vo,
               const struct ca *ca, char *err, size_t errlen);
void pool_stop(struct pool *p);

/* Hands out a ready vTPM, or manufactures one when none is ready.
 * Fills *out (a copy), *ondemand and *alloc_ms. -EAGAIN at the limits. */
int pool_allocate(struct pool *p, struct vtpm *out, double *alloc_ms, char *err, size_t errlen);

/* Stops an allocated vTPM's swtpm and wipes it. -ENOENT if unknown,
 * -EBUSY if it is not allocated (a ready one is never freed by clients). */
int pool_free(struct pool *p, const char *id);

json_t *pool_status_json(struct pool *p);
json_t *pool_list_json(struct pool *p);

#endif
