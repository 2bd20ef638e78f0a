/* ACPI table construction: RSDP, XSDT, FADT, MADT, DSDT and extra tables. */
#include "boot/acpi.h"

#include "arch/x86_64/layout.h"
#include "boot/aml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ACPI_HDR_LEN 36
#define FADT_LEN 276
#define FADT_FLAG_HW_REDUCED (1u << 20)
/* IA-PC boot architecture flags: 8042 present (the reset path), no VGA,
 * no MSI, no CMOS RTC. */
#define FADT_BOOT_ARCH 0x002e

uint8_t acpi_checksum(const void *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + ((const uint8_t *)p)[i]);
    return sum;
}

struct acpi_dev *acpi_add_dev(struct acpi_config *cfg, const char *name, const char *hid,
                              uint32_t uid)
{
    if (cfg->ndevs == ACPI_MAX_DEVS)
        return NULL;
    struct acpi_dev *d = &cfg->devs[cfg->ndevs++];
    memset(d, 0, sizeof(*d));
    strncpy(d->name, name, 4);
    d->hid = hid;
    d->uid = uid;
    return d;
}

int acpi_add_table(struct acpi_config *cfg, const char *signature, uint8_t revision,
                   const uint8_t *body, size_t body_len)
{
    if (cfg->nextra == ACPI_MAX_EXTRA_TABLES)
        return -ENOSPC;
    struct acpi_extra_table *x = &cfg->extra[cfg->nextra++];
    memset(x, 0, sizeof(*x));
    strncpy(x->signature, signature, 4);
    x->revision = revision;
    x->body = body;
    x->body_len = body_len;
    return 0;
}

/* The table area: tables are appended 16-byte aligned after the RSDP. */
struct area {
    uint8_t *base; /* host address of LAYOUT_RSDP */
    size_t used, size;
};

static uint8_t *area_alloc(struct area *ar, size_t len, uint64_t *gpa)
{
    size_t off = (ar->used + 15) & ~(size_t)15;
    if (off > ar->size || len > ar->size - off)
        return NULL;
    ar->used = off + len;
    *gpa = LAYOUT_RSDP + off;
    return ar->base + off;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "HEARTH", 6);
    memcpy(t + 16, "HEARTHVM", 8);
    put32(t + 24, 1);
    memcpy(t + 28, "HRTH", 4);
    put32(t + 32, 1);
    t[9] = 0;
    t[9] = (uint8_t)(0 - acpi_checksum(t, len));
}

static void resource_template(const struct acpi_dev *d, uint8_t *buf, size_t *n)
{
    size_t o = 0;
    for (int i = 0; i < d->nio; i++) {
        uint16_t b = d->io[i].base;
        uint8_t io[8] = { 0x47,       0x01,
                          (uint8_t)b, (uint8_t)(b >> 8),
                          (uint8_t)b, (uint8_t)(b >> 8),
                          0x01,       (uint8_t)d->io[i].len };
        memcpy(buf + o, io, 8);
        o += 8;
    }
    for (int i = 0; i < d->nmem; i++) {
        uint8_t m[12] = { 0x86, 0x09, 0x00, 0x01 }; /* Memory32Fixed, read-write */
        put32(m + 4, d->mem[i].base);
        put32(m + 8, d->mem[i].len);
        memcpy(buf + o, m, 12);
        o += 12;
    }
    for (int i = 0; i < d->nirq; i++) {
        if (d->irq_extended) {
            /* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} */
            uint8_t x[9] = { 0x89, 0x06, 0x00, 0x03, 0x01 };
            put32(x + 5, d->irq[i]);
            memcpy(buf + o, x, 9);
            o += 9;
        } else {
            uint16_t mask = (uint16_t)(1u << d->irq[i]);
            uint8_t x[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };
            memcpy(buf + o, x, 3);
            o += 3;
        }
    }
    buf[o++] = 0x79; /* end tag; a zero checksum means "not checked" */
    buf[o++] = 0x00;
    *n = o;
}

static int build_dsdt(const struct acpi_config *cfg, struct aml *a)
{
    aml_init(a);
    aml_scope(a, "\\_SB_");
    for (int i = 0; i < cfg->ndevs; i++) {
        const struct acpi_dev *d = &cfg->devs[i];
        uint8_t crs[ACPI_DEV_MAX_RES * 3 * 12 + 2];
        size_t n;
        aml_device(a, d->name);
        aml_name_hid(a, "_HID", d->hid);
        aml_name_int(a, "_UID", d->uid);
        resource_template(d, crs, &n);
        aml_name_buffer(a, "_CRS", crs, n);
        aml_end(a);
    }
    aml_end(a);
    return a->overflow ? -ENOSPC : 0;
}

static uint8_t *add_table(struct area *ar, const char *sig, uint8_t rev, const uint8_t *body,
                          size_t body_len, uint64_t *gpa)
{
    uint8_t *t = area_alloc(ar, ACPI_HDR_LEN + body_len, gpa);
    if (!t)
        return NULL;
    memcpy(t + ACPI_HDR_LEN, body, body_len);
    header(t, sig, (uint32_t)(ACPI_HDR_LEN + body_len), rev);
    return t;
}

