/* tpm_probe: what a Linux guest's TPM driver and IMA do at boot (probe,
 * GetCapability, SelfTest, PCR_Read of the PCRs IMA reads, GetRandom for
 * the hwrng), then the boot-timer write. tpm=none skips the TPM (the
 * benchmark's baseline). */
#include "tpm.h"

static struct tpm_ctx t;

void guest_main(const struct boot_info *bi)
{
    char model[16] = "crb";
    opt_get(bi, "tpm", model, sizeof(model));
    if (strcmp(model, "none") != 0 && tpm_open(&t, bi)) {
        uint32_t v;
        uint8_t pcr[32], rnd[32];
        tap_ok(tpm_get_property(&t, 0x105, &v) == 0, "GetCapability(manufacturer)");
        tap_ok(tpm_pcr_read(&t, 10, pcr) == 0, "PCR_Read(sha256, 10) for IMA");
        tap_ok(tpm_get_random(&t, rnd, 32) == 0, "GetRandom(32) for the hwrng");
    }
    mmio_write8(0xc0000000ull, 123); /* init reached */
}
