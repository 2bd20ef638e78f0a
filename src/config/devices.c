/* Device sections in Firecracker's schema: drives, network-interfaces,
 * vsock, entropy, and the rate limiters they carry. */
#include "config/devices.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool config_valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CONFIG_ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

/* A nested object's context: "drives.rate_limiter", ... */
struct jsub {
    struct jctx c;
    char path[96];
};

static struct jctx *sub(struct jsub *s, const struct jctx *c, const char *key)
{
    snprintf(s->path, sizeof(s->path), "%s%s%s", c->section ? c->section : "",
             c->section ? "." : "", key);
    s->c = (struct jctx){ c->err, c->errlen, s->path };
    return &s->c;
}

/* {"size", "refill_time", "one_time_burst"?}. Absent or null: disabled for
 * a PUT, kept for a PATCH. */
static int get_bucket(struct jctx *c, json_t *o, const char *key, struct tbucket_config *b,
                      bool patch)
{
    static const char *const allowed[] = { "size", "refill_time", "one_time_burst", NULL };
    static const char *const required[] = { "size", "refill_time", NULL };
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!patch)
            *b = (struct tbucket_config){ 0 };
        return 0;
    }
    if (!json_is_object(v))
        return jfail(c, key, "must be an object or null, got %s", jtype_name(v));
    struct jsub s;
    struct jctx *n = sub(&s, c, key);
    long long size = 0, refill = 0, burst = 0;
    if (jcheck_keys(n, v, allowed, required) || jget_int(n, v, "size", 0, LLONG_MAX, &size) ||
        jget_int(n, v, "refill_time", 0, LLONG_MAX / 1000000, &refill) ||
        (!json_is_null(json_object_get(v, "one_time_burst")) &&
         jget_int(n, v, "one_time_burst", 0, LLONG_MAX, &burst)))
        return -1;
    *b = (struct tbucket_config){ (uint64_t)size, (uint64_t)burst, (uint64_t)refill };
    return 0;
}

/* {"bandwidth"?, "ops"?}; null or absent: no limits (a PUT) or no change
 * (a PATCH). */
static int get_ratelimit(struct jctx *c, json_t *o, const char *key, struct ratelimit_config *rl,
                         bool patch)
{
    static const char *const allowed[] = { "bandwidth", "ops", NULL };
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!patch)
            memset(rl, 0, sizeof(*rl));
        return 0;
    }
    if (!json_is_object(v))
        return jfail(c, key, "must be an object or null, got %s", jtype_name(v));
    struct jsub s;
    struct jctx *n = sub(&s, c, key);
    return jcheck_keys(n, v, allowed, NULL) ||
                   get_bucket(n, v, "bandwidth", &rl->bandwidth, patch) ||
                   get_bucket(n, v, "ops", &rl->ops, patch)
               ? -1
               : 0;
}

/* One of `names` (*out gets its index); absent leaves *out. */
static int get_enum(struct jctx *c, json_t *o, const char *key, const char *const *names, int *out)
{
    char *v = NULL;
    if (jget_string(c, o, key, false, &v))
        return -1;
    if (!v)
        return 0;
    for (int i = 0; names[i]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            free(v);
            return 0;
        }
    }
    jfail(c, key, "must be \"%s\" or \"%s\", got \"%.32s\"", names[0], names[1], v);
    free(v);
    return -1;
}

static int get_id(struct jctx *c, json_t *o, const char *key, char **out)
{
    if (jget_string(c, o, key, false, out))
        return -1;
    if (!config_valid_id(*out))
        return jfail(c, key, "must be 1 to %d letters, digits or underscores, got \"%.80s\"",
                     CONFIG_ID_MAX, *out);
    return 0;
}

static const char *const cache_types[] = { "Unsafe", "Writeback", NULL };
static const char *const io_engines[] = { "Sync", "Async", NULL };

static void free_drive(struct drive_config *d)
{
    free(d->drive_id);
    free(d->path_on_host);
    free(d->partuuid);
    memset(d, 0, sizeof(*d));
}

static int drive_index(const struct vm_config *cfg, const char *id)
{
    for (int i = 0; i < cfg->ndrives; i++)
        if (strcmp(cfg->drives[i].drive_id, id) == 0)
            return i;
    return -1;
}

const struct drive_config *config_drive(const struct vm_config *cfg, const char *id)
{
    int i = drive_index(cfg, id);
    return i < 0 ? NULL : &cfg->drives[i];
}

