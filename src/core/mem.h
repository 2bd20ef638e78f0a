/* Guest RAM: one anonymous mapping split around the 32-bit MMIO gap, and the
 * one checked guest-physical to host translation every device must use. */
#ifndef HEARTH_MEM_H
#define HEARTH_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_MAX_REGIONS 2

struct mem_region {
    uint64_t gpa;  /* guest-physical start */
    uint64_t size; /* bytes */
    uint8_t *host; /* where it lives in our address space */
};

struct guest_mem {
    uint8_t *host;     /* the whole mapping */
    uint64_t map_size; /* bytes mapped (== guest RAM) */
    bool huge_pages;
    int nregions;
    struct mem_region regions[MEM_MAX_REGIONS];
};

/* Maps `bytes` of guest RAM (MAP_NORESERVE: untouched pages cost nothing).
 * RAM that does not fit below the MMIO gap continues at 4 GiB. With
 * huge_pages, the mapping uses 2 MiB hugetlbfs pages, reserved now (so a
 * short pool fails here, not at the guest's first touch), and `bytes` must
 * be a multiple of 2 MiB. Returns 0 or -errno. */
int guest_mem_init(struct guest_mem *mem, uint64_t bytes, bool huge_pages);
void guest_mem_free(struct guest_mem *mem);

/* Returns the host address of [gpa, gpa + len) when the whole range lies in
 * one RAM region, NULL otherwise (including on overflow and len == 0). */
void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into / out of guest RAM with the same checks; 0 or -EFAULT. */
int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

/* End (exclusive) of RAM below the MMIO gap. */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
