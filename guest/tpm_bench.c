/* tpm_bench: count=N TPM2_GetRandom(32) round trips on tpm=crb|tis|virtio,
 * bracketed by two boot-timer writes so the monitor's log times them. */
#include "tpm.h"

static struct tpm_ctx t;

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;
    uint64_t n = opt_u64(bi, "count", 100), ok = 0;
    uint8_t r[32];
    mmio_write8(0xc0000000ull, 123);
    for (uint64_t i = 0; i < n; i++)
        ok += tpm_get_random(&t, r, 32) == 0;
    mmio_write8(0xc0000000ull, 123);
    tap_ok(ok == n, "%llu GetRandom(32) round trips", (unsigned long long)n);
}
