/* The TSC's rate measured against the PIT, in a form that never
 * underestimates it: pure code over two clock readers, so the host's unit
 * tests can inject a stall at every point of the measurement. */
#ifndef GUEST_TSC_RATE_H
#define GUEST_TSC_RATE_H

#include <stdint.h>

#define PIT_HZ 1193182u

struct tsc_clocks {
    uint64_t (*tsc)(void *ctx);
    /* PIT channel 0's count, latched; counting down from 0xffff, wrapping. */
    uint16_t (*pit)(void *ctx);
    void *ctx;
};

/* TSC ticks per millisecond, or 0 when the PIT does not count. A waiting
 * guest's deadlines come from this, and a deadline that comes too soon is
 * a false time-out, so each measurement brackets the PIT latches at its
 * ends between TSC reads and takes the TSC's outer span: the vCPU being
 * descheduled at any point can only make the result larger (a later,
 * harmless deadline), never smaller; so does a PIT count that wrapped
 * under a stall past 55 ms. A measurement is kept once two tight ones
 * (brackets within 1/32 of the span) agree within 3%: 2 ms spans, then 16
 * ms ones where reading the PIT is slow (an emulated host's exits); else
 * the smallest bound. */
uint64_t tsc_rate_per_ms(const struct tsc_clocks *c);

#endif
