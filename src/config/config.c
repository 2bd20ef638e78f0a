/* Firecracker-schema sections: strict parsing with key-path errors, one
 * setter per section for the config file and the API alike. */
#include "config/config.h"

#include "config/devices.h"
#include "config/json.h"
#include "core/inherited.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const section_keys[CONFIG_NSECTIONS] = {
    [CONFIG_BOOT_SOURCE] = "boot-source",
    [CONFIG_MACHINE] = "machine-config",
    [CONFIG_SERIAL] = "serial",
    [CONFIG_TPM] = "tpm",
    [CONFIG_LOGGER] = "logger",
    [CONFIG_METRICS] = "metrics",
    [CONFIG_DRIVES] = "drives",
    [CONFIG_NETS] = "network-interfaces",
    [CONFIG_VSOCK] = "vsock",
    [CONFIG_ENTROPY] = "entropy",
};

int config_section_by_key(const char *key)
{
    for (int i = 0; i < CONFIG_NSECTIONS; i++)
        if (strcmp(section_keys[i], key) == 0)
            return i;
    return -1;
}

const char *config_section_key(enum config_section s) { return section_keys[s]; }

void config_init(struct vm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->machine.vcpu_count = CONFIG_DEFAULT_VCPUS;
    cfg->machine.mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
    cfg->logger.level = LOG_INFO;
    cfg->logger.show_level = true; /* hearth tags every line with its level */
}

static void free_boot(struct boot_source_config *b)
{
    free(b->kernel_image_path);
    free(b->boot_args);
    free(b->initrd_path);
    memset(b, 0, sizeof(*b));
}

void config_free(struct vm_config *cfg)
{
    free_boot(&cfg->boot);
    free(cfg->serial.serial_out_path);
    free(cfg->tpm.socket);
    free(cfg->logger.log_path);
    free(cfg->metrics.metrics_path);
    config_free_devices(cfg);
    config_init(cfg);
}

static int dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

int config_copy(struct vm_config *dst, const struct vm_config *src)
{
    *dst = *src;
    int bad = dup_str(&dst->boot.kernel_image_path, src->boot.kernel_image_path) |
              dup_str(&dst->boot.boot_args, src->boot.boot_args) |
              dup_str(&dst->boot.initrd_path, src->boot.initrd_path) |
              dup_str(&dst->serial.serial_out_path, src->serial.serial_out_path) |
              dup_str(&dst->tpm.socket, src->tpm.socket) |
              dup_str(&dst->logger.log_path, src->logger.log_path) |
              dup_str(&dst->metrics.metrics_path, src->metrics.metrics_path) |
              config_copy_devices(dst, src);
    if (bad) {
        config_free(dst);
        return -ENOMEM;
    }
    return 0;
}

const char *config_boot_args(const struct vm_config *cfg)
{
    return cfg->boot.boot_args ? cfg->boot.boot_args : CONFIG_DEFAULT_BOOT_ARGS;
}

static int set_boot_source(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };
    static const char *const required[] = { "kernel_image_path", NULL };
    free_boot(&cfg->boot); /* a PUT replaces the whole boot source */
    if (jcheck_keys(c, o, allowed, required) ||
        jget_nonempty(c, o, "kernel_image_path", false, &cfg->boot.kernel_image_path) ||
        jget_string(c, o, "boot_args", true, &cfg->boot.boot_args) ||
        jget_nonempty(c, o, "initrd_path", true, &cfg->boot.initrd_path))
        return -1;
    return 0;
}

