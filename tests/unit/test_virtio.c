/* Unit tests: the virtio-mmio transport and split rings as every device
 * uses them: EVENT_IDX, unpop, notifications through the notify eventfd,
 * the status rules, and what a hostile driver gets. */
#include "core/log.h"
#include "virtio/mmio.h"
#include "../log_lines.h"
#include "../virtio_driver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#define MEM_SIZE (1 << 20)

static struct guest_mem mem;
static struct virtio_mmio m;
static struct vd d;
static int notified[VIRTIO_MMIO_MAX_QUEUES], irqs;

static void t_notify(void *dev, struct virtio_mmio *mm, int q)
{
    (void)dev, (void)mm;
    notified[q]++;
}
static void t_reset(void *dev) { (void)dev; }
static uint8_t cfg_space[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static void t_cfg_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
    (void)dev;
    memcpy(data, cfg_space + off, len);
}
static void t_irq(void *ctx)
{
    (void)ctx;
    irqs++;
}

static const struct virtio_device_ops t_ops = {
    .name = "t",
    .device_id = 99,
    .features = VIRTIO_RING_F_EVENT_IDX,
    .nqueues = 2,
    .queue_max = 256,
    .config_size = 8,
    .config_read = t_cfg_read,
    .notify = t_notify,
    .reset = t_reset,
};