static int patch_drive(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
    static const char *const required[] = { "drive_id", NULL };
    char *id = NULL;
    int r = -1;
    if (jcheck_keys(c, o, allowed, required) || jget_string(c, o, "drive_id", false, &id))
        goto out;
    int i = drive_index(cfg, id);
    if (i < 0) {
        jfail(c, "drive_id", "no drive \"%.80s\" to update", id);
        goto out;
    }
    struct drive_config *d = &cfg->drives[i];
    r = jget_nonempty(c, o, "path_on_host", false, &d->path_on_host) ||
                get_ratelimit(c, o, "rate_limiter", &d->rate_limiter, true)
            ? -1
            : 0;
out:
    free(id);
    return r;
}

int config_set_drive(struct jctx *c, json_t *o, struct vm_config *cfg, bool patch)
{
    static const char *const allowed[] = {
        "drive_id", "path_on_host", "is_root_device", "is_read_only", "cache_type",
        "partuuid", "rate_limiter", "io_engine",      "socket",       NULL
    };
    static const char *const required[] = { "drive_id", "is_root_device", "path_on_host", NULL };
    if (patch)
        return patch_drive(c, o, cfg);
    struct drive_config d = { 0 };
    int cache = CACHE_UNSAFE, engine = IO_ENGINE_SYNC;
    json_t *sock = json_object_get(o, "socket");
    if (jcheck_keys(c, o, allowed, NULL))
        goto bad;
    if (sock && !json_is_null(sock)) {
        jfail(c, "socket", "vhost-user drives are not supported");
        goto bad;
    }
    if (jcheck_keys(c, o, allowed, required) || get_id(c, o, "drive_id", &d.drive_id) ||
        jget_nonempty(c, o, "path_on_host", false, &d.path_on_host) ||
        jget_bool(c, o, "is_root_device", &d.is_root_device) ||
        jget_bool(c, o, "is_read_only", &d.is_read_only) ||
        get_enum(c, o, "cache_type", cache_types, &cache) ||
        get_enum(c, o, "io_engine", io_engines, &engine) ||
        jget_nonempty(c, o, "partuuid", true, &d.partuuid) ||
        get_ratelimit(c, o, "rate_limiter", &d.rate_limiter, false))
        goto bad;
    d.cache_type = (enum cache_type)cache;
    d.io_engine = (enum io_engine)engine;
    int i = drive_index(cfg, d.drive_id);
    for (int j = 0; j < cfg->ndrives; j++) {
        if (j != i && d.is_root_device && cfg->drives[j].is_root_device) {
            jfail(c, "is_root_device", "a root block device already exists (drive \"%s\")",
                  cfg->drives[j].drive_id);
            goto bad;
        }
    }
    if (i < 0 && cfg->ndrives == CONFIG_MAX_DRIVES) {
        jfail(c, NULL, "at most %d drives", CONFIG_MAX_DRIVES);
        goto bad;
    }
    if (i < 0)
        i = cfg->ndrives++;
    else
        free_drive(&cfg->drives[i]);
    /* The root drive goes first: Linux names it /dev/vda. */
    if (d.is_root_device && i > 0) {
        memmove(&cfg->drives[1], &cfg->drives[0], sizeof(d) * (size_t)i);
        i = 0;
    }
    cfg->drives[i] = d;
    return 0;
bad:
    free_drive(&d);
    return -1;
}

void config_root_args(const struct vm_config *cfg, char *out, size_t outlen)
{
    const struct drive_config *d = cfg->ndrives ? &cfg->drives[0] : NULL;
    if (!d || !d->is_root_device)
        snprintf(out, outlen, "%s", "");
    else if (d->partuuid)
        snprintf(out, outlen, "root=PARTUUID=%s %s", d->partuuid, d->is_read_only ? "ro" : "rw");
    else
        snprintf(out, outlen, "root=/dev/vda %s", d->is_read_only ? "ro" : "rw");
}

static void free_net(struct net_config *n)
{
    free(n->iface_id);
    free(n->host_dev_name);
    memset(n, 0, sizeof(*n));
}

static int net_index(const struct vm_config *cfg, const char *id)
{
    for (int i = 0; i < cfg->nnets; i++)
        if (strcmp(cfg->nets[i].iface_id, id) == 0)
            return i;
    return -1;
}

const struct net_config *config_net(const struct vm_config *cfg, const char *id)
{
    int i = net_index(cfg, id);
    return i < 0 ? NULL : &cfg->nets[i];
}

