/* The lifecycle every device fills in, once, in its own file: the device
 * manager drives it for attach order, teardown, pause, snapshots, metrics
 * and PATCH, so "for every device" is one loop. */
#ifndef HEARTH_BUS_DEVICE_H
#define HEARTH_BUS_DEVICE_H

#include "config/config.h"
#include "core/inherited.h"
#include "core/loop.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct devmgr;
/* A snapshot's writer and reader (the snapshot format's, not yet here). */
struct snap_writer;
struct snap_reader;

/* What a device is made from: the VM being built and what it may need of
 * the VMM around it. */
struct device_env {
    struct devmgr *dm;
    const struct vm_config *cfg;
    struct loop *vmm_loop;           /* the VMM thread's loop (the console's) */
    struct inherited_fds *inherited; /* what "fd:N" may name (NULL: nothing) */
    bool seccomp;                    /* threads a device starts install filters */
    bool boot_timer;                 /* --boot-timer */
    uint64_t start_wall_ns, start_cpu_ns;
};

/* One kind of device. Every hook but create and destroy may be NULL:
 * nothing to do (save: the device cannot be saved). Hooks that take `dev`
 * get what the device handed the manager when it attached. */
struct device_ops {
    const char *name;
    /* The configuration section it is made from (CONFIG_NSECTIONS: none):
     * the section whose PUT runs check, and whose PATCH after the start
     * runs update. */
    enum config_section section;
    /* How many instances env asks for (NULL: one, always). */
    int (*count)(const struct device_env *env);
    /* PUT-time checks of the section in `next` (Firecracker opens a
     * drive's file when it is configured). 0, or -1 with a message. */
    int (*check)(const struct vm_config *next, char *err, size_t errlen);
    /* Makes instance `index` and attaches it (devmgr_add or
     * devmgr_attach_virtio), after which the manager owns it, even when the
     * attach fails. 0, or -1 with a message naming the device. */
    int (*create)(const struct device_env *env, int index, char *err, size_t errlen);
    /* Releases everything; the vCPUs and the I/O thread have stopped. */
    void (*destroy)(void *dev);
    /* Back to power-on state, as the guest found it at boot. */
    void (*reset)(void *dev);
    /* No vCPU may wait on the device from quiesce until resume (a pause, a
     * snapshot, the stop): a device that holds a vCPU for its backend lets
     * it go, and holds none until resume. VMM thread. */
    void (*quiesce)(void *dev);
    void (*resume)(void *dev);
    /* The device's state into a snapshot, and back (quiesced). 0, or -1
     * with a message. */
    int (*save)(void *dev, struct snap_writer *w, char *err, size_t errlen);
    int (*restore)(void *dev, struct snap_reader *r, char *err, size_t errlen);
    /* A PATCH of the running VM: instance `index`'s part of the section,
     * from `old` to `next`. -1 with a message, the device unchanged. */
    int (*update)(void *dev, int index, const struct vm_config *old, const struct vm_config *next,
                  char *err, size_t errlen);
    /* One of the fds the device gave devmgr_attach_virtio (fds[index]) is
     * ready, on the I/O thread. */
    void (*io_ready)(void *dev, int index, uint32_t events);
    /* Adds this kind's metric groups to o, from all n instances (n may be
     * 0: Firecracker reports a group whether or not the device exists). */
    void (*metrics)(void *const *devs, int n, json_t *o);
};

#endif
