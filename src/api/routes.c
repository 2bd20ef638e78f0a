/* Firecracker's REST API routes over the VMM's operations. */
#include "api/routes.h"

#include "config/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HEARTH_VERSION
#define HEARTH_VERSION "0.0.0"
#endif

#define API_FAULT_MAX 512

static const char NOT_BEFORE[] =
    "The requested operation is not supported before starting the microVM.";
static const char NOT_AFTER[] =
    "The requested operation is not supported after starting the microVM.";

static const char ONLY_PAUSED[] =
    "The requested operation is only supported while the microVM is paused.";

struct route;
typedef void handler_fn(struct api_router *r, const struct route *rt, json_t *body, char *err,
                        struct api_reply *out);

struct route {
    const char *method, *path;
    enum api_when when;
    const char *group, *metric; /* metrics: "<group>": {"<metric>_count", ...}; NULL: none */
    handler_fn *handle;
    int section; /* for configure */
    bool patch;
    const char *id_key; /* "path/{id}" routes: the body's key that must match the id */
};

static void reply_json(struct api_reply *out, unsigned code, json_t *o)
{
    out->code = code;
    out->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    json_decref(o);
}

void api_fault(struct api_reply *out, const char *msg)
{
    /* Client bytes can reach the message (keys, JSON parser excerpts):
     * printable ASCII keeps it valid UTF-8 whatever they were. */
    char clean[API_FAULT_MAX];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < sizeof(clean); p++) {
        if (*p >= 0x20 && *p < 0x7f)
            clean[n++] = (char)*p;
        else
            n += (size_t)snprintf(clean + n, sizeof(clean) - n, "\\x%02x", *p);
    }
    clean[n] = 0;
    reply_json(out, 400, json_pack("{s:s}", "fault_message", clean));
}

static void no_content(struct api_reply *out)
{
    out->code = 204;
    out->body = NULL;
}

static const char *state_name(enum vmm_state s)
{
    return s == VMM_RUNNING ? "Running" : s == VMM_PAUSED ? "Paused" : "Not started";
}

static void get_instance(struct api_router *r, const struct route *rt, json_t *body, char *err,
                         struct api_reply *out)
{
    (void)rt, (void)body, (void)err;
    reply_json(out, 200,
               json_pack("{s:s, s:s, s:s, s:s}", "id", r->instance_id, "state",
                         state_name(r->ops->state(r->ctx)), "vmm_version", HEARTH_VERSION,
                         "app_name", "hearth"));
}

static void get_version(struct api_router *r, const struct route *rt, json_t *body, char *err,
                        struct api_reply *out)
{
    (void)r, (void)rt, (void)body, (void)err;
    reply_json(out, 200, json_pack("{s:s}", "firecracker_version", HEARTH_VERSION));
}

static void get_machine(struct api_router *r, const struct route *rt, json_t *body, char *err,
                        struct api_reply *out)
{
    (void)rt, (void)body, (void)err;
    reply_json(out, 200, config_machine_to_json(r->ops->config(r->ctx)));
}

static void get_vm_config(struct api_router *r, const struct route *rt, json_t *body, char *err,
                          struct api_reply *out)
{
    (void)rt, (void)body, (void)err;
    reply_json(out, 200, config_to_json(r->ops->config(r->ctx)));
}

static void get_tpm(struct api_router *r, const struct route *rt, json_t *body, char *err,
                    struct api_reply *out)
{
    (void)rt, (void)body, (void)err;
    if (r->ops->tpm) {
        reply_json(out, 200, r->ops->tpm(r->ctx));
        return;
    }
    json_t *all = config_to_json(r->ops->config(r->ctx));
    json_t *tpm = json_incref(json_object_get(all, "tpm"));
    json_decref(all);
    reply_json(out, 200, tpm);
}

static void put_section(struct api_router *r, const struct route *rt, json_t *body, char *err,
                        struct api_reply *out)
{
    if (r->ops->configure(r->ctx, (enum config_section)rt->section, body, rt->patch, err,
                          API_FAULT_MAX) < 0)
        api_fault(out, err);
    else
        no_content(out);
}

