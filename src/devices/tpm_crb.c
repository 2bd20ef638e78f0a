/* TPM CRB interface: locality, cmdReady/goIdle, START/CANCEL, the buffer. */
#include "devices/tpm_crb.h"

#include "tpm/wire.h"

#include <string.h>

enum {
    LOC_STATE = 0x00,
    LOC_CTRL = 0x08,
    LOC_STS = 0x0c,
    INTF_ID = 0x30,
    CTRL_REQ = 0x40,
    CTRL_STS = 0x44,
    CTRL_CANCEL = 0x48,
    CTRL_START = 0x4c,
    CTRL_INT_ENABLE = 0x50,
    CTRL_INT_STS = 0x54,
    CTRL_CMD_SIZE = 0x58,
    CTRL_CMD_LADDR = 0x5c,
    CTRL_CMD_HADDR = 0x60,
    CTRL_RSP_SIZE = 0x64,
    CTRL_RSP_ADDR = 0x68,
};

#define LOC_STATE_ASSIGNED (1u << 1)
#define LOC_STATE_VALID (1u << 7)
#define LOC_CTRL_REQUEST (1u << 0)
#define LOC_CTRL_RELINQUISH (1u << 1)
#define LOC_CTRL_SEIZE (1u << 2)
#define CTRL_REQ_CMD_READY (1u << 0)
#define CTRL_REQ_GO_IDLE (1u << 1)
#define CTRL_STS_FATAL (1u << 0)
#define CTRL_STS_IDLE (1u << 1)

/* Interface id: CRB type and version, 64-byte transfers, CRB selected and
 * locked, RID 1; VID/DID in the upper half. */
#define CRB_INTF_ID_LO                                                                             \
    (0x1u | 0x1u << 4 | 0x3u << 11 | 0x1u << 14 | 0x1u << 17 | 0x1u << 19 | 0x01u << 24)
#define CRB_INTF_ID_HI (0x1014u | 0x0001u << 16)

/* Brings the register image up to date after every change. The guest may
 * be reading it from its memory slot at this moment, so each 32-bit
 * register is one store, made only when it changed: a register is never
 * seen half-written or transiently zero, and the release order puts a
 * response in the buffer before START reads 0. */
static void refresh_locked(struct tpm_crb *c)
{
    uint32_t r[CRB_REGS_SIZE / 4] = { 0 };
    uint64_t buf = c->base + CRB_BUFFER_OFFSET;
    r[LOC_STATE / 4] = LOC_STATE_VALID | (c->loc_assigned ? LOC_STATE_ASSIGNED : 0);
    r[LOC_STS / 4] = c->loc_assigned ? 1 : 0;
    r[INTF_ID / 4] = CRB_INTF_ID_LO;
    r[INTF_ID / 4 + 1] = CRB_INTF_ID_HI;
    r[CTRL_STS / 4] =
        (c->state == CRB_IDLE ? CTRL_STS_IDLE : 0) | (tpm_failed(c->backend) ? CTRL_STS_FATAL : 0);
    r[CTRL_CANCEL / 4] = c->cancel;
    r[CTRL_START / 4] = c->state == CRB_EXECUTING ? 1 : 0;
    r[CTRL_INT_ENABLE / 4] = c->int_enable;
    r[CTRL_CMD_SIZE / 4] = CRB_BUFFER_SIZE;
    r[CTRL_CMD_LADDR / 4] = (uint32_t)buf;
    r[CTRL_CMD_HADDR / 4] = (uint32_t)(buf >> 32);
    r[CTRL_RSP_SIZE / 4] = CRB_BUFFER_SIZE;
    r[CTRL_RSP_ADDR / 4] = (uint32_t)buf;
    r[CTRL_RSP_ADDR / 4 + 1] = (uint32_t)(buf >> 32);
    uint32_t *img = (uint32_t *)(void *)c->page;
    for (size_t i = 0; i < CRB_REGS_SIZE / 4; i++)
        if (__atomic_load_n(&img[i], __ATOMIC_RELAXED) != r[i])
            __atomic_store_n(&img[i], r[i], __ATOMIC_RELEASE);
}

/* Reads exit only when the page is not in a memory slot. The backend's
 * failure reaches the image with the command that met it (its completion
 * refreshes); here it shows at once, too. */
static void crb_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct tpm_crb *c = dev;
    pthread_mutex_lock(&c->lock);
    if (offset < CRB_REGS_SIZE)
        refresh_locked(c);
    memcpy(data, c->page + offset, len);
    pthread_mutex_unlock(&c->lock);
}

