/* Unit tests: the UART, i8042 and boot-timer register models, driven like
 * a guest. */
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "../log_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static int irq_level = -1, irq_changes, resets, kbd_irqs;

static void on_irq(void *ctx, int level)
{
    (void)ctx;
    irq_level = level;
    irq_changes++;
}

static uint8_t rd(struct serial *s, uint64_t reg)
{
    uint8_t v = 0;
    serial_ops.read(s, reg, &v, 1);
    return v;
}

static void wr(struct serial *s, uint64_t reg, uint8_t v) { serial_ops.write(s, reg, &v, 1); }

/* A console pipe that never blocks hearth, and the eventfd the loop watches. */
struct console {
    int rd, wr, kick;
};

static void console_open(struct console *c)
{
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    c->rd = p[0];
    c->wr = p[1];
    c->kick = eventfd(0, EFD_NONBLOCK);
    assert_true(c->kick >= 0);
}

static void console_close(struct console *c)
{
    close(c->rd);
    if (c->wr >= 0)
        close(c->wr);
    close(c->kick);
}

/* How many times the loop was woken since the last call. */
static uint64_t kicks(struct console *c)
{
    uint64_t n = 0;
    if (read(c->kick, &n, sizeof(n)) != sizeof(n))
        return 0;
    return n;
}

static void put_str(struct serial *s, const char *str)
{
    while (*str)
        wr(s, 0, (uint8_t)*str++);
}

static void uart_prompt_needs_no_newline(void **state)
{
    (void)state;
    struct console c;
    console_open(&c);
    static struct serial s;
    serial_init(&s, c.wr, on_irq, NULL);
    serial_set_kick(&s, c.kick);
    put_str(&s, "login: ");
    assert_int_equal(kicks(&c), 1); /* one wake-up for the burst */
    assert_int_equal(serial_drain(&s), 0);
    char buf[16];
    assert_int_equal(read(c.rd, buf, sizeof(buf)), 7);
    assert_memory_equal(buf, "login: ", 7);
    /* Drained empty: the next byte wakes the loop again. */
    wr(&s, 0, 'x');
    assert_int_equal(kicks(&c), 1);
    assert_int_equal(serial_flush(&s, 0), 0);
    assert_int_equal(read(c.rd, buf, sizeof(buf)), 1);
    assert_int_equal(serial_tx_dropped(&s), 0);
    serial_destroy(&s);
    console_close(&c);
}

static void uart_stalled_console_fills_ring_then_drops(void **state)
{
    (void)state;
    struct console c;
    console_open(&c);
    static uint8_t fill[4096];
    size_t stuffed = 0;
    ssize_t w;
    while ((w = write(c.wr, fill, sizeof(fill))) > 0)
        stuffed += (size_t)w;
    static struct serial s;
    serial_init(&s, c.wr, on_irq, NULL);
    serial_set_kick(&s, c.kick);
    for (size_t i = 0; i < SERIAL_TX_CAP; i++)
        wr(&s, 0, (uint8_t)('a' + i % 26));
    assert_int_equal(kicks(&c), 1);
    assert_int_equal(serial_drain(&s), -EAGAIN);
    assert_int_equal(serial_tx_dropped(&s), 0);
    /* Full: the guest still sees an empty transmitter, the bytes are lost and
     * the first loss wakes the loop so it can say so. */
    put_str(&s, "lost");
    assert_int_equal(rd(&s, 5) & 0x60, 0x60);
    assert_int_equal(serial_tx_dropped(&s), 4);
    assert_int_equal(kicks(&c), 1);
    /* The reader comes back: everything queued arrives, in order. */
    static uint8_t got[4096];
    size_t skipped = 0, n = 0;
    for (;;) {
        int d = serial_drain(&s);
        ssize_t r;
        while ((r = read(c.rd, got, sizeof(got))) > 0) {
            for (ssize_t i = 0; i < r; i++) {
                if (skipped < stuffed) {
                    skipped++;
                    continue;
                }
                assert_int_equal(got[i], 'a' + n % 26);
                n++;
            }
        }
        if (d == 0)
            break;
    }
    assert_int_equal(n, SERIAL_TX_CAP);
    wr(&s, 0, '!');
    assert_int_equal(kicks(&c), 1);
    serial_destroy(&s);
    console_close(&c);
}