static int get_mac(struct jctx *c, json_t *o, struct net_config *n)
{
    char *s = NULL;
    if (jget_string(c, o, "guest_mac", true, &s))
        return -1;
    if (!s)
        return 0;
    unsigned b[6];
    char tail;
    int r = 0;
    if (strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) !=
            6 ||
        strspn(s, "0123456789abcdefABCDEF:") != 17) {
        r = jfail(c, "guest_mac", "must be six hex bytes like \"06:00:ac:10:00:02\", got \"%.32s\"",
                  s);
    } else {
        for (int i = 0; i < 6; i++)
            n->guest_mac[i] = (uint8_t)b[i];
        n->has_mac = true;
    }
    free(s);
    return r;
}

static int patch_net(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL };
    static const char *const required[] = { "iface_id", NULL };
    char *id = NULL;
    int r = -1;
    if (jcheck_keys(c, o, allowed, required) || jget_string(c, o, "iface_id", false, &id))
        goto out;
    int i = net_index(cfg, id);
    if (i < 0) {
        jfail(c, "iface_id", "no network interface \"%.80s\" to update", id);
        goto out;
    }
    struct net_config *n = &cfg->nets[i];
    r = get_ratelimit(c, o, "rx_rate_limiter", &n->rx_rate_limiter, true) ||
                get_ratelimit(c, o, "tx_rate_limiter", &n->tx_rate_limiter, true)
            ? -1
            : 0;
out:
    free(id);
    return r;
}

int config_set_net(struct jctx *c, json_t *o, struct vm_config *cfg, bool patch)
{
    static const char *const allowed[] = { "iface_id",        "host_dev_name",   "guest_mac", "mtu",
                                           "rx_rate_limiter", "tx_rate_limiter", NULL };
    static const char *const required[] = { "iface_id", "host_dev_name", NULL };
    if (patch)
        return patch_net(c, o, cfg);
    struct net_config n = { 0 };
    long long mtu = 0;
    if (jcheck_keys(c, o, allowed, required) || get_id(c, o, "iface_id", &n.iface_id) ||
        jget_nonempty(c, o, "host_dev_name", false, &n.host_dev_name) || get_mac(c, o, &n) ||
        (!json_is_null(json_object_get(o, "mtu")) && jget_int(c, o, "mtu", 68, 65535, &mtu)) ||
        get_ratelimit(c, o, "rx_rate_limiter", &n.rx_rate_limiter, false) ||
        get_ratelimit(c, o, "tx_rate_limiter", &n.tx_rate_limiter, false))
        goto bad;
    n.mtu = (int)mtu;
    if (strlen(n.host_dev_name) > CONFIG_IFNAME_MAX) {
        jfail(c, "host_dev_name", "must be at most %d characters", CONFIG_IFNAME_MAX);
        goto bad;
    }
    int i = net_index(cfg, n.iface_id);
    for (int j = 0; j < cfg->nnets; j++) {
        const struct net_config *o2 = &cfg->nets[j];
        if (j == i)
            continue;
        if (n.has_mac && o2->has_mac && memcmp(n.guest_mac, o2->guest_mac, 6) == 0) {
            jfail(c, "guest_mac", "already in use by network interface \"%s\"", o2->iface_id);
            goto bad;
        }
        if (strcmp(n.host_dev_name, o2->host_dev_name) == 0) {
            jfail(c, "host_dev_name", "already used by network interface \"%s\"", o2->iface_id);
            goto bad;
        }
    }
    if (i < 0 && cfg->nnets == CONFIG_MAX_NETS) {
        jfail(c, NULL, "at most %d network interfaces", CONFIG_MAX_NETS);
        goto bad;
    }
    if (i < 0)
        i = cfg->nnets++;
    else
        free_net(&cfg->nets[i]);
    cfg->nets[i] = n;
    return 0;
bad:
    free_net(&n);
    return -1;
}

int config_set_vsock(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "guest_cid", "uds_path", "vsock_id", NULL };
    static const char *const required[] = { "guest_cid", "uds_path", NULL };
    struct vsock_config *v = &cfg->vsock;
    long long cid = 0;
    char *id = NULL;
    free(v->uds_path);
    *v = (struct vsock_config){ 0 };
    int r = jcheck_keys(c, o, allowed, required) ||
            /* 0-2 are the hypervisor, local and host; -1 is "any" */
            jget_int(c, o, "guest_cid", 3, 0xfffffffeLL, &cid) ||
            jget_nonempty(c, o, "uds_path", false, &v->uds_path) ||
            jget_string(c, o, "vsock_id", true, &id);
    free(id); /* deprecated in Firecracker, and meaningless */
    if (r)
        return -1;
    if (strlen(v->uds_path) > CONFIG_UDS_PATH_MAX)
        return jfail(c, "uds_path", "must be at most %d bytes (a Unix socket path)",
                     CONFIG_UDS_PATH_MAX);
    v->guest_cid = (uint32_t)cid;
    v->on = true;
    return 0;
}

