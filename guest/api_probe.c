/* api_probe: a guest for the REST API's run-time actions. It prints a tick
 * while it runs (so a paused VM shows as a console that stops growing),
 * measures the longest stretch it did not run, and ends when the keyboard
 * delivers Ctrl+Alt+Del (SendCtrlAltDel), reporting the scan codes. */
#include "guest.h"

#define I8042_STATUS 0x64
#define I8042_DATA 0x60
#define TICK_CYCLES (200ULL * 1000 * 1000)

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* Ctrl, Alt and then Del pressed, in scan code set 1 (translated) or 2. */
static bool ctrl_alt_del(const uint8_t *c, int n)
{
    bool ctrl = false, alt = false;
    for (int i = 0; i < n; i++) {
        bool ext = i > 0 && c[i - 1] == 0xe0;
        bool brk = i > 0 && c[i - 1] == 0xf0;
        ctrl |= !brk && (c[i] == 0x1d || c[i] == 0x14);
        alt |= !brk && (c[i] == 0x38 || c[i] == 0x11);
        if (ext && (c[i] == 0x53 || c[i] == 0x71) && ctrl && alt)
            return true;
    }
    return false;
}

void guest_main(const struct boot_info *bi)
{
    (void)bi;
    uint8_t codes[32];
    int ncodes = 0;
    uint64_t ticks = 0, last = rdtsc(), last_tick = last, max_gap = 0, min_gap = ~0ULL;
    printf("api_probe: ready\n");
    while (!ctrl_alt_del(codes, ncodes)) {
        uint64_t now = rdtsc(), gap = now - last;
        last = now;
        if (gap > max_gap)
            max_gap = gap;
        if (gap && gap < min_gap)
            min_gap = gap;
        if (now - last_tick > TICK_CYCLES) {
            printf("tick %llu\n", (unsigned long long)++ticks);
            last_tick = now;
        }
        if ((inb(I8042_STATUS) & 1) && ncodes < (int)sizeof(codes))
            codes[ncodes++] = inb(I8042_DATA);
    }
    printf("api_probe: scan codes");
    for (int i = 0; i < ncodes; i++)
        printf(" %02x", codes[i]);
    printf("\napi_probe: longest stop %llu cycles, %llu times the shortest loop\n",
           (unsigned long long)max_gap, (unsigned long long)(max_gap / min_gap));
    tap_ok(true, "Ctrl+Alt+Del arrived on the keyboard");
    tap_ok(ticks > 0, "the guest ran between the start and the keys (%llu ticks)",
           (unsigned long long)ticks);
}
