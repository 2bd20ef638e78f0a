/* The VM's TPM: an swtpm backend behind the configured transport (CRB, TIS
 * or virtio-tpm), with its ACPI description. */
#ifndef HEARTH_VTPM_H
#define HEARTH_VTPM_H

#include "boot/acpi.h"
#include "config/config.h"
#include "core/vm.h"
#include "devices/tpm_crb.h"
#include "devices/tpm_tis.h"
#include "tpm/swtpm.h"
#include "virtio/tpm.h"

#include <stdbool.h>
#include <stddef.h>

struct vtpm {
    enum tpm_model model;
    bool backend_open;
    struct swtpm swtpm;
    struct tpm_backend backend;
    struct tpm_crb crb;
    struct tpm_tis tis;
    struct virtio_tpm virtio;
    uint8_t tpm2_table[64 - 36]; /* TPM2 body after the ACPI header */
};

/* Appends what the guest kernel needs on its command line for this model
 * (virtio-mmio announces itself there) to cmdline (of size len). */
void vtpm_cmdline(enum tpm_model model, char *cmdline, size_t len);

/* Opens the backend, registers the transport's traps and adds the DSDT
 * device and TPM2 table to `acpi`. -errno with a message on failure (the
 * backend is closed again). */
int vtpm_attach(struct vtpm *t, const struct vm_config *cfg, struct vm *vm,
                struct acpi_config *acpi, char *err, size_t errlen);

/* Adds the DSDT device and, for CRB and TIS, the TPM2 table for t->model
 * (tpm2_table holds the table's body). Returns 0, or -ENOSPC with a message
 * when acpi's device or table list is full: a guest must not boot without
 * the TPM it was configured with. */
int vtpm_describe(struct vtpm *t, struct acpi_config *acpi, char *err, size_t errlen);

/* Stops the backend thread and sends swtpm SHUTDOWN. Call after the vCPUs
 * have stopped. */
void vtpm_detach(struct vtpm *t);

#endif
