/* bootinfo: checks the memory map, command line and initrd the monitor
 * handed over (PVH start_info or zero page) against what the test set up:
 * kind=pvh|linux64 mem_mib=N [initrd_size=N initrd_sum=S], where S is the
 * sum of (offset + 1) * byte over the initrd, modulo 2^32 (any awk can
 * compute it on the host). */
#include "guest.h"

#define MIB (1ull << 20)
#define EBDA 0x9fc00ull
#define HIMEM 0x100000ull
#define GAP_START 0xc0000000ull
#define GAP_END 0x100000000ull

static uint32_t weighted_sum(const uint8_t *p, uint64_t n)
{
    uint32_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += (uint32_t)(i + 1) * p[i];
    return s;
}

static bool covered(const struct boot_info *bi, uint64_t start, uint64_t end, uint32_t type)
{
    for (int i = 0; i < bi->nmem; i++)
        if (bi->mem[i].type == type && bi->mem[i].addr <= start &&
            bi->mem[i].addr + bi->mem[i].size >= end)
            return true;
    return false;
}

void guest_main(const struct boot_info *bi)
{
    char kind[16] = "", marker[64] = "";
    opt_get(bi, "kind", kind, sizeof(kind));
    bool pvh = bi->kind == BOOT_KIND_PVH;
    tap_ok(strcmp(kind, pvh ? "pvh" : "linux64") == 0, "entered through %s (expected %s)",
           pvh ? "pvh" : "linux64", kind);
    printf("# cmdline: %s\n", bi->cmdline);
    if (opt_get(bi, "marker", marker, sizeof(marker)))
        printf("# marker=%s\n", marker);

    uint64_t ram = 0, low_end = 0, high = 0;
    bool sorted = true;
    for (int i = 0; i < bi->nmem; i++) {
        const struct guest_memmap_entry *e = &bi->mem[i];
        printf("# e820: [0x%llx, 0x%llx) type %u\n", (unsigned long long)e->addr,
               (unsigned long long)(e->addr + e->size), e->type);
        if (i && e->addr < bi->mem[i - 1].addr + bi->mem[i - 1].size)
            sorted = false;
        if (e->type != 1)
            continue;
        ram += e->size;
        if (e->addr < GAP_START && e->addr + e->size > low_end)
            low_end = e->addr + e->size;
        if (e->addr >= GAP_END)
            high += e->size;
    }
    uint64_t mem = opt_u64(bi, "mem_mib", 0) * MIB;
    uint64_t low = mem < GAP_START ? mem : GAP_START;
    tap_ok(bi->nmem > 0 && sorted, "memory map has %d sorted, disjoint entries", bi->nmem);
    tap_ok(ram == mem - (HIMEM - EBDA), "RAM totals %llu bytes (expected %llu)",
           (unsigned long long)ram, (unsigned long long)(mem - (HIMEM - EBDA)));
    tap_ok(covered(bi, EBDA, HIMEM, 2), "BIOS area [0x9fc00, 1 MiB) is reserved");
    tap_ok(covered(bi, GAP_START, GAP_END, 2) && !covered(bi, GAP_START, GAP_START + 1, 1),
           "MMIO gap is reserved, not RAM");
    tap_ok(low_end == low, "low RAM ends at 0x%llx", (unsigned long long)low_end);
    tap_ok(high == (mem > GAP_START ? mem - GAP_START : 0), "RAM above 4 GiB: %llu MiB",
           (unsigned long long)(high / MIB));

    /* The last page of RAM is really there. */
    uint64_t last = (high ? GAP_END + high : low_end) - 8;
    map_identity_gib(last);
    mmio_write64(last, 0x6865617274680a00ull);
    tap_ok(mmio_read64(last) == 0x6865617274680a00ull, "last RAM word at 0x%llx is writable",
           (unsigned long long)last);

    uint64_t want_size = opt_u64(bi, "initrd_size", 0);
    if (want_size) {
        tap_ok(bi->initrd_size == want_size, "initrd is %llu bytes",
               (unsigned long long)bi->initrd_size);
        tap_ok((bi->initrd_addr & 0xfff) == 0 && bi->initrd_addr + bi->initrd_size <= low_end &&
                   bi->initrd_addr + bi->initrd_size + 4096 > low_end,
               "initrd at 0x%llx is page aligned at the top of low RAM",
               (unsigned long long)bi->initrd_addr);
        uint32_t h = weighted_sum((const uint8_t *)bi->initrd_addr, bi->initrd_size);
        tap_ok(h == (uint32_t)opt_u64(bi, "initrd_sum", 0), "initrd content sum %u", h);
    } else {
        tap_ok(bi->initrd_size == 0, "no initrd was given");
    }
}
