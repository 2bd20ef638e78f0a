/* exit_counts: touches the TPM transport named by tpm=crb|tis a known
 * number of times and nothing else (no TPM driver runs; without tpm= it
 * touches nothing), so the exits and accesses hearth counts for the
 * device can be checked against it:
 *   crb: reads=R register reads, writes=W register writes, buf=B byte
 *        writes into the command buffer;
 *   tis: reads=R status reads, buf=B byte writes into the data FIFO (after
 *        one locality request and one commandReady);
 * and wait=MS spins that long on the TSC first (the drivers' clock). */
#include "tpm.h"

void guest_main(const struct boot_info *bi)
{
    char model[8] = "";
    opt_get(bi, "tpm", model, sizeof(model));
    uint64_t reads = opt_u64(bi, "reads", 0), writes = opt_u64(bi, "writes", 0),
             buf = opt_u64(bi, "buf", 0);
    uint32_t seen = 0;
    uint64_t wait = opt_u64(bi, "wait", 0);
    if (wait) {
        uint64_t end = deadline_ms(wait);
        while (!expired(end))
            __asm__ volatile("pause");
        tap_ok(true, "waited %llu ms", (unsigned long long)wait);
    }
    if (strcmp(model, "tis") == 0) {
        mmio_write8(TPM_BASE + 0x00, 0x02); /* requestUse */
        mmio_write8(TPM_BASE + 0x18, 0x40); /* commandReady */
        for (uint64_t i = 0; i < reads; i++)
            seen |= mmio_read32(TPM_BASE + 0x18);
        for (uint64_t i = 0; i < buf; i++)
            mmio_write8(TPM_BASE + 0x24, (uint8_t)i);
        tap_ok(seen & 0x80, "tis: %llu status reads, %llu FIFO writes", (unsigned long long)reads,
               (unsigned long long)buf);
    } else if (strcmp(model, "crb") == 0) {
        for (uint64_t i = 0; i < reads; i++)
            seen |= mmio_read32(TPM_BASE + 0x30); /* interface id */
        for (uint64_t i = 0; i < writes; i++)
            mmio_write32(TPM_BASE + 0x50, 0); /* interrupt enable: harmless */
        for (uint64_t i = 0; i < buf; i++)
            mmio_write8(TPM_BASE + 0x80 + i % 3968, (uint8_t)i);
        tap_ok(seen != 0 && seen != 0xffffffffu, "crb: %llu reads, %llu writes, %llu buffer writes",
               (unsigned long long)reads, (unsigned long long)writes, (unsigned long long)buf);
    }
    tap_done();
}