int config_set_entropy(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "rate_limiter", NULL };
    cfg->entropy = (struct entropy_config){ .on = true };
    return jcheck_keys(c, o, allowed, NULL) ||
                   get_ratelimit(c, o, "rate_limiter", &cfg->entropy.rate_limiter, false)
               ? -1
               : 0;
}

void config_free_devices(struct vm_config *cfg)
{
    for (int i = 0; i < cfg->ndrives; i++)
        free_drive(&cfg->drives[i]);
    for (int i = 0; i < cfg->nnets; i++)
        free_net(&cfg->nets[i]);
    free(cfg->vsock.uds_path);
    cfg->ndrives = cfg->nnets = 0;
    cfg->vsock = (struct vsock_config){ 0 };
}

/* Replaces *s by a copy; NULL when out of memory (so a failed copy never
 * holds the source's pointers). */
static int dup(char **s)
{
    char *c = *s ? strdup(*s) : NULL;
    int bad = *s && !c;
    *s = c;
    return bad;
}

int config_copy_devices(struct vm_config *dst, const struct vm_config *src)
{
    (void)src; /* dst holds src's pointers: replace each with a copy */
    int bad = 0;
    for (int i = 0; i < dst->ndrives; i++) {
        struct drive_config *d = &dst->drives[i];
        bad |= dup(&d->drive_id) | dup(&d->path_on_host) | dup(&d->partuuid);
    }
    for (int i = 0; i < dst->nnets; i++)
        bad |= dup(&dst->nets[i].iface_id) | dup(&dst->nets[i].host_dev_name);
    bad |= dup(&dst->vsock.uds_path);
    return bad ? -1 : 0;
}

static json_t *bucket_json(const struct tbucket_config *b)
{
    if (!tbucket_config_enabled(b))
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "size", json_integer((json_int_t)b->size));
    json_object_set_new(o, "one_time_burst",
                        b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
                                          : json_null());
    json_object_set_new(o, "refill_time", json_integer((json_int_t)b->refill_time));
    return o;
}

static json_t *ratelimit_json(const struct ratelimit_config *rl)
{
    if (!ratelimit_config_enabled(rl))
        return json_null();
    return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth), "ops",
                     bucket_json(&rl->ops));
}

void config_devices_to_json(const struct vm_config *cfg, json_t *o)
{
    json_t *drives = json_array();
    for (int i = 0; i < cfg->ndrives; i++) {
        const struct drive_config *d = &cfg->drives[i];
        json_array_append_new(drives, json_pack("{s:s, s:s?, s:b, s:s, s:b, s:s, s:o, s:s, s:n}",
                                                "drive_id", d->drive_id, "partuuid", d->partuuid,
                                                "is_root_device", d->is_root_device, "cache_type",
                                                cache_types[d->cache_type], "is_read_only",
                                                d->is_read_only, "path_on_host", d->path_on_host,
                                                "rate_limiter", ratelimit_json(&d->rate_limiter),
                                                "io_engine", io_engines[d->io_engine], "socket"));
    }
    json_object_set_new(o, "drives", drives);
    json_t *nets = json_array();
    for (int i = 0; i < cfg->nnets; i++) {
        const struct net_config *n = &cfg->nets[i];
        char mac[18];
        const uint8_t *b = n->guest_mac;
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                 b[5]);
        json_array_append_new(nets,
                              json_pack("{s:s, s:s, s:s?, s:o, s:o, s:o}", "iface_id", n->iface_id,
                                        "host_dev_name", n->host_dev_name, "guest_mac",
                                        n->has_mac ? mac : NULL, "mtu",
                                        n->mtu ? json_integer(n->mtu) : json_null(),
                                        "rx_rate_limiter", ratelimit_json(&n->rx_rate_limiter),
                                        "tx_rate_limiter", ratelimit_json(&n->tx_rate_limiter)));
    }
    json_object_set_new(o, "network-interfaces", nets);
    json_object_set_new(o, "vsock",
                        cfg->vsock.on
                            ? json_pack("{s:I, s:s}", "guest_cid", (json_int_t)cfg->vsock.guest_cid,
                                        "uds_path", cfg->vsock.uds_path)
                            : json_null());
    json_object_set_new(o, "entropy",
                        cfg->entropy.on ? json_pack("{s:o}", "rate_limiter",
                                                    ratelimit_json(&cfg->entropy.rate_limiter))
                                        : json_null());
}
