/* Unit tests: virtio-rng fills what the guest asks for, within its cap and
 * its rate limiter, and a broken queue needs a reset. */
#include "core/log.h"
#include "devices/virtio/rng.h"
#include "../virtio_driver.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#define MEM_SIZE (4 << 20)

static struct guest_mem mem;
static struct virtio_rng rng;
static struct vd d;
static int irqs;

static void t_irq(void *ctx)
{
    (void)ctx;
    irqs++;
}

static void start(const struct entropy_config *cfg)
{
    if (!mem.host)
        assert_int_equal(guest_mem_init(&mem, MEM_SIZE, false), 0);
    memset(mem.host, 0, MEM_SIZE);
    assert_int_equal(virtio_rng_init(&rng, cfg, &mem), 0);
    virtio_mmio_set_irq(&rng.mmio, t_irq, NULL);
    assert_true(vd_setup(&d, &rng.mmio, &mem, VIRTIO_RING_F_EVENT_IDX, 16));
    irqs = 0;
}

static int teardown(void **state)
{
    (void)state;
    virtio_rng_destroy(&rng);
    return 0;
}

static bool nonzero(uint64_t gpa, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (mem.host[gpa + i])
            return true;
    return false;
}

static void fills_chains_up_to_the_cap(void **state)
{
    (void)state;
    struct entropy_config cfg = { .on = true };
    start(&cfg);
    struct vd_seg s[2] = { { VD_DATA, 16, true }, { VD_DATA + 4096, 48, true } };
    uint16_t head = vd_chain(&d, 0, s, 2);
    vd_notify(&d, 0);
    uint32_t id, len;
    assert_true(vd_used(&d, 0, &id, &len));
    assert_int_equal(id, head);
    assert_int_equal(len, 64);
    assert_true(nonzero(VD_DATA, 16) && nonzero(VD_DATA + 4096, 48));
    assert_int_equal(irqs, 1);
    /* A chain of 1 MiB gets the cap; one with nothing to write, 0. */
    struct vd_seg big = { VD_DATA, 1 << 20, true };
    vd_chain(&d, 0, &big, 1);
    struct vd_seg ro = { VD_DATA, 64, false };
    vd_chain(&d, 0, &ro, 1);
    vd_notify(&d, 0);
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, VIRTIO_RNG_MAX_REQUEST);
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, 0);
    assert_int_equal(rng.requests, 3);
    assert_int_equal(rng.bytes, 64 + VIRTIO_RNG_MAX_REQUEST);
    /* A descriptor outside RAM: the device needs a reset. */
    struct vd_seg bad = { MEM_SIZE - 8, 64, true };
    vd_chain(&d, 0, &bad, 1);
    vd_notify(&d, 0);
    assert_false(vd_used(&d, 0, NULL, NULL));
    assert_true(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void rate_limited_requests_wait_for_the_timer(void **state)
{
    (void)state;
    struct entropy_config cfg = { .on = true, .rate_limiter = { .bandwidth = { 100, 0, 100 } } };
    start(&cfg);
    struct vd_seg s = { VD_DATA, 64, true };
    vd_chain(&d, 0, &s, 1);
    vd_chain(&d, 0, &s, 1);
    vd_notify(&d, 0);
    uint32_t len;
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, 64);
    assert_false(vd_used(&d, 0, NULL, NULL)); /* 36 tokens left: waits */
    assert_true(rng.rl.blocked);
    vd_notify(&d, 0); /* a notify does not get around the limiter */
    assert_false(vd_used(&d, 0, NULL, NULL));
    struct pollfd p = { .fd = rng.rl.timer_fd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 1000), 1);
    virtio_mmio_limiter_fired(&rng.mmio, &rng.rl, 0);
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, 64);
    assert_int_equal(rng.rl.throttled, 1);
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(fills_chains_up_to_the_cap, teardown),
        cmocka_unit_test_teardown(rate_limited_requests_wait_for_the_timer, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