static int set_machine(struct jctx *c, json_t *o, struct vm_config *cfg, bool patch)
{
    static const char *const allowed[] = { "vcpu_count",        "mem_size_mib", "smt", "huge_pages",
                                           "track_dirty_pages", "cpu_template", NULL };
    static const char *const required[] = { "vcpu_count", "mem_size_mib", NULL };
    struct machine_config *m = &cfg->machine;
    if (!patch) /* what a PUT leaves out goes back to its default */
        *m = (struct machine_config){ .vcpu_count = CONFIG_DEFAULT_VCPUS,
                                      .mem_size_mib = CONFIG_DEFAULT_MEM_MIB };
    long long vcpus = m->vcpu_count, mem = (long long)m->mem_size_mib;
    bool dirty = false;
    char *huge = NULL, *tmpl = NULL;
    int r = -1;
    if (jcheck_keys(c, o, allowed, patch ? NULL : required) ||
        jget_int(c, o, "vcpu_count", 1, HEARTH_MAX_VCPUS, &vcpus) ||
        jget_int(c, o, "mem_size_mib", 1, CONFIG_MAX_MEM_MIB, &mem) ||
        jget_bool(c, o, "smt", &m->smt) || jget_bool(c, o, "track_dirty_pages", &dirty) ||
        jget_string(c, o, "huge_pages", false, &huge) ||
        jget_string(c, o, "cpu_template", true, &tmpl))
        goto out;
    m->vcpu_count = (int)vcpus;
    m->mem_size_mib = (uint64_t)mem;
    if (huge && strcmp(huge, "None") != 0 && strcmp(huge, "2M") != 0) {
        jfail(c, "huge_pages", "must be \"None\" or \"2M\", got \"%s\"", huge);
        goto out;
    }
    if (huge)
        m->huge_pages = strcmp(huge, "2M") == 0;
    if (m->smt && vcpus > 1 && vcpus % 2)
        jfail(c, "vcpu_count", "must be 1 or even when smt is enabled, got %lld", vcpus);
    else if (m->huge_pages && mem % 2)
        jfail(c, "mem_size_mib", "must be a multiple of 2 with 2M huge pages");
    else if (dirty)
        jfail(c, "track_dirty_pages", "dirty page tracking is not supported yet");
    else if (tmpl && strcmp(tmpl, "None") != 0)
        jfail(c, "cpu_template", "CPU templates are not supported yet");
    else
        r = 0;
out:
    free(huge);
    free(tmpl);
    return r;
}

static int set_logger(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "log_path",        "level",  "show_level",
                                           "show_log_origin", "module", NULL };
    struct logger_config *l = &cfg->logger;
    char *level = NULL, *module = NULL;
    if (jcheck_keys(c, o, allowed, NULL) || jget_nonempty(c, o, "log_path", true, &l->log_path) ||
        jget_string(c, o, "level", false, &level) ||
        jget_bool(c, o, "show_level", &l->show_level) ||
        jget_bool(c, o, "show_log_origin", &l->show_log_origin) ||
        jget_string(c, o, "module", true, &module))
        goto bad;
    if (module) {
        jfail(c, "module", "module filters are not supported (hearth has one module)");
        goto bad;
    }
    l->level = LOG_INFO; /* Firecracker: a logger section without a level means Info */
    if (level && !log_parse_level(level, &l->level)) {
        jfail(c, "level", "must be one of Off, Error, Warning, Info, Debug, Trace; got \"%s\"",
              level);
        goto bad;
    }
    free(level);
    cfg->has_logger = true;
    return 0;
bad:
    free(level);
    free(module);
    return -1;
}

static int set_metrics(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "metrics_path", NULL };
    static const char *const required[] = { "metrics_path", NULL };
    if (jcheck_keys(c, o, allowed, required) ||
        jget_nonempty(c, o, "metrics_path", false, &cfg->metrics.metrics_path))
        return -1;
    cfg->has_metrics = true;
    return 0;
}

static int set_serial(struct jctx *c, json_t *o, struct vm_config *cfg)
{
    static const char *const allowed[] = { "serial_out_path", NULL };
    free(cfg->serial.serial_out_path);
    cfg->serial.serial_out_path = NULL;
    return jcheck_keys(c, o, allowed, NULL) ||
                   jget_nonempty(c, o, "serial_out_path", true, &cfg->serial.serial_out_path)
               ? -1
               : 0;
}

static const char *const tpm_models[] = {
    [TPM_MODEL_CRB] = "crb", [TPM_MODEL_TIS] = "tis", [TPM_MODEL_VIRTIO] = "virtio"
};

/* from_file: only the config file may name an inherited descriptor
 * ("fd:N", hearth-jailer's --tpm-socket); from the API it could be any of
 * hearth's own (the API's listener, a client's connection). */
