/* libFuzzer target: a REST API request (method, path, body) through the
 * routes and the configuration setters, as the API server hands it to the
 * VMM thread. Input: "METHOD\nPATH\nBODY"; actions change the fake VMM's
 * state, so post-boot rules are reached too. */
#include "api/routes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum vmm_state state;
static struct vm_config cfg;

static enum vmm_state f_state(void *ctx) { (void)ctx; return state; }
static const struct vm_config *f_config(void *ctx) { (void)ctx; return &cfg; }
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
static int f_action(void *ctx, enum api_action a, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    state = a == API_PAUSE ? VMM_PAUSED : a == API_FLUSH_METRICS ? state : VMM_RUNNING;
    return 0;
}
static const struct api_vmm_ops ops = { f_state, f_configure, f_action, f_config };

/* Splits at the next '\n' into a NUL-terminated copy. */
static char *take_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = 0;
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *method = take_line(&p, end), *path = take_line(&p, end);
    struct api_router r;
    config_init(&cfg);
    state = VMM_NOT_STARTED;
    api_router_init(&r, &ops, NULL, "fuzz");
    struct api_reply reply;
    /* The same request before and after a start, then a read-back. */
    for (int i = 0; i < 2; i++) {
        api_route(&r, method, path, (const char *)p, (size_t)(end - p), &reply);
        if (reply.code != 204 && !reply.body)
            abort(); /* every answer but 204 carries JSON */
        free(reply.body);
        state = VMM_RUNNING;
    }
    api_route(&r, "GET", "/vm/config", NULL, 0, &reply);
    free(reply.body);
    config_free(&cfg);
    free(method);
    free(path);
    return 0;
}
