/* boot_timer: marks the end of boot with the magic byte; bad=1 writes other
 * values and widths instead, which the monitor must ignore. */
#include "guest.h"

#define BOOT_TIMER 0xc0000000ull

void guest_main(const struct boot_info *bi)
{
    if (opt_u64(bi, "bad", 0)) {
        mmio_write8(BOOT_TIMER, 42);
        mmio_write8(BOOT_TIMER + 4, 123);
        mmio_write16(BOOT_TIMER, 123);
        mmio_write32(BOOT_TIMER, 123);
        tap_ok(true, "wrote non-boot values to the boot timer");
        return;
    }
    mmio_write8(BOOT_TIMER, 123);
    tap_ok(mmio_read8(BOOT_TIMER) == 0, "boot timer reads back 0");
}
