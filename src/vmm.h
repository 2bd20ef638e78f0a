/* Builds a VM from a validated configuration, runs it to completion and
 * tears everything down again. */
#ifndef HEARTH_VMM_H
#define HEARTH_VMM_H

#include "config/config.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct acpi_config;

struct vmm_options {
    bool boot_timer;        /* attach the boot-timer device */
    uint64_t start_wall_ns; /* CLOCK_MONOTONIC when the process started */
    uint64_t start_cpu_ns;  /* CLOCK_PROCESS_CPUTIME_ID when the process started */
};

/* Returns the process exit status (enum hearth_exit). Everything the run
 * created (threads, fds, memory, terminal mode) is released on every path. */
int vmm_run(const struct vm_config *cfg, const struct vmm_options *opt);

/* Adds COM1 and the i8042 to the DSDT's devices. Returns 0, or -ENOSPC with
 * a message in err when the device list is full (a start-up error). */
int vmm_describe_legacy(struct acpi_config *acpi, char *err, size_t errlen);

#endif
