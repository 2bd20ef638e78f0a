/* Unit tests: the token buckets follow Firecracker's rate limiter (starts
 * full, lazy exact refill, one-time burst first, oversized requests go
 * into debt, both buckets or neither, a timer to retry, live updates). */
#include "core/ratelimit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <poll.h>
#include <sys/timerfd.h>
#include <cmocka.h>

#define MS 1000000ull
#define T0 (1000 * MS)

static struct ratelimit rl;

static void open_rl(uint64_t bw_size, uint64_t bw_ms, uint64_t bw_burst, uint64_t ops_size,
                    uint64_t ops_ms)
{
    struct ratelimit_config c = { { bw_size, bw_burst, bw_ms }, { ops_size, 0, ops_ms } };
    assert_int_equal(ratelimit_open(&rl, &c, T0), 0);
}

static int teardown(void **state)
{
    (void)state;
    ratelimit_close(&rl);
    return 0;
}

static bool timer_armed(void)
{
    struct itimerspec t;
    assert_int_equal(timerfd_gettime(rl.timer_fd, &t), 0);
    return t.it_value.tv_sec || t.it_value.tv_nsec;
}

/* The timer expires within `ms`. */
static bool timer_fires_within(int ms)
{
    struct pollfd p = { .fd = rl.timer_fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1;
}

/* The device's timer fired: unblock without waiting for it. */
static void fire(void) { rl.blocked = false; }

static void disabled_buckets_never_limit(void **state)
{
    (void)state;
    open_rl(0, 1000, 0, 5, 0); /* size 0, refill 0: both off */
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_consume(&rl, 1 << 30, T0));
    assert_false(timer_armed());
}

static void starts_full_refills_lazily_and_exactly(void **state)
{
    (void)state;
    open_rl(1000, 1000, 0, 0, 0);
    assert_true(ratelimit_consume(&rl, 600, T0));
    assert_true(ratelimit_consume(&rl, 400, T0));
    assert_false(ratelimit_consume(&rl, 1, T0));
    assert_true(rl.blocked);
    assert_true(timer_armed());
    assert_int_equal(rl.throttled, 1);
    /* Blocked: refused until the timer fires, even with tokens back. */
    assert_false(ratelimit_consume(&rl, 1, T0 + 500 * MS));
    fire();
    assert_true(ratelimit_consume(&rl, 500, T0 + 500 * MS));
    assert_false(ratelimit_consume(&rl, 1, T0 + 500 * MS));
    /* 3 tokens a second, asked every 100 ms: fractions are carried, so a
     * second gives exactly 3, never more and never fewer. */
    ratelimit_close(&rl);
    open_rl(3, 1000, 0, 0, 0);
    assert_true(ratelimit_consume(&rl, 3, T0));
    int got = 0;
    for (uint64_t t = T0 + 100 * MS; t <= T0 + 3000 * MS; t += 100 * MS) {
        fire();
        if (ratelimit_consume(&rl, 1, t))
            got++;
    }
    assert_int_equal(got, 9);
    /* Idle for long: never more than the bucket. */
    fire();
    assert_true(ratelimit_consume(&rl, 3, T0 + 100000 * MS));
    assert_false(ratelimit_consume(&rl, 1, T0 + 100000 * MS));
}

static void one_time_burst_is_spent_first_and_never_refills(void **state)
{
    (void)state;
    open_rl(100, 1000, 1000, 0, 0);
    assert_true(ratelimit_consume(&rl, 1000, T0)); /* all from the burst */
    assert_true(ratelimit_consume(&rl, 100, T0));  /* then the bucket */
    assert_false(ratelimit_consume(&rl, 1, T0));
    fire();
    assert_true(ratelimit_consume(&rl, 100, T0 + 1000 * MS));
    assert_false(ratelimit_consume(&rl, 1, T0 + 1000 * MS));
    /* A request the burst covers only in part takes the rest from the
     * bucket. */
    ratelimit_close(&rl);
    open_rl(100, 1000, 50, 0, 0);
    assert_true(ratelimit_consume(&rl, 120, T0));
    assert_int_equal(rl.bw.burst, 0);
    assert_int_equal(rl.bw.budget, 30);
}

static void oversized_requests_pass_into_debt(void **state)
{
    (void)state;
    open_rl(100, 1000, 0, 0, 0);
    assert_true(ratelimit_consume(&rl, 250, T0)); /* bigger than the bucket */
    assert_int_equal(rl.bw.budget, -150);
    assert_false(ratelimit_consume(&rl, 250, T0)); /* not while in debt */
    fire();
    assert_false(ratelimit_consume(&rl, 1, T0 + 1500 * MS)); /* debt paid, 0 left */
    fire();
    assert_true(ratelimit_consume(&rl, 1, T0 + 1510 * MS));
    fire();
    assert_true(ratelimit_consume(&rl, 1000, T0 + 1510 * MS)); /* out of debt: passes again */
}

static void both_buckets_or_neither(void **state)
{
    (void)state;
    open_rl(1000, 1000, 0, 2, 1000);
    assert_true(ratelimit_consume(&rl, 990, T0));
    fire();
    assert_false(ratelimit_consume(&rl, 20, T0)); /* bytes short */
    assert_int_equal(rl.ops.budget, 1);           /* op given back */
    fire();
    assert_true(ratelimit_consume(&rl, 10, T0));
    fire();
    assert_false(ratelimit_consume(&rl, 0, T0)); /* ops exhausted */
    assert_int_equal(rl.bw.budget, 0);
}

