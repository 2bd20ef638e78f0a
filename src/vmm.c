/* VMM assembly: memory, kernel, devices, ACPI, vCPUs, then the event loop. */
#include "vmm.h"

#include "boot/acpi.h"
#include "boot/cpu.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/vm.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "tpm/vtpm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* How long the exit waits for a console that is slow to take the last
 * output: long enough for a terminal, short enough that a console nobody
 * reads does not hold up a stop. */
#define VMM_CONSOLE_FLUSH_MS 500

struct vmm {
    struct vm vm;
    struct loop loop;
    struct serial serial;
    struct i8042 i8042;
    struct boot_timer timer;
    struct acpi_config acpi;
    struct vtpm vtpm;
    bool devices_ready;
    int serial_fd;
    bool own_serial_fd;
    int serial_fl_restore; /* the shared console's flags to put back, or -1 */
    int serial_kick_fd;
    bool serial_fd_watched; /* waiting for EPOLLOUT */
    int sig_fd;
    bool tty_raw;
    struct termios saved_tty;
};

static void serial_irq(void *ctx, int level)
{
    vm_irq_line(ctx, IRQ_COM1, level);
}

static void i8042_irq(void *ctx)
{
    vm_irq_pulse(ctx, IRQ_I8042);
}

static void i8042_reset(void *ctx)
{
    vm_request_stop(ctx, HEARTH_EXIT_OK, "guest requested a reset through the i8042");
}

/* A serial console the loop can write without ever waiting (regular files
 * never make it wait on a peer). O_NONBLOCK on an inherited descriptor would
 * also change it for whoever shares it, such as the shell's terminal after
 * hearth exits, so it is reopened as hearth's own where Linux allows; only a
 * socket gets the shared flag, restored at exit. */
static void console_make_nonblocking(struct vmm *m)
{
    struct stat st;
    if (fstat(m->serial_fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
        return;
    if (!m->own_serial_fd) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", m->serial_fd);
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            m->serial_fd = fd;
            m->own_serial_fd = true;
            return;
        }
    }
    int fl = fcntl(m->serial_fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(m->serial_fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
        !m->own_serial_fd)
        m->serial_fl_restore = fl;
}

/* The legacy devices as the DSDT describes them. */
int vmm_describe_legacy(struct acpi_config *acpi, char *err, size_t errlen)
{
    struct acpi_dev *com1 = acpi_add_dev(acpi, "COM1", "PNP0501", 0);
    struct acpi_dev *ps2 = com1 ? acpi_add_dev(acpi, "PS2_", "PNP0303", 0) : NULL;
    if (!ps2) {
        snprintf(err, errlen, "describing the legacy devices: more than %d ACPI devices",
                 ACPI_MAX_DEVS);
        return -ENOSPC;
    }
    com1->nio = 1;
    com1->io[0].base = SERIAL_PORT_BASE;
    com1->io[0].len = SERIAL_PORT_LEN;
    com1->nirq = 1;
    com1->irq[0] = IRQ_COM1;
    ps2->nio = 2;
    ps2->io[0].base = I8042_DATA_PORT;
    ps2->io[0].len = 1;
    ps2->io[1].base = I8042_CMD_PORT;
    ps2->io[1].len = 1;
    ps2->nirq = 1;
    ps2->irq[0] = IRQ_I8042;
    return 0;
}

static int attach_devices(struct vmm *m, const struct vm_config *cfg,
                          const struct vmm_options *opt, char *err, size_t errlen)
{
    struct trap_registry *t = &m->vm.traps;
    m->serial_fd = STDOUT_FILENO;
    if (cfg->serial_out_path) {
        m->serial_fd = open(cfg->serial_out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (m->serial_fd < 0) {
            snprintf(err, errlen, "serial.serial_out_path %s: %s", cfg->serial_out_path,
                     strerror(errno));
            return -1;
        }
        m->own_serial_fd = true;
    }
    console_make_nonblocking(m);
    serial_init(&m->serial, m->serial_fd, serial_irq, &m->vm);
    i8042_init(&m->i8042, i8042_reset, i8042_irq, &m->vm);
    m->devices_ready = true;
    int r = trap_register(t, TRAP_PIO, SERIAL_PORT_BASE, SERIAL_PORT_LEN, &serial_ops, &m->serial);
    if (!r)
        r = trap_register(t, TRAP_PIO, I8042_DATA_PORT, 1, &i8042_data_ops, &m->i8042);
    if (!r)
        r = trap_register(t, TRAP_PIO, I8042_CMD_PORT, 1, &i8042_cmd_ops, &m->i8042);
    if (!r && opt->boot_timer) {
        boot_timer_init(&m->timer, opt->start_wall_ns, opt->start_cpu_ns);
        r = trap_register(t, TRAP_MMIO, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_SIZE,
                          &boot_timer_ops, &m->timer);
    }
    if (r) {
        snprintf(err, errlen, "registering devices: %s", strerror(-r));
        return -1;
    }

    return vmm_describe_legacy(&m->acpi, err, errlen) < 0 ? -1 : 0;
}

static void on_stop(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    loop_stop(&((struct vmm *)ctx)->loop);
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct vmm *m = ctx;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == sizeof(si))
        vm_request_stop(&m->vm, HEARTH_EXIT_ERROR, "stopped by signal %u", si.ssi_signo);
}

static void on_stdin(void *ctx, int fd, uint32_t events)
{
    struct vmm *m = ctx;
    uint8_t buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        serial_push_input(&m->serial, buf, (size_t)n);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN) || (events & (EPOLLHUP | EPOLLERR))) {
        loop_del(&m->loop, fd); /* end of input: the guest just sees no more bytes */
    }
}

