/* triple_fault: loads an empty IDT and executes ud2; #UD cannot be
 * delivered, nor the #DF after it, so the CPU shuts down. The monitor must
 * report the triple fault instead of hanging or crashing. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    (void)bi;
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idt = { 0, 0 };
    printf("# guest: faulting now\n");
    __asm__ volatile("lidt %0; ud2" ::"m"(idt));
    printf("not ok 1 - survived a fault with no IDT\n");
}