static void forced_consumption_goes_into_debt(void **state)
{
    (void)state;
    open_rl(1000, 1000, 0, 0, 0);
    ratelimit_force(&rl, 1, 1500, T0);
    assert_int_equal(rl.bw.budget, -500);
    assert_false(ratelimit_consume(&rl, 1, T0 + 400 * MS));
    fire();
    assert_true(ratelimit_consume(&rl, 1, T0 + 501 * MS));
}

static uint64_t timer_ms(void)
{
    struct itimerspec t;
    assert_int_equal(timerfd_gettime(rl.timer_fd, &t), 0);
    return (uint64_t)t.it_value.tv_sec * 1000 + (uint64_t)t.it_value.tv_nsec / 1000000;
}

/* The retry comes when the buckets will hold the refused request, not
 * at a fixed poll: no tokens are lost to a bucket that filled up. */
static void retry_timer_waits_for_the_tokens(void **state)
{
    (void)state;
    open_rl(1000, 1000, 0, 0, 0);
    assert_true(ratelimit_consume(&rl, 1000, T0));
    assert_false(ratelimit_consume(&rl, 500, T0));
    uint64_t ms = timer_ms();
    assert_true(ms > 480 && ms <= 500);
    fire();
    assert_true(ratelimit_consume(&rl, 1200, T0 + 1000 * MS)); /* oversized: debt 200 */
    assert_false(ratelimit_consume(&rl, 1, T0 + 1000 * MS));
    ms = timer_ms();
    assert_true(ms > 180 && ms <= 201); /* out of debt and one token */
    /* An empty ops bucket: one operation's worth. */
    ratelimit_close(&rl);
    open_rl(0, 0, 0, 10, 1000);
    for (int i = 0; i < 10; i++)
        assert_true(ratelimit_consume(&rl, 0, T0));
    assert_false(ratelimit_consume(&rl, 0, T0));
    ms = timer_ms();
    assert_true(ms > 80 && ms <= 100);
}

/* Frames whose size is known only after reading: ready, then force. */
static void ready_then_force_and_refunds(void **state)
{
    (void)state;
    open_rl(1000, 1000, 0, 3, 1000);
    assert_true(ratelimit_ready(&rl, T0));
    ratelimit_force(&rl, 1, 1400, T0); /* a big frame: into debt */
    assert_int_equal(rl.bw.budget, -400);
    assert_false(ratelimit_ready(&rl, T0));
    assert_true(rl.blocked);
    fire();
    assert_false(ratelimit_ready(&rl, T0 + 400 * MS)); /* 0: still nothing */
    fire();
    assert_true(ratelimit_ready(&rl, T0 + 401 * MS));
    /* A refund never fills a bucket beyond its size. */
    assert_true(ratelimit_consume(&rl, 1, T0 + 401 * MS));
    ratelimit_refund(&rl, 1, 1);
    ratelimit_refund(&rl, 5, 5000);
    assert_int_equal(rl.ops.budget, 3);
    assert_int_equal(rl.bw.budget, 1000);
}

static void updates_replace_only_changed_buckets(void **state)
{
    (void)state;
    struct ratelimit_config old = { { 1000, 0, 1000 }, { 10, 0, 1000 } };
    assert_int_equal(ratelimit_open(&rl, &old, T0), 0);
    assert_true(ratelimit_consume(&rl, 1000, T0));
    assert_false(ratelimit_consume(&rl, 1, T0));
    struct ratelimit_config next = old;
    next.bandwidth.size = 5000;
    ratelimit_update(&rl, &old, &next, T0);
    assert_int_equal(rl.bw.budget, 5000); /* new bucket: full */
    assert_int_equal(rl.ops.budget, 9);   /* unchanged: kept */
    assert_true(timer_fires_within(50));  /* the blocked device retries at once */
    fire();
    assert_true(ratelimit_consume(&rl, 4000, T0));
    /* Disabling: size 0. */
    struct ratelimit_config off = next;
    off.bandwidth.size = 0;
    ratelimit_update(&rl, &next, &off, T0);
    assert_true(ratelimit_consume(&rl, 1ull << 40, T0));
    assert_false(ratelimit_config_enabled(&(struct ratelimit_config){ { 0, 5, 5 }, { 5, 5, 0 } }));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(disabled_buckets_never_limit, teardown),
        cmocka_unit_test_teardown(starts_full_refills_lazily_and_exactly, teardown),
        cmocka_unit_test_teardown(one_time_burst_is_spent_first_and_never_refills, teardown),
        cmocka_unit_test_teardown(oversized_requests_pass_into_debt, teardown),
        cmocka_unit_test_teardown(both_buckets_or_neither, teardown),
        cmocka_unit_test_teardown(forced_consumption_goes_into_debt, teardown),
        cmocka_unit_test_teardown(retry_timer_waits_for_the_tokens, teardown),
        cmocka_unit_test_teardown(ready_then_force_and_refunds, teardown),
        cmocka_unit_test_teardown(updates_replace_only_changed_buckets, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
