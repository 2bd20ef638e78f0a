/* The microVM's lifecycle: configure, start (memory, kernel, devices, ACPI,
 * vCPUs), pause/resume, metrics, and the stop that ends the process. */
#include "vmm/vmm.h"

#include "arch/x86_64/layout.h"
#include "boot/acpi.h"
#include "boot/cpu.h"
#include "boot/loader.h"
#include "bus/manager.h"
#include "core/clock.h"
#include "core/exits.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/seccomp.h"
#include "core/vm.h"
#include "devices/boot_timer.h"
#include "devices/console.h"
#include "devices/i8042.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "devices/vtpm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* How long the exit waits for a console that is slow to take the last
 * output: long enough for a terminal, short enough that a console nobody
 * reads does not hold up a stop. */
#define VMM_CONSOLE_FLUSH_MS 500

/* Every kind of device, in attach order: the legacy devices, the TPM, then
 * the virtio devices in the configuration's order (Firecracker's), so
 * slots, GSIs and the guest's /dev/vd* names stay put. */
static const struct device_ops *const device_kinds[] = {
    &com1_device,       &i8042_device,      &boot_timer_device,   &vtpm_device,
    &virtio_blk_device, &virtio_net_device, &virtio_vsock_device, &virtio_rng_device,
};

#define VMM_MAX_METRICS_SOURCES 2

struct vmm {
    struct vmm_options opt;
    char id[65];
    struct vm_config cfg;
    enum vmm_state state;
    struct loop loop;
    int sig_fd;
    int exit_code; /* when the loop stops before a VM exists */
    /* The VM, while started. */
    bool built;
    struct vm vm;
    struct acpi_config acpi;
    struct devmgr devices;
    /* Metrics. */
    struct metrics metrics;
    int metrics_timer_fd;
    int nsources;
    struct {
        vmm_metrics_fn *fn;
        void *ctx;
    } sources[VMM_MAX_METRICS_SOURCES];
    uint64_t startup_wall_us, startup_cpu_us;
    uint64_t start_us, pause_us, resume_us; /* latencies of the last of each */
};

static void on_stop(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    loop_stop(&((struct vmm *)ctx)->loop);
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct vmm *m = ctx;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) != sizeof(si))
        return;
    if (m->built) {
        vm_request_stop(&m->vm, HEARTH_EXIT_ERROR, "stopped by signal %u", si.ssi_signo);
    } else {
        log_info("stopped by signal %u before the microVM started", si.ssi_signo);
        m->exit_code = HEARTH_EXIT_ERROR;
        loop_stop(&m->loop);
    }
}

static json_t *collect_metrics(struct vmm *m);

static void write_metrics(struct vmm *m)
{
    if (metrics_enabled(&m->metrics) && metrics_write(&m->metrics, collect_metrics(m)) < 0)
        log_debug("metrics: a line was lost (the target is full or gone)");
}

static void on_metrics_timer(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) == sizeof(n))
        write_metrics(ctx);
}

/* Undoes a start, in reverse; also the normal teardown once vCPUs stopped. */
static void unbuild(struct vmm *m, bool detached)
{
    devmgr_teardown(&m->devices);
    if (m->vm.stop_efd >= 0)
        loop_del(&m->loop, m->vm.stop_efd);
    if (detached)
        vm_destroy_detached(&m->vm);
    else
        vm_destroy(&m->vm);
    memset(&m->acpi, 0, sizeof(m->acpi));
    m->built = false;
}

/* Measured boot: what is about to run, into the vTPM, before it runs: the
 * bytes loaded, k's copy of the kernel file and the initrd in guest RAM.
 * `added`: what hearth appended to boot_args (root drive, devices). */
static int measure(struct vmm *m, const struct loaded_kernel *k, const struct loaded_initrd *rd,
                   const char *cmdline, const char *added, char *err, size_t errlen)
{
    const struct vm_config *cfg = &m->cfg;
    char *text = measure_machine_json(cfg, added);
    const struct measure_inputs in = {
        .kernel_path = cfg->boot.kernel_image_path,
        .initrd_path = cfg->boot.initrd_path,
        .kernel = k->image,
        .kernel_len = k->image_len,
        .initrd = rd->size ? gpa_to_hva(&m->vm.mem, rd->gpa, rd->size) : NULL,
        .initrd_len = rd->size,
        .cmdline = cmdline,
        .config_json = text ? text : "{}",
    };
    int r = vtpm_measure(devmgr_find(&m->devices, &vtpm_device, 0), &m->vm.mem, &in, err, errlen);
    free(text);
    return r;
}

