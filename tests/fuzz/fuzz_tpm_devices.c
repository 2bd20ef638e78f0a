/* libFuzzer target: a hostile guest drives the CRB, TIS or virtio-tpm
 * transport (first input byte) with arbitrary register accesses, guest
 * memory contents (virtio rings and buffers) and backend completions. Each
 * step is 12 bytes: op, width, offset (u16), value (u64). */
#include "core/log.h"
#include "devices/tpm_crb.h"
#include "devices/tpm_tis.h"
#include "devices/virtio/tpm.h"
#include "../fake_backend.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_irq(void *ctx) { (void)ctx; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    static struct fake_backend f;
    static struct tpm_crb crb;
    static struct tpm_tis tis;
    static struct virtio_tpm vio;
    if (!mem.host) {
        log_init(NULL, LOG_OFF, NULL);
        guest_mem_init(&mem, 64 << 10, false);
    }
    if (size < 1)
        return 0;
    memset(mem.host, 0, 64 << 10);
    fake_backend_init(&f, 4096);
    int kind = data[0] % 3;
    const struct trap_ops *ops;
    void *dev;
    uint64_t span;
    if (kind == 0) {
        tpm_crb_init(&crb, &f.be, 0xfed40000, NULL);
        ops = &tpm_crb_ops, dev = &crb, span = CRB_PAGE_SIZE;
    } else if (kind == 1) {
        tpm_tis_init(&tis, &f.be);
        ops = &tpm_tis_ops, dev = &tis, span = TIS_MMIO_SIZE;
    } else {
        virtio_tpm_init(&vio, &f.be, &mem);
        virtio_mmio_set_irq(&vio.mmio, no_irq, NULL);
        ops = &virtio_mmio_ops, dev = &vio.mmio, span = 0x1000;
    }
    for (size_t off = 1; off + 12 <= size; off += 12) {
        const uint8_t *s = data + off;
        static const uint32_t widths[4] = { 1, 2, 4, 8 };
        uint32_t len = widths[s[1] & 3];
        uint64_t reg = ((uint64_t)s[2] | (uint64_t)s[3] << 8) % span;
        uint8_t val[8];
        memcpy(val, s + 4, 8);
        if (reg + len > span)
            continue; /* the trap registry never passes such an access */
        switch (s[0] % 5) {
        case 0: ops->read(dev, reg, val, len); break;
        case 1:
        case 2: ops->write(dev, reg, val, len); break;
        case 3: /* the guest scribbles on its own RAM: rings, buffers */
            memcpy(mem.host + (reg * 16) % ((64 << 10) - 8), val, 8);
            break;
        case 4:
            f.rsp_len = s[4] | (size_t)(s[5] & 0x1f) << 8;
            fake_backend_complete(&f);
            break;
        }
    }
    fake_backend_complete(&f);
    if (kind == 0)
        tpm_crb_destroy(&crb);
    else if (kind == 1)
        tpm_tis_destroy(&tis);
    else
        virtio_tpm_destroy(&vio);
    return 0;
}
