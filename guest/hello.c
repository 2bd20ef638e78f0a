/* hello: the smallest payload; prints a line and exits (used by benchmarks). */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    printf("hello from a hearth guest\n");
    tap_ok(bi->kind == BOOT_KIND_PVH || bi->kind == BOOT_KIND_LINUX64, "booted through %s",
           bi->kind == BOOT_KIND_PVH ? "PVH" : "the 64-bit boot protocol");
}