/* Runs on the backend's thread. */
static void command_done(void *ctx, const uint8_t *rsp, size_t len)
{
    struct tpm_crb *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (len > CRB_BUFFER_SIZE)
        len = tpm_error_response(c->page + CRB_BUFFER_OFFSET, TPM_RC_FAILURE);
    else
        memcpy(c->page + CRB_BUFFER_OFFSET, rsp, len);
    c->state = CRB_COMPLETE;
    c->cancel = 0;
    refresh_locked(c);
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
}

static void start_locked(struct tpm_crb *c)
{
    /* START without the locality, or while a command runs, is ignored. */
    if (!c->loc_assigned || c->state == CRB_EXECUTING)
        return;
    uint8_t *buf = c->page + CRB_BUFFER_OFFSET;
    size_t max =
        c->backend->max_command < CRB_BUFFER_SIZE ? c->backend->max_command : CRB_BUFFER_SIZE;
    /* The header may not claim more than the guest wrote. */
    size_t len = tpm_command_length(buf, c->filled, max);
    c->filled = 0;
    c->commands++;
    if (len == 0) {
        tpm_error_response(buf, TPM_RC_COMMAND_SIZE);
        c->state = CRB_COMPLETE;
        return;
    }
    c->state = CRB_EXECUTING;
    refresh_locked(c);
    if (tpm_submit(c->backend, buf, len, 0, command_done, c) < 0) {
        tpm_error_response(buf, TPM_RC_FAILURE);
        c->state = CRB_COMPLETE;
        return;
    }
    /* Until the answer (tpm/backend.h says why), the backend's bound, or
     * the VMM needing the vCPU. */
    struct timespec deadline = tpm_sync_deadline(c->backend);
    while (c->backend->sync_wait_ns && !c->no_hold && c->state == CRB_EXECUTING &&
           pthread_cond_timedwait(&c->done, &c->lock, &deadline) == 0)
        ;
}

static void crb_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct tpm_crb *c = dev;
    pthread_mutex_lock(&c->lock);
    if (offset >= CRB_BUFFER_OFFSET) {
        /* The buffer belongs to the TPM while a command runs. */
        if (c->loc_assigned && c->state != CRB_EXECUTING) {
            memcpy(c->page + offset, data, len);
            size_t end = offset + len - CRB_BUFFER_OFFSET;
            if (end > c->filled)
                c->filled = end;
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    uint32_t v = 0;
    memcpy(&v, data, len < 4 ? len : 4);
    if (offset + len > CRB_BUFFER_OFFSET)
        offset = CRB_REGS_SIZE; /* straddles into the buffer: ignored */
    switch (offset) {
    case LOC_CTRL:
        if (v & (LOC_CTRL_REQUEST | LOC_CTRL_SEIZE))
            c->loc_assigned = true;
        else if (v & LOC_CTRL_RELINQUISH)
            c->loc_assigned = false;
        break;
    case CTRL_REQ:
        if (c->state != CRB_EXECUTING && c->loc_assigned) {
            if (v & CTRL_REQ_CMD_READY) {
                c->state = CRB_READY;
                c->filled = 0;
            } else if (v & CTRL_REQ_GO_IDLE)
                c->state = CRB_IDLE;
        }
        break;
    case CTRL_CANCEL:
        c->cancel = v & 1;
        if (c->cancel && c->state == CRB_EXECUTING)
            tpm_cancel(c->backend);
        break;
    case CTRL_START:
        if (v & 1)
            start_locked(c);
        break;
    case CTRL_INT_ENABLE:
        c->int_enable = v & 1; /* stored; this device never interrupts */
        break;
    default: break; /* read-only or reserved */
    }
    refresh_locked(c);
    pthread_mutex_unlock(&c->lock);
}

const struct trap_ops tpm_crb_ops = {
    .name = "tpm-crb",
    .read = crb_read,
    .write = crb_write,
};

void tpm_crb_init(struct tpm_crb *c, struct tpm_backend *backend, uint64_t base, uint8_t *mapped)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    tpm_cond_init(&c->done);
    c->backend = backend;
    c->base = base;
    c->state = CRB_IDLE;
    c->page = mapped ? mapped : c->own_page;
    memset(c->page, 0, CRB_PAGE_SIZE);
    refresh_locked(c);
}

void tpm_crb_allow_hold(struct tpm_crb *c, bool allowed)
{
    pthread_mutex_lock(&c->lock);
    c->no_hold = !allowed;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
}

void tpm_crb_destroy(struct tpm_crb *c)
{
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->lock);
}
