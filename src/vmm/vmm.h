/* The microVM's lifecycle: configured (through the same per-section
 * setters from the config file and the API), started, paused and resumed,
 * stopped. Everything runs on the thread that calls vmm_run (the VMM
 * thread: the event loop, the console, the API's requests, metrics) but
 * for the vCPUs, the devices' I/O thread, the TPM backend's thread and the
 * API server's listener. */
#ifndef HEARTH_VMM_H
#define HEARTH_VMM_H

#include "config/config.h"
#include "core/inherited.h"
#include "core/loop.h"
#include "vmm/lifecycle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmm;

struct vmm_options {
    const char *instance_id;
    bool boot_timer;                 /* attach the boot-timer device */
    bool seccomp;                    /* every thread installs its filter (default) */
    uint64_t start_wall_ns;          /* CLOCK_MONOTONIC when the process started */
    uint64_t start_cpu_ns;           /* CLOCK_PROCESS_CPUTIME_ID when the process started */
    struct inherited_fds *inherited; /* what tpm.socket "fd:N" may name (NULL: nothing) */
};

/* A VMM with Firecracker's default configuration, its event loop and
 * signal handling; no KVM yet. NULL with a message on failure. */
struct vmm *vmm_create(const struct vmm_options *opt, char *err, size_t errlen);
/* Releases everything; the VM must have stopped (vmm_run returned). */
void vmm_destroy(struct vmm *m);

/* Sets one section (pre-boot): the body through config_set on a copy of
 * the configuration, the section applied (logger, metrics open their
 * files), then kept. On error -1 with a message, nothing changed. */
int vmm_configure(struct vmm *m, enum config_section s, json_t *body, bool patch, char *err,
                  size_t errlen);
/* Takes a whole configuration (the config file's), applying its logger and
 * metrics sections. On success m owns cfg's contents. */
int vmm_load_config(struct vmm *m, struct vm_config *cfg, char *err, size_t errlen);

/* InstanceStart: opens /dev/kvm, builds the VM and runs its vCPUs. A failed
 * start releases what it built and leaves the VMM not started. */
int vmm_start(struct vmm *m, char *err, size_t errlen);
int vmm_action(struct vmm *m, enum vmm_action a, char *err, size_t errlen);
enum vmm_state vmm_state(const struct vmm *m);
const struct vm_config *vmm_config(const struct vmm *m);

/* The operations a front end (the API) drives, bound to a struct vmm. */
extern const struct vmm_ops vmm_ops;

/* Serves fd on the VMM thread's loop: fn(ctx, fd, events) when readable
 * (the API server's requests). Before vmm_run. -1 with a message. */
int vmm_watch(struct vmm *m, int fd, loop_fn *fn, void *ctx, char *err, size_t errlen);

/* Adds a metrics source: fn(ctx, o) adds its groups to each line (the
 * API's request counts). At most two; -1 when full. */
typedef void vmm_metrics_fn(void *ctx, json_t *o);
int vmm_add_metrics(struct vmm *m, vmm_metrics_fn *fn, void *ctx);
/* Start-up times for metrics (api_server.process_startup_time_us, ...). */
void vmm_set_startup_times(struct vmm *m, uint64_t wall_us, uint64_t cpu_us);

/* Runs the event loop until the VM stops (or, not started, a signal).
 * Returns the process exit status (enum hearth_exit). */
int vmm_run(struct vmm *m);

#endif
