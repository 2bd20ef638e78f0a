/* The boot-timer device at 0xC000_0000: the guest's first write of the byte
 * 123 logs how long the VM took to boot (wall and CPU time since the monitor
 * started); later ones are counted, not logged. */
#ifndef HEARTH_BOOT_TIMER_H
#define HEARTH_BOOT_TIMER_H

#include "bus/device.h"
#include "core/trap.h"

#include <stdatomic.h>
#include <stdint.h>

#define BOOT_TIMER_MAGIC 123

struct boot_timer {
    uint64_t start_wall_ns;            /* CLOCK_MONOTONIC at process start */
    uint64_t start_cpu_ns;             /* CLOCK_PROCESS_CPUTIME_ID at process start */
    atomic_uint_fast64_t ignored;      /* writes that were not the magic value */
    atomic_uint_fast64_t marks;        /* writes of the magic value */
    atomic_uint_fast64_t boot_wall_us; /* the reported boot time, 0 if none */
};

extern const struct trap_ops boot_timer_ops;

void boot_timer_init(struct boot_timer *t, uint64_t start_wall_ns, uint64_t start_cpu_ns);

/* The lifecycle: one timer with --boot-timer. */
extern const struct device_ops boot_timer_device;

#endif
