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
#define CRB_INTF_ID_LO (0x1u | 0x1u << 4 | 0x3u << 11 | 0x1u << 14 | 0x1u << 17 | 0x1u << 19 | 0x01u << 24)
#define CRB_INTF_ID_HI (0x1014u | 0x0001u << 16)

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Brings the register image up to date before a read. */
static void refresh_locked(struct tpm_crb *c)
{
    uint8_t *r = c->page;
    memset(r, 0, CRB_REGS_SIZE);
    put32(r + LOC_STATE, LOC_STATE_VALID | (c->loc_assigned ? LOC_STATE_ASSIGNED : 0));
    put32(r + LOC_STS, c->loc_assigned ? 1 : 0);
    put32(r + INTF_ID, CRB_INTF_ID_LO);
    put32(r + INTF_ID + 4, CRB_INTF_ID_HI);
    uint32_t sts = (c->state == CRB_IDLE ? CTRL_STS_IDLE : 0) |
                   (tpm_failed(c->backend) ? CTRL_STS_FATAL : 0);
    put32(r + CTRL_STS, sts);
    put32(r + CTRL_CANCEL, c->cancel);
    put32(r + CTRL_START, c->state == CRB_EXECUTING ? 1 : 0);
    put32(r + CTRL_INT_ENABLE, c->int_enable);
    put32(r + CTRL_CMD_SIZE, CRB_BUFFER_SIZE);
    put32(r + CTRL_CMD_LADDR, (uint32_t)(c->base + CRB_BUFFER_OFFSET));
    put32(r + CTRL_CMD_HADDR, (uint32_t)((c->base + CRB_BUFFER_OFFSET) >> 32));
    put32(r + CTRL_RSP_SIZE, CRB_BUFFER_SIZE);
    put64(r + CTRL_RSP_ADDR, c->base + CRB_BUFFER_OFFSET);
}

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
    pthread_mutex_unlock(&c->lock);
}

static void start_locked(struct tpm_crb *c)
{
    /* START without the locality, or while a command runs, is ignored. */
    if (!c->loc_assigned || c->state == CRB_EXECUTING)
        return;
    uint8_t *buf = c->page + CRB_BUFFER_OFFSET;
    size_t max = c->backend->max_command < CRB_BUFFER_SIZE ? c->backend->max_command
                                                           : CRB_BUFFER_SIZE;
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
    if (tpm_submit(c->backend, buf, len, 0, command_done, c) < 0) {
        tpm_error_response(buf, TPM_RC_FAILURE);
        c->state = CRB_COMPLETE;
    }
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
            }
            else if (v & CTRL_REQ_GO_IDLE)
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
    default:
        break; /* read-only or reserved */
    }
    pthread_mutex_unlock(&c->lock);
}

const struct trap_ops tpm_crb_ops = {
    .name = "tpm-crb",
    .read = crb_read,
    .write = crb_write,
};

void tpm_crb_init(struct tpm_crb *c, struct tpm_backend *backend, uint64_t base)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->backend = backend;
    c->base = base;
    c->state = CRB_IDLE;
}

void tpm_crb_destroy(struct tpm_crb *c)
{
    pthread_mutex_destroy(&c->lock);
}
