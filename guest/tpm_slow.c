/* tpm_slow: commands that take the TPM longer than a Linux driver's
 * deadline for them (poll_ms=750, Linux's for GetCapability), polled the
 * way Linux polls: every one must be answered, however slow the TPM. */
#include "tpm.h"

static struct tpm_ctx t;

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;
    uint64_t count = opt_u64(bi, "count", 2);
    for (uint64_t i = 0; i < count; i++) {
        int rc = tpm_self_test(&t);
        tap_ok(rc == 0, "slow command %llu answered within its %u ms deadline (rc 0x%x)",
               (unsigned long long)i + 1, tpm_poll_linux_ms, rc);
    }
}
