/* Pool bookkeeping, manufacture workers, health checks and recovery. */
#include "core/clock.h"
#include "pool.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) { return (double)mono_ns() / 1e9; }

static void sample_add(struct samples *s, double v)
{
    s->v[s->next] = v;
    s->next = (s->next + 1) % POOL_SAMPLES;
    if (s->n < POOL_SAMPLES)
        s->n++;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static json_t *percentiles(const struct samples *s)
{
    double v[POOL_SAMPLES];
    memcpy(v, s->v, sizeof(double) * (size_t)s->n);
    qsort(v, (size_t)s->n, sizeof(double), cmp);
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(s->n));
    static const struct {
        const char *k;
        double q;
    } qs[] = { { "p50", 50 }, { "p95", 95 }, { "p99", 99 } };
    for (size_t i = 0; i < 3; i++) {
        size_t rank = (size_t)ceil(qs[i].q / 100.0 * s->n);
        json_object_set_new(o, qs[i].k, s->n ? json_real(v[rank ? rank - 1 : 0]) : json_null());
    }
    return o;
}

/* The decayed allocation rate (10 s time constant). Lock held. */
static double rate_locked(struct pool *p)
{
    double now = now_s();
    p->rate *= exp(-(now - p->rate_at) / 10.0);
    p->rate_at = now;
    return p->rate;
}

/* How many ready vTPMs to keep: enough for the next horizon of demand at
 * the recent rate, within min/max and the live-vTPM limit. Lock held. */
static int target_locked(struct pool *p)
{
    if (p->opts.max == 0)
        return 0;
    int want = (int)ceil(rate_locked(p) * p->opts.horizon_s);
    if (want < p->opts.min)
        want = p->opts.min;
    if (want > p->opts.max)
        want = p->opts.max;
    int room = p->opts.max_vtpms - p->allocated;
    return want < room ? want : (room > 0 ? room : 0);
}

/* A uid no live vTPM has (0 when the pool runs swtpm as root). */
static bool uid_take_locked(struct pool *p, uid_t *uid)
{
    *uid = 0;
    if (!p->opts.uid_base)
        return true;
    for (int i = 0; i < p->opts.uid_count; i++)
        if (!p->uid_used[i]) {
            p->uid_used[i] = 1;
            *uid = p->opts.uid_base + (uid_t)i;
            return true;
        }
    return false;
}

/* Marks v's uid taken (recovery) or free (after its wipe). */
static void uid_mark_locked(struct pool *p, uid_t uid, bool used)
{
    if (p->opts.uid_base && uid >= p->opts.uid_base &&
        uid - p->opts.uid_base < (uid_t)p->opts.uid_count)
        p->uid_used[uid - p->opts.uid_base] = used;
}

/* Wipes v (off the list) and frees its uid, unless a process of that uid
 * survived. Called without the lock. */
static void wipe(struct pool *p, struct vtpm *v)
{
    bool gone = vtpm_wipe(v) == 0;
    pthread_mutex_lock(&p->lock);
    if (gone)
        uid_mark_locked(p, v->uid, false);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    free(v);
}

static void insert_locked(struct pool *p, struct vtpm *v)
{
    v->next = p->list;
    p->list = v;
    if (v->state == VTPM_READY)
        p->ready++;
    else
        p->allocated++;
}

static struct vtpm *unlink_locked(struct pool *p, struct vtpm *v)
{
    for (struct vtpm **pp = &p->list; *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            if (v->state == VTPM_READY)
                p->ready--;
            else
                p->allocated--;
            return v;
        }
    }
    return NULL;
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    /* Manufacture runs at nice 10: allocations must win the CPU. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && (p->ready + p->manufacturing >= target_locked(p) ||
                                p->manufacturing >= p->opts.concurrency))
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping)
            break;
        uid_t uid;
        if (!uid_take_locked(p, &uid)) {
            pthread_cond_wait(&p->cond, &p->lock); /* a wipe frees one */
            continue;
        }
        p->manufacturing++;
        pthread_mutex_unlock(&p->lock);
        struct vtpm *v = calloc(1, sizeof(*v));
        char err[256] = "out of memory";
        int r = v ? vtpm_create(&p->vopts, p->ca, uid, v, err, sizeof(err)) : -1;
        pthread_mutex_lock(&p->lock);
        p->manufacturing--;
        if (r == 0) {
            sample_add(&p->manufacture_ms, v->manufacture_ms);
            insert_locked(p, v);
        } else {
            p->failed++;
            uid_mark_locked(p, uid, false);
            free(v);
            fprintf(stderr, "hearth-tpmd: manufacture failed: %s\n", err);
            /* Do not spin on a persistent failure. */
            pthread_mutex_unlock(&p->lock);
            sleep(1);
            pthread_mutex_lock(&p->lock);
        }
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Every half second: ready vTPMs whose swtpm died are replaced; surplus
 * ready ones beyond the (decayed) target are wiped; allocated ones whose
 * swtpm died are marked failed (on disk too) and logged, for their owner
 * to see in GET /vtpms/{id} and free. */
