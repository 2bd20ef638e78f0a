/* ACPI tables for the guest: RSDP at 0xE0000, XSDT, FADT (hardware-reduced),
 * MADT (one LAPIC per vCPU) and a DSDT built from device descriptions. */
#ifndef HEARTH_ACPI_H
#define HEARTH_ACPI_H

#include "core/limits.h"
#include "core/mem.h"

#include <stddef.h>
#include <stdint.h>

#define ACPI_DEV_MAX_RES 4
#define ACPI_MAX_DEVS 40
#define ACPI_MAX_EXTRA_TABLES 4

/* A fixed device as the DSDT describes it; devices fill one of these. */
struct acpi_dev {
    char name[5];    /* DSDT object name, 4 characters */
    const char *hid; /* "PNP0501" (EISA id) or "MSFT0101" / "LNRO0005" (string) */
    uint32_t uid;
    int nio;
    struct {
        uint16_t base, len;
    } io[ACPI_DEV_MAX_RES];
    int nmem;
    struct {
        uint32_t base, len;
    } mem[ACPI_DEV_MAX_RES];
    int nirq;
    uint32_t irq[ACPI_DEV_MAX_RES];
    int irq_extended; /* 1: Interrupt() descriptor (GSI, edge); 0: legacy IRQNoFlags */
};

/* A table a device adds beyond the core set (e.g. TPM2): the caller fills
 * everything after the 36-byte header; acpi_build fills in the header. */
struct acpi_extra_table {
    char signature[5];
    uint8_t revision;
    const uint8_t *body;
    size_t body_len;
};

struct acpi_config {
    int nvcpus; /* 1..HEARTH_MAX_VCPUS */
    int ndevs;
    struct acpi_dev devs[ACPI_MAX_DEVS];
    int nextra;
    struct acpi_extra_table extra[ACPI_MAX_EXTRA_TABLES];
};

/* Adds a device description; returns it (zeroed but for name/hid/uid) or
 * NULL when full. */
struct acpi_dev *acpi_add_dev(struct acpi_config *cfg, const char *name, const char *hid,
                              uint32_t uid);

/* Adds a table to the XSDT; body must outlive acpi_build. Returns 0, or
 * -ENOSPC when ACPI_MAX_EXTRA_TABLES are already there. */
int acpi_add_table(struct acpi_config *cfg, const char *signature, uint8_t revision,
                   const uint8_t *body, size_t body_len);

/* Writes every table into the reserved area from LAYOUT_RSDP up to 1 MiB.
 * Returns 0, -EINVAL for a vCPU count outside 1..HEARTH_MAX_VCPUS or more
 * extra tables than fit, -ENOSPC when they do not fit, -EFAULT without guest
 * RAM. */
int acpi_build(struct guest_mem *mem, const struct acpi_config *cfg);

/* Writes the Intel MultiProcessor table at the EBDA (0x9FC00). Returns 0,
 * -EINVAL for a vCPU count outside 1..HEARTH_MAX_VCPUS, -EFAULT without
 * guest RAM. */
int mptable_build(struct guest_mem *mem, int nvcpus);

/* Sum of bytes; a valid table sums to 0. */
uint8_t acpi_checksum(const void *p, size_t n);

#endif