/* Runs an action whose state rule rt->when does not cover. */
static void run_action(struct api_router *r, enum vmm_action a, bool pre_boot, char *err,
                       struct api_reply *out)
{
    bool started = r->ops->state(r->ctx) != VMM_NOT_STARTED;
    if (started == pre_boot)
        api_fault(out, pre_boot ? NOT_AFTER : NOT_BEFORE);
    else if (r->ops->action(r->ctx, a, err, API_FAULT_MAX) < 0)
        api_fault(out, err);
    else
        no_content(out);
}

const char *api_state_fault(enum api_when when, enum vmm_state state)
{
    switch (when) {
    case API_ANY: return NULL;
    case API_PRE_BOOT: return state == VMM_NOT_STARTED ? NULL : NOT_AFTER;
    case API_POST_BOOT: return state != VMM_NOT_STARTED ? NULL : NOT_BEFORE;
    case API_PAUSED:
        return state == VMM_PAUSED ? NULL : state == VMM_NOT_STARTED ? NOT_BEFORE : ONLY_PAUSED;
    }
    return NOT_BEFORE;
}

/* body must be {key: one of names}; *out gets the index. */
static int enum_field(struct jctx *c, json_t *body, const char *key, const char *const *names,
                      int *out)
{
    const char *const keys[] = { key, NULL };
    char *v = NULL, list[128] = "";
    if (jcheck_keys(c, body, keys, keys) || jget_string(c, body, key, false, &v))
        return -1;
    for (int i = 0; names[i]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            free(v);
            return 0;
        }
        size_t n = strlen(list);
        snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "", names[i]);
    }
    jfail(c, key, "must be one of %s, got \"%.64s\"", list, v);
    free(v);
    return -1;
}