/* Local APICs, then the IOAPIC, the PIT's override and the NMI entry. */
#define MADT_BODY_MAX (8 + 8 * HEARTH_MAX_VCPUS + 12 + 10 + 6)

/* Fills b (MADT_BODY_MAX bytes); returns the length, or 0 when nvcpus does
 * not fit. */
static size_t madt_body(int nvcpus, uint8_t *b)
{
    if (nvcpus < 1 || nvcpus > HEARTH_MAX_VCPUS)
        return 0;
    size_t o = 0;
    put32(b + o, (uint32_t)LAYOUT_LAPIC);
    put32(b + o + 4, 1); /* PCAT_COMPAT: the in-kernel 8259s exist */
    o += 8;
    for (int i = 0; i < nvcpus; i++) {
        uint8_t lapic[8] = { 0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0 };
        memcpy(b + o, lapic, 8);
        o += 8;
    }
    uint8_t ioapic[12] = { 1, 12, 0, 0 };
    put32(ioapic + 4, (uint32_t)LAYOUT_IOAPIC);
    put32(ioapic + 8, 0);
    memcpy(b + o, ioapic, 12);
    o += 12;
    /* KVM routes ISA IRQ 0 (the PIT) to IOAPIC pin 2. */
    uint8_t iso[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 };
    memcpy(b + o, iso, 10);
    o += 10;
    uint8_t nmi[6] = { 4, 6, 0xff, 0, 0, 1 }; /* LAPIC NMI on LINT1 of every CPU */
    memcpy(b + o, nmi, 6);
    o += 6;
    return o;
}

int acpi_build(struct guest_mem *mem, const struct acpi_config *cfg)
{
    if (cfg->nvcpus < 1 || cfg->nvcpus > HEARTH_MAX_VCPUS || cfg->nextra < 0 ||
        cfg->nextra > ACPI_MAX_EXTRA_TABLES)
        return -EINVAL;
    struct area ar = { .size = LAYOUT_ACPI_END - LAYOUT_RSDP };
    ar.base = gpa_to_hva(mem, LAYOUT_RSDP, ar.size);
    if (!ar.base)
        return -EFAULT;
    memset(ar.base, 0, ar.size);
    uint64_t rsdp_gpa, dsdt_gpa, fadt_gpa, madt_gpa, xsdt_gpa;
    uint64_t extra_gpa[ACPI_MAX_EXTRA_TABLES];
    uint8_t *rsdp = area_alloc(&ar, 36, &rsdp_gpa);

    struct aml *aml = malloc(sizeof(*aml));
    if (!aml)
        return -ENOMEM;
    bool ok = build_dsdt(cfg, aml) == 0 && add_table(&ar, "DSDT", 2, aml->buf, aml->len, &dsdt_gpa);
    free(aml);
    if (!ok)
        return -ENOSPC;

    uint8_t fadt[FADT_LEN - ACPI_HDR_LEN] = { 0 };
    put32(fadt + 40 - ACPI_HDR_LEN, (uint32_t)dsdt_gpa);
    fadt[109 - ACPI_HDR_LEN] = FADT_BOOT_ARCH & 0xff;
    fadt[110 - ACPI_HDR_LEN] = FADT_BOOT_ARCH >> 8;
    put32(fadt + 112 - ACPI_HDR_LEN, FADT_FLAG_HW_REDUCED);
    fadt[131 - ACPI_HDR_LEN] = 0;                     /* FADT minor version */
    put64(fadt + 140 - ACPI_HDR_LEN, dsdt_gpa);       /* X_DSDT */
    memcpy(fadt + 268 - ACPI_HDR_LEN, "HEARTHVM", 8); /* hypervisor vendor */
    if (!add_table(&ar, "FACP", 6, fadt, sizeof(fadt), &fadt_gpa))
        return -ENOSPC;

    uint8_t madt[MADT_BODY_MAX];
    size_t madt_len = madt_body(cfg->nvcpus, madt);
    if (!madt_len)
        return -EINVAL;
    if (!add_table(&ar, "APIC", 6, madt, madt_len, &madt_gpa))
        return -ENOSPC;

    for (int i = 0; i < cfg->nextra; i++) {
        const struct acpi_extra_table *x = &cfg->extra[i];
        if (!add_table(&ar, x->signature, x->revision, x->body, x->body_len, &extra_gpa[i]))
            return -ENOSPC;
    }

    uint8_t xsdt[8 * (2 + ACPI_MAX_EXTRA_TABLES)];
    size_t nx = 0;
    put64(xsdt + 8 * nx++, fadt_gpa);
    put64(xsdt + 8 * nx++, madt_gpa);
    for (int i = 0; i < cfg->nextra; i++)
        put64(xsdt + 8 * nx++, extra_gpa[i]);
    if (!add_table(&ar, "XSDT", 1, xsdt, 8 * nx, &xsdt_gpa))
        return -ENOSPC;

    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "HEARTH", 6);
    rsdp[15] = 2; /* ACPI 2.0+ RSDP */
    put32(rsdp + 20, 36);
    put64(rsdp + 24, xsdt_gpa);
    rsdp[8] = (uint8_t)(0 - acpi_checksum(rsdp, 20));
    rsdp[32] = (uint8_t)(0 - acpi_checksum(rsdp, 36));
    return 0;
}
