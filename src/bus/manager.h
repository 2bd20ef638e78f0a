/* The device manager: makes every configured device through its lifecycle
 * (devices/device.h), gives each its place in the guest (trap ranges,
 * virtio-mmio slot and GSI, kernel command-line entry, DSDT node), runs
 * the devices' I/O thread, and loops over them for pause, snapshots,
 * metrics, PATCH and teardown (in reverse order of attachment). */
#ifndef HEARTH_BUS_MANAGER_H
#define HEARTH_BUS_MANAGER_H

#include "arch/x86_64/layout.h"
#include "boot/acpi.h"
#include "bus/device.h"
#include "core/loop.h"
#include "core/ratelimit.h"
#include "core/trap.h"
#include "core/vm.h"
#include "virtio/mmio.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVMGR_MAX_DEVICES 24
/* virtio-mmio slots: 4 KiB each from LAYOUT_VIRTIO_MMIO_BASE, slot i on
 * GSI IRQ_VIRTIO_BASE + i; the IOAPIC's 24 pins bound the count. */
#define DEVMGR_MAX_VIRTIO 16
/* Room for every slot's command-line entry: the longest, with the space
 * before it, is " virtio_mmio.device=4K@0xc0010000:20" (36 bytes). */
#define DEVMGR_CMDLINE_ENTRY_MAX 40
#define DEVMGR_CMDLINE_MAX (DEVMGR_MAX_VIRTIO * DEVMGR_CMDLINE_ENTRY_MAX)

struct devmgr_range {
    enum trap_space space;
    uint64_t base, len;
    const struct trap_ops *ops;
};

/* A device with fixed resources, as its create describes it. */
struct devmgr_device {
    const struct device_ops *ops; /* its lifecycle: destroy(dev) releases it */
    const char *name;             /* for traps, log lines and errors */
    void *dev;                    /* what the lifecycle hooks get */
    void *trap_dev;               /* what the trap ops get instead, or NULL */
    int nranges;
    struct devmgr_range ranges[ACPI_DEV_MAX_RES];
    const char *acpi_name, *acpi_hid; /* both NULL: not in the DSDT */
    int nirq;                         /* 0 or 1 */
    uint32_t irq;
    bool irq_extended; /* Interrupt() descriptor (GSI, edge) */
};

#define DEVMGR_VIRTIO_MAX_FDS 3
#define DEVMGR_VIRTIO_MAX_LIMITERS 2

/* A virtio-mmio device, as its create describes it: the manager gives it
 * a slot and serves its queues, its backend fds and its rate limiters'
 * timers on the I/O thread. */
struct devmgr_virtio {
    const struct device_ops *ops;
    const char *name;
    struct virtio_mmio *mmio;
    void *dev;
    int nfds; /* each ready fd: ops->io_ready(dev, i, events) */
    struct {
        int fd;
        uint32_t events; /* 0: watched later, through loop_mod on dm->io */
    } fds[DEVMGR_VIRTIO_MAX_FDS];
    int nlimiters; /* each timer: virtio_mmio_limiter_fired(mmio, rl, i) */
    struct ratelimit *limiters[DEVMGR_VIRTIO_MAX_LIMITERS];
};

/* Where a virtio device's interrupt goes: its slot's GSI, through an
 * irqfd (fd) or, without KVM (unit tests), KVM_IRQ_LINE. */
struct devmgr_irq {
    struct vm *vm;
    uint32_t gsi;
    int fd;
};

/* One fd the I/O thread serves for a device: a queue's ioeventfd (rl and
 * ops NULL), a backend fd (ops), or a rate limiter's timer (rl). */
struct devmgr_watch {
    struct virtio_mmio *mmio;
    int index; /* the queue, the fd's or the limiter's index */
    int fd;
    bool own_fd; /* an ioeventfd the manager made and closes */
    const struct device_ops *ops;
    void *dev;
    struct ratelimit *rl;
};

struct devmgr_instance {
    const struct device_ops *ops;
    const char *name;
    void *dev;
    int index;                /* among the instances of its kind, in attach order */
    struct virtio_mmio *mmio; /* a virtio device's transport, or NULL */
};

#define DEVMGR_MAX_WATCHES                                                                         \
    (DEVMGR_MAX_VIRTIO *                                                                           \
     (VIRTIO_MMIO_MAX_QUEUES + DEVMGR_VIRTIO_MAX_FDS + DEVMGR_VIRTIO_MAX_LIMITERS))

