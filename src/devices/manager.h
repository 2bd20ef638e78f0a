/* The device manager: the one place that gives a device its place in the
 * guest (trap ranges, virtio-mmio slot and GSI, kernel command-line entry,
 * DSDT node), runs the devices' I/O thread, and tears devices down, in
 * reverse order of attachment. */
#ifndef HEARTH_DEVICES_MANAGER_H
#define HEARTH_DEVICES_MANAGER_H

#include "boot/acpi.h"
#include "boot/layout.h"
#include "core/loop.h"
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

typedef void devmgr_teardown_fn(void *dev);

struct devmgr_range {
    enum trap_space space;
    uint64_t base, len;
    const struct trap_ops *ops;
};

/* A device with fixed resources, as the caller describes it. */
struct devmgr_device {
    const char *name;              /* for log lines and errors */
    void *dev;                     /* handed to teardown (and the trap ops) */
    void *trap_dev;                /* what the trap ops get instead, or NULL */
    devmgr_teardown_fn *teardown;  /* NULL: nothing to release */
    int nranges;
    struct devmgr_range ranges[ACPI_DEV_MAX_RES];
    const char *acpi_name, *acpi_hid; /* both NULL: not in the DSDT */
    int nirq;                         /* 0 or 1 */
    uint32_t irq;
    bool irq_extended;                /* Interrupt() descriptor (GSI, edge) */
};

/* Where a virtio device's interrupt goes: its slot's GSI, through an
 * irqfd (fd) or, without KVM (unit tests), KVM_IRQ_LINE. */
struct devmgr_irq {
    struct vm *vm;
    uint32_t gsi;
    int fd;
};

/* One queue's notification: its ioeventfd, handled on the I/O thread. */
struct devmgr_kick {
    struct virtio_mmio *mmio;
    int q;
    int fd;
};

struct devmgr {
    struct vm *vm;
    struct acpi_config *acpi;
    char cmdline[DEVMGR_CMDLINE_MAX]; /* entries for the kernel command line */
    int nvirtio;
    struct devmgr_irq virtio_irq[DEVMGR_MAX_VIRTIO];
    int nkicks;
    struct devmgr_kick kicks[DEVMGR_MAX_VIRTIO * VIRTIO_MMIO_MAX_QUEUES];
    /* The I/O thread: queue notifications and every device backend (files,
     * TAPs, sockets, timers) are served here, never on a vCPU thread. */
    struct loop io;
    int io_stop_fd;
    pthread_t io_thread;
    bool io_started;
    int ndevs;
    struct {
        const char *name;
        devmgr_teardown_fn *teardown;
        void *dev;
    } devs[DEVMGR_MAX_DEVICES];
};

/* With a KVM VM (vm_fd >= 0), virtio devices get an irqfd and one
 * ioeventfd per queue; without one (unit tests), KVM_IRQ_LINE and
 * notifications handled in place. */
void devmgr_init(struct devmgr *dm, struct vm *vm, struct acpi_config *acpi);

/* Claims the device's trap ranges and adds its DSDT node. From this call
 * on the manager owns the device's teardown, even when the call fails (a
 * failed start tears down what it attached). -errno with a message naming
 * the device on failure. */
int devmgr_add(struct devmgr *dm, const struct devmgr_device *d, char *err, size_t errlen);

/* A virtio-mmio device: takes the next slot, points the transport's
 * interrupt at the slot's GSI (an irqfd), gives each queue an ioeventfd on
 * QueueNotify served by the I/O thread, claims its registers, and
 * announces it as "virtio_mmio.device=4K@ADDR:GSI" on the command line and
 * as a LNRO0005 node in the DSDT. *base gets the slot's address (may be
 * NULL). */
int devmgr_add_virtio(struct devmgr *dm, const char *name, struct virtio_mmio *mmio, void *dev,
                      devmgr_teardown_fn *teardown, uint64_t *base, char *err, size_t errlen);

/* An extra ACPI table (TPM2, ...): -ENOSPC with a message when full. */
int devmgr_add_table(struct devmgr *dm, const char *name, const char *signature,
                     uint8_t revision, const uint8_t *body, size_t body_len, char *err,
                     size_t errlen);

/* A device backend's fd, served on the I/O thread: fn(ctx, fd, events)
 * whenever it is ready for `events`. Before devmgr_start; the device closes
 * the fd in its teardown; loop_mod(&dm->io, ...) changes the events it
 * waits for (on the I/O thread). 0 or -errno with a message. */
int devmgr_io_add(struct devmgr *dm, const char *name, int fd, uint32_t events, loop_fn *fn,
                  void *ctx, char *err, size_t errlen);

/* A backend fd of a virtio device, for devmgr_add_virtio_io. */
struct devmgr_fd {
    int fd;
    uint32_t events;
    loop_fn *fn; /* gets the device as ctx */
};

/* devmgr_add_virtio, then each of the device's backend fds on the I/O
 * thread (devmgr_io_add, named after the device). */
int devmgr_add_virtio_io(struct devmgr *dm, const char *name, struct virtio_mmio *mmio, void *dev,
                         devmgr_teardown_fn *teardown, const struct devmgr_fd *fds, int nfds,
                         char *err, size_t errlen);

/* Starts the I/O thread, once every device is attached. */
int devmgr_start(struct devmgr *dm, char *err, size_t errlen);

/* Stops the I/O thread, then tears every device down, last attached
 * first. */
void devmgr_teardown(struct devmgr *dm);

#endif
