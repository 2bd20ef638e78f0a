/* The configured virtio devices: attach, live updates, metrics. */
#include "devices/vdevs.h"

#include "virtio/rng.h"

#include <stdio.h>
#include <string.h>

int vdevs_attach(struct vdevs *v, const struct vm_config *cfg, struct devmgr *dm, char *err,
                 size_t errlen)
{
    memset(v, 0, sizeof(*v));
    if (cfg->entropy.on && virtio_rng_attach(&cfg->entropy, dm, &v->rng, err, errlen) < 0)
        return -1;
    return 0;
}

void vdevs_clear(struct vdevs *v)
{
    memset(v, 0, sizeof(*v));
}

int vdevs_update(struct vdevs *v, enum config_section s, const struct vm_config *old,
                 const struct vm_config *next, char *err, size_t errlen)
{
    (void)v, (void)old, (void)next;
    snprintf(err, errlen, "%s: cannot change after the microVM started", config_section_key(s));
    return -1;
}

static json_t *counters(const char *const *names, const uint64_t *values, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, names[i], json_integer((json_int_t)values[i]));
    return o;
}

void vdevs_metrics(struct vdevs *v, json_t *o)
{
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
