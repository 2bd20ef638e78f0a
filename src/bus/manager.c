/* The device manager: places, announces, serves and tears down every
 * device (the loops over their lifecycle: manager_lifecycle.c). */
#include "bus/manager.h"

#include "core/log.h"
#include "core/seccomp.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEVMGR_IO_STACK (128 * 1024)

void devmgr_init(struct devmgr *dm, const struct device_ops *const *kinds, int nkinds)
{
    memset(dm, 0, sizeof(*dm));
    dm->kinds = kinds;
    dm->nkinds = nkinds;
    dm->io_stop_fd = -1;
    dm->io.epfd = -1;
}

void devmgr_open(struct devmgr *dm, struct vm *vm, struct acpi_config *acpi)
{
    devmgr_init(dm, dm->kinds, dm->nkinds);
    dm->vm = vm;
    dm->acpi = acpi;
    if (loop_init(&dm->io) < 0)
        dm->io.epfd = -1; /* devmgr_io_add says so */
}

/* Takes ownership of dev: recorded, or destroyed when there is no room. */
static int record(struct devmgr *dm, const struct device_ops *ops, const char *name, void *dev,
                  char *err, size_t errlen)
{
    if (dm->ndevs == DEVMGR_MAX_DEVICES) {
        snprintf(err, errlen, "attaching %s: more than %d devices", name, DEVMGR_MAX_DEVICES);
        ops->destroy(dev);
        return -ENOSPC;
    }
    int index = 0;
    for (int i = 0; i < dm->ndevs; i++)
        index += dm->devs[i].ops == ops;
    dm->devs[dm->ndevs++] = (struct devmgr_instance){ ops, name, dev, index, NULL };
    return 0;
}

static int describe(struct devmgr *dm, const struct devmgr_device *d, char *err, size_t errlen)
{
    if (!d->acpi_name)
        return 0;
    struct acpi_dev *a = acpi_add_dev(dm->acpi, d->acpi_name, d->acpi_hid, 0);
    if (!a) {
        snprintf(err, errlen, "describing %s: more than %d ACPI devices", d->name, ACPI_MAX_DEVS);
        return -ENOSPC;
    }
    for (int i = 0; i < d->nranges; i++) {
        const struct devmgr_range *r = &d->ranges[i];
        if (r->space == TRAP_PIO) {
            a->io[a->nio].base = (uint16_t)r->base;
            a->io[a->nio++].len = (uint16_t)r->len;
        } else {
            a->mem[a->nmem].base = (uint32_t)r->base;
            a->mem[a->nmem++].len = (uint32_t)r->len;
        }
    }
    a->nirq = d->nirq;
    a->irq[0] = d->irq;
    a->irq_extended = d->irq_extended;
    return 0;
}

int devmgr_add(struct devmgr *dm, const struct devmgr_device *d, char *err, size_t errlen)
{
    int e = record(dm, d->ops, d->name, d->dev, err, errlen);
    if (e < 0)
        return e;
    for (int i = 0; i < d->nranges; i++) {
        const struct devmgr_range *r = &d->ranges[i];
        e = trap_register(&dm->vm->traps, r->space, r->base, r->len, r->ops,
                          d->trap_dev ? d->trap_dev : d->dev, d->name);
        if (e < 0) {
            snprintf(err, errlen, "registering %s at %s 0x%llx: %s", d->name,
                     r->space == TRAP_PIO ? "port" : "address", (unsigned long long)r->base,
                     strerror(-e));
            return e;
        }
    }
    return describe(dm, d, err, errlen);
}

static void virtio_irq(void *ctx)
{
    struct devmgr_irq *irq = ctx;
    if (irq->fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(irq->fd, &one, sizeof(one));
        (void)w; /* a full counter already means "interrupt pending" */
    } else {
        vm_irq_pulse(irq->vm, irq->gsi);
    }
}

static void on_kick(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct devmgr_watch *w = ctx;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) == sizeof(n))
        virtio_mmio_kick(w->mmio, w->index);
}

static void on_backend(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    struct devmgr_watch *w = ctx;
    w->ops->io_ready(w->dev, w->index, events);
}

static void on_limiter(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    struct devmgr_watch *w = ctx;
    virtio_mmio_limiter_fired(w->mmio, w->rl, w->index);
}

