/* Unit tests: the UART and i8042 register models, driven like a guest. */
#include "devices/i8042.h"
#include "devices/serial.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
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

static void wr(struct serial *s, uint64_t reg, uint8_t v)
{
    serial_ops.write(s, reg, &v, 1);
}

static void uart_output_is_line_buffered(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    static struct serial s;
    serial_init(&s, p[1], on_irq, NULL);
    wr(&s, 0, 'h');
    wr(&s, 0, 'i');
    char buf[16];
    assert_int_equal(s.tx_len, 2);
    wr(&s, 0, '\n');
    assert_int_equal(read(p[0], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "hi\n", 3);
    wr(&s, 0, '!');
    serial_flush(&s);
    assert_int_equal(read(p[0], buf, sizeof(buf)), 1);
    serial_destroy(&s);
    close(p[0]);
    close(p[1]);
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

static void on_reset(void *ctx) { (void)ctx; resets++; }
static void on_kbd_irq(void *ctx) { (void)ctx; kbd_irqs++; }

static uint8_t krd(struct i8042 *k, const struct trap_ops *ops)
{
    uint8_t v = 0;
    ops->read(k, 0, &v, 1);
    return v;
}

static void kwr(struct i8042 *k, const struct trap_ops *ops, uint8_t v)
{
    ops->write(k, 0, &v, 1);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uart_output_is_line_buffered),
        cmocka_unit_test(uart_input_raises_and_clears_rx_interrupt),
        cmocka_unit_test(uart_rx_overflow_is_counted),
        cmocka_unit_test(uart_thre_interrupt_is_acknowledged_by_iir),
        cmocka_unit_test(i8042_commands_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