static void *health(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec until = realtime_in_ms(500);
        pthread_cond_timedwait(&p->cond, &p->lock, &until);
        if (p->stopping)
            break;
        int target = target_locked(p);
        struct vtpm *v = p->list, *next;
        for (; v; v = next) {
            next = v->next;
            if (v->state == VTPM_ALLOCATED && !vtpm_alive(v)) {
                v->state = VTPM_FAILED;
                p->failed++;
                fprintf(stderr, "hearth-tpmd: vTPM %s: its swtpm (pid %d) died while allocated\n",
                        v->id, (int)v->pid);
                vtpm_save_status(v);
                continue;
            }
            if (v->state != VTPM_READY)
                continue;
            bool dead = !vtpm_alive(v);
            if (!dead && p->ready <= target)
                continue;
            unlink_locked(p, v);
            if (dead)
                p->failed++;
            pthread_mutex_unlock(&p->lock);
            wipe(p, v);
            pthread_mutex_lock(&p->lock);
            next = p->list; /* the list may have changed meanwhile */
            pthread_cond_broadcast(&p->cond);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void recover(struct pool *p)
{
    char base[700];
    snprintf(base, sizeof(base), "%s/vtpms", p->vopts.state_dir);
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) != 32)
            continue;
        struct vtpm *v = calloc(1, sizeof(*v));
        if (!v)
            break;
        char err[256];
        if (vtpm_load(p->vopts.state_dir, e->d_name, v) < 0) {
            if (vtpm_wipe(v) < 0) /* a manufacture the crash interrupted */
                uid_mark_locked(p, v->uid, true);
            free(v);
            continue;
        }
        uid_mark_locked(p, v->uid, true);
        if (v->state == VTPM_FAILED) {
            insert_locked(p, v); /* its owner has not freed it yet */
        } else if (v->state == VTPM_ALLOCATED) {
            /* Somebody holds it: keep it, and make sure its swtpm runs
             * (nothing left of the dead one's uid first). */
            if (!vtpm_alive(v)) {
                vtpm_kill(v);
                if (vtpm_start_swtpm(&p->vopts, v, err, sizeof(err)) == 0)
                    vtpm_save_status(v);
            }
            insert_locked(p, v);
        } else if (vtpm_alive(v)) {
            insert_locked(p, v); /* never handed out: safe to adopt */
        } else {
            if (vtpm_wipe(v) == 0)
                uid_mark_locked(p, v->uid, false);
            free(v);
        }
    }
    closedir(d);
}

int pool_start(struct pool *p, const struct pool_opts *o, const struct vtpm_opts *vo,
               const struct ca *ca, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->opts = *o;
    p->vopts = *vo;
    p->ca = ca;
    p->rate_at = now_s();
    if (o->uid_base && !(p->uid_used = calloc((size_t)o->uid_count, 1))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    recover(p);
    int n = o->concurrency < POOL_MAX_WORKERS ? o->concurrency : POOL_MAX_WORKERS;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->workers[i], NULL, worker, p)) {
            snprintf(err, errlen, "starting pool workers failed");
            return -1;
        }
        p->nworkers++;
    }
    if (pthread_create(&p->health, NULL, health, p)) {
        snprintf(err, errlen, "starting the health thread failed");
        return -1;
    }
    return 0;
}

void pool_stop(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i], NULL);
    pthread_join(p->health, NULL);
    /* Ready vTPMs keep running: the next start re-adopts them. */
    for (struct vtpm *v = p->list, *n; v; v = n) {
        n = v->next;
        free(v);
    }
    p->list = NULL;
    free(p->uid_used);
    p->uid_used = NULL;
}

/* Hands out pick (ready, on the list). Lock held on entry, released. */
static int hand_out_locked(struct pool *p, struct vtpm *pick, struct vtpm *out, double t0,
                           double *alloc_ms, char *err, size_t errlen)
{
    p->ready--;
    p->allocated++;
    pick->state = VTPM_ALLOCATED;
    pick->ondemand = false;
    *out = *pick;
    pthread_cond_broadcast(&p->cond); /* refill */
    pthread_mutex_unlock(&p->lock);
    /* Durable before the answer (a restart must not hand it out again),
     * but outside the lock: the write waits for the disk. */
    int r = vtpm_save_status(out);
    vtpm_set_serving(out);
    pthread_mutex_lock(&p->lock);
    *alloc_ms = (now_s() - t0) * 1000;
    sample_add(&p->alloc_ms, *alloc_ms);
    if (r < 0) /* nobody will learn its id: it goes */
        unlink_locked(p, pick);
    pthread_mutex_unlock(&p->lock);
    if (r < 0) {
        wipe(p, pick);
        snprintf(err, errlen, "recording the allocation failed");
        return -EIO;
    }
    return 0;
}

/* Manufactures a vTPM for the caller, allocated. Lock held on entry (a
 * manufacture slot and uid taken), released. */
