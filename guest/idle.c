/* idle: reports ready and halts with interrupts off, so the VM stays up at
 * no CPU cost while a benchmark inspects the monitor's memory. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    (void)bi;
    printf("# idle: ready\n");
    for (;;)
        __asm__ volatile("cli; hlt");
}
