/* Unit tests: the guest payloads' TSC calibration (guest/lib/tsc_rate.c)
 * against a simulated TSC and PIT, with the vCPU descheduled at every
 * point of the measurement: the rate may come out high (later deadlines),
 * never low (time-outs before the time). */
#include "../../guest/lib/tsc_rate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define TSC_PER_MS 3000000ull /* the simulated 3 GHz TSC */
#define TSC_READ_NS 20
#define PIT_READ_NS 3000        /* a latch and two reads: three exits */
#define SLOW_PIT_READ_NS 300000 /* the same in an emulated host */

struct sim {
    uint64_t pit_read_ns;
    uint64_t ns;       /* simulated time */
    uint64_t calls;    /* reader calls so far */
    uint64_t stall_at; /* the call before which the vCPU is descheduled */
    uint64_t stall_ns;
};

static void sim_step(struct sim *s, uint64_t cost)
{
    if (s->calls++ == s->stall_at)
        s->ns += s->stall_ns;
    s->ns += cost;
}

static uint64_t sim_tsc(void *ctx)
{
    struct sim *s = ctx;
    sim_step(s, TSC_READ_NS);
    return s->ns * TSC_PER_MS / 1000000;
}

static uint16_t sim_pit(void *ctx)
{
    struct sim *s = ctx;
    sim_step(s, s->pit_read_ns / 3);
    uint16_t v = (uint16_t)(0xffff - s->ns * PIT_HZ / 1000000000ull); /* latched here */
    s->ns += s->pit_read_ns - s->pit_read_ns / 3;
    return v;
}

static uint64_t rate_with(uint64_t pit_read_ns, uint64_t at, uint64_t ns)
{
    struct sim s = { .pit_read_ns = pit_read_ns, .ns = 1000, .stall_at = at, .stall_ns = ns };
    struct tsc_clocks c = { sim_tsc, sim_pit, &s };
    return tsc_rate_per_ms(&c);
}

static uint64_t rate_with_stall(uint64_t at, uint64_t ns) { return rate_with(PIT_READ_NS, at, ns); }

/* Within 1% natively, within 4% where each PIT read costs 0.3 ms. */
static void quiet_measurement_is_close(void **state)
{
    (void)state;
    uint64_t r = rate_with_stall(UINT64_MAX, 0);
    assert_true(r >= TSC_PER_MS);
    assert_true(r <= TSC_PER_MS + TSC_PER_MS / 100);
    r = rate_with(SLOW_PIT_READ_NS, UINT64_MAX, 0);
    assert_true(r >= TSC_PER_MS);
    assert_true(r <= TSC_PER_MS + TSC_PER_MS / 25);
}

/* A stall long enough to wrap the PIT during one measurement inflates it
 * without widening its brackets: it must not be the one kept. */
static void a_wrapped_pit_is_not_kept(void **state)
{
    (void)state;
    for (uint64_t at = 10; at < 3000; at += 97) {
        uint64_t r = rate_with_stall(at, 70000000);
        assert_true(r >= TSC_PER_MS);
        assert_true(r <= TSC_PER_MS + TSC_PER_MS / 100);
    }
}

/* A stall of 0.5 ms to 70 ms (past the PIT's 55 ms wrap) before any of the
 * readings of the first measurements, natively and emulated. */
static void a_stall_anywhere_never_lowers_the_rate(void **state)
{
    (void)state;
    static const uint64_t stalls_ns[] = { 500000, 2000000, 5000000, 30000000, 70000000 };
    for (size_t i = 0; i < sizeof(stalls_ns) / sizeof(stalls_ns[0]); i++) {
        for (uint64_t at = 0; at < 3000; at += at < 64 ? 1 : 7) {
            uint64_t r = rate_with_stall(at, stalls_ns[i]);
            uint64_t slow = rate_with(SLOW_PIT_READ_NS, at / 8, stalls_ns[i]);
            if (slow < r)
                r = slow;
            if (r < TSC_PER_MS)
                fail_msg("a %llu us stall before reading %llu gave %llu ticks/ms (< %llu)",
                         (unsigned long long)stalls_ns[i] / 1000, (unsigned long long)at,
                         (unsigned long long)r, (unsigned long long)TSC_PER_MS);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_measurement_is_close),
        cmocka_unit_test(a_stall_anywhere_never_lowers_the_rate),
        cmocka_unit_test(a_wrapped_pit_is_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
