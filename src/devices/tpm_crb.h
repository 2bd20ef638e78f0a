/* TPM 2.0 Command Response Buffer (CRB) interface at 0xFED40000, locality 0,
 * as Linux's tpm_crb drives it (ACPI start method 7). Its page (registers,
 * then the command/response buffer) can be memory the guest reads directly
 * (a read-only memory slot): the device keeps the register image current
 * after every change, so reads never exit, and only writes reach it. */
#ifndef HEARTH_TPM_CRB_H
#define HEARTH_TPM_CRB_H

#include "core/trap.h"
#include "tpm/backend.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CRB_PAGE_SIZE 0x1000
#define CRB_REGS_SIZE 0x80
#define CRB_BUFFER_OFFSET CRB_REGS_SIZE
#define CRB_BUFFER_SIZE (CRB_PAGE_SIZE - CRB_REGS_SIZE) /* 3968 */
#define CRB_CTRL_AREA_OFFSET 0x40

enum crb_state { CRB_IDLE, CRB_READY, CRB_EXECUTING, CRB_COMPLETE };

struct tpm_crb {
    pthread_mutex_t lock;
    struct tpm_backend *backend;
    uint64_t base; /* guest-physical address of the page */
    enum crb_state state;
    bool loc_assigned;
    uint32_t cancel, int_enable;
    size_t filled;       /* end of the furthest buffer write since the last command */
    uint8_t *page;       /* registers, then the command/response buffer: `mapped` or own_page */
    uint64_t commands;   /* commands the guest started */
    pthread_cond_t done; /* a command completed, or holding was stopped */
    bool no_hold;        /* START returns at once: the VMM pauses or stops */
    uint8_t own_page[CRB_PAGE_SIZE];
};

extern const struct trap_ops tpm_crb_ops;

/* `mapped`: CRB_PAGE_SIZE bytes of memory the guest reads at `base` (its
 * read-only memory slot), or NULL to keep the page to the device. */
void tpm_crb_init(struct tpm_crb *c, struct tpm_backend *backend, uint64_t base, uint8_t *mapped);
void tpm_crb_destroy(struct tpm_crb *c);
/* Whether START may hold the vCPU for the answer (tpm/backend.h); false
 * also lets go of a vCPU held now. Any thread. */
void tpm_crb_allow_hold(struct tpm_crb *c, bool allowed);

#endif