static void uart_flush_gives_up_on_a_stalled_console(void **state)
{
    (void)state;
    struct console c;
    console_open(&c);
    static uint8_t fill[4096];
    while (write(c.wr, fill, sizeof(fill)) > 0)
        ;
    static struct serial s;
    serial_init(&s, c.wr, on_irq, NULL);
    put_str(&s, "bye\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(serial_flush(&s, 50), 4);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 40 && ms < 2000);
    serial_destroy(&s);
    console_close(&c);
}

static void uart_broken_console_discards_output(void **state)
{
    (void)state;
    struct console c;
    console_open(&c);
    signal(SIGPIPE, SIG_IGN);
    close(c.rd);
    c.rd = eventfd(0, 0); /* something for console_close to close */
    static struct serial s;
    serial_init(&s, c.wr, on_irq, NULL);
    serial_set_kick(&s, c.kick);
    put_str(&s, "hi");
    assert_int_equal(serial_drain(&s), 0); /* EPIPE: not retried */
    assert_int_equal(serial_tx_dropped(&s), 2);
    kicks(&c);
    put_str(&s, "more");
    assert_int_equal(kicks(&c), 0);
    assert_int_equal(serial_tx_dropped(&s), 6);
    serial_destroy(&s);
    console_close(&c);
}

static void uart_input_raises_and_clears_rx_interrupt(void **state)
{
    (void)state;
    static struct serial s;
    irq_level = -1;
    serial_init(&s, -1, on_irq, NULL);
    assert_int_equal(rd(&s, 5) & 1, 0);
    assert_int_equal(serial_push_input(&s, (const uint8_t *)"ab", 2), 2);
    assert_int_equal(irq_level, -1); /* RX interrupt not enabled yet */
    wr(&s, 1, 0x01);
    assert_int_equal(irq_level, 1);
    assert_int_equal(rd(&s, 2) & 0x0f, 0x04);
    assert_int_equal(rd(&s, 5) & 1, 1);
    assert_int_equal(rd(&s, 0), 'a');
    assert_int_equal(rd(&s, 0), 'b');
    assert_int_equal(irq_level, 0);
    assert_int_equal(rd(&s, 5) & 1, 0);
    assert_int_equal(rd(&s, 0), 0); /* empty FIFO reads 0 */
    /* FCR clears the receive FIFO. */
    serial_push_input(&s, (const uint8_t *)"xyz", 3);
    wr(&s, 2, 0x03);
    assert_int_equal(rd(&s, 5) & 1, 0);
    assert_int_equal(rd(&s, 2) & 0xc0, 0xc0);
    serial_destroy(&s);
}

static void uart_rx_overflow_is_counted(void **state)
{
    (void)state;
    static struct serial s;
    static uint8_t big[SERIAL_RX_CAP + 10];
    serial_init(&s, -1, NULL, NULL);
    assert_int_equal(serial_push_input(&s, big, sizeof(big)), SERIAL_RX_CAP);
    assert_int_equal(s.rx_dropped, 10);
    serial_destroy(&s);
}

static void uart_thre_interrupt_is_acknowledged_by_iir(void **state)
{
    (void)state;
    static struct serial s;
    irq_level = -1;
    serial_init(&s, -1, on_irq, NULL);
    wr(&s, 1, 0x02);
    assert_int_equal(irq_level, 1);
    assert_int_equal(rd(&s, 2) & 0x0f, 0x02);
    assert_int_equal(irq_level, 0);
    assert_int_equal(rd(&s, 2) & 0x0f, 0x01);
    wr(&s, 4, 0x10); /* loopback: the byte goes to RX, not the output */
    wr(&s, 0, 'Q');
    assert_int_equal(irq_level, 1);
    assert_int_equal(rd(&s, 0), 'Q');
    serial_destroy(&s);
}

static void on_reset(void *ctx)
{
    (void)ctx;
    resets++;
}
static void on_kbd_irq(void *ctx)
{
    (void)ctx;
    kbd_irqs++;
}

static uint8_t krd(struct i8042 *k, const struct trap_ops *ops)
{
    uint8_t v = 0;
    ops->read(k, 0, &v, 1);
    return v;
}

static void kwr(struct i8042 *k, const struct trap_ops *ops, uint8_t v) { ops->write(k, 0, &v, 1); }

static void i8042_commands_and_reset(void **state)
{
    (void)state;
    static struct i8042 k;
    resets = kbd_irqs = 0;
    i8042_init(&k, on_reset, on_kbd_irq, NULL);
    assert_int_equal(krd(&k, &i8042_cmd_ops) & 0x01, 0);
    kwr(&k, &i8042_cmd_ops, 0xaa);
    assert_int_equal(krd(&k, &i8042_cmd_ops) & 0x01, 1);
    assert_int_equal(krd(&k, &i8042_data_ops), 0x55);
    kwr(&k, &i8042_cmd_ops, 0x60);
    kwr(&k, &i8042_data_ops, 0x44);
    kwr(&k, &i8042_cmd_ops, 0x20);
    assert_int_equal(krd(&k, &i8042_data_ops), 0x44);
    /* Keyboard interrupts are off in 0x44; a keyboard command is still acked. */
    kwr(&k, &i8042_data_ops, 0xf4);
    assert_int_equal(kbd_irqs, 0);
    assert_int_equal(krd(&k, &i8042_data_ops), 0xfa);
    kwr(&k, &i8042_cmd_ops, 0x60);
    kwr(&k, &i8042_data_ops, 0x45);
    kwr(&k, &i8042_data_ops, 0xff);
    assert_int_equal(kbd_irqs, 1);
    assert_int_equal(krd(&k, &i8042_data_ops), 0xfa);
    assert_int_equal(krd(&k, &i8042_data_ops), 0xaa);
    assert_int_equal(resets, 0);
    kwr(&k, &i8042_cmd_ops, 0xfe);
    assert_int_equal(resets, 1);
    /* The output buffer is bounded whatever the guest does. */
    for (int i = 0; i < 100; i++)
        kwr(&k, &i8042_cmd_ops, 0xaa);
    assert_int_equal(k.buf_count, I8042_BUF_CAP);
    i8042_destroy(&k);
}

static void boot_timer_logs_the_boot_once(void **state)
{
    (void)state;
    struct boot_timer t;
    boot_timer_init(&t, 0, 0);
    const char *path = log_lines_start();
    uint8_t magic = BOOT_TIMER_MAGIC, bad = 42;
    for (int i = 0; i < 10000; i++) {
        boot_timer_ops.write(&t, 0, &magic, 1);
        boot_timer_ops.write(&t, 0, &bad, 1);
    }
    /* One boot-time line, and the first three ignored writes. */
    assert_int_equal(log_lines_stop(path), 1 + 3);
    assert_int_equal(atomic_load(&t.marks), 10000);
    assert_int_equal(atomic_load(&t.ignored), 10000);
    assert_true(atomic_load(&t.boot_wall_us) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uart_prompt_needs_no_newline),
        cmocka_unit_test(uart_stalled_console_fills_ring_then_drops),
        cmocka_unit_test(uart_flush_gives_up_on_a_stalled_console),
        cmocka_unit_test(uart_broken_console_discards_output),
        cmocka_unit_test(uart_input_raises_and_clears_rx_interrupt),
        cmocka_unit_test(uart_rx_overflow_is_counted),
        cmocka_unit_test(uart_thre_interrupt_is_acknowledged_by_iir),
        cmocka_unit_test(i8042_commands_and_reset),
        cmocka_unit_test(boot_timer_logs_the_boot_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