static int build(struct vmm *m, char *err, size_t errlen)
{
    const struct vm_config *cfg = &m->cfg;
    struct vm_devmem devmem[VM_MAX_DEVMEM];
    int ndevmem = vtpm_devmem(&cfg->tpm, devmem);
    if (vm_create(&m->vm, cfg->machine.mem_size_mib << 20, cfg->machine.huge_pages,
                  cfg->machine.vcpu_count, devmem, ndevmem, err, errlen) < 0)
        return -1;
    m->built = true;
    m->vm.seccomp = m->opt.seccomp; /* before the first thread: the I/O thread's */
    devmgr_open(&m->devices, &m->vm, &m->acpi);
    m->acpi.nvcpus = cfg->machine.vcpu_count;
    if (loop_add(&m->loop, m->vm.stop_efd, EPOLLIN, on_stop, m) < 0) {
        snprintf(err, errlen, "event loop: %s", strerror(errno));
        return -1;
    }
    const struct device_env env = {
        .dm = &m->devices,
        .cfg = cfg,
        .vmm_loop = &m->loop,
        .inherited = m->opt.inherited,
        .seccomp = m->opt.seccomp,
        .boot_timer = m->opt.boot_timer,
        .start_wall_ns = m->opt.start_wall_ns,
        .start_cpu_ns = m->opt.start_cpu_ns,
    };
    if (devmgr_create_all(&m->devices, &env, err, errlen) < 0 ||
        devmgr_start(&m->devices, err, errlen) < 0)
        return -1;
    /* Devices first: their command-line entries go after the user's, and
     * the root drive's (Firecracker's order). */
    char cmdline[LAYOUT_CMDLINE_MAX + DEVMGR_CMDLINE_MAX], root[CONFIG_ID_MAX + 48];
    char added[sizeof(root) + DEVMGR_CMDLINE_MAX];
    config_root_args(cfg, root, sizeof(root));
    snprintf(added, sizeof(added), "%s%s%s", root, root[0] && m->devices.cmdline[0] ? " " : "",
             m->devices.cmdline);
    snprintf(cmdline, sizeof(cmdline), "%s%s%s", config_boot_args(cfg), added[0] ? " " : "", added);
    struct loaded_kernel k;
    struct loaded_initrd rd;
    struct boot_entry entry;
    if (kernel_load(&m->vm.mem, cfg->boot.kernel_image_path, &k, err, errlen) < 0)
        return -1;
    int r = boot_prepare(&m->vm.mem, &k, cmdline, cfg->boot.initrd_path, &entry, &rd, err, errlen);
    if (r == 0) {
        log_debug("kernel %s: %s entry 0x%llx", cfg->boot.kernel_image_path,
                  entry.mode == BOOT_PVH ? "PVH" : "64-bit", (unsigned long long)entry.rip);
        r = measure(m, &k, &rd, cmdline, added, err, errlen);
    }
    kernel_release(&k);
    if (r < 0)
        return -1;
    r = mptable_build(&m->vm.mem, cfg->machine.vcpu_count);
    if (!r)
        r = acpi_build(&m->vm.mem, &m->acpi);
    if (r) {
        snprintf(err, errlen, "writing MP/ACPI tables: %s", strerror(-r));
        return -1;
    }
    for (int i = 0; i < m->vm.nvcpus; i++)
        if (cpu_setup_vcpu(&m->vm, &m->vm.vcpus[i], cfg->machine.smt, &entry, err, errlen) < 0)
            return -1;
    return 0;
}

/* The vCPUs' end: devices let go of any vCPU they hold first. */
static void stop_vcpus(struct vmm *m)
{
    devmgr_quiesce(&m->devices);
    vm_join_vcpus(&m->vm);
}