int devmgr_io_add(struct devmgr *dm, const char *name, int fd, uint32_t events, loop_fn *fn,
                  void *ctx, char *err, size_t errlen)
{
    int r = dm->io.epfd < 0 ? -EBADF : loop_add(&dm->io, fd, events, fn, ctx);
    if (r < 0)
        snprintf(err, errlen, "%s: serving its I/O: %s", name, strerror(-r));
    return r;
}

/* Serves w->fd on the I/O thread for w (kept in the manager's table). */
static int watch(struct devmgr *dm, const char *name, const struct devmgr_watch *w, uint32_t events,
                 loop_fn *fn, char *err, size_t errlen)
{
    if (dm->nwatches == DEVMGR_MAX_WATCHES) {
        snprintf(err, errlen, "%s: more than %d device fds", name, DEVMGR_MAX_WATCHES);
        if (w->own_fd)
            close(w->fd);
        return -ENOSPC;
    }
    struct devmgr_watch *slot = &dm->watches[dm->nwatches++];
    *slot = *w;
    return devmgr_io_add(dm, name, w->fd, events, fn, slot, err, errlen);
}

/* The slot's irqfd and one ioeventfd per queue (KVM only). */
static int wire_virtio(struct devmgr *dm, const char *name, struct virtio_mmio *mmio,
                       struct devmgr_irq *irq, uint64_t addr, char *err, size_t errlen)
{
    irq->fd = -1;
    if (dm->vm->vm_fd < 0)
        return 0;
    int r = 0;
    if ((irq->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (r = vm_irqfd(dm->vm, irq->fd, irq->gsi)) < 0) {
        snprintf(err, errlen, "%s: irqfd for GSI %u: %s", name, irq->gsi,
                 strerror(r < 0 ? -r : errno));
        return r < 0 ? r : -errno;
    }
    for (int q = 0; q < mmio->ops->nqueues; q++) {
        struct devmgr_watch w = {
            .mmio = mmio, .index = q, .own_fd = true, .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        };
        if (w.fd < 0) {
            snprintf(err, errlen, "%s: eventfd: %s", name, strerror(errno));
            return -errno;
        }
        if ((r = watch(dm, name, &w, EPOLLIN, on_kick, err, errlen)) < 0)
            return r;
        if ((r = vm_ioeventfd(dm->vm, w.fd, addr + VIRTIO_MMIO_QUEUE_NOTIFY, 4, (uint64_t)q)) < 0) {
            snprintf(err, errlen, "%s: ioeventfd for queue %d: %s", name, q, strerror(-r));
            return r;
        }
        mmio->notify_fd[q] = w.fd;
    }
    return 0;
}

static int cmdline_add(struct devmgr *dm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cmdline_add(struct devmgr *dm, const char *fmt, ...)
{
    size_t used = strlen(dm->cmdline);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dm->cmdline + used, sizeof(dm->cmdline) - used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(dm->cmdline) - used) {
        dm->cmdline[used] = 0;
        return -ENOSPC;
    }
    return 0;
}

int devmgr_attach_virtio(struct devmgr *dm, const struct devmgr_virtio *v, uint64_t *base,
                         char *err, size_t errlen)
{
    const char *name = v->name;
    if (dm->nvirtio == DEVMGR_MAX_VIRTIO) {
        snprintf(err, errlen, "attaching %s: more than %d virtio devices", name, DEVMGR_MAX_VIRTIO);
        v->ops->destroy(v->dev);
        return -ENOSPC;
    }
    int slot = dm->nvirtio++;
    uint64_t addr = LAYOUT_VIRTIO_MMIO_BASE + (uint64_t)slot * LAYOUT_VIRTIO_MMIO_SIZE;
    uint32_t gsi = IRQ_VIRTIO_BASE + (uint32_t)slot;
    dm->virtio_irq[slot] = (struct devmgr_irq){ dm->vm, gsi, -1 };
    char acpi_name[5];
    snprintf(acpi_name, sizeof(acpi_name), "V%03d", slot);
    struct devmgr_device d = {
        .ops = v->ops,
        .name = name,
        .dev = v->dev,
        .trap_dev = v->mmio,
        .nranges = 1,
        .ranges = { { TRAP_MMIO, addr, LAYOUT_VIRTIO_MMIO_SIZE, &virtio_mmio_ops } },
        .acpi_name = acpi_name,
        .acpi_hid = "LNRO0005",
        .nirq = 1,
        .irq = gsi,
        .irq_extended = true,
    };
    int r = devmgr_add(dm, &d, err, errlen);
    if (dm->ndevs && dm->devs[dm->ndevs - 1].dev == v->dev)
        dm->devs[dm->ndevs - 1].mmio = v->mmio;
    if (r < 0 || (r = wire_virtio(dm, name, v->mmio, &dm->virtio_irq[slot], addr, err, errlen)) < 0)
        return r;
    virtio_mmio_set_irq(v->mmio, virtio_irq, &dm->virtio_irq[slot]);
    for (int i = 0; i < v->nfds; i++) {
        const struct devmgr_watch w = {
            .mmio = v->mmio, .index = i, .fd = v->fds[i].fd, .ops = v->ops, .dev = v->dev
        };
        if ((r = watch(dm, name, &w, v->fds[i].events, on_backend, err, errlen)) < 0)
            return r;
    }
    for (int i = 0; i < v->nlimiters; i++) {
        const struct devmgr_watch w = {
            .mmio = v->mmio, .index = i, .fd = v->limiters[i]->timer_fd, .rl = v->limiters[i]
        };
        if ((r = watch(dm, name, &w, EPOLLIN, on_limiter, err, errlen)) < 0)
            return r;
    }
    if (cmdline_add(dm, "%svirtio_mmio.device=4K@0x%llx:%u", dm->cmdline[0] ? " " : "",
                    (unsigned long long)addr, gsi) < 0) {
        snprintf(err, errlen, "announcing %s: the command line is full", name);
        return -ENOSPC;
    }
    if (base)
        *base = addr;
    return 0;
}

int devmgr_add_table(struct devmgr *dm, const char *name, const char *signature, uint8_t revision,
                     const uint8_t *body, size_t body_len, char *err, size_t errlen)
{
    int r = acpi_add_table(dm->acpi, signature, revision, body, body_len);
    if (r < 0)
        snprintf(err, errlen, "describing %s: more than %d extra ACPI tables", name,
                 ACPI_MAX_EXTRA_TABLES);
    return r;
}

static void on_io_stop(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    loop_stop(ctx);
}

static void *io_thread(void *arg)
{
    struct devmgr *dm = arg;
    log_set_thread_name("io");
    int r = seccomp_install(SECCOMP_IO, dm->vm->seccomp);
    if (r == 0)
        r = loop_run(&dm->io);
    else
        r = -EPERM;
    if (r < 0)
        vm_request_stop(dm->vm, HEARTH_EXIT_ERROR, "the device I/O loop failed: %s", strerror(-r));
    return NULL;
}

int devmgr_start(struct devmgr *dm, char *err, size_t errlen)
{
    int r = 0;
    if (dm->io.epfd < 0 || (dm->io_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (r = loop_add(&dm->io, dm->io_stop_fd, EPOLLIN, on_io_stop, &dm->io)) < 0) {
        snprintf(err, errlen, "device I/O thread: %s",
                 strerror(r < 0   ? -r
                          : errno ? errno
                                  : EBADF));
        return -1;
    }
    /* Signals are the VMM thread's (and the vCPUs' kick): none here. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, DEVMGR_IO_STACK);
    r = pthread_create(&dm->io_thread, &attr, io_thread, dm);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        snprintf(err, errlen, "device I/O thread: %s", strerror(r));
        return -1;
    }
    dm->io_started = true;
    return 0;
}

void devmgr_teardown(struct devmgr *dm)
{
    if (dm->io_started) {
        uint64_t one = 1;
        ssize_t w = write(dm->io_stop_fd, &one, sizeof(one));
        (void)w;
        pthread_join(dm->io_thread, NULL);
        dm->io_started = false;
    }
    while (dm->ndevs > 0) {
        struct devmgr_instance *d = &dm->devs[--dm->ndevs];
        d->ops->destroy(d->dev);
    }
    for (int i = 0; i < dm->nwatches; i++)
        if (dm->watches[i].own_fd)
            close(dm->watches[i].fd);
    for (int i = 0; i < dm->nvirtio; i++)
        if (dm->virtio_irq[i].fd >= 0)
            close(dm->virtio_irq[i].fd);
    if (dm->io_stop_fd >= 0)
        close(dm->io_stop_fd);
    if (dm->io.epfd >= 0)
        loop_destroy(&dm->io);
    devmgr_init(dm, dm->kinds, dm->nkinds);
}
