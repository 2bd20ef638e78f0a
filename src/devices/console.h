/* The guest console: where COM1's output goes (a file or stdout, written
 * by the event loop without ever blocking) and where its input comes from
 * (stdin when it is a terminal, in raw mode, a pipe or a socket). */
#ifndef HEARTH_CONSOLE_H
#define HEARTH_CONSOLE_H

#include "bus/device.h"
#include "core/loop.h"
#include "devices/serial.h"

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

struct console {
    struct loop *loop;
    struct serial *serial;
    int out_fd;
    bool own_out_fd;
    int fl_restore;   /* the shared console's flags to put back, or -1 */
    int kick_fd;      /* eventfd: the UART has output */
    bool out_watched; /* waiting for EPOLLOUT */
    bool stdin_watched;
    bool tty_raw;
    struct termios saved_tty;
};

/* Opens the output (path: a regular file, appended to, a terminal or a FIFO
 * with a reader; stdout when NULL) for serial_init to write to: c->out_fd.
 * Never waits for a FIFO's reader. -1 with a message naming
 * serial.serial_out_path. */
int console_open(struct console *c, const char *path, char *err, size_t errlen);

/* Hooks the UART to the loop: output drains as the guest writes it, input
 * flows from stdin. Call after serial_init(serial, c->out_fd, ...). */
int console_start(struct console *c, struct loop *loop, struct serial *serial, char *err,
                  size_t errlen);

/* Restores the terminal and closes what console_open and console_start
 * made; safe after a failure at any step. */
void console_close(struct console *c);

/* COM1 (the device's lifecycle): the 16550 UART over the console. */
struct com1 {
    struct serial serial;
    struct console console;
};
extern const struct device_ops com1_device;

#endif
