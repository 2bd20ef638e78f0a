/* tpm_loop: sends GetRandom in a loop (count=N, default 200000) until the
 * TPM fails, then checks that failure is sticky and, on CRB, reported in
 * CTRL_STS. The host kills or freezes swtpm meanwhile. */
#include "tpm.h"

static struct tpm_ctx t;

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;
    uint64_t count = opt_u64(bi, "count", 200000), n = 0;
    uint8_t r[8];
    int rc = 0;
    for (; n < count; n++) {
        rc = tpm_get_random(&t, r, 8);
        if (n == 0)
            printf("# looping\n");
        if (rc != 0)
            break;
    }
    printf("# tpm failed after %llu commands: rc 0x%x\n", (unsigned long long)n, rc);
    tap_ok(rc == TPM_RC_FAILURE, "the guest sees TPM_RC_FAILURE");
    int again = tpm_get_random(&t, r, 8);
    tap_ok(again == TPM_RC_FAILURE, "failure is sticky (next command: 0x%x)", again);
    if (t.drv == &tpm_crb_driver)
        tap_ok(mmio_read32(TPM_BASE + 0x44) & 1, "CRB CTRL_STS reports tpmSts (fatal)");
}