static void on_console_writable(void *ctx, int fd, uint32_t events);

/* Writes what the guest printed; while the console is full, waits for it to
 * take more on EPOLLOUT instead (meanwhile the ring fills, then drops). */
static void console_output(struct vmm *m)
{
    bool full = serial_drain(&m->serial) == -EAGAIN;
    if (full == m->serial_fd_watched)
        return;
    int r = full ? loop_add(&m->loop, m->serial_fd, EPOLLOUT, on_console_writable, m)
                 : loop_del(&m->loop, m->serial_fd);
    if (r < 0)
        log_warn("serial: cannot watch the console for room: %s", strerror(-r));
    else
        m->serial_fd_watched = full;
}

static void on_console_writable(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    console_output(ctx);
}

static void on_console_kick(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("serial: reading its eventfd: %s", strerror(errno));
    console_output(ctx);
}

/* Guest input comes from stdin when it is a terminal, a pipe or a socket;
 * a terminal is put in raw mode (signals still stop hearth) until exit. */
static void attach_stdin(struct vmm *m)
{
    struct stat st;
    if (fstat(STDIN_FILENO, &st) < 0)
        return;
    bool tty = isatty(STDIN_FILENO);
    if (!tty && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
        return;
    if (tty && tcgetattr(STDIN_FILENO, &m->saved_tty) == 0) {
        struct termios raw = m->saved_tty;
        raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            m->tty_raw = true;
    }
    if (loop_add(&m->loop, STDIN_FILENO, EPOLLIN, on_stdin, m) < 0)
        log_warn("serial input from stdin unavailable");
}

static int setup_loop(struct vmm *m, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* vCPU threads inherit the mask */
    /* A console reader that goes away (hearth | head) is an EPIPE for the
     * serial drain to handle, not the end of the VM. */
    signal(SIGPIPE, SIG_IGN);
    m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    m->serial_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop_init(&m->loop) < 0 || m->sig_fd < 0 || m->serial_kick_fd < 0 ||
        loop_add(&m->loop, m->vm.stop_efd, EPOLLIN, on_stop, m) < 0 ||
        loop_add(&m->loop, m->sig_fd, EPOLLIN, on_signal, m) < 0 ||
        loop_add(&m->loop, m->serial_kick_fd, EPOLLIN, on_console_kick, m) < 0) {
        snprintf(err, errlen, "event loop setup: %s", strerror(errno));
        return -1;
    }
    serial_set_kick(&m->serial, m->serial_kick_fd);
    attach_stdin(m);
    return 0;
}