static void put_actions(struct api_router *r, const struct route *rt, json_t *body, char *err,
                        struct api_reply *out)
{
    (void)rt;
    static const char *const names[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics", NULL };
    static const enum vmm_action actions[] = { VMM_INSTANCE_START, VMM_SEND_CTRL_ALT_DEL,
                                               VMM_FLUSH_METRICS };
    struct jctx c = { err, API_FAULT_MAX, "actions" };
    int i;
    if (enum_field(&c, body, "action_type", names, &i) < 0)
        api_fault(out, err);
    else
        run_action(r, actions[i], actions[i] == VMM_INSTANCE_START, err, out);
}

static void patch_vm(struct api_router *r, const struct route *rt, json_t *body, char *err,
                     struct api_reply *out)
{
    (void)rt;
    static const char *const names[] = { "Paused", "Resumed", NULL };
    struct jctx c = { err, API_FAULT_MAX, "vm" };
    int i;
    if (enum_field(&c, body, "state", names, &i) < 0)
        api_fault(out, err);
    else
        run_action(r, i == 0 ? VMM_PAUSE : VMM_RESUME, false, err, out);
}

static const struct route routes[] = {
    { "GET", "", API_ANY, "get_api_requests", "instance_info", get_instance, 0, false, NULL },
    { "GET", "version", API_ANY, "get_api_requests", "vmm_version", get_version, 0, false, NULL },
    { "GET", "machine-config", API_ANY, "get_api_requests", "machine_cfg", get_machine, 0, false,
      NULL },
    { "GET", "vm/config", API_ANY, "get_api_requests", "vm_config", get_vm_config, 0, false, NULL },
    { "GET", "tpm", API_ANY, "get_api_requests", "tpm", get_tpm, 0, false, NULL },
    { "PUT", "actions", API_ANY, "put_api_requests", "actions", put_actions, 0, false, NULL },
    { "PUT", "boot-source", API_PRE_BOOT, "put_api_requests", "boot_source", put_section,
      CONFIG_BOOT_SOURCE, false, NULL },
    { "PUT", "machine-config", API_PRE_BOOT, "put_api_requests", "machine_cfg", put_section,
      CONFIG_MACHINE, false, NULL },
    { "PATCH", "machine-config", API_PRE_BOOT, "patch_api_requests", "machine_cfg", put_section,
      CONFIG_MACHINE, true, NULL },
    { "PUT", "logger", API_PRE_BOOT, "put_api_requests", "logger", put_section, CONFIG_LOGGER,
      false, NULL },
    { "PUT", "metrics", API_PRE_BOOT, "put_api_requests", "metrics", put_section, CONFIG_METRICS,
      false, NULL },
    { "PUT", "serial", API_PRE_BOOT, "put_api_requests", "serial", put_section, CONFIG_SERIAL,
      false, NULL },
    { "PUT", "tpm", API_PRE_BOOT, "put_api_requests", "tpm", put_section, CONFIG_TPM, false, NULL },
    { "PATCH", "vm", API_POST_BOOT, "patch_api_requests", "vm", patch_vm, 0, false, NULL },
    /* Devices: configured before the start; a running VM's drives and
     * interfaces take PATCHes (new backing file, rate limiters). */
    { "PUT", "drives", API_PRE_BOOT, "put_api_requests", "drive", put_section, CONFIG_DRIVES, false,
      "drive_id" },
    { "PATCH", "drives", API_POST_BOOT, "patch_api_requests", "drive", put_section, CONFIG_DRIVES,
      true, "drive_id" },
    { "PUT", "network-interfaces", API_PRE_BOOT, "put_api_requests", "network", put_section,
      CONFIG_NETS, false, "iface_id" },
    { "PATCH", "network-interfaces", API_POST_BOOT, "patch_api_requests", "network", put_section,
      CONFIG_NETS, true, "iface_id" },
    { "PUT", "vsock", API_PRE_BOOT, "put_api_requests", "vsock", put_section, CONFIG_VSOCK, false,
      NULL },
    /* Firecracker counts no metric for /entropy. */
    { "PUT", "entropy", API_PRE_BOOT, NULL, NULL, put_section, CONFIG_ENTROPY, false, NULL },
};

#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))
_Static_assert(NROUTES <= API_ROUTES_MAX, "api_router's counters: raise API_ROUTES_MAX");

void api_router_init(struct api_router *r, const struct vmm_ops *ops, void *ctx,
                     const char *instance_id)
{
    memset(r, 0, sizeof(*r));
    r->ops = ops;
    r->ctx = ctx;
    r->instance_id = instance_id;
}

/* The route path of a request target: no leading or trailing '/', no
 * query (for drives and network interfaces, "drives/{id}"). Returns false
 * for a path too long to be any route. */
static bool route_path(const char *target, char *out, size_t outlen)
{
    if (strncmp(target, "http://", 7) == 0) /* absolute-form: skip the authority */
        target = strchrnul(target + 7, '/');
    while (*target == '/')
        target++;
    size_t n = strcspn(target, "?#");
    while (n && target[n - 1] == '/')
        n--;
    if (n >= outlen)
        return false;
    memcpy(out, target, n);
    out[n] = 0;
    return true;
}

static const struct route *find(const char *method, const char *path)
{
    for (int i = 0; i < NROUTES; i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);
        if (strcmp(rt->method, method) == 0 && strncmp(rt->path, path, n) == 0 &&
            (path[n] == 0 || (rt->id_key && path[n] == '/')))
            return rt;
    }
    return NULL;
}

/* Firecracker's id rules for "drives/{id}" and "network-interfaces/{id}",
 * checked before the body: the id is the second path segment. Returns
 * false with the fault in out. */
static bool check_path_id(const struct route *rt, const char *path, char *id, size_t idlen,
                          struct api_reply *out)
{
    const char *p = path + strlen(rt->path);
    p += *p == '/';
    size_t n = strcspn(p, "/");
    if (n == 0) {
        api_fault(out, "The ID cannot be empty.");
        return false;
    }
    snprintf(id, idlen, "%.*s", (int)n, p);
    if (n >= idlen || !config_valid_id(id)) {
        api_fault(out, "API Resource IDs can only contain alphanumeric characters and "
                       "underscores.");
        return false;
    }
    return true;
}