static int setup(void **state)
{
    (void)state;
    if (!mem.host)
        assert_int_equal(guest_mem_init(&mem, MEM_SIZE, false), 0);
    memset(mem.host, 0, MEM_SIZE);
    memset(notified, 0, sizeof(notified));
    irqs = 0;
    virtio_mmio_init(&m, &t_ops, NULL, &mem);
    virtio_mmio_set_irq(&m, t_irq, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    virtio_mmio_destroy(&m);
    return 0;
}

static uint16_t avail_event(int q, uint16_t size)
{
    uint16_t v;
    memcpy(&v, mem.host + VD_USED(q) + 4 + 8u * size, 2);
    return v;
}

static void set_used_event(int q, uint16_t size, uint16_t v)
{
    memcpy(mem.host + VD_AVAIL(q) + 4 + 2u * size, &v, 2);
}

static void event_idx_suppresses_notifications_and_interrupts(void **state)
{
    (void)state;
    assert_true(vd_setup(&d, &m, &mem, VIRTIO_RING_F_EVENT_IDX, 256));
    struct virtq *q = &m.queues[0];
    assert_true(q->event_idx);
    struct virtq_chain c;
    /* An empty ring asks for a notification at the next entry. */
    q->last_avail = 0;
    memset(mem.host + VD_USED(0) + 4 + 8 * 256, 0xff, 2);
    assert_int_equal(virtq_pop(q, &mem, &c), 0);
    assert_int_equal(avail_event(0, 256), 0);
    struct vd_seg s = { VD_DATA, 16, true };
    for (int i = 0; i < 3; i++)
        vd_chain(&d, 0, &s, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(virtq_pop(q, &mem, &c), 1);
        virtq_push(q, &mem, c.head, 4);
    }
    assert_int_equal(virtq_pop(q, &mem, &c), 0);
    assert_int_equal(avail_event(0, 256), 3);
    /* The first batch always interrupts; then only when used_event is
     * crossed: the driver asked to hear at used index 5. */
    assert_true(virtq_should_signal(q, &mem));
    set_used_event(0, 256, 5);
    vd_chain(&d, 0, &s, 1);
    assert_int_equal(virtq_pop(q, &mem, &c), 1);
    virtq_push(q, &mem, c.head, 4); /* used 4: not yet */
    assert_false(virtq_should_signal(q, &mem));
    vd_chain(&d, 0, &s, 1);
    vd_chain(&d, 0, &s, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(virtq_pop(q, &mem, &c), 1);
        virtq_push(q, &mem, c.head, 4);
    }
    assert_true(virtq_should_signal(q, &mem));  /* 4 -> 6 crosses 5 */
    assert_false(virtq_should_signal(q, &mem)); /* nothing new */
    /* Through the transport: the interrupt only when asked for. */
    irqs = 0;
    vd_chain(&d, 0, &s, 1);
    assert_int_equal(virtq_pop(q, &mem, &c), 1);
    virtq_push(q, &mem, c.head, 4);
    virtio_mmio_queue_signal_locked(&m, 0);
    assert_int_equal(irqs, 0);
    set_used_event(0, 256, 7);
    vd_chain(&d, 0, &s, 1);
    assert_int_equal(virtq_pop(q, &mem, &c), 1);
    virtq_push(q, &mem, c.head, 4);
    virtio_mmio_queue_signal_locked(&m, 0);
    assert_int_equal(irqs, 1);
}

static void without_event_idx_the_no_interrupt_flag_counts(void **state)
{
    (void)state;
    assert_true(vd_setup(&d, &m, &mem, 0, 8));
    struct virtq *q = &m.queues[1];
    assert_false(q->event_idx);
    struct vd_seg s = { VD_DATA, 16, true };
    struct virtq_chain c;
    vd_chain(&d, 1, &s, 1);
    assert_int_equal(virtq_pop(q, &mem, &c), 1);
    virtq_push(q, &mem, c.head, 1);
    assert_true(virtq_should_signal(q, &mem));
    uint16_t no_interrupt = 1;
    memcpy(mem.host + VD_AVAIL(1), &no_interrupt, 2);
    assert_false(virtq_should_signal(q, &mem));
}

static void unpop_gives_the_chain_back(void **state)
{
    (void)state;
    assert_true(vd_setup(&d, &m, &mem, 0, 8));
    struct vd_seg s[2] = { { VD_DATA, 16, false }, { VD_DATA + 16, 1, true } };
    uint16_t h1 = vd_chain(&d, 0, s, 2), h2 = vd_chain(&d, 0, s, 2);
    struct virtq_chain c;
    assert_int_equal(virtq_pop(&m.queues[0], &mem, &c), 1);
    assert_int_equal(c.head, h1);
    virtq_unpop(&m.queues[0]);
    assert_int_equal(virtq_pop(&m.queues[0], &mem, &c), 1);
    assert_int_equal(c.head, h1);
    assert_int_equal(c.out_len, 16);
    assert_int_equal(c.in_len, 1);
    assert_int_equal(virtq_pop(&m.queues[0], &mem, &c), 1);
    assert_int_equal(c.head, h2);
}

/* With a notify eventfd (KVM's ioeventfd), QueueNotify never runs the
 * device on the vCPU thread: it signals the eventfd, and the I/O thread's
 * kick runs it. A queue that does not exist is ignored either way. */
static void notify_goes_through_the_eventfd(void **state)
{
    (void)state;
    int efd = eventfd(0, EFD_NONBLOCK);
    m.notify_fd[0] = efd;
    assert_true(vd_setup(&d, &m, &mem, 0, 8));
    vd_notify(&d, 0);
    assert_int_equal(notified[0], 0);
    uint64_t n = 0;
    assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
    assert_int_equal(n, 1);
    virtio_mmio_kick(&m, 0);
    assert_int_equal(notified[0], 1);
    /* Queue 1 has no eventfd: in place. */
    vd_notify(&d, 1);
    assert_int_equal(notified[1], 1);
    vd_notify(&d, 7);
    vd_notify(&d, 0xffffffffu);
    virtio_mmio_kick(&m, 5);
    virtio_mmio_kick(&m, -1);
    assert_int_equal(notified[0] + notified[1], 2);
    /* Not live (NEEDS_RESET): a kick does nothing. */
    pthread_mutex_lock(&m.lock);
    virtio_mmio_needs_reset_locked(&m);
    pthread_mutex_unlock(&m.lock);
    virtio_mmio_kick(&m, 0);
    assert_int_equal(notified[0], 1);
    close(efd);
}

static void queues_are_fixed_once_live(void **state)
{
    (void)state;
    assert_true(vd_setup(&d, &m, &mem, 0, 8));
    vd_wr(&d, 0x30, 0);
    vd_wr(&d, 0x38, 256);     /* size changed after DRIVER_OK */
    vd_wr(&d, 0x80, 0x12340); /* rings moved */
    vd_wr(&d, 0x44, 1);
    assert_int_equal(m.queues[0].size, 8);
    assert_int_equal(m.queues[0].desc_gpa, VD_DESC(0));
    /* QueueNumMax says what the device takes; beyond it a queue is refused
     * and the device needs a reset. */
    assert_int_equal(vd_rd(&d, 0x34), 256);
    assert_false(vd_setup(&d, &m, &mem, 0, 512));
    assert_true(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
    /* A reset clears it. */
    assert_true(vd_setup(&d, &m, &mem, 0, 256));
    assert_false(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void a_refused_queue_is_logged_once(void **state)
{
    (void)state;
    const char *path = log_lines_start();
    assert_false(vd_setup(&d, &m, &mem, 0, 512));
    /* NEEDS_RESET is set, but queue setup goes on: the driver retries. */
    vd_wr(&d, 0x30, 0);
    for (int i = 0; i < 10000; i++)
        vd_wr(&d, 0x44, 1);
    assert_true(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
    assert_false(m.queues[0].ready);
    /* And across resets: once per device. */
    for (int i = 0; i < 100; i++)
        assert_false(vd_setup(&d, &m, &mem, 0, 512));
    assert_int_equal(log_lines_stop(path), 1);
}

static void config_space_is_bounded(void **state)
{
    (void)state;
    uint8_t b[8];
    memset(b, 0xee, sizeof(b));
    virtio_mmio_ops.read(&m, 0x100 + 4, b, 4);
    assert_int_equal(b[0], 5);
    memset(b, 0xee, sizeof(b));
    virtio_mmio_ops.read(&m, 0x100 + 6, b, 4); /* straddles the end */
    assert_int_equal(b[0], 0);
    virtio_mmio_ops.read(&m, 0x100 + 8, b, 1);
    assert_int_equal(b[0], 0);
    virtio_mmio_ops.read(&m, 0xffc, b, 4);
    assert_int_equal(b[0], 0);
    virtio_mmio_ops.write(&m, 0x100 + 6, b, 8);
    assert_int_equal(cfg_space[6], 7);
}

static void features_offered_and_refused(void **state)
{
    (void)state;
    vd_wr(&d, 0x14, 0);
    assert_int_equal(vd_rd(&d, 0x10), (uint32_t)VIRTIO_RING_F_EVENT_IDX);
    vd_wr(&d, 0x14, 1);
    assert_int_equal(vd_rd(&d, 0x10), 1); /* VERSION_1 */
    /* A feature never offered leaves FEATURES_OK clear. */
    assert_false(vd_setup(&d, &m, &mem, 1ull << 3, 8));
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(event_idx_suppresses_notifications_and_interrupts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(without_event_idx_the_no_interrupt_flag_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unpop_gives_the_chain_back, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_goes_through_the_eventfd, setup, teardown),
        cmocka_unit_test_setup_teardown(queues_are_fixed_once_live, setup, teardown),
        cmocka_unit_test_setup_teardown(a_refused_queue_is_logged_once, setup, teardown),
        cmocka_unit_test_setup_teardown(config_space_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(features_offered_and_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