static int build(struct vmm *m, const struct vm_config *cfg, const struct vmm_options *opt,
                 char *err, size_t errlen)
{
    if (vm_create(&m->vm, cfg->mem_size_mib << 20, cfg->huge_pages, cfg->vcpu_count, err,
                  errlen) < 0)
        return -1;
    struct loaded_kernel k;
    struct boot_entry entry;
    char cmdline[LAYOUT_CMDLINE_MAX + 64];
    snprintf(cmdline, sizeof(cmdline), "%s", cfg->boot_args);
    vtpm_cmdline(cfg->tpm_model, cmdline, sizeof(cmdline));
    if (kernel_load(&m->vm.mem, cfg->kernel_image_path, &k, err, errlen) < 0 ||
        boot_prepare(&m->vm.mem, &k, cmdline, cfg->initrd_path, &entry, err, errlen) < 0)
        return -1;
    log_debug("kernel %s: %s entry 0x%llx", cfg->kernel_image_path,
              entry.mode == BOOT_PVH ? "PVH" : "64-bit", (unsigned long long)entry.rip);
    m->acpi.nvcpus = cfg->vcpu_count;
    if (attach_devices(m, cfg, opt, err, errlen) < 0)
        return -1;
    if (vtpm_attach(&m->vtpm, cfg, &m->vm, &m->acpi, err, errlen) < 0)
        return -1;
    int r = mptable_build(&m->vm.mem, cfg->vcpu_count);
    if (!r)
        r = acpi_build(&m->vm.mem, &m->acpi);
    if (r) {
        snprintf(err, errlen, "writing MP/ACPI tables: %s", strerror(-r));
        return -1;
    }
    for (int i = 0; i < m->vm.nvcpus; i++)
        if (cpu_setup_vcpu(&m->vm, &m->vm.vcpus[i], cfg->smt, &entry, err, errlen) < 0)
            return -1;
    return setup_loop(m, err, errlen);
}

int vmm_run(const struct vm_config *cfg, const struct vmm_options *opt)
{
    struct vmm *m = calloc(1, sizeof(*m));
    if (!m) {
        log_error("out of memory");
        return HEARTH_EXIT_ERROR;
    }
    m->serial_fd = m->sig_fd = m->serial_kick_fd = m->serial_fl_restore = -1;
    m->loop.epfd = -1;
    m->vm.kvm_fd = m->vm.vm_fd = m->vm.stop_efd = -1;
    char err[512] = "";
    int code = HEARTH_EXIT_ERROR;
    if (build(m, cfg, opt, err, sizeof(err)) < 0) {
        log_error("start-up failed: %s", err);
        code = HEARTH_EXIT_ERROR;
    } else if (vm_start_vcpus(&m->vm) < 0 || loop_run(&m->loop) < 0) {
        vm_request_stop(&m->vm, HEARTH_EXIT_ERROR, "event loop failed: %s", strerror(errno));
    }
    if (m->vm.nvcpus) {
        vm_join_vcpus(&m->vm);
        /* Before the stop is logged: a shared terminal shows them in order. */
        if (m->devices_ready)
            serial_flush(&m->serial, VMM_CONSOLE_FLUSH_MS);
        if (atomic_load(&m->vm.stopping)) {
            code = m->vm.exit_code;
            if (code == HEARTH_EXIT_OK)
                log_info("VM stopped: %s", m->vm.stop_reason);
            else
                log_error("VM stopped: %s", m->vm.stop_reason);
        }
        trap_log_stats(&m->vm.traps);
        uint64_t unclaimed = trap_unclaimed_count(&m->vm.traps);
        if (unclaimed)
            log_warn("%llu guest accesses hit no device", (unsigned long long)unclaimed);
    }
    vtpm_detach(&m->vtpm);
    if (m->devices_ready) {
        serial_destroy(&m->serial);
        i8042_destroy(&m->i8042);
    }
    if (m->tty_raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_tty);
    if (m->serial_fl_restore >= 0)
        fcntl(m->serial_fd, F_SETFL, m->serial_fl_restore);
    if (m->own_serial_fd)
        close(m->serial_fd);
    if (m->serial_kick_fd >= 0)
        close(m->serial_kick_fd);
    if (m->sig_fd >= 0)
        close(m->sig_fd);
    loop_destroy(&m->loop);
    vm_destroy_detached(&m->vm);
    free(m);
    return code;
}
