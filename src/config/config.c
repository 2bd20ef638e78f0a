/* Firecracker-schema JSON config: strict parsing with key-path errors. */
#include "config/config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    char *err;
    size_t errlen;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* Every key of `obj` must be in `allowed`; required ones must be present. */
static int check_keys(struct ctx *c, const char *path, json_t *obj, const char *const *allowed,
                      const char *const *required)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return fail(c, path, "unknown key \"%s\"", key);
    }
    for (const char *const *r = required; r && *r; r++) {
        if (!json_object_get(obj, *r)) {
            char p[128];
            if (strcmp(path, "(root)") == 0)
                snprintf(p, sizeof(p), "%s", *r);
            else
                snprintf(p, sizeof(p), "%s.%s", path, *r);
            return fail(c, p, "missing required field");
        }
    }
    return 0;
}

static int get_string(struct ctx *c, const char *path, json_t *obj, const char *key,
                      bool nullable, char **out)
{
    json_t *v = json_object_get(obj, key);
    char p[128];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    if (!v || (nullable && json_is_null(v)))
        return 0;
    if (!json_is_string(v))
        return fail(c, p, "must be a string, got %s", type_name(v));
    *out = strdup(json_string_value(v));
    return *out ? 0 : fail(c, p, "out of memory");
}

static int get_int(struct ctx *c, const char *path, json_t *obj, const char *key, long long min,
                   long long max, long long *out)
{
    json_t *v = json_object_get(obj, key);
    char p[128];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return fail(c, p, "must be an integer, got %s", type_name(v));
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return fail(c, p, "must be between %lld and %lld, got %lld", min, max, x);
    *out = x;
    return 0;
}

static int get_bool(struct ctx *c, const char *path, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    char p[128];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(c, p, "must be a boolean, got %s", type_name(v));
    *out = json_is_true(v);
    return 0;
}

static int want_object(struct ctx *c, const char *path, json_t *v)
{
    return json_is_object(v) ? 0 : fail(c, path, "must be an object, got %s", type_name(v));
}

static int parse_boot_source(struct ctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };
    static const char *const required[] = { "kernel_image_path", NULL };
    const char *p = "boot-source";
    if (want_object(c, p, o) || check_keys(c, p, o, allowed, required) ||
        get_string(c, p, o, "kernel_image_path", false, &cfg->kernel_image_path) ||
        get_string(c, p, o, "boot_args", true, &cfg->boot_args) ||
        get_string(c, p, o, "initrd_path", true, &cfg->initrd_path))
        return -1;
    if (!*cfg->kernel_image_path)
        return fail(c, "boot-source.kernel_image_path", "must not be empty");
    return 0;
}

static int parse_machine_config(struct ctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "vcpu_count", "mem_size_mib", "smt", "huge_pages",
                                           "track_dirty_pages", "cpu_template", NULL };
    static const char *const required[] = { "vcpu_count", "mem_size_mib", NULL };
    const char *p = "machine-config";
    long long vcpus = 1, mem = 128;
    bool dirty = false;
    char *huge = NULL, *tmpl = NULL;
    if (want_object(c, p, o) || check_keys(c, p, o, allowed, required) ||
        get_int(c, p, o, "vcpu_count", 1, HEARTH_MAX_VCPUS, &vcpus) ||
        get_int(c, p, o, "mem_size_mib", 1, CONFIG_MAX_MEM_MIB, &mem) ||
        get_bool(c, p, o, "smt", &cfg->smt) ||
        get_bool(c, p, o, "track_dirty_pages", &dirty) ||
        get_string(c, p, o, "huge_pages", false, &huge) ||
        get_string(c, p, o, "cpu_template", true, &tmpl))
        goto bad;
    cfg->vcpu_count = (int)vcpus;
    cfg->mem_size_mib = (uint64_t)mem;
    if (cfg->smt && vcpus > 1 && vcpus % 2) {
        fail(c, "machine-config.vcpu_count", "must be 1 or even when smt is enabled, got %lld",
             vcpus);
        goto bad;
    }
    if (huge && strcmp(huge, "None") != 0 && strcmp(huge, "2M") != 0) {
        fail(c, "machine-config.huge_pages", "must be \"None\" or \"2M\", got \"%s\"", huge);
        goto bad;
    }
    cfg->huge_pages = huge && strcmp(huge, "2M") == 0;
    if (cfg->huge_pages && mem % 2) {
        fail(c, "machine-config.mem_size_mib", "must be a multiple of 2 with 2M huge pages");
        goto bad;
    }
    if (dirty) {
        fail(c, "machine-config.track_dirty_pages", "dirty page tracking is not supported yet");
        goto bad;
    }
    if (tmpl && strcmp(tmpl, "None") != 0) {
        fail(c, "machine-config.cpu_template", "CPU templates are not supported yet");
        goto bad;
    }
    free(huge);
    free(tmpl);
    return 0;
bad:
    free(huge);
    free(tmpl);
    return -1;
}

