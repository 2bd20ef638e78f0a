/* Guest CRB driver, the way Linux's tpm_crb drives the interface. */
#include "tpm.h"

#define LOC_STATE 0x00
#define LOC_CTRL 0x08
#define CTRL_REQ 0x40
#define CTRL_STS 0x44
#define CTRL_START 0x4c
#define CTRL_CMD_SIZE 0x58
#define CTRL_RSP_ADDR 0x68

static uint32_t reg(uint32_t off) { return mmio_read32(TPM_BASE + off); }
static void set(uint32_t off, uint32_t v) { mmio_write32(TPM_BASE + off, v); }

/* The registers may be memory the guest reads without exits (hearth), so
 * the wait is bounded by time, not by a count of reads. */
static bool wait_for(uint32_t off, uint32_t mask, uint32_t want)
{
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
        if ((reg(off) & mask) == want)
            return true;
    return false;
}

static bool crb_done(void) { return (reg(CTRL_START) & 1) == 0; }

static int crb_probe(void)
{
    set(LOC_CTRL, 1); /* requestAccess */
    if (!wait_for(LOC_STATE, 0x82, 0x82))
        return -1;
    set(CTRL_REQ, 1); /* cmdReady */
    if (!wait_for(CTRL_REQ, 1, 0))
        return -1;
    return (reg(CTRL_STS) & 1) ? -1 : 0;
}

static int crb_transmit(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t max)
{
    uint64_t buf = mmio_read64(TPM_BASE + CTRL_RSP_ADDR);
    uint32_t size = reg(CTRL_CMD_SIZE);
    if (len > size)
        return -1;
    set(CTRL_REQ, 1);
    if (!wait_for(CTRL_REQ, 1, 0))
        return -1;
    /* 8-byte MMIO writes: one exit per 8 bytes of command. */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, cmd + i, 8);
        mmio_write64(buf + i, v);
    }
    for (; i < len; i++)
        mmio_write8(buf + i, cmd[i]);
    set(CTRL_START, 1);
    if (!tpm_wait_done(crb_done))
        return -1;
    uint8_t hdr[8];
    uint64_t h = mmio_read64(buf);
    memcpy(hdr, &h, 8);
    uint32_t rlen = be32(hdr + 2);
    if (rlen < 10 || rlen > max || rlen > size)
        return -1;
    memcpy(rsp, hdr, 8);
    for (i = 8; i + 8 <= rlen; i += 8) {
        uint64_t v = mmio_read64(buf + i);
        memcpy(rsp + i, &v, 8);
    }
    for (; i < rlen; i++)
        rsp[i] = mmio_read8(buf + i);
    return (int)rlen;
}

const struct tpm_driver tpm_crb_driver = { "crb", crb_probe, crb_transmit };
