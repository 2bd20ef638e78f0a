/* Guest RAM mapping and checked guest-physical address translation. */
#include "core/mem.h"

#include "arch/x86_64/layout.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif
#define HUGE_2M (2ULL << 20)

int guest_mem_init(struct guest_mem *mem, uint64_t bytes, bool huge_pages)
{
    memset(mem, 0, sizeof(*mem));
    if (bytes == 0 || bytes > LAYOUT_MAX_RAM)
        return -EINVAL;
    if (huge_pages && bytes % (2ULL << 20))
        return -EINVAL;

    /* Huge pages are reserved up front: without a reservation a guest
     * touching RAM the pool cannot back would kill the monitor with SIGBUS
     * long after start-up. */
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    flags |= huge_pages ? MAP_HUGETLB | MAP_HUGE_2MB : MAP_NORESERVE;
    /* 2 MiB-aligned, like the guest-physical addresses it backs: KVM maps
     * a transparent huge page of the host as one large page for the guest
     * only when the two agree modulo 2 MiB. Misaligned, a Linux guest paid
     * ~16000 nested page faults (each a VM exit) per boot, 4 KiB at a time. */
    uint64_t slack = huge_pages ? 0 : HUGE_2M;
    uint8_t *p = mmap(NULL, bytes + slack, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    if (slack) {
        uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
        if (aligned > p)
            munmap(p, (size_t)(aligned - p));
        if (aligned + bytes < p + bytes + slack)
            munmap(aligned + bytes, (size_t)(p + bytes + slack - (aligned + bytes)));
        p = aligned;
    }
    /* Guest RAM never belongs in a core dump of the monitor, nor in a
     * forked child (KVM keeps using the parent's mapping). */
    madvise(p, bytes, MADV_DONTDUMP);
    madvise(p, bytes, MADV_DONTFORK);

    mem->host = p;
    mem->map_size = bytes;
    mem->huge_pages = huge_pages;
    uint64_t low = bytes < LAYOUT_MMIO_GAP_START ? bytes : LAYOUT_MMIO_GAP_START;
    mem->regions[0] = (struct mem_region){ .gpa = 0, .size = low, .host = mem->host };
    mem->nregions = 1;
    if (bytes > low) {
        mem->regions[1] = (struct mem_region){ .gpa = LAYOUT_MMIO_GAP_END,
                                               .size = bytes - low,
                                               .host = mem->host + low };
        mem->nregions = 2;
    }
    return 0;
}

void guest_mem_free(struct guest_mem *mem)
{
    if (mem->host)
        munmap(mem->host, mem->map_size);
    memset(mem, 0, sizeof(*mem));
}

void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    if (len == 0)
        return NULL;
    for (int i = 0; i < mem->nregions; i++) {
        const struct mem_region *r = &mem->regions[i];
        /* Written so that no sum can overflow: gpa >= r->gpa first. */
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        if (off >= r->size || len > r->size - off)
            continue;
        return r->host + off;
    }
    return NULL;
}

int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
    void *dst = gpa_to_hva(mem, gpa, len);
    if (!dst)
        return -EFAULT;
    memcpy(dst, src, len);
    return 0;
}

int guest_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
    const void *src = gpa_to_hva(mem, gpa, len);
    if (!src)
        return -EFAULT;
    memcpy(dst, src, len);
    return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem) { return mem->regions[0].size; }
