/* vTPM wiring: backend, transport, ACPI. */
#include "tpm/vtpm.h"

#include "boot/layout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TPM2_START_METHOD_TIS 6
#define TPM2_START_METHOD_CRB 7

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int describe(struct vtpm *t, struct acpi_config *acpi, uint32_t mmio_len,
                    uint64_t control_area, uint32_t start_method, char *err, size_t errlen)
{
    struct acpi_dev *d = acpi_add_dev(acpi, "TPM_", "MSFT0101", 0);
    if (!d) {
        snprintf(err, errlen, "describing the TPM: more than %d ACPI devices", ACPI_MAX_DEVS);
        return -ENOSPC;
    }
    d->nmem = 1;
    d->mem[0].base = (uint32_t)LAYOUT_TPM_BASE;
    d->mem[0].len = mmio_len;
    /* TPM2 table, revision 4: platform class (client), reserved, control
     * area, start method, 12 bytes of start-method parameters. */
    memset(t->tpm2_table, 0, sizeof(t->tpm2_table));
    put64(t->tpm2_table + 4, control_area);
    put32(t->tpm2_table + 12, start_method);
    int r = acpi_add_table(acpi, "TPM2", 4, t->tpm2_table, sizeof(t->tpm2_table));
    if (r < 0)
        snprintf(err, errlen, "describing the TPM: more than %d extra ACPI tables",
                 ACPI_MAX_EXTRA_TABLES);
    return r;
}

#define VTPM_VIRTIO_SLOT 0

static uint64_t virtio_base(void)
{
    return LAYOUT_VIRTIO_MMIO_BASE + VTPM_VIRTIO_SLOT * LAYOUT_VIRTIO_MMIO_SIZE;
}

static int describe_virtio(struct acpi_config *acpi, char *err, size_t errlen)
{
    struct acpi_dev *d = acpi_add_dev(acpi, "V000", "LNRO0005", VTPM_VIRTIO_SLOT);
    if (!d) {
        snprintf(err, errlen, "describing the TPM: more than %d ACPI devices", ACPI_MAX_DEVS);
        return -ENOSPC;
    }
    d->nmem = 1;
    d->mem[0].base = (uint32_t)virtio_base();
    d->mem[0].len = LAYOUT_VIRTIO_MMIO_SIZE;
    d->nirq = 1;
    d->irq[0] = IRQ_VIRTIO_BASE + VTPM_VIRTIO_SLOT;
    d->irq_extended = 1;
    return 0;
}

void vtpm_cmdline(enum tpm_model model, char *cmdline, size_t len)
{
    size_t used = strlen(cmdline);
    if (model == TPM_MODEL_VIRTIO && used < len)
        snprintf(cmdline + used, len - used, "%svirtio_mmio.device=4K@0x%llx:%d",
                 used ? " " : "", (unsigned long long)virtio_base(),
                 IRQ_VIRTIO_BASE + VTPM_VIRTIO_SLOT);
}

static void virtio_irq(void *ctx)
{
    vm_irq_pulse(ctx, IRQ_VIRTIO_BASE + VTPM_VIRTIO_SLOT);
}

int vtpm_describe(struct vtpm *t, struct acpi_config *acpi, char *err, size_t errlen)
{
    switch (t->model) {
    case TPM_MODEL_CRB:
        return describe(t, acpi, CRB_PAGE_SIZE, LAYOUT_TPM_BASE + CRB_CTRL_AREA_OFFSET,
                        TPM2_START_METHOD_CRB, err, errlen);
    case TPM_MODEL_TIS:
        return describe(t, acpi, TIS_MMIO_SIZE, 0, TPM2_START_METHOD_TIS, err, errlen);
    case TPM_MODEL_VIRTIO: return describe_virtio(acpi, err, errlen);
    default: return 0;
    }
}

int vtpm_attach(struct vtpm *t, const struct vm_config *cfg, struct vm *vm,
                struct acpi_config *acpi, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->model = cfg->tpm_model;
    if (t->model == TPM_MODEL_NONE)
        return 0;
    int r = swtpm_open(&t->swtpm, cfg->tpm_socket, cfg->tpm_timeout_ms, err, errlen);
    if (r < 0)
        return r;
    t->backend_open = true;
    if ((r = swtpm_start(&t->swtpm, &t->backend)) < 0) {
        snprintf(err, errlen, "starting the TPM thread: %s", strerror(-r));
        goto fail;
    }
    switch (t->model) {
    case TPM_MODEL_CRB:
        tpm_crb_init(&t->crb, &t->backend, LAYOUT_TPM_BASE);
        r = trap_register(&vm->traps, TRAP_MMIO, LAYOUT_TPM_BASE, CRB_PAGE_SIZE, &tpm_crb_ops,
                          &t->crb);
        break;
    case TPM_MODEL_TIS:
        tpm_tis_init(&t->tis, &t->backend);
        r = trap_register(&vm->traps, TRAP_MMIO, LAYOUT_TPM_BASE, TIS_MMIO_SIZE, &tpm_tis_ops,
                          &t->tis);
        break;
    case TPM_MODEL_VIRTIO:
        virtio_tpm_init(&t->virtio, &t->backend, &vm->mem, virtio_irq, vm);
        r = trap_register(&vm->traps, TRAP_MMIO, virtio_base(), LAYOUT_VIRTIO_MMIO_SIZE,
                          &virtio_mmio_ops, &t->virtio.mmio);
        break;
    default:
        r = -EINVAL;
        goto fail;
    }
    if (r < 0) {
        snprintf(err, errlen, "registering the TPM: %s", strerror(-r));
        goto fail;
    }
    if ((r = vtpm_describe(t, acpi, err, errlen)) < 0)
        goto fail;
    return 0;
fail:
    vtpm_detach(t);
    return r;
}

void vtpm_detach(struct vtpm *t)
{
    if (!t->backend_open)
        return;
    swtpm_log_stats(&t->swtpm);
    swtpm_close(&t->swtpm);
    t->backend_open = false;
    if (t->model == TPM_MODEL_CRB)
        tpm_crb_destroy(&t->crb);
    else if (t->model == TPM_MODEL_TIS)
        tpm_tis_destroy(&t->tis);
    else if (t->model == TPM_MODEL_VIRTIO)
        virtio_tpm_destroy(&t->virtio);
}
