/* The guest console: COM1's output and input through the event loop, and
 * COM1's lifecycle. */
#include "devices/console.h"

#include "arch/x86_64/layout.h"
#include "bus/manager.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* A console the loop can write without ever waiting (regular files never
 * make it wait on a peer). O_NONBLOCK on an inherited descriptor would
 * also change it for whoever shares it, such as the shell's terminal after
 * hearth exits, so it is reopened as hearth's own where Linux allows; only
 * a socket gets the shared flag, restored at exit. */
static void make_nonblocking(struct console *c)
{
    struct stat st;
    if (fstat(c->out_fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
        return;
    if (!c->own_out_fd) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", c->out_fd);
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            c->out_fd = fd;
            c->own_out_fd = true;
            return;
        }
    }
    int fl = fcntl(c->out_fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(c->out_fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
        !c->own_out_fd)
        c->fl_restore = fl;
}

int console_open(struct console *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->fl_restore = c->kick_fd = -1;
    c->out_fd = STDOUT_FILENO;
    if (path) {
        /* A FIFO or a terminal too; a FIFO needs its reader already there. */
        c->out_fd = path_open_checked(path, O_WRONLY | O_CREAT | O_APPEND, 0600,
                                      PATH_REG | PATH_CHR | PATH_FIFO, "serial.serial_out_path",
                                      err, errlen);
        if (c->out_fd < 0) {
            c->out_fd = -1;
            return -1;
        }
        c->own_out_fd = true;
    }
    make_nonblocking(c);
    return 0;
}

static void on_writable(void *ctx, int fd, uint32_t events);

/* Writes what the guest printed; while the console is full, waits for it
 * to take more on EPOLLOUT instead (meanwhile the ring fills, then drops). */
static void output(struct console *c)
{
    bool full = serial_drain(c->serial) == -EAGAIN;
    if (full == c->out_watched)
        return;
    int r = full ? loop_add(c->loop, c->out_fd, EPOLLOUT, on_writable, c)
                 : loop_del(c->loop, c->out_fd);
    if (r < 0)
        log_warn("serial: cannot watch the console for room: %s", strerror(-r));
    else
        c->out_watched = full;
}

static void on_writable(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    output(ctx);
}

static void on_kick(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("serial: reading its eventfd: %s", strerror(errno));
    output(ctx);
}

static void on_stdin(void *ctx, int fd, uint32_t events)
{
    struct console *c = ctx;
    uint8_t buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        serial_push_input(c->serial, buf, (size_t)n);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN) || (events & (EPOLLHUP | EPOLLERR))) {
        loop_del(c->loop, fd); /* end of input: the guest just sees no more bytes */
        c->stdin_watched = false;
    }
}

/* Guest input comes from stdin when it is a terminal, a pipe or a socket;
 * a terminal is put in raw mode (signals still stop hearth) until exit. */
static void attach_stdin(struct console *c)
{
    struct stat st;
    if (fstat(STDIN_FILENO, &st) < 0)
        return;
    bool tty = isatty(STDIN_FILENO);
    if (!tty && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
        return;
    if (tty && tcgetattr(STDIN_FILENO, &c->saved_tty) == 0) {
        struct termios raw = c->saved_tty;
        raw.c_iflag &=
            ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            c->tty_raw = true;
    }
    if (loop_add(c->loop, STDIN_FILENO, EPOLLIN, on_stdin, c) < 0)
        log_warn("serial input from stdin unavailable");
    else
        c->stdin_watched = true;
}

int console_start(struct console *c, struct loop *loop, struct serial *serial, char *err,
                  size_t errlen)
{
    c->loop = loop;
    c->serial = serial;
    c->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int r = c->kick_fd < 0 ? -errno : loop_add(loop, c->kick_fd, EPOLLIN, on_kick, c);
    if (r < 0) {
        snprintf(err, errlen, "console: %s", strerror(-r));
        return -1;
    }
    serial_set_kick(serial, c->kick_fd);
    attach_stdin(c);
    return 0;
}

void console_close(struct console *c)
{
    if (c->loop) {
        if (c->stdin_watched)
            loop_del(c->loop, STDIN_FILENO);
        if (c->out_watched)
            loop_del(c->loop, c->out_fd);
        if (c->kick_fd >= 0)
            loop_del(c->loop, c->kick_fd);
    }
    if (c->tty_raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
    if (c->fl_restore >= 0)
        fcntl(c->out_fd, F_SETFL, c->fl_restore);
    if (c->own_out_fd)
        close(c->out_fd);
    if (c->kick_fd >= 0)
        close(c->kick_fd);
    memset(c, 0, sizeof(*c));
    c->out_fd = c->kick_fd = c->fl_restore = -1;
}

/* COM1: the UART on the console, its interrupt on IRQ_COM1. */

static void com1_irq(void *ctx, int level) { vm_irq_line(ctx, IRQ_COM1, level); }

static void com1_destroy(void *dev)
{
    struct com1 *c = dev;
    serial_destroy(&c->serial);
    console_close(&c->console);
    free(c);
}

static int com1_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct com1 *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "serial: out of memory");
        return -1;
    }
    if (console_open(&c->console, env->cfg->serial.serial_out_path, err, errlen) < 0) {
        free(c);
        return -1;
    }
    serial_init(&c->serial, c->console.out_fd, com1_irq, env->dm->vm);
    const struct devmgr_device d = {
        .ops = &com1_device,
        .name = "serial",
        .dev = c,
        .trap_dev = &c->serial,
        .nranges = 1,
        .ranges = { { TRAP_PIO, SERIAL_PORT_BASE, SERIAL_PORT_LEN, &serial_ops } },
        .acpi_name = "COM1",
        .acpi_hid = "PNP0501",
        .nirq = 1,
        .irq = IRQ_COM1,
    };
    if (devmgr_add(env->dm, &d, err, errlen) < 0 ||
        console_start(&c->console, env->vmm_loop, &c->serial, err, errlen) < 0)
        return -1;
    return 0;
}

/* Firecracker's "uart" group. */
static void com1_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "read_count", "write_count", "missed_read_count",
                                         "missed_write_count" };
    struct serial_counts sc = { 0 };
    if (n > 0)
        serial_counts(&((struct com1 *)devs[0])->serial, &sc);
    const uint64_t v[] = { sc.rx_bytes, sc.tx_bytes, sc.rx_dropped, sc.tx_dropped };
    json_object_set_new(o, "uart", metrics_counters(names, v, 4));
}

const struct device_ops com1_device = {
    .name = "serial",
    .section = CONFIG_SERIAL,
    .create = com1_create,
    .destroy = com1_destroy,
    .metrics = com1_metrics,
};
