/* emulation_failure: runs `lock cmpxchg16b`, which a software instruction
 * emulator may not support. Where KVM cannot run it the monitor must stop
 * with KVM_EXIT_INTERNAL_ERROR, its sub-error and the guest RIP. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    (void)bi;
    static __attribute__((aligned(16))) uint64_t slot[2];
    uint64_t lo = 0, hi = 0;
    printf("# guest: trying cmpxchg16b\n");
    __asm__ volatile("lock cmpxchg16b %2"
                     : "+a"(lo), "+d"(hi), "+m"(slot)
                     : "b"(1ull), "c"(2ull)
                     : "memory", "cc");
    tap_ok(slot[0] == 1 && slot[1] == 2, "cmpxchg16b executed natively");
}
