/* The VM's resources in Firecracker's JSON schema: one setter per section,
 * shared by the config file and the REST API (Firecracker's VmResources),
 * and the JSON the API gives back (GET /vm/config, /machine-config). */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include "core/limits.h"
#include "core/log.h"
#include "core/ratelimit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_MEM_MIB (1024 * 1024)
#define CONFIG_DEFAULT_VCPUS 1
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_DEFAULT_BOOT_ARGS                                                                   \
    "reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux "                   \
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
    char *socket;         /* swtpm control socket, or "fd:N" (core/inherited.h) */
    int timeout_ms;
    bool measured_boot; /* hearth measures what it boots (default) */
};

/* Devices: at most this many of each (the virtio-mmio slots bound them). */
#define CONFIG_MAX_DRIVES 8
#define CONFIG_MAX_NETS 4
#define CONFIG_ID_MAX 64 /* drive_id, iface_id: [A-Za-z0-9_], 1..64 */
#define CONFIG_IFNAME_MAX 15
#define CONFIG_UDS_PATH_MAX 107 /* sun_path less its NUL */

enum cache_type { CACHE_UNSAFE, CACHE_WRITEBACK };
enum io_engine { IO_ENGINE_SYNC, IO_ENGINE_ASYNC };

struct drive_config {
    char *drive_id;
    char *path_on_host;
    char *partuuid; /* NULL: the root is /dev/vda */
    bool is_root_device;
    bool is_read_only;
    enum cache_type cache_type;
    enum io_engine io_engine; /* kept for GET /vm/config: hearth's I/O is always async */
    struct ratelimit_config rate_limiter;
};

struct net_config {
    char *iface_id;
    char *host_dev_name; /* the TAP */
    bool has_mac;
    uint8_t guest_mac[6];
    int mtu; /* 0: not set */
    struct ratelimit_config rx_rate_limiter, tx_rate_limiter;
};

struct vsock_config {
    bool on;
    uint32_t guest_cid;
    char *uds_path;
};

struct entropy_config {
    bool on;
    struct ratelimit_config rate_limiter;
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
    int ndrives;                  /* the root drive, if any, first */
    struct drive_config drives[CONFIG_MAX_DRIVES];
    int nnets;
    struct net_config nets[CONFIG_MAX_NETS];
    struct vsock_config vsock;
    struct entropy_config entropy;
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
    CONFIG_DRIVES,
    CONFIG_NETS,
    CONFIG_VSOCK,
    CONFIG_ENTROPY,
    CONFIG_NSECTIONS,
};

/* The section a config-file key (or API path) names, or -1. */
int config_section_by_key(const char *key);
const char *config_section_key(enum config_section s);

/* Sets one section from its JSON body. A PUT replaces the section: what
 * the body leaves out takes its default (Firecracker's rule); for drives
 * and network interfaces the body is one device, which replaces the one
 * with its id or is added. A PATCH (machine-config, drives,
 * network-interfaces) changes just the fields given; for a device, what
 * Firecracker lets a running VM change (path_on_host and the rate
 * limiters; a limiter's bucket left out is kept). On error returns -1
 * with "section.field: reason" in err; cfg may then be half-updated, so
 * callers set a copy (config_copy) and keep it only on success. This is
 * the API's entry: a tpm.socket naming an inherited descriptor ("fd:N")
 * is refused here, allowed only in a config document (below). */
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

/* The root drive's entry for the command line ("root=/dev/vda rw",
 * "root=PARTUUID=... ro"), or "" without one. */
void config_root_args(const struct vm_config *cfg, char *out, size_t outlen);

/* The drive or interface with this id, or NULL. */
const struct drive_config *config_drive(const struct vm_config *cfg, const char *id);
const struct net_config *config_net(const struct vm_config *cfg, const char *id);

/* Firecracker's API resource ids: 1..64 of [A-Za-z0-9_]. */
bool config_valid_id(const char *id);

/* GET /vm/config: every section, in a form config_parse_json boots the same
 * VM from. GET /machine-config: that section alone. New references. */
json_t *config_to_json(const struct vm_config *cfg);
json_t *config_machine_to_json(const struct vm_config *cfg);

#endif
