/* The VMM the API fuzzers route to: the configuration through the real
 * setters, the state moved by actions, nothing started. Included once per
 * fuzz target (its definitions are static). */
#ifndef HEARTH_FUZZ_VMM_H
#define HEARTH_FUZZ_VMM_H

#include "api/routes.h"
#include "config/config.h"

static enum vmm_state state;
static struct vm_config cfg;

static enum vmm_state f_state(void *ctx)
{
    (void)ctx;
    return state;
}
static const struct vm_config *f_config(void *ctx)
{
    (void)ctx;
    return &cfg;
}
static int f_configure(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                       size_t errlen)
{
    (void)ctx;
    struct vm_config next;
    if (config_copy(&next, &cfg) < 0)
        return -1;
    if (config_set(&next, s, body, patch, err, errlen) < 0) {
        config_free(&next);
        return -1;
    }
    config_free(&cfg);
    cfg = next;
    return 0;
}
static int f_action(void *ctx, enum vmm_action a, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    state = a == VMM_PAUSE ? VMM_PAUSED : a == VMM_FLUSH_METRICS ? state : VMM_RUNNING;
    return 0;
}
static const struct vmm_ops ops = { f_state, f_configure, f_action, f_config, NULL };

#endif
