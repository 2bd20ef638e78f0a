/* The device manager: places, announces and tears down every device. */
#include "devices/manager.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void devmgr_init(struct devmgr *dm, struct vm *vm, struct acpi_config *acpi)
{
    memset(dm, 0, sizeof(*dm));
    dm->vm = vm;
    dm->acpi = acpi;
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
    if (dm->ndevs == DEVMGR_MAX_DEVICES) {
        snprintf(err, errlen, "attaching %s: more than %d devices", d->name, DEVMGR_MAX_DEVICES);
        if (d->teardown)
            d->teardown(d->dev);
        return -ENOSPC;
    }
    dm->devs[dm->ndevs].name = d->name;
    dm->devs[dm->ndevs].teardown = d->teardown;
    dm->devs[dm->ndevs++].dev = d->dev;
    for (int i = 0; i < d->nranges; i++) {
        const struct devmgr_range *r = &d->ranges[i];
        int e = trap_register(&dm->vm->traps, r->space, r->base, r->len, r->ops,
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
    vm_irq_pulse(irq->vm, irq->gsi);
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

int devmgr_add_virtio(struct devmgr *dm, const char *name, struct virtio_mmio *mmio, void *dev,
                      devmgr_teardown_fn *teardown, uint64_t *base, char *err, size_t errlen)
{
    if (dm->nvirtio == DEVMGR_MAX_VIRTIO) {
        snprintf(err, errlen, "attaching %s: more than %d virtio devices", name,
                 DEVMGR_MAX_VIRTIO);
        if (teardown)
            teardown(dev);
        return -ENOSPC;
    }
    int slot = dm->nvirtio++;
    uint64_t addr = LAYOUT_VIRTIO_MMIO_BASE + (uint64_t)slot * LAYOUT_VIRTIO_MMIO_SIZE;
    uint32_t gsi = IRQ_VIRTIO_BASE + (uint32_t)slot;
    dm->virtio_irq[slot] = (struct devmgr_irq){ dm->vm, gsi };
    virtio_mmio_set_irq(mmio, virtio_irq, &dm->virtio_irq[slot]);
    char acpi_name[5];
    snprintf(acpi_name, sizeof(acpi_name), "V%03d", slot);
    struct devmgr_device d = {
        .name = name, .dev = dev, .trap_dev = mmio, .teardown = teardown, .nranges = 1,
        .ranges = { { TRAP_MMIO, addr, LAYOUT_VIRTIO_MMIO_SIZE, &virtio_mmio_ops } },
        .acpi_name = acpi_name, .acpi_hid = "LNRO0005", .nirq = 1, .irq = gsi,
        .irq_extended = true,
    };
    int r = devmgr_add(dm, &d, err, errlen);
    if (r < 0)
        return r;
    if (cmdline_add(dm, "%svirtio_mmio.device=4K@0x%llx:%u", dm->cmdline[0] ? " " : "",
                    (unsigned long long)addr, gsi) < 0) {
        snprintf(err, errlen, "announcing %s: the command line is full", name);
        return -ENOSPC;
    }
    if (base)
        *base = addr;
    return 0;
}

int devmgr_add_table(struct devmgr *dm, const char *name, const char *signature,
                     uint8_t revision, const uint8_t *body, size_t body_len, char *err,
                     size_t errlen)
{
    int r = acpi_add_table(dm->acpi, signature, revision, body, body_len);
    if (r < 0)
        snprintf(err, errlen, "describing %s: more than %d extra ACPI tables", name,
                 ACPI_MAX_EXTRA_TABLES);
    return r;
}

void devmgr_teardown(struct devmgr *dm)
{
    while (dm->ndevs > 0) {
        dm->ndevs--;
        if (dm->devs[dm->ndevs].teardown)
            dm->devs[dm->ndevs].teardown(dm->devs[dm->ndevs].dev);
    }
}