/* The body's id must be the path's (a missing one the setter reports). */
static bool check_body_id(const struct route *rt, json_t *body, const char *id, char *err,
                          struct api_reply *out)
{
    json_t *v = json_object_get(body, rt->id_key);
    if (!json_is_string(v) || strcmp(json_string_value(v), id) == 0)
        return true;
    if (rt->section == CONFIG_NETS)
        snprintf(err, API_FAULT_MAX,
                 "The id from the path [%s] does not match the id from the body [%.80s]!", id,
                 json_string_value(v));
    else
        snprintf(err, API_FAULT_MAX, "The id from the path does not match the id from the body!");
    api_fault(out, err);
    return false;
}

void api_route(struct api_router *r, const char *method, const char *target, const char *body,
               size_t body_len, struct api_reply *out)
{
    char err[API_FAULT_MAX], path[128];
    memset(out, 0, sizeof(*out));
    bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0,
         patch = strcmp(method, "PATCH") == 0;
    const struct route *rt = route_path(target, path, sizeof(path)) ? find(method, path) : NULL;
    if (get && body_len) {
        api_fault(out, "GET request cannot have a body.");
    } else if ((put || patch) && !body_len) {
        api_fault(out, put ? "Empty PUT request." : "Empty PATCH request.");
    } else if (!rt) {
        /* Firecracker names the method and the path's first segment. */
        char seg[64] = "";
        const char *p = target + strspn(target, "/");
        snprintf(seg, sizeof(seg), "%.*s", (int)strcspn(p, "/?"), p);
        snprintf(err, sizeof(err), "Invalid request method and/or path: %.16s %s.", method, seg);
        api_fault(out, err);
    } else {
        int idx = (int)(rt - routes);
        r->count[idx]++;
        json_t *json = NULL;
        json_error_t jerr;
        const char *fault;
        char id[CONFIG_ID_MAX + 2];
        if (rt->id_key && !check_path_id(rt, path, id, sizeof(id), out)) {
            /* answered */
        } else if (body_len &&
                   !(json = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr))) {
            snprintf(err, sizeof(err),
                     "An error occurred when deserializing the json body of a request: %s at "
                     "line %d column %d.",
                     jerr.text, jerr.line, jerr.column);
            api_fault(out, err);
        } else if (json && !json_is_object(json)) {
            snprintf(err, sizeof(err), "%s: must be an object, got %s", rt->path, jtype_name(json));
            api_fault(out, err);
        } else if (patch && json_object_size(json) == 0) {
            api_fault(out, "Empty PATCH request.");
        } else if (rt->id_key && !check_body_id(rt, json, id, err, out)) {
            /* answered */
        } else if ((fault = api_state_fault(rt->when, r->ops->state(r->ctx)))) {
            api_fault(out, fault);
        } else {
            rt->handle(r, rt, json, err, out);
        }
        json_decref(json);
        if (out->code >= 400)
            r->fails[idx]++;
    }
}

void api_router_metrics(const struct api_router *r, json_t *into)
{
    char key[64];
    for (int i = 0; i < NROUTES; i++) {
        const struct route *rt = &routes[i];
        if (!rt->group)
            continue;
        json_t *g = json_object_get(into, rt->group);
        if (!g)
            json_object_set_new(into, rt->group, g = json_object());
        snprintf(key, sizeof(key), "%s_count", rt->metric);
        json_object_set_new(g, key, json_integer((json_int_t)r->count[i]));
        if (strcmp(rt->method, "GET") != 0) {
            snprintf(key, sizeof(key), "%s_fails", rt->metric);
            json_object_set_new(g, key, json_integer((json_int_t)r->fails[i]));
        }
    }
}