struct devmgr {
    /* The kinds of device, in attach order (devmgr_init). */
    const struct device_ops *const *kinds;
    int nkinds;
    /* Per start (devmgr_open .. devmgr_teardown). */
    struct vm *vm;
    struct acpi_config *acpi;
    char cmdline[DEVMGR_CMDLINE_MAX]; /* entries for the kernel command line */
    int nvirtio;
    struct devmgr_irq virtio_irq[DEVMGR_MAX_VIRTIO];
    int nwatches;
    struct devmgr_watch watches[DEVMGR_MAX_WATCHES];
    /* The I/O thread: queue notifications and every device backend (files,
     * TAPs, sockets, timers) are served here, never on a vCPU thread. */
    struct loop io;
    int io_stop_fd;
    pthread_t io_thread;
    bool io_started;
    bool quiesced;
    int ndevs;
    struct devmgr_instance devs[DEVMGR_MAX_DEVICES];
};

/* A manager of the given kinds of device (kept, not copied), with none
 * attached; no resources yet. */
void devmgr_init(struct devmgr *dm, const struct device_ops *const *kinds, int nkinds);

/* Begins a start: devices attach to vm, describe themselves in acpi. With a
 * KVM VM (vm_fd >= 0), virtio devices get an irqfd and one ioeventfd per
 * queue; without one (unit tests), KVM_IRQ_LINE and notifications handled
 * in place. */
void devmgr_open(struct devmgr *dm, struct vm *vm, struct acpi_config *acpi);

/* Every kind's instances, as many as its count asks for, in the kinds'
 * order. -1 with a message naming the device on failure (what attached
 * stays attached, for devmgr_teardown). */
int devmgr_create_all(struct devmgr *dm, const struct device_env *env, char *err, size_t errlen);

/* Claims the device's trap ranges and adds its DSDT node. From this call
 * on the manager owns the device, even when the call fails (a failed start
 * tears down what it attached). -errno with a message naming the device on
 * failure. */
int devmgr_add(struct devmgr *dm, const struct devmgr_device *d, char *err, size_t errlen);

/* A virtio-mmio device: takes the next slot, points the transport's
 * interrupt at the slot's GSI (an irqfd), gives each queue an ioeventfd on
 * QueueNotify, serves its backend fds and limiter timers, claims its
 * registers, and announces it as "virtio_mmio.device=4K@ADDR:GSI" on the
 * command line and as a LNRO0005 node in the DSDT. The manager owns it
 * from this call on, as devmgr_add. *base gets the slot's address (may be
 * NULL). */
int devmgr_attach_virtio(struct devmgr *dm, const struct devmgr_virtio *v, uint64_t *base,
                         char *err, size_t errlen);

/* An extra ACPI table (TPM2, ...): -ENOSPC with a message when full. */
int devmgr_add_table(struct devmgr *dm, const char *name, const char *signature, uint8_t revision,
                     const uint8_t *body, size_t body_len, char *err, size_t errlen);

/* A backend fd served on the I/O thread: fn(ctx, fd, events) whenever it
 * is ready for `events`. Before devmgr_start; the device closes the fd in
 * its destroy. 0 or -errno with a message. */
int devmgr_io_add(struct devmgr *dm, const char *name, int fd, uint32_t events, loop_fn *fn,
                  void *ctx, char *err, size_t errlen);

/* Starts the I/O thread, once every device is attached. */
int devmgr_start(struct devmgr *dm, char *err, size_t errlen);

/* Stops the I/O thread, then destroys every device, last attached first;
 * the manager is then as devmgr_init left it. */
void devmgr_teardown(struct devmgr *dm);

/* Instance `index` of a kind, or NULL. */
void *devmgr_find(const struct devmgr *dm, const struct device_ops *ops, int index);

/* Every device's quiesce (resume, reset), in attach order (resume: in
 * reverse). Quiesce and resume are idempotent. A virtio device is reset
 * by its transport (as a driver's reset). VMM thread. */
void devmgr_quiesce(struct devmgr *dm);
void devmgr_resume(struct devmgr *dm);
void devmgr_reset(struct devmgr *dm);

/* Every device's save (restore), in attach order; the first device that
 * cannot is named in the error. */
int devmgr_save(struct devmgr *dm, struct snap_writer *w, char *err, size_t errlen);
int devmgr_restore(struct devmgr *dm, struct snap_reader *r, char *err, size_t errlen);

/* PUT of section s: every kind made from it checks `next`. 0 or -1. */
int devmgr_check(const struct devmgr *dm, enum config_section s, const struct vm_config *next,
                 char *err, size_t errlen);
/* Whether a running VM takes a PATCH of section s. */
bool devmgr_updatable(const struct devmgr *dm, enum config_section s);
/* PATCH of a running VM's section s, to every instance made from it. */
int devmgr_update(struct devmgr *dm, enum config_section s, const struct vm_config *old,
                  const struct vm_config *next, char *err, size_t errlen);

/* Every kind's metric groups (with zeros for a kind without instances). */
void devmgr_metrics(const struct devmgr *dm, json_t *o);

#endif