static int set_tpm(struct jctx *c, json_t *o, struct vm_config *cfg, bool from_file)
{
    static const char *const allowed[] = { "socket", "model", "timeout_ms", "measured_boot", NULL };
    static const char *const required[] = { "socket", NULL };
    struct tpm_config *t = &cfg->tpm;
    char *model = NULL;
    long long timeout = CONFIG_DEFAULT_TPM_TIMEOUT_MS;
    free(t->socket);
    *t = (struct tpm_config){ .model = TPM_MODEL_CRB, .measured_boot = true };
    if (jcheck_keys(c, o, allowed, required) || jget_nonempty(c, o, "socket", false, &t->socket) ||
        jget_string(c, o, "model", false, &model) ||
        jget_bool(c, o, "measured_boot", &t->measured_boot) ||
        jget_int(c, o, "timeout_ms", CONFIG_MIN_TPM_TIMEOUT_MS, CONFIG_MAX_TPM_TIMEOUT_MS,
                 &timeout))
        goto bad;
    t->timeout_ms = (int)timeout;
    int fd = inherited_fd_parse(t->socket);
    if (fd == -2) {
        jfail(c, "socket", "\"fd:N\" needs a descriptor number 3 <= N < %d, got \"%s\"",
              INHERITED_FD_MAX, t->socket);
        goto bad;
    }
    if (fd >= 0 && !from_file) {
        jfail(c, "socket",
              "\"%s\" names an inherited descriptor: only the config file may "
              "(give swtpm's socket path)",
              t->socket);
        goto bad;
    }
    if (model) {
        t->model = TPM_MODEL_NONE;
        for (int i = TPM_MODEL_CRB; i <= TPM_MODEL_VIRTIO; i++)
            if (strcmp(model, tpm_models[i]) == 0)
                t->model = (enum tpm_model)i;
        if (t->model == TPM_MODEL_NONE) {
            jfail(c, "model", "must be \"crb\", \"tis\" or \"virtio\", got \"%s\"", model);
            goto bad;
        }
    }
    free(model);
    return 0;
bad:
    free(model);
    return -1;
}

/* config_set with `name` as the errors' section ("drives[2]"); from_file:
 * the config file's section, not an API request's. */
static int set_named(struct vm_config *cfg, enum config_section s, json_t *body, bool patch,
                     const char *name, bool from_file, char *err, size_t errlen)
{
    struct jctx c = { err, errlen, name };
    if (!json_is_object(body))
        return jfail(&c, NULL, "must be an object, got %s", jtype_name(body));
    if (patch && s != CONFIG_MACHINE && s != CONFIG_DRIVES && s != CONFIG_NETS)
        return jfail(&c, NULL, "cannot be patched");
    switch (s) {
    case CONFIG_BOOT_SOURCE: return set_boot_source(&c, body, cfg);
    case CONFIG_MACHINE: return set_machine(&c, body, cfg, patch);
    case CONFIG_SERIAL: return set_serial(&c, body, cfg);
    case CONFIG_TPM: return set_tpm(&c, body, cfg, from_file);
    case CONFIG_LOGGER: return set_logger(&c, body, cfg);
    case CONFIG_METRICS: return set_metrics(&c, body, cfg);
    case CONFIG_DRIVES: return config_set_drive(&c, body, cfg, patch);
    case CONFIG_NETS: return config_set_net(&c, body, cfg, patch);
    case CONFIG_VSOCK: return config_set_vsock(&c, body, cfg);
    case CONFIG_ENTROPY: return config_set_entropy(&c, body, cfg);
    default: return jfail(&c, NULL, "unknown section");
    }
}

int config_set(struct vm_config *cfg, enum config_section s, json_t *body, bool patch, char *err,
               size_t errlen)
{
    return set_named(cfg, s, body, patch, section_keys[s], false, err, errlen);
}

/* A list section of the config file (drives, network-interfaces): each
 * element through the section's setter, as one API PUT each. */
