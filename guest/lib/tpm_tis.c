/* Guest TIS (FIFO) driver for locality 0, the way Linux's tpm_tis works,
 * but moving the data four bytes per FIFO access within each burst (TIS
 * 1.3 allows 1-4 byte FIFO accesses; Linux's MMIO driver does one byte). */
#include "tpm.h"

#define ACCESS 0x00
#define STS 0x18
#define DATA_FIFO 0x24
#define DID_VID 0xf00
#define ACCESS_VALID 0x80
#define ACCESS_ACTIVE 0x20
#define ACCESS_REQUEST 0x02
#define STS_VALID 0x80
#define STS_READY 0x40
#define STS_GO 0x20
#define STS_DATA 0x10
#define STS_EXPECT 0x08

static uint8_t access(void) { return mmio_read8(TPM_BASE + ACCESS); }
static uint32_t sts(void) { return mmio_read32(TPM_BASE + STS); }
static void sts_write(uint8_t v) { mmio_write8(TPM_BASE + STS, v); }

static bool wait_sts(uint32_t mask, uint32_t want)
{
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
        if ((sts() & mask) == want)
            return true;
    return false;
}

static uint32_t burst(void)
{
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);) {
        uint32_t b = (sts() >> 8) & 0xffff;
        if (b)
            return b;
    }
    return 0;
}

static bool tis_done(void) { return (sts() & (STS_VALID | STS_DATA)) == (STS_VALID | STS_DATA); }

static int tis_probe(void)
{
    mmio_write8(TPM_BASE + ACCESS, ACCESS_REQUEST);
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
        if ((access() & (ACCESS_VALID | ACCESS_ACTIVE)) == (ACCESS_VALID | ACCESS_ACTIVE))
            return mmio_read32(TPM_BASE + DID_VID) == 0xffffffffu ? -1 : 0;
    return -1;
}

static int tis_transmit(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t max)
{
    sts_write(STS_READY);
    if (!wait_sts(STS_READY, STS_READY))
        return -1;
    size_t i = 0;
    while (i < len) {
        uint32_t b = burst();
        if (!b)
            return -1;
        while (b && i < len) {
            if (b >= 4 && i + 4 <= len) {
                uint32_t v;
                memcpy(&v, cmd + i, 4);
                mmio_write32(TPM_BASE + DATA_FIFO, v);
                b -= 4, i += 4;
            } else {
                mmio_write8(TPM_BASE + DATA_FIFO, cmd[i]);
                b--, i++;
            }
        }
        /* Until the last byte the TPM must keep expecting more. */
        if (i < len && !wait_sts(STS_VALID | STS_EXPECT, STS_VALID | STS_EXPECT))
            return -1;
    }
    if (!wait_sts(STS_VALID | STS_EXPECT, STS_VALID))
        return -1;
    sts_write(STS_GO);
    if (!tpm_wait_done(tis_done))
        return -1;
    size_t got = 0, want = 10;
    while (got < want) {
        uint32_t b = burst();
        if (!b)
            return -1;
        while (b && got < want) {
            /* Never past the header before its size is known, nor past the end. */
            size_t n = b >= 4 && got + 4 <= want ? 4 : 1;
            if (n == 4) {
                uint32_t v = mmio_read32(TPM_BASE + DATA_FIFO);
                memcpy(rsp + got, &v, 4);
            } else {
                rsp[got] = mmio_read8(TPM_BASE + DATA_FIFO);
            }
            size_t before = got;
            got += n;
            b -= (uint32_t)n;
            if (before < 10 && got >= 10) {
                want = be32(rsp + 2);
                if (want < 10 || want > max)
                    return -1;
            }
        }
    }
    bool drained = wait_sts(STS_VALID | STS_DATA, STS_VALID);
    sts_write(STS_READY); /* done with the response */
    return drained ? (int)want : -1;
}

const struct tpm_driver tpm_tis_driver = { "tis", tis_probe, tis_transmit };
