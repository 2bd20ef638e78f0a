/* The VM configuration in Firecracker's JSON schema, parsed and validated in
 * one place for the config file (and, later, the API). */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include "core/limits.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_MEM_MIB (1024 * 1024)
#define CONFIG_DEFAULT_BOOT_ARGS \
    "reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux " \
    "i8042.nopnp i8042.dumbkbd"

enum tpm_model { TPM_MODEL_NONE, TPM_MODEL_CRB, TPM_MODEL_TIS, TPM_MODEL_VIRTIO };

#define CONFIG_DEFAULT_TPM_TIMEOUT_MS 2000

struct vm_config {
    /* boot-source */
    char *kernel_image_path;
    char *boot_args;
    char *initrd_path; /* NULL: none */
    /* machine-config */
    int vcpu_count;
    uint64_t mem_size_mib;
    bool smt;
    bool huge_pages; /* "2M" */
    /* serial */
    char *serial_out_path; /* NULL: stdout */
    /* tpm */
    enum tpm_model tpm_model; /* TPM_MODEL_NONE: no "tpm" section */
    char *tpm_socket;         /* swtpm control socket */
    int tpm_timeout_ms;
    /* logger */
    char *log_path;
    bool has_log_level;
    enum log_level log_level;
};

/* Parses and validates a whole config document. On error returns -1 with a
 * message in err that starts with the key path ("machine-config.vcpu_count:
 * ..."), and cfg holds nothing that needs freeing. */
int config_parse_file(const char *path, struct vm_config *cfg, char *err, size_t errlen);
int config_parse_buffer(const char *json, size_t len, struct vm_config *cfg, char *err,
                        size_t errlen);
void config_free(struct vm_config *cfg);

#endif
