/* The vTPM pool: ready vTPMs kept at an adaptive target, manufactured in
 * parallel, health-checked, handed out once and wiped when freed. */
#ifndef TPMD_POOL_H
#define TPMD_POOL_H

#include "ca.h"
#include "instance.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#define POOL_MAX_WORKERS 16
#define POOL_SAMPLES 1024

struct pool_opts {
    int min, max;        /* ready vTPMs to keep; max 0 disables the pool */
    int concurrency;     /* manufactures in parallel */
    int max_vtpms;       /* live vTPMs at most (from the memory budget) */
    double horizon_s;    /* keep enough for this many seconds of demand */
    uid_t uid_base;      /* vTPM swtpms run as uid_base + slot; 0: all as root */
    int uid_count;       /* slots; at least max_vtpms + concurrency */
    int allocate_wait_s; /* an allocation waits this long for a ready vTPM or a
                          * manufacture slot before -EAGAIN */
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
    struct vtpm *list;       /* ready, allocated and failed */
    unsigned char *uid_used; /* uid_count slots */
    int ready, allocated, manufacturing, failed;
    struct samples alloc_ms, manufacture_ms;
    double rate;    /* allocations per second, decaying average */
    double rate_at; /* when rate was last updated (s) */
    bool stopping;
    int nworkers;
    pthread_t workers[POOL_MAX_WORKERS];
    pthread_t health;
};

/* Recovers STATE/vtpms (allocated vTPMs stay allocated, their swtpm
 * restarted if it died; failed ones stay failed; ready ones whose swtpm
 * still runs are re-adopted, the rest wiped with every process they
 * started), then starts the workers and the health thread (which replaces
 * dead ready vTPMs and marks allocated ones whose swtpm died as failed). */
int pool_start(struct pool *p, const struct pool_opts *o, const struct vtpm_opts *vo,
               const struct ca *ca, char *err, size_t errlen);
void pool_stop(struct pool *p);

/* Hands out a ready vTPM, or manufactures one when none is ready, with at
 * most opts.concurrency manufactures at once (pool and on-demand alike):
 * past that it waits for a ready vTPM or a slot, up to
 * opts.allocate_wait_s. Fills *out (a copy) and *alloc_ms. -EAGAIN at the
 * limits; a request counts as demand when it arrives, unless it is refused
 * at the live-vTPM limit. */
int pool_allocate(struct pool *p, struct vtpm *out, double *alloc_ms, char *err, size_t errlen);

/* Stops an allocated (or failed) vTPM's swtpm and wipes it. -ENOENT if
 * unknown, -EBUSY if it is ready (a ready one is never freed by clients). */
int pool_free(struct pool *p, const char *id);

/* One vTPM as JSON {id, state, ctrl_socket, pid, uid, source}; NULL if unknown. */
json_t *pool_get_json(struct pool *p, const char *id);

json_t *pool_status_json(struct pool *p);
json_t *pool_list_json(struct pool *p);

#endif
