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
 * read fills data; write consumes it. Handlers run on a vCPU thread or, for
 * writes KVM batched in its coalesced ring, on whichever thread drains the
 * ring next (a vCPU's next exit, or the VMM thread when it reads the exit
 * accounting for metrics or at the stop). They never block on I/O, with one
 * bounded exception: the vTPM's START and tpmGo hold the vCPU until the
 * backend answers (at most the backend's own bound, tpm/backend.h), and
 * let go when the device is quiesced. */
typedef void trap_fn(void *dev, uint64_t offset, uint8_t *data, uint32_t len);

struct trap_ops {
    const char *name;
    trap_fn *read;  /* NULL: reads return all ones */
    trap_fn *write; /* NULL: writes are ignored */
};

#define TRAP_MAX_RANGES 64

struct trap_range {
    enum trap_space space;
    uint64_t base, len;
    const struct trap_ops *ops;
    void *dev;
    const char *owner;          /* the device, in exit accounting */
    atomic_uint_fast64_t exits; /* VM exits to hearth this range handled */
    /* Guest accesses, including those that came without an exit of their
     * own (a rep string's later elements, writes KVM batched). */
    atomic_uint_fast64_t reads, writes;
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

/* Claims [base, base + len) in `space` for `dev`; `owner` names the device
 * in the exit accounting (NULL: ops->name). Fails with -EEXIST on an
 * overlap, -EINVAL on an empty or wrapping range, -ENOSPC when full.
 * Registration happens before any vCPU runs; dispatch takes no lock. */
int trap_register(struct trap_registry *reg, enum trap_space space, uint64_t base, uint64_t len,
                  const struct trap_ops *ops, void *dev, const char *owner);

/* Routes one guest access that is a VM exit of its own. Returns true when a
 * device claimed it. An unclaimed or malformed access (bad width,
 * straddling a range's end) reads as all ones, is dropped when written,
 * and is counted. */
bool trap_dispatch(struct trap_registry *reg, enum trap_space space, uint64_t addr, uint8_t *data,
                   uint32_t len, bool is_write);
/* The same for an access that came without an exit of its own: the later
 * elements of a rep ins/outs, a write KVM batched in the coalesced ring. */
bool trap_dispatch_batched(struct trap_registry *reg, enum trap_space space, uint64_t addr,
                           uint8_t *data, uint32_t len, bool is_write);

uint64_t trap_unclaimed_count(struct trap_registry *reg);

/* One device's share of the exits: its ranges summed. */
struct trap_device_count {
    const char *name;
    uint64_t exits, reads, writes;
};

/* Fills out[0..max) with each device's counts, in registration order, and
 * returns how many it filled (TRAP_MAX_RANGES entries hold every device). */
int trap_device_counts(struct trap_registry *reg, struct trap_device_count *out, int max);

/* Logs (at Debug) how many guest accesses each range handled. */
void trap_log_stats(struct trap_registry *reg);

#endif
