/* TPM 2.0 TIS (FIFO) interface at 0xFED40000: 5 localities of 4 KiB with
 * ACCESS arbitration and the FIFO state machine Linux's tpm_tis drives
 * (ACPI start method 6, or tpm_tis.force=1 without ACPI).
 *
 * Only locality 0 is ever granted, and every command goes to the TPM at
 * locality 0: localities 1-4 may reset and extend PCRs 17-22, which only a
 * CPU's DRTM (a locality-4 sequence from the processor) may touch; a guest
 * that got them could forge a dynamic launch. Their ACCESS registers read
 * 0 (tpmRegValidSts clear) and ignore writes, as on a platform without
 * DRTM; Linux uses locality 0 only. */
#ifndef HEARTH_TPM_TIS_H
#define HEARTH_TPM_TIS_H

#include "core/trap.h"
#include "tpm/backend.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define TIS_LOCALITIES 5
#define TIS_LOCALITY_SIZE 0x1000
#define TIS_MMIO_SIZE (TIS_LOCALITIES * TIS_LOCALITY_SIZE)
#define TIS_DATA_FIFO 0x24 /* in each locality: 4 bytes */
#define TIS_XDATA_FIFO 0x80

enum tis_state { TIS_IDLE, TIS_READY, TIS_RECEPTION, TIS_EXECUTION, TIS_COMPLETION };

struct tpm_tis {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a command completed, or holding was stopped */
    bool no_hold;        /* tpmGo returns at once: the VMM pauses or stops */
    struct tpm_backend *backend;
    enum tis_state state;
    int active;                   /* active locality, -1 for none */
    bool pending[TIS_LOCALITIES]; /* requestUse waiting for the active one */
    bool seized[TIS_LOCALITIES];
    uint32_t int_enable[TIS_LOCALITIES];
    uint8_t int_vector[TIS_LOCALITIES];
    bool abort_pending; /* commandReady arrived during execution */
    bool overrun;       /* more bytes than the command claimed */
    size_t len;         /* bytes received, or response length */
    size_t read_pos;
    uint8_t buf[TPM_BUFFER_MAX];
    uint64_t commands;
    uint64_t last_sts_ns; /* the active locality's last status read, while executing */
};

extern const struct trap_ops tpm_tis_ops;

void tpm_tis_init(struct tpm_tis *t, struct tpm_backend *backend);
void tpm_tis_destroy(struct tpm_tis *t);
/* Whether tpmGo (and a spinning status read) may hold the vCPU for the
 * answer (tpm/backend.h); false also lets go of a vCPU held now. */
void tpm_tis_allow_hold(struct tpm_tis *t, bool allowed);

#endif
