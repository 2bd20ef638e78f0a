/* The TSC's rate against the PIT, bracketed so it is never underestimated. */
#include "tsc_rate.h"

#define TICKS_PER_MS (PIT_HZ / 1000)
#define SHORT_SPAN (2 * TICKS_PER_MS)
#define LONG_SPAN (16 * TICKS_PER_MS)
#define TRIES 8
#define POLLS 100000

/* One measurement over at least `span` PIT ticks: an upper bound of the
 * rate, or 0 when the PIT did not advance in time. *tight: the two TSC
 * brackets around the first and last latch add at most 1/32 to the span
 * (the bound is then within ~3% of the rate). */
static uint64_t measure_once(const struct tsc_clocks *c, uint32_t span, int *tight)
{
    uint64_t start = c->tsc(c->ctx);
    uint16_t c0 = c->pit(c->ctx), now = c0;
    uint64_t start_after = c->tsc(c->ctx), before = start_after, end = start_after;
    for (int polls = 0; polls < POLLS; polls++) {
        before = c->tsc(c->ctx);
        now = c->pit(c->ctx);
        end = c->tsc(c->ctx); /* after the latch: the span covers it */
        if ((uint16_t)(c0 - now) >= span)
            break;
    }
    uint64_t ticks = (uint16_t)(c0 - now);
    if (ticks < span || end <= start)
        return 0;
    uint64_t slack = (start_after - start) + (end - before);
    *tight = slack * 32 <= end - start;
    /* A count read as `ticks` apart may be up to one period less apart:
     * ticks - 1 keeps the bound an upper one. */
    return (end - start) * PIT_HZ / ((ticks - 1) * 1000);
}

static int within_3_percent(uint64_t a, uint64_t b)
{
    uint64_t hi = a > b ? a : b, lo = a > b ? b : a;
    return (hi - lo) * 32 <= hi;
}

uint64_t tsc_rate_per_ms(const struct tsc_clocks *c)
{
    uint64_t best = 0, prev_tight = 0;
    for (int i = 0; i < TRIES; i++) {
        int tight = 0;
        uint64_t r = measure_once(c, i < TRIES / 2 ? SHORT_SPAN : LONG_SPAN, &tight);
        if (!r)
            return best; /* the PIT does not count (in time): no use trying again */
        if (!best || r < best)
            best = r;
        if (!tight)
            continue;
        /* Two tight bounds that agree: neither took a stall long enough
         * to wrap the PIT (which inflates a bound that looks tight). */
        if (prev_tight && within_3_percent(prev_tight, r))
            return r < prev_tight ? r : prev_tight;
        prev_tight = r;
    }
    return best;
}
