/* Intel MultiProcessor Specification 1.4 table, for guests that look for it
 * before (or instead of) ACPI. */
#include "arch/x86_64/layout.h"
#include "boot/acpi.h"

#include <errno.h>
#include <string.h>

#define MP_IRQS 16

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static size_t entry_io_int(uint8_t *e, uint8_t type, uint8_t src_irq, uint8_t ioapic, uint8_t pin)
{
    uint8_t x[8] = { 3, type, 0, 0, 0 /* ISA bus */, src_irq, ioapic, pin };
    memcpy(e, x, 8);
    return 8;
}

int mptable_build(struct guest_mem *mem, int nvcpus)
{
    if (nvcpus < 1 || nvcpus > HEARTH_MAX_VCPUS)
        return -EINVAL;
    size_t size = 16 + 44 + 20 * (size_t)nvcpus + 8 + 8 + 8 * (MP_IRQS + 1) + 8 * 2;
    uint8_t *fp = gpa_to_hva(mem, LAYOUT_MPTABLE_START, size);
    if (!fp)
        return -EFAULT;
    memset(fp, 0, size);
    uint8_t *ct = fp + 16;
    uint8_t *e = ct + 44;
    uint8_t ioapic_id = (uint8_t)(nvcpus + 1);
    uint16_t count = 0;

    for (int i = 0; i < nvcpus; i++, count++) {
        uint8_t cpu[20] = { 0, (uint8_t)i, 0x14, (uint8_t)(1 | (i == 0 ? 2 : 0)) };
        put32(cpu + 4, 0x600); /* signature: family 6 */
        put32(cpu + 8, 0x201); /* features: FPU, APIC */
        memcpy(e, cpu, 20);
        e += 20;
    }
    uint8_t bus[8] = { 1, 0, 'I', 'S', 'A', ' ', ' ', ' ' };
    memcpy(e, bus, 8);
    e += 8;
    count++;
    uint8_t ioapic[8] = { 2, ioapic_id, 0x11, 1 };
    put32(ioapic + 4, (uint32_t)LAYOUT_IOAPIC);
    memcpy(e, ioapic, 8);
    e += 8;
    count++;
    e += entry_io_int(e, 3 /* ExtINT */, 0, ioapic_id, 0);
    count++;
    for (uint8_t irq = 0; irq < MP_IRQS; irq++, count++)
        e += entry_io_int(e, 0 /* INT */, irq, ioapic_id, irq == 0 ? 2 : irq);
    uint8_t lint0[8] = { 4, 3 /* ExtINT */, 0, 0, 0, 0, 0xff, 0 };
    uint8_t lint1[8] = { 4, 1 /* NMI */, 0, 0, 0, 0, 0xff, 1 };
    memcpy(e, lint0, 8);
    memcpy(e + 8, lint1, 8);
    e += 16;
    count += 2;

    memcpy(ct, "PCMP", 4);
    put16(ct + 4, (uint16_t)(e - ct));
    ct[6] = 4; /* spec revision 1.4 */
    memcpy(ct + 8, "HEARTH  ", 8);
    memcpy(ct + 16, "MICROVM     ", 12);
    put16(ct + 34, count);
    put32(ct + 36, (uint32_t)LAYOUT_LAPIC);
    ct[7] = (uint8_t)(0 - acpi_checksum(ct, (size_t)(e - ct)));

    memcpy(fp, "_MP_", 4);
    put32(fp + 4, (uint32_t)(LAYOUT_MPTABLE_START + 16));
    fp[8] = 1; /* length in 16-byte units */
    fp[9] = 4;
    fp[10] = (uint8_t)(0 - acpi_checksum(fp, 16));
    return 0;
}
