/* Firecracker's REST API as a function of the request: method, path and
 * body in, status and JSON out. No HTTP and no VMM here: the server feeds
 * it and a table of VMM operations answers it, so the fuzzer can drive
 * request -> configuration through the same setters as the config file. */
#ifndef HEARTH_API_ROUTES_H
#define HEARTH_API_ROUTES_H

#include "config/config.h"
#include "vmm/lifecycle.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the routes' counters: the table in routes.c may hold up to
 * this many (checked when it compiles). */
#define API_ROUTES_MAX 32

/* When a route may run, by the VMM's state. */
enum api_when { API_ANY, API_PRE_BOOT, API_POST_BOOT, API_PAUSED };

struct api_router {
    const struct vmm_ops *ops;
    void *ctx;
    const char *instance_id;
    /* Requests per route, and those answered with an error: metrics. */
    uint64_t count[API_ROUTES_MAX], fails[API_ROUTES_MAX];
};

struct api_reply {
    unsigned code; /* 200, 204 or 400 */
    char *body;    /* malloc'd JSON; NULL for 204 (or out of memory) */
};

void api_router_init(struct api_router *r, const struct vmm_ops *ops, void *ctx,
                     const char *instance_id);

/* Answers one request. path is the request target as sent (absolute path,
 * may carry a query); body may hold any bytes. Errors are 400
 * {"fault_message": "..."}, with Firecracker's wording for routing and
 * state errors and "section.field: reason" for bad bodies. */
void api_route(struct api_router *r, const char *method, const char *path, const char *body,
               size_t body_len, struct api_reply *out);

/* Whether a route for `when` may run in `state`: NULL, or the fault to
 * answer (Firecracker's wording where it has one). */
const char *api_state_fault(enum api_when when, enum vmm_state state);

/* A 400 reply with this message (made printable ASCII). */
void api_fault(struct api_reply *out, const char *msg);

/* The request counters as Firecracker's metrics groups get_api_requests,
 * put_api_requests and patch_api_requests, added to `into`. */
void api_router_metrics(const struct api_router *r, json_t *into);

#endif
