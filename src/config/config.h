/* The VM's resources in Firecracker's JSON schema: one setter per section,
 * shared by the config file and the REST API (Firecracker's VmResources),
 * and the JSON the API gives back (GET /vm/config, /machine-config). */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include "core/limits.h"
#include "core/log.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_MEM_MIB (1024 * 1024)
#define CONFIG_DEFAULT_VCPUS 1
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_DEFAULT_BOOT_ARGS \
    "reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux " \
    "i8042.nopnp i8042.dumbkbd"

enum tpm_model { TPM_MODEL_NONE, TPM_MODEL_CRB, TPM_MODEL_TIS, TPM_MODEL_VIRTIO };

#define CONFIG_DEFAULT_TPM_TIMEOUT_MS 2000
#define CONFIG_MIN_TPM_TIMEOUT_MS 10
#define CONFIG_MAX_TPM_TIMEOUT_MS 600000

struct boot_source_config {
    char *kernel_image_path; /* NULL: not configured yet */
    char *boot_args;         /* NULL: CONFIG_DEFAULT_BOOT_ARGS */
    char *initrd_path;       /* NULL: none */
};

struct machine_config {
    int vcpu_count;
    uint64_t mem_size_mib;
    bool smt;
    bool huge_pages; /* "2M" */
};

struct serial_config {
    char *serial_out_path; /* NULL: stdout */
};

struct tpm_config {
    enum tpm_model model; /* TPM_MODEL_NONE: no "tpm" section */
    char *socket;         /* swtpm control socket */
    int timeout_ms;
    bool measured_boot;   /* hearth measures what it boots (default) */
};

struct logger_config {
    char *log_path; /* NULL: stderr */
    enum log_level level;
    bool show_level, show_log_origin;
};

struct metrics_config {
    char *metrics_path; /* NULL: no metrics */
};

struct vm_config {
    struct boot_source_config boot;
    struct machine_config machine;
    struct serial_config serial;
    struct tpm_config tpm;
    struct logger_config logger;
    struct metrics_config metrics;
    bool has_logger, has_metrics; /* the sections were given */
};

/* Firecracker's defaults: 1 vCPU, 128 MiB, no boot source, no TPM. */
void config_init(struct vm_config *cfg);
void config_free(struct vm_config *cfg);
/* Deep copy; 0 or -ENOMEM (dst then holds nothing to free). */
int config_copy(struct vm_config *dst, const struct vm_config *src);

/* The sections, as the config file's root keys name them. */
enum config_section {
    CONFIG_BOOT_SOURCE,
    CONFIG_MACHINE,
    CONFIG_SERIAL,
    CONFIG_TPM,
    CONFIG_LOGGER,
    CONFIG_METRICS,
    CONFIG_NSECTIONS,
};

/* The section a config-file key (or API path) names, or -1. */
int config_section_by_key(const char *key);
const char *config_section_key(enum config_section s);

/* Sets one section from its JSON body. A PUT replaces the section: what
 * the body leaves out takes its default (Firecracker's rule). A PATCH
 * (machine-config only) changes just the fields given. On error returns -1
 * with "section.field: reason" in err; cfg may then be half-updated, so
 * callers set a copy (config_copy) and keep it only on success. */
int config_set(struct vm_config *cfg, enum config_section s, json_t *body, bool patch, char *err,
               size_t errlen);

/* A config document (the file's whole JSON): every section through
 * config_set, "boot-source" required. Sections Firecracker has that hearth
 * does not implement yet are refused, but for empty lists. */
int config_parse_json(json_t *root, struct vm_config *cfg, char *err, size_t errlen);
int config_parse_buffer(const char *json, size_t len, struct vm_config *cfg, char *err,
                        size_t errlen);
int config_parse_file(const char *path, struct vm_config *cfg, char *err, size_t errlen);

/* The kernel command line as configured (the default when unset). */
const char *config_boot_args(const struct vm_config *cfg);

/* GET /vm/config: every section, in a form config_parse_json boots the same
 * VM from. GET /machine-config: that section alone. New references. */
json_t *config_to_json(const struct vm_config *cfg);
json_t *config_machine_to_json(const struct vm_config *cfg);

#endif
