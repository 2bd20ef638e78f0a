/* The one registry that dispatches every guest MMIO and port I/O access to
 * the device that claimed the address range. */
#ifndef HEARTH_TRAP_H
#define HEARTH_TRAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum trap_space { TRAP_PIO, TRAP_MMIO };

/* Every device handles its registers through this one signature.
 * offset: from the base of the range the device registered.
 * data/len: the access, little-endian; len is 1, 2, 4 or 8 and
 * [offset, offset + len) is inside the range (the registry checked both).
 * read fills data; write consumes it. Handlers run on vCPU threads and must
 * never block on I/O. */
typedef void trap_fn(void *dev, uint64_t offset, uint8_t *data, uint32_t len);

struct trap_ops {
    const char *name;
    trap_fn *read;   /* NULL: reads return all ones */
    trap_fn *write;  /* NULL: writes are ignored */
};

#define TRAP_MAX_RANGES 64

struct trap_range {
    enum trap_space space;
    uint64_t base, len;
    const struct trap_ops *ops;
    void *dev;
    atomic_uint_fast64_t accesses; /* VM exits this range handled */
};

struct trap_registry {
    int nranges;
    struct trap_range ranges[TRAP_MAX_RANGES];
    /* Accesses nobody claimed: counted, logged at most once a second. */
    atomic_uint_fast64_t unclaimed;
    atomic_uint_fast64_t unclaimed_logged;
    atomic_int_fast64_t next_log_ns;
};

void trap_init(struct trap_registry *reg);

/* Claims [base, base + len) in `space` for `dev`. Fails with -EEXIST on an
 * overlap, -EINVAL on an empty or wrapping range, -ENOSPC when full.
 * Registration happens before any vCPU runs; dispatch takes no lock. */
int trap_register(struct trap_registry *reg, enum trap_space space, uint64_t base,
                  uint64_t len, const struct trap_ops *ops, void *dev);

/* Routes one guest access. Returns true when a device claimed it. An
 * unclaimed or malformed access (bad width, straddling a range's end) reads
 * as all ones, is dropped when written, and is counted. */
bool trap_dispatch(struct trap_registry *reg, enum trap_space space, uint64_t addr,
                   uint8_t *data, uint32_t len, bool is_write);

uint64_t trap_unclaimed_count(struct trap_registry *reg);

/* Logs (at Debug) how many guest accesses each device handled. */
void trap_log_stats(struct trap_registry *reg);

#endif
