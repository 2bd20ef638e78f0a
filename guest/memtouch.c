/* memtouch: writes one byte in every page of guest RAM from 4 MiB up to
 * mib=N MiB (default 64), so the host's memory use really grows (a cgroup
 * limit then shows), and reports how far it got. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    uint64_t mib = opt_u64(bi, "mib", 64);
    for (uint64_t a = 4ull << 20; a < mib << 20; a += 4096)
        *(volatile uint8_t *)(uintptr_t)a = 1;
    tap_ok(true, "touched %llu MiB of guest RAM", (unsigned long long)mib);
}
