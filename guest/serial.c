/* serial: UART registers behave like a 16550A (scratch, divisor latch,
 * loopback, THRE interrupt identification), and the guest reads a line the
 * host wrote to hearth's stdin, compared with expect=WORD. */
#include "guest.h"

#define COM1 0x3f8

static void read_host_line(const struct boot_info *bi)
{
    char expect[64] = "", got[64];
    if (!opt_get(bi, "expect", expect, sizeof(expect)))
        return;
    printf("# ready for input\n");
    size_t n = 0;
    int c;
    while (n + 1 < sizeof(got) && (c = serial_getc(400000)) >= 0 && c != '\n' && c != '\r')
        got[n++] = (char)c;
    got[n] = 0;
    tap_ok(strcmp(got, expect) == 0, "read \"%s\" from the host", got);
}

void guest_main(const struct boot_info *bi)
{
    /* Host input first: the loopback test below shares the receive FIFO. */
    read_host_line(bi);

    outb(COM1 + 7, 0x5a);
    tap_ok(inb(COM1 + 7) == 0x5a, "scratch register round-trips");

    /* With DLAB set, output would go to the divisor latch: report after. */
    outb(COM1 + 3, 0x83);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    uint8_t dll = inb(COM1 + 0), dlm = inb(COM1 + 1);
    outb(COM1 + 3, 0x03);
    tap_ok(dll == 0x01 && dlm == 0x00, "divisor latch round-trips");

    /* In loopback our own output would land in the receive FIFO: report
     * only after leaving it. Whatever else the host sent (a terminal's EOF
     * character, say) is flushed first. */
    outb(COM1 + 2, 0x07); /* FIFO on, clear receive and transmit FIFOs */
    outb(COM1 + 4, 0x1a); /* loopback, RTS, OUT2 */
    uint8_t msr = inb(COM1 + 6);
    outb(COM1, 'Z');
    uint8_t lsr = inb(COM1 + 5), rbr = inb(COM1);
    outb(COM1 + 4, 0x0b);
    tap_ok((msr & 0xf0) == 0x90, "loopback mirrors RTS/OUT2 onto CTS/DCD (0x%x)", msr);
    tap_ok((lsr & 1) && rbr == 'Z', "loopback returns the sent byte (lsr 0x%x, got 0x%x)", lsr,
           rbr);

    /* No output between these reads: every THR write re-arms THRE. */
    outb(COM1 + 1, 0x02);
    uint8_t iir1 = inb(COM1 + 2), iir2 = inb(COM1 + 2);
    outb(COM1 + 1, 0x00);
    tap_ok((iir1 & 0x0f) == 0x02, "IIR reports THRE after enabling it (0x%x)", iir1);
    tap_ok((iir2 & 0x0f) == 0x01, "reading IIR acknowledged THRE (0x%x)", iir2);
}