static int parse_logger(struct ctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "log_path", "level", NULL };
    char *level = NULL;
    if (want_object(c, "logger", o) || check_keys(c, "logger", o, allowed, NULL) ||
        get_string(c, "logger", o, "log_path", true, &cfg->log_path) ||
        get_string(c, "logger", o, "level", false, &level))
        return -1;
    if (level) {
        cfg->has_log_level = log_parse_level(level, &cfg->log_level);
        if (!cfg->has_log_level)
            fail(c, "logger.level",
                 "must be one of Off, Error, Warning, Info, Debug, Trace; got \"%s\"", level);
        free(level);
        return cfg->has_log_level ? 0 : -1;
    }
    return 0;
}

static int parse_serial(struct ctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "serial_out_path", NULL };
    if (want_object(c, "serial", o) || check_keys(c, "serial", o, allowed, NULL) ||
        get_string(c, "serial", o, "serial_out_path", true, &cfg->serial_out_path))
        return -1;
    return 0;
}

static int parse_tpm(struct ctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "socket", "model", "timeout_ms", NULL };
    static const char *const required[] = { "socket", NULL };
    char *model = NULL;
    long long timeout = CONFIG_DEFAULT_TPM_TIMEOUT_MS;
    if (want_object(c, "tpm", o) || check_keys(c, "tpm", o, allowed, required) ||
        get_string(c, "tpm", o, "socket", false, &cfg->tpm_socket) ||
        get_string(c, "tpm", o, "model", false, &model) ||
        get_int(c, "tpm", o, "timeout_ms", 10, 600000, &timeout))
        goto bad;
    if (!*cfg->tpm_socket) {
        fail(c, "tpm.socket", "must not be empty");
        goto bad;
    }
    cfg->tpm_timeout_ms = (int)timeout;
    if (!model || strcmp(model, "crb") == 0)
        cfg->tpm_model = TPM_MODEL_CRB;
    else if (strcmp(model, "tis") == 0)
        cfg->tpm_model = TPM_MODEL_TIS;
    else if (strcmp(model, "virtio") == 0)
        cfg->tpm_model = TPM_MODEL_VIRTIO;
    else {
        fail(c, "tpm.model", "must be \"crb\", \"tis\" or \"virtio\", got \"%s\"", model);
        goto bad;
    }
    free(model);
    return 0;
bad:
    free(model);
    return -1;
}

/* Sections Firecracker has that this version does not implement yet: an
 * empty list (what generated configs often carry) is accepted. */
static int parse_unsupported(struct ctx *c, const char *key, json_t *v)
{
    if (json_is_array(v) && json_array_size(v) == 0)
        return 0;
    return fail(c, key, "not supported by this version of hearth");
}

static int parse_root(struct ctx *c, json_t *root, struct vm_config *cfg)
{
    static const char *const allowed[] = {
        "boot-source", "machine-config", "logger", "serial", "tpm", "drives", "network-interfaces",
        "vsock", "balloon", "entropy", "metrics", "mmds-config", "cpu-config", NULL
    };
    static const char *const required[] = { "boot-source", NULL };
    if (!json_is_object(root))
        return fail(c, "(root)", "must be an object, got %s", type_name(root));
    if (check_keys(c, "(root)", root, allowed, required))
        return -1;
    cfg->vcpu_count = 1;
    cfg->mem_size_mib = 128;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int r;
        if (strcmp(key, "boot-source") == 0)
            r = parse_boot_source(c, v, cfg);
        else if (strcmp(key, "machine-config") == 0)
            r = parse_machine_config(c, v, cfg);
        else if (strcmp(key, "logger") == 0)
            r = parse_logger(c, v, cfg);
        else if (strcmp(key, "serial") == 0)
            r = parse_serial(c, v, cfg);
        else if (strcmp(key, "tpm") == 0)
            r = parse_tpm(c, v, cfg);
        else
            r = parse_unsupported(c, key, v);
        if (r)
            return -1;
    }
    if (!cfg->boot_args && !(cfg->boot_args = strdup(CONFIG_DEFAULT_BOOT_ARGS)))
        return fail(c, "boot-source.boot_args", "out of memory");
    return 0;
}

static int finish(json_t *root, json_error_t *jerr, struct vm_config *cfg, char *err,
                  size_t errlen, const char *what)
{
    memset(cfg, 0, sizeof(*cfg));
    if (!root) {
        snprintf(err, errlen, "%s: invalid JSON at line %d, column %d: %s", what, jerr->line,
                 jerr->column, jerr->text);
        return -1;
    }
    struct ctx c = { err, errlen };
    int r = parse_root(&c, root, cfg);
    json_decref(root);
    if (r)
        config_free(cfg);
    return r;
}

int config_parse_file(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    return finish(root, &jerr, cfg, err, errlen, path);
}

int config_parse_buffer(const char *json, size_t len, struct vm_config *cfg, char *err,
                        size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    return finish(root, &jerr, cfg, err, errlen, "config");
}

void config_free(struct vm_config *cfg)
{
    free(cfg->kernel_image_path);
    free(cfg->boot_args);
    free(cfg->initrd_path);
    free(cfg->serial_out_path);
    free(cfg->tpm_socket);
    free(cfg->log_path);
    memset(cfg, 0, sizeof(*cfg));
}