int vmm_start(struct vmm *m, char *err, size_t errlen)
{
    if (m->state != VMM_NOT_STARTED) {
        snprintf(err, errlen, "the microVM is already running");
        return -1;
    }
    if (!m->cfg.boot.kernel_image_path) {
        snprintf(err, errlen, "Cannot start microvm without kernel configuration.");
        return -1;
    }
    uint64_t t0 = mono_ns();
    if (build(m, err, errlen) < 0) {
        unbuild(m, false);
        return -1;
    }
    if (vm_start_vcpus(&m->vm) < 0) {
        snprintf(err, errlen, "starting the vCPUs: %s", m->vm.stop_reason);
        stop_vcpus(m);
        unbuild(m, false);
        return -1;
    }
    m->state = VMM_RUNNING;
    m->start_us = (mono_ns() - t0) / 1000;
    if (metrics_enabled(&m->metrics)) {
        struct itimerspec period = { { METRICS_PERIOD_MS / 1000, 0 },
                                     { METRICS_PERIOD_MS / 1000, 0 } };
        m->metrics_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (m->metrics_timer_fd < 0 || timerfd_settime(m->metrics_timer_fd, 0, &period, NULL) < 0 ||
            loop_add(&m->loop, m->metrics_timer_fd, EPOLLIN, on_metrics_timer, m) < 0)
            log_warn("metrics: no periodic flush: %s", strerror(errno));
        write_metrics(m); /* Firecracker writes one line at boot */
    }
    /* From here the VMM thread handles what the guest does (console,
     * devices' completions): its filter goes on before it returns to the
     * loop. Building needed open, mmap and KVM's set-up ioctls; from now
     * on nothing does. Without it the VM does not run on. */
    if (seccomp_install(SECCOMP_VMM, m->opt.seccomp) < 0) {
        snprintf(err, errlen, "installing the VMM thread's seccomp filter failed");
        vm_request_stop(&m->vm, HEARTH_EXIT_ERROR, "no seccomp filter for the VMM thread");
        return -1;
    }
    log_info("microVM started: %d vCPUs, %llu MiB, in %llu us", m->cfg.machine.vcpu_count,
             (unsigned long long)m->cfg.machine.mem_size_mib, (unsigned long long)m->start_us);
    return 0;
}

int vmm_action(struct vmm *m, enum vmm_action a, char *err, size_t errlen)
{
    uint64_t t0 = mono_ns();
    struct i8042 *kbd;
    switch (a) {
    case VMM_INSTANCE_START: return vmm_start(m, err, errlen);
    case VMM_SEND_CTRL_ALT_DEL:
        if (!(kbd = devmgr_find(&m->devices, &i8042_device, 0))) {
            snprintf(err, errlen, "the microVM has no i8042 to send Ctrl+Alt+Del to");
            return -1;
        }
        i8042_ctrl_alt_del(kbd);
        return 0;
    case VMM_FLUSH_METRICS:
        if (metrics_enabled(&m->metrics) && metrics_write(&m->metrics, collect_metrics(m)) < 0) {
            snprintf(err, errlen, "metrics: the line could not be written");
            return -1;
        }
        return 0;
    case VMM_PAUSE:
        if (m->state == VMM_PAUSED)
            return 0; /* idempotent, as Firecracker's */
        devmgr_quiesce(&m->devices);
        vm_pause(&m->vm);
        m->state = VMM_PAUSED;
        m->pause_us = (mono_ns() - t0) / 1000;
        return 0;
    case VMM_RESUME:
        if (m->state == VMM_RUNNING)
            return 0;
        devmgr_resume(&m->devices);
        vm_resume(&m->vm);
        m->state = VMM_RUNNING;
        m->resume_us = (mono_ns() - t0) / 1000;
        return 0;
    }
    snprintf(err, errlen, "unknown action");
    return -1;
}

/* A section's effect outside the configuration: files to open. */
static int apply(struct vmm *m, enum config_section s, const struct vm_config *next, char *err,
                 size_t errlen)
{
    int r = 0;
    if (s == CONFIG_LOGGER) {
        const struct logger_config *l = &next->logger;
        const char *path = l->log_path && (!m->cfg.logger.log_path ||
                                           strcmp(l->log_path, m->cfg.logger.log_path) != 0)
                               ? l->log_path
                               : NULL;
        if ((r = log_configure(path, l->level, l->show_level, l->show_log_origin)) < 0)
            snprintf(err, errlen, "logger.log_path %s: %s", l->log_path, strerror(-r));
    } else if (s == CONFIG_METRICS) {
        if (metrics_enabled(&m->metrics)) {
            snprintf(err, errlen, "metrics: already configured (once per process)");
            return -1;
        }
        if ((r = metrics_open(&m->metrics, next->metrics.metrics_path)) < 0)
            snprintf(err, errlen, "metrics.metrics_path %s: %s", next->metrics.metrics_path,
                     strerror(-r));
    }
    if (r < 0)
        return -1;
    return devmgr_check(&m->devices, s, next, err, errlen);
}

