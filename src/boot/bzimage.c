/* bzImage loader: Linux boot protocol >= 2.12 with a 64-bit entry point. */
#include "arch/x86_64/layout.h"
#include "boot/loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BZ_MIN_VERSION 0x020c
#define XLF_KERNEL_64 0x1
#define LOADED_HIGH 0x1

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

bool bzimage_detect(const uint8_t *head, size_t len)
{
    return len >= 0x206 && memcmp(head + 0x202, "HdrS", 4) == 0 && le16(head + 0x1fe) == 0xaa55;
}

int bzimage_load(struct guest_mem *mem, const uint8_t *img, size_t len, struct loaded_kernel *k,
                 char *err, size_t errlen)
{
    const uint8_t *head = img;
    if (len < 1024) {
        snprintf(err, errlen, "bzImage truncated: setup header incomplete");
        return -EINVAL;
    }
    uint16_t version = le16(head + 0x206);
    if (version < BZ_MIN_VERSION) {
        snprintf(err, errlen, "bzImage boot protocol %u.%02u is older than 2.12", version >> 8,
                 version & 0xff);
        return -EINVAL;
    }
    if (!(le16(head + 0x236) & XLF_KERNEL_64) || !(head[0x211] & LOADED_HIGH)) {
        snprintf(err, errlen, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
        return -EINVAL;
    }
    unsigned setup_sects = head[0x1f1] ? head[0x1f1] : 4;
    size_t kernel_off = (size_t)(setup_sects + 1) * 512;
    if (kernel_off >= len) {
        snprintf(err, errlen, "bzImage truncated: no protected-mode kernel after %u setup sectors",
                 setup_sects);
        return -EINVAL;
    }
    uint64_t kernel_size = len - kernel_off;
    uint32_t init_size = le32(head + 0x260);
    uint64_t footprint = init_size > kernel_size ? init_size : kernel_size;
    uint64_t load = LAYOUT_HIMEM_START;
    uint8_t *dst = gpa_to_hva(mem, load, footprint);
    if (!dst) {
        snprintf(err, errlen, "bzImage needs 0x%llx bytes at 0x%llx: guest RAM too small",
                 (unsigned long long)footprint, (unsigned long long)load);
        return -EINVAL;
    }
    memcpy(dst, img + kernel_off, kernel_size);
    k->format = KERNEL_BZIMAGE;
    k->entry64 = load + 0x200;
    k->pvh_entry = 0;
    k->load_start = load;
    k->load_end = load + footprint;
    k->initrd_addr_max = le32(head + 0x22c);
    /* The header's own length: byte 0x201 is the jump offset past 0x202. */
    size_t hdr_len = 0x202 + head[0x201] - ZP_SETUP_HEADER;
    if (hdr_len > sizeof(k->setup_header))
        hdr_len = sizeof(k->setup_header);
    memcpy(k->setup_header, head + ZP_SETUP_HEADER, hdr_len);
    k->setup_header_len = hdr_len;
    return 0;
}