static int set_list(struct vm_config *cfg, enum config_section s, json_t *list, char *err,
                    size_t errlen)
{
    struct jctx c = { err, errlen, section_keys[s] };
    if (!json_is_array(list))
        return jfail(&c, NULL, "must be an array, got %s", jtype_name(list));
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char name[48];
        snprintf(name, sizeof(name), "%s[%zu]", section_keys[s], i);
        if (set_named(cfg, s, v, false, name, true, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Sections Firecracker has that this version does not implement yet: an
 * empty list (what generated configs often carry) or null is accepted. */
static bool unsupported_but_empty(json_t *v)
{
    return json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

int config_parse_json(json_t *root, struct vm_config *cfg, char *err, size_t errlen)
{
    static const char *const known[] = { "balloon", "mmds-config", "cpu-config", NULL };
    struct jctx c = { err, errlen, NULL };
    config_init(cfg);
    if (!json_is_object(root))
        return jfail(&c, "(root)", "must be an object, got %s", jtype_name(root));
    if (!json_object_get(root, "boot-source"))
        return jfail(&c, "boot-source", "missing required field");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int s = config_section_by_key(key);
        int r = 0;
        /* null: the section is not configured (GET /vm/config writes that) */
        if ((s == CONFIG_DRIVES || s == CONFIG_NETS) && !json_is_null(v))
            r = set_list(cfg, (enum config_section)s, v, err, errlen);
        else if (s >= 0 && (!json_is_null(v) || s == CONFIG_BOOT_SOURCE))
            r = set_named(cfg, (enum config_section)s, v, false, section_keys[s], true, err,
                          errlen);
        else if (s < 0 && jin_list(key, known) && !unsupported_but_empty(v))
            r = jfail(&c, key, "not supported by this version of hearth");
        else if (s < 0 && !jin_list(key, known))
            r = jfail(&c, "(root)", "unknown key \"%s\"", key);
        if (r) {
            config_free(cfg);
            return -1;
        }
    }
    return 0;
}

int config_parse_buffer(const char *json, size_t len, struct vm_config *cfg, char *err,
                        size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    config_init(cfg);
    if (!root) {
        jinvalid(err, errlen, "config", &jerr);
        return -1;
    }
    int r = config_parse_json(root, cfg, err, errlen);
    json_decref(root);
    return r;
}

int config_parse_file(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    config_init(cfg);
    if (!root) {
        jinvalid(err, errlen, path, &jerr);
        return -1;
    }
    int r = config_parse_json(root, cfg, err, errlen);
    json_decref(root);
    return r;
}

json_t *config_machine_to_json(const struct vm_config *cfg)
{
    const struct machine_config *m = &cfg->machine;
    return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", m->vcpu_count, "mem_size_mib",
                     (json_int_t)m->mem_size_mib, "smt", m->smt, "track_dirty_pages", 0,
                     "huge_pages", m->huge_pages ? "2M" : "None");
}

json_t *config_to_json(const struct vm_config *cfg)
{
    const struct boot_source_config *b = &cfg->boot;
    json_t *o = json_object();
    json_object_set_new(o, "boot-source",
                        json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
                                  b->kernel_image_path ? b->kernel_image_path : "", "initrd_path",
                                  b->initrd_path, "boot_args", b->boot_args));
    json_object_set_new(o, "machine-config", config_machine_to_json(cfg));
    config_devices_to_json(cfg, o);
    json_object_set_new(o, "balloon", json_null());
    json_object_set_new(o, "mmds-config", json_null());
    /* Firecracker leaves logger and metrics out of the VM's description:
     * where a VM logs is the operator's, not the VM's. */
    json_object_set_new(o, "logger", json_null());
    json_object_set_new(o, "metrics", json_null());
    json_object_set_new(o, "serial",
                        cfg->serial.serial_out_path
                            ? json_pack("{s:s}", "serial_out_path", cfg->serial.serial_out_path)
                            : json_null());
    json_object_set_new(o, "tpm",
                        cfg->tpm.model == TPM_MODEL_NONE
                            ? json_null()
                            : json_pack("{s:s, s:s, s:i, s:b}", "socket", cfg->tpm.socket, "model",
                                        tpm_models[cfg->tpm.model], "timeout_ms",
                                        cfg->tpm.timeout_ms, "measured_boot",
                                        cfg->tpm.measured_boot));
    return o;
}
