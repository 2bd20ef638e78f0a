/* The VM's TPM: an swtpm backend behind the configured transport (CRB, TIS
 * or virtio-tpm), placed in the guest by the device manager. */
#ifndef HEARTH_VTPM_H
#define HEARTH_VTPM_H

#include "bus/manager.h"
#include "config/config.h"
#include "devices/tpm_crb.h"
#include "devices/tpm_tis.h"
#include "devices/virtio/tpm.h"
#include "tpm/measure.h"
#include "tpm/swtpm.h"

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
    bool measured;               /* measured boot: the TPM2 table points at the log */
    uint8_t tpm2_table[76 - 36]; /* TPM2 body after the ACPI header (revision 4) */
    struct measure_log measure;
};

/* The memory cfg's transport wants mapped when the VM is created (the CRB
 * page, which the guest then reads without exits): fills out[0..) and
 * returns how many regions (0 or 1). */
int vtpm_devmem(const struct tpm_config *cfg, struct vm_devmem *out);

/* The lifecycle: one vTPM when the tpm section names a model; it lets a
 * held vCPU go on quiesce. */
extern const struct device_ops vtpm_device;

/* Initializes t->model's transport on t->backend and hands it to the device
 * manager: its registers, its DSDT node (MSFT0101, or LNRO0005 for virtio)
 * and, for CRB and TIS, the TPM2 table (with the event log's place when
 * t->measured). A full device or table list is an
 * error (-ENOSPC with a message): a guest must not boot without the TPM it
 * was configured with. From this call on, dm tears t down. */
int vtpm_place(struct vtpm *t, struct devmgr *dm, char *err, size_t errlen);

/* Measures the boot (tpm/measure.h) into the TPM, the event log into
 * guest RAM at LAYOUT_TPM_LOG. Nothing to do without a TPM (t NULL) or
 * measured boot. 0, or -1 with a message. */
int vtpm_measure(struct vtpm *t, struct guest_mem *mem, const struct measure_inputs *in, char *err,
                 size_t errlen);

/* GET /tpm: the section and, with a TPM (t not NULL), the measurements. */
json_t *vtpm_to_json(const struct vtpm *t, json_t *section);

#endif
