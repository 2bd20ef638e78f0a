/* Guest virtio-tpm driver over virtio-mmio version 2 (device 62, queue 0). */
#include "tpm.h"

#define VIO 0xc0001000ull
#define QSIZE 8

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static struct desc ring_desc[QSIZE] __attribute__((aligned(16)));
static struct {
    uint16_t flags, idx, ring[QSIZE], used_event;
} ring_avail __attribute__((aligned(2)));
static struct {
    uint16_t flags, idx;
    struct {
        uint32_t id, len;
    } ring[QSIZE];
    uint16_t avail_event;
} ring_used __attribute__((aligned(4)));
static uint16_t last_used;
static uint8_t cmd_buf[TPM_BUF], rsp_buf[TPM_BUF];

static uint32_t rd(uint32_t off) { return mmio_read32(VIO + off); }
static void wr(uint32_t off, uint32_t v) { mmio_write32(VIO + off, v); }

uint32_t virtio_tpm_status(void) { return rd(0x70); }

int virtio_tpm_setup(void)
{
    if (rd(0x000) != 0x74726976 || rd(0x004) != 2 || rd(0x008) != 62)
        return -1;
    wr(0x070, 0);
    wr(0x070, 1);
    wr(0x070, 1 | 2);
    wr(0x014, 1);
    if (!(rd(0x010) & 1)) /* VIRTIO_F_VERSION_1 */
        return -1;
    wr(0x024, 1);
    wr(0x020, 1);
    wr(0x024, 0);
    wr(0x020, 0);
    wr(0x070, 1 | 2 | 8);
    if (!(rd(0x070) & 8))
        return -1;
    wr(0x030, 0);
    if (rd(0x034) < QSIZE)
        return -1;
    memset(&ring_avail, 0, sizeof(ring_avail));
    memset(&ring_used, 0, sizeof(ring_used));
    last_used = 0;
    wr(0x038, QSIZE);
    wr(0x080, (uint32_t)(uint64_t)ring_desc);
    wr(0x084, 0);
    wr(0x090, (uint32_t)(uint64_t)&ring_avail);
    wr(0x094, 0);
    wr(0x0a0, (uint32_t)(uint64_t)&ring_used);
    wr(0x0a4, 0);
    wr(0x044, 1);
    if (rd(0x044) != 1)
        return -1;
    wr(0x070, 1 | 2 | 8 | 4);
    return 0;
}

/* Publishes descriptors 0..n-1 as one chain and waits for the device.
 * Returns the used length, or -1 on timeout. */
int virtio_tpm_chain(const uint64_t *addr, const uint32_t *len, const bool *writable, int n)
{
    for (int i = 0; i < n; i++)
        ring_desc[i] =
            (struct desc){ addr[i], len[i], (uint16_t)((i + 1 < n ? 1 : 0) | (writable[i] ? 2 : 0)),
                           (uint16_t)(i + 1 < n ? i + 1 : 0) };
    ring_avail.ring[ring_avail.idx % QSIZE] = 0;
    __asm__ volatile("" ::: "memory");
    ring_avail.idx++;
    __asm__ volatile("" ::: "memory");
    wr(0x050, 0);
    uint64_t end = deadline_ms(TPM_WAIT_MS);
    for (uint32_t i = 0; !expired(end); i++) {
        if (*(volatile uint16_t *)&ring_used.idx != last_used) {
            uint32_t used = ring_used.ring[last_used % QSIZE].len;
            last_used++;
            wr(0x064, rd(0x060)); /* acknowledge the interrupt */
            return (int)used;
        }
        /* The used ring is memory; the status register is an exit, so it
         * is looked at now and then only. */
        if (i % 4096 == 4095 && (rd(0x070) & 0x40)) /* DEVICE_NEEDS_RESET */
            return -1;
    }
    return -1;
}

static int virtio_probe(void) { return virtio_tpm_setup(); }

static int virtio_transmit(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t max)
{
    memcpy(cmd_buf, cmd, len);
    uint64_t a[2] = { (uint64_t)cmd_buf, (uint64_t)rsp_buf };
    uint32_t l[2] = { (uint32_t)len, TPM_BUF };
    bool w[2] = { false, true };
    int used = virtio_tpm_chain(a, l, w, 2);
    if (used < 10 || (size_t)used > max)
        return -1;
    memcpy(rsp, rsp_buf, (size_t)used);
    return used;
}

const struct tpm_driver tpm_virtio_driver = { "virtio", virtio_probe, virtio_transmit };
