/* storm: hammers ports and MMIO nobody claims (count=N of each); reads must
 * return all ones and the monitor must keep running and rate-limit its log. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    uint64_t n = opt_u64(bi, "count", 1000);
    bool pio_ok = true, mmio_ok = true;
    for (uint64_t i = 0; i < n; i++) {
        pio_ok &= inb(0x2e8) == 0xff;
        outl(0x510, (uint32_t)i);
    }
    for (uint64_t i = 0; i < n; i++) {
        mmio_ok &= mmio_read32(0xd0000000ull + (i & 0xff) * 4) == 0xffffffffu;
        mmio_write8(0xd1000000ull, (uint8_t)i);
    }
    tap_ok(pio_ok, "%llu unclaimed port reads returned 0xff", (unsigned long long)n);
    tap_ok(mmio_ok, "%llu unclaimed MMIO reads returned all ones", (unsigned long long)n);
    /* An access that straddles the end of a claimed range is unclaimed too. */
    tap_ok(inw(0x3ff) == 0xffff, "a 2-byte read across COM1's last port is refused");
}