int vmm_configure(struct vmm *m, enum config_section s, json_t *body, bool patch, char *err,
                  size_t errlen)
{
    struct vm_config next;
    bool live = m->state != VMM_NOT_STARTED;
    if (live && !(patch && devmgr_updatable(&m->devices, s))) {
        snprintf(err, errlen, "%s: cannot change after the microVM started", config_section_key(s));
        return -1;
    }
    if (config_copy(&next, &m->cfg) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (config_set(&next, s, body, patch, err, errlen) < 0 ||
        (live ? devmgr_update(&m->devices, s, &m->cfg, &next, err, errlen)
              : apply(m, s, &next, err, errlen)) < 0) {
        config_free(&next);
        return -1;
    }
    config_free(&m->cfg);
    m->cfg = next;
    return 0;
}

int vmm_load_config(struct vmm *m, struct vm_config *cfg, char *err, size_t errlen)
{
    if ((cfg->has_logger && apply(m, CONFIG_LOGGER, cfg, err, errlen) < 0) ||
        (cfg->has_metrics && apply(m, CONFIG_METRICS, cfg, err, errlen) < 0))
        return -1;
    config_free(&m->cfg);
    m->cfg = *cfg;
    config_init(cfg);
    return 0;
}

enum vmm_state vmm_state(const struct vmm *m) { return m->state; }

const struct vm_config *vmm_config(const struct vmm *m) { return &m->cfg; }

static json_t *ops_tpm(void *ctx)
{
    struct vmm *m = ctx;
    json_t *all = config_to_json(&m->cfg);
    json_t *tpm = json_incref(json_object_get(all, "tpm"));
    json_decref(all);
    return vtpm_to_json(m->built ? devmgr_find(&m->devices, &vtpm_device, 0) : NULL, tpm);
}

static enum vmm_state ops_state(void *ctx) { return vmm_state(ctx); }
static const struct vm_config *ops_config(void *ctx) { return vmm_config(ctx); }
static int ops_configure(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                         size_t errlen)
{
    return vmm_configure(ctx, s, body, patch, err, errlen);
}
static int ops_action(void *ctx, enum vmm_action a, char *err, size_t errlen)
{
    return vmm_action(ctx, a, err, errlen);
}

const struct vmm_ops vmm_ops = {
    .state = ops_state,
    .configure = ops_configure,
    .action = ops_action,
    .config = ops_config,
    .tpm = ops_tpm,
};

int vmm_watch(struct vmm *m, int fd, loop_fn *fn, void *ctx, char *err, size_t errlen)
{
    if (loop_add(&m->loop, fd, EPOLLIN, fn, ctx) < 0) {
        snprintf(err, errlen, "event loop: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_add_metrics(struct vmm *m, vmm_metrics_fn *fn, void *ctx)
{
    if (m->nsources == VMM_MAX_METRICS_SOURCES)
        return -1;
    m->sources[m->nsources].fn = fn;
    m->sources[m->nsources++].ctx = ctx;
    return 0;
}

void vmm_set_startup_times(struct vmm *m, uint64_t wall_us, uint64_t cpu_us)
{
    m->startup_wall_us = wall_us;
    m->startup_cpu_us = cpu_us;
}

/* hearth's: KVM's own exit counters ("kvm_exits", under KVM's names, when
 * the kernel has them) and each device's exits and accesses. */
static void add_exit_metrics(struct vmm *m, json_t *o)
{
    static struct vm_exits e; /* VMM thread only; too big for a stack frame */
    memset(&e, 0, sizeof(e));
    if (m->built)
        vm_exits_collect(&m->vm, &e);
    json_t *kvm = json_object();
    for (int k = 0; k < KVM_STAT_N; k++)
        if (e.kvm_stats && e.kvm[k] != KVM_STATS_MISSING)
            json_object_set_new(kvm, kvm_exit_stat_names[k], json_integer((json_int_t)e.kvm[k]));
    json_object_set_new(o, "kvm_exits", kvm);
    json_t *devs = json_object();
    for (int i = 0; i < e.ndevices; i++)
        json_object_set_new(devs, e.devices[i].name,
                            json_pack("{s:I, s:I, s:I}", "exits", (json_int_t)e.devices[i].exits,
                                      "reads", (json_int_t)e.devices[i].reads, "writes",
                                      (json_int_t)e.devices[i].writes));
    json_object_set_new(devs, "unclaimed", json_pack("{s:I}", "exits", (json_int_t)e.unclaimed));
    json_object_set_new(o, "exits_by_device", devs);
}

static json_t *collect_metrics(struct vmm *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "api_server",
                        json_pack("{s:I, s:I}", "process_startup_time_us",
                                  (json_int_t)m->startup_wall_us, "process_startup_time_cpu_us",
                                  (json_int_t)m->startup_cpu_us));
    for (int i = 0; i < m->nsources; i++)
        m->sources[i].fn(m->sources[i].ctx, o);
    json_t *vcpu = json_object();
    for (int k = 0; k < VCPU_EXIT_NKINDS; k++)
        json_object_set_new(vcpu, vcpu_exit_names[k],
                            json_integer((json_int_t)vm_exit_count(&m->vm, k)));
    json_object_set_new(o, "vcpu", vcpu);
    add_exit_metrics(m, o);
    devmgr_metrics(&m->devices, o);
    json_object_set_new(o, "latencies_us",
                        json_pack("{s:I, s:I, s:I}", "instance_start", (json_int_t)m->start_us,
                                  "pause_vm", (json_int_t)m->pause_us, "resume_vm",
                                  (json_int_t)m->resume_us));
    json_object_set_new(o, "logger",
                        json_pack("{s:I, s:I}", "missed_log_count", (json_int_t)log_missed(),
                                  "missed_metrics_count", (json_int_t)m->metrics.missed));
    json_object_set_new(o, "vmm",
                        json_pack("{s:I}", "unclaimed_accesses",
                                  (json_int_t)(m->built ? trap_unclaimed_count(&m->vm.traps) : 0)));
    return o;
}

struct vmm *vmm_create(const struct vmm_options *opt, char *err, size_t errlen)
{
    struct vmm *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->opt = *opt;
    snprintf(m->id, sizeof(m->id), "%s",
             opt->instance_id ? opt->instance_id : "anonymous-instance");
    config_init(&m->cfg);
    metrics_init(&m->metrics);
    devmgr_init(&m->devices, device_kinds, (int)(sizeof(device_kinds) / sizeof(device_kinds[0])));
    m->sig_fd = m->metrics_timer_fd = -1;
    m->vm.kvm_fd = m->vm.vm_fd = m->vm.stop_efd = -1;
    m->loop.epfd = -1;
    m->exit_code = HEARTH_EXIT_ERROR;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads started later inherit the mask */
    /* A console reader that goes away (hearth | head) is an EPIPE for the
     * serial drain to handle, not the end of the VM. */
    signal(SIGPIPE, SIG_IGN);
    if (loop_init(&m->loop) < 0 ||
        (m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        loop_add(&m->loop, m->sig_fd, EPOLLIN, on_signal, m) < 0) {
        snprintf(err, errlen, "event loop setup: %s", strerror(errno));
        vmm_destroy(m);
        return NULL;
    }
    return m;
}

/* After the loop: the VM's end, in order, and its exit status. */
static int finish(struct vmm *m)
{
    if (!m->built)
        return m->exit_code;
    stop_vcpus(m);
    /* Before the stop is logged: a shared terminal shows them in order. */
    struct com1 *com1 = devmgr_find(&m->devices, &com1_device, 0);
    if (com1)
        serial_flush(&com1->serial, VMM_CONSOLE_FLUSH_MS);
    int code = m->vm.exit_code;
    if (code == HEARTH_EXIT_OK)
        log_info("VM stopped: %s", m->vm.stop_reason);
    else
        log_error("VM stopped: %s", m->vm.stop_reason);
    static struct vm_exits exits;
    vm_exits_collect(&m->vm, &exits);
    char summary[1024];
    vm_exits_format(&exits, summary, sizeof(summary));
    log_info("%s", summary);
    write_metrics(m);
    trap_log_stats(&m->vm.traps);
    uint64_t unclaimed = trap_unclaimed_count(&m->vm.traps);
    if (unclaimed)
        log_warn("%llu guest accesses hit no device", (unsigned long long)unclaimed);
    unbuild(m, true);
    return code;
}

int vmm_run(struct vmm *m)
{
    if (loop_run(&m->loop) < 0) {
        log_error("event loop failed: %s", strerror(errno));
        if (m->built)
            vm_request_stop(&m->vm, HEARTH_EXIT_ERROR, "event loop failed");
    }
    return finish(m);
}

void vmm_destroy(struct vmm *m)
{
    if (!m)
        return;
    if (m->built)
        unbuild(m, false);
    metrics_close(&m->metrics);
    if (m->metrics_timer_fd >= 0)
        close(m->metrics_timer_fd);
    if (m->sig_fd >= 0)
        close(m->sig_fd);
    loop_destroy(&m->loop);
    config_free(&m->cfg);
    free(m);
}
