/* Firecracker's REST API as a function of the request: method, path and
 * body in, status and JSON out. No HTTP and no VMM here: the server feeds
 * it and a table of VMM operations answers it, so the fuzzer can drive
 * request -> configuration through the same setters as the config file. */
#ifndef HEARTH_API_ROUTES_H
#define HEARTH_API_ROUTES_H

#include "config/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vmm_state { VMM_NOT_STARTED, VMM_RUNNING, VMM_PAUSED };

enum api_action {
    API_INSTANCE_START,
    API_SEND_CTRL_ALT_DEL,
    API_FLUSH_METRICS,
    API_PAUSE,
    API_RESUME,
};

/* What the routes need from the VMM. Each returns 0, or -1 with a message
 * for the client in err. */
struct api_vmm_ops {
    enum vmm_state (*state)(void *ctx);
    /* One section through config_set, applied; after the start only the
     * PATCHes of drives and network interfaces, applied to the running
     * devices. */
    int (*configure)(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                     size_t errlen);
    int (*action)(void *ctx, enum api_action a, char *err, size_t errlen);
    const struct vm_config *(*config)(void *ctx);
    /* GET /tpm: the section plus what only the running VM knows (its
     * measurements); NULL: the section alone. A new reference. */
    json_t *(*tpm)(void *ctx);
};

#define API_ROUTES 20

struct api_router {
    const struct api_vmm_ops *ops;
    void *ctx;
    const char *instance_id;
    /* Requests per route, and those answered with an error: metrics. */
    uint64_t count[API_ROUTES], fails[API_ROUTES];
};

struct api_reply {
    unsigned code;  /* 200, 204 or 400 */
    char *body;     /* malloc'd JSON; NULL for 204 (or out of memory) */
};

void api_router_init(struct api_router *r, const struct api_vmm_ops *ops, void *ctx,
                     const char *instance_id);

/* Answers one request. path is the request target as sent (absolute path,
 * may carry a query); body may hold any bytes. Errors are 400
 * {"fault_message": "..."}, with Firecracker's wording for routing and
 * state errors and "section.field: reason" for bad bodies. */
void api_route(struct api_router *r, const char *method, const char *path, const char *body,
               size_t body_len, struct api_reply *out);

/* A 400 reply with this message (made printable ASCII). */
void api_fault(struct api_reply *out, const char *msg);

/* The request counters as Firecracker's metrics groups get_api_requests,
 * put_api_requests and patch_api_requests, added to `into`. */
void api_router_metrics(const struct api_router *r, json_t *into);

#endif