static int manufacture_locked(struct pool *p, uid_t uid, struct vtpm *out, double t0,
                              double *alloc_ms, char *err, size_t errlen)
{
    p->manufacturing++;
    pthread_mutex_unlock(&p->lock);
    struct vtpm *v = calloc(1, sizeof(*v));
    int r = v ? vtpm_create(&p->vopts, p->ca, uid, v, err, errlen) : -ENOMEM;
    bool made = r == 0; /* vtpm_create wipes what it made when it fails */
    if (made) {
        v->state = VTPM_ALLOCATED;
        v->ondemand = true;
        if ((r = vtpm_save_status(v)) < 0)
            snprintf(err, errlen, "recording the allocation failed");
        vtpm_set_serving(v);
    }
    bool gone = !(r < 0 && made) || vtpm_wipe(v) == 0; /* before its uid is reused */
    pthread_mutex_lock(&p->lock);
    p->manufacturing--;
    if (r == 0) {
        insert_locked(p, v);
        sample_add(&p->manufacture_ms, v->manufacture_ms);
        *out = *v;
        *alloc_ms = (now_s() - t0) * 1000;
        sample_add(&p->alloc_ms, *alloc_ms);
    } else {
        p->failed++;
        if (gone)
            uid_mark_locked(p, uid, false);
        if (!v)
            snprintf(err, errlen, "out of memory");
        free(v);
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return r < 0 ? -EIO : 0;
}

int pool_allocate(struct pool *p, struct vtpm *out, double *alloc_ms, char *err, size_t errlen)
{
    double t0 = now_s();
    struct timespec until = realtime_in_ms((int64_t)p->opts.allocate_wait_s * 1000);
    pthread_mutex_lock(&p->lock);
    struct vtpm *pick;
    bool counted = false;
    for (;;) {
        pick = NULL;
        for (struct vtpm *v = p->list; v; v = v->next)
            if (v->state == VTPM_READY)
                pick = v; /* the oldest ready one ends the list */
        if (pick && !vtpm_alive(pick)) {
            unlink_locked(p, pick);
            p->failed++;
            pthread_mutex_unlock(&p->lock);
            wipe(p, pick);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->stopping)
            break;
        /* Nothing ready: manufacture on demand if the limits allow, else
         * wait for one under way. */
        if (!pick && p->allocated >= p->opts.max_vtpms) {
            pthread_mutex_unlock(&p->lock);
            snprintf(err, errlen, "at the limit of %d live vTPMs", p->opts.max_vtpms);
            return -EAGAIN;
        }
        if (!counted) { /* demand, counted when it arrives; refusals are not */
            rate_locked(p);
            p->rate += 1.0 / 10.0;
            counted = true;
        }
        if (pick)
            break;
        uid_t uid;
        if (p->allocated + p->manufacturing < p->opts.max_vtpms &&
            p->manufacturing < p->opts.concurrency && uid_take_locked(p, &uid))
            return manufacture_locked(p, uid, out, t0, alloc_ms, err, errlen);
        if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            snprintf(err, errlen, "none ready and %d manufactures under way for %d s",
                     p->opts.concurrency, p->opts.allocate_wait_s);
            return -EAGAIN;
        }
    }
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        snprintf(err, errlen, "shutting down");
        return -EAGAIN;
    }
    return hand_out_locked(p, pick, out, t0, alloc_ms, err, errlen);
}

int pool_free(struct pool *p, const char *id)
{
    pthread_mutex_lock(&p->lock);
    struct vtpm *v = p->list;
    while (v && strcmp(v->id, id) != 0)
        v = v->next;
    if (!v || v->state == VTPM_READY) {
        pthread_mutex_unlock(&p->lock);
        return v ? -EBUSY : -ENOENT;
    }
    unlink_locked(p, v);
    pthread_mutex_unlock(&p->lock);
    wipe(p, v);
    return 0;
}

static json_t *vtpm_json(const struct vtpm *v)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "id", v->id, "state",
                     vtpm_state_name(v->state), "ctrl_socket", v->sock, "pid", (int)v->pid, "uid",
                     (int)v->uid, "source", v->ondemand ? "ondemand" : "pool");
}

json_t *pool_get_json(struct pool *p, const char *id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&p->lock);
    for (struct vtpm *v = p->list; v && !o; v = v->next)
        if (strcmp(v->id, id) == 0)
            o = vtpm_json(v);
    pthread_mutex_unlock(&p->lock);
    return o;
}

json_t *pool_status_json(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f}", "ready", p->ready,
                          "manufacturing", p->manufacturing, "in_use", p->allocated, "failed",
                          p->failed, "target", target_locked(p), "min", p->opts.min, "max",
                          p->opts.max, "allocation_rate_per_s", rate_locked(p));
    json_object_set_new(o, "allocate_ms", percentiles(&p->alloc_ms));
    json_object_set_new(o, "manufacture_ms", percentiles(&p->manufacture_ms));
    pthread_mutex_unlock(&p->lock);
    return o;
}

json_t *pool_list_json(struct pool *p)
{
    json_t *a = json_array();
    pthread_mutex_lock(&p->lock);
    for (struct vtpm *v = p->list; v; v = v->next)
        json_array_append_new(a, vtpm_json(v));
    pthread_mutex_unlock(&p->lock);
    return a;
}
