/* tpm_basic: probes the TPM like Linux does on the transport named by
 * tpm=crb|tis|virtio, then GetCapability, SelfTest, GetRandom, PCR_Read and
 * PCR_Extend, checking the new PCR against its own SHA-256 of old || digest.
 * With ekcert=1 it also finds the EK certificate in NV (0x01c00002). */
#include "tpm.h"

#define TPM_PT_MANUFACTURER 0x105
#define TPM_PT_FIRMWARE_VERSION_1 0x10b
#define TPM_PT_INPUT_BUFFER 0x10d

static struct tpm_ctx t;

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;

    uint32_t manufacturer = 0, fw = 0, inbuf = 0;
    int rc = tpm_get_property(&t, TPM_PT_MANUFACTURER, &manufacturer);
    char m[5] = { (char)(manufacturer >> 24), (char)(manufacturer >> 16), (char)(manufacturer >> 8),
                  (char)manufacturer, 0 };
    tap_ok(rc == 0 && manufacturer != 0, "GetCapability: manufacturer \"%s\"", m);
    printf("# tpm manufacturer: %s\n", m);
    rc = tpm_get_property(&t, TPM_PT_FIRMWARE_VERSION_1, &fw);
    tap_ok(rc == 0, "GetCapability: firmware version 0x%x", fw);
    rc = tpm_get_property(&t, TPM_PT_INPUT_BUFFER, &inbuf);
    tap_ok(rc == 0 && inbuf >= 1024, "GetCapability: input buffer %u bytes", inbuf);

    uint8_t r1[32], r2[32];
    char h[65];
    bool got = tpm_get_random(&t, r1, 32) == 0 && tpm_get_random(&t, r2, 32) == 0;
    tap_ok(got && memcmp(r1, r2, 32) != 0, "GetRandom: two 32-byte values differ");
    hex(h, r1, 32);
    printf("# tpm random: %s\n", h);

    uint8_t pcr0[32], before[32], after[32], digest[32], expect[32], cat[64];
    tap_ok(tpm_pcr_read(&t, 0, pcr0) == 0, "PCR_Read(sha256, 0)");
    hex(h, pcr0, 32);
    printf("# pcr0: %s\n", h);
    tap_ok(tpm_pcr_read(&t, 10, before) == 0, "PCR_Read(sha256, 10)");
    hex(h, before, 32);
    printf("# pcr10 before: %s\n", h);
    sha256("hearth", 6, digest);
    tap_ok(tpm_pcr_extend(&t, 10, digest) == 0, "PCR_Extend(10, sha256(\"hearth\"))");
    tap_ok(tpm_pcr_read(&t, 10, after) == 0, "PCR_Read(sha256, 10) again");
    hex(h, after, 32);
    printf("# pcr10 after: %s\n", h);
    memcpy(cat, before, 32);
    memcpy(cat + 32, digest, 32);
    sha256(cat, 64, expect);
    tap_ok(memcmp(after, expect, 32) == 0, "PCR 10 == SHA-256(old || digest)");

    if (opt_u64(bi, "ekcert", 0)) {
        uint16_t size = 0;
        rc = tpm_nv_read_public(&t, 0x01c00002, &size);
        tap_ok(rc == 0 && size > 100, "EK certificate in NV 0x01c00002 (%u bytes)", size);
    }
}
