/* Unit tests: the device manager places devices (traps, virtio slots and
 * GSIs, command line, DSDT nodes), refuses what does not fit, tears down
 * in reverse order, and drives every device's lifecycle. */
#include "bus/manager.h"
#include "devices/vtpm.h"
#include "../fake_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static struct vm vm;
static struct acpi_config acpi;
static struct devmgr dm;

static int order[DEVMGR_MAX_DEVICES + 1], norder;
static void record(void *dev) { order[norder++] = *(int *)dev; }
static void nothing(void *dev) { (void)dev; }

/* A device kind whose destroy records the device's id. */
static const struct device_ops recorded = { .name = "recorded",
                                            .section = CONFIG_NSECTIONS,
                                            .destroy = record };
static const struct device_ops plain = { .name = "plain",
                                         .section = CONFIG_NSECTIONS,
                                         .destroy = nothing };

static void open_manager(const struct device_ops *const *kinds, int nkinds)
{
    memset(&vm, 0, sizeof(vm));
    vm.vm_fd = -1; /* interrupts go nowhere */
    trap_init(&vm.traps);
    memset(&acpi, 0, sizeof(acpi));
    devmgr_init(&dm, kinds, nkinds);
    devmgr_open(&dm, &vm, &acpi);
}

static int setup(void **state)
{
    (void)state;
    open_manager(NULL, 0);
    return 0;
}

static const struct trap_ops nop_ops = { .name = "nop" };

static void legacy_device_gets_traps_and_a_dsdt_node(void **state)
{
    (void)state;
    char err[160];
    int id = 1;
    const struct devmgr_device d = {
        .ops = &recorded,
        .name = "uart",
        .dev = &id,
        .nranges = 2,
        .ranges = { { TRAP_PIO, 0x3f8, 8, &nop_ops }, { TRAP_MMIO, 0xd0000000, 0x1000, &nop_ops } },
        .acpi_name = "COM1",
        .acpi_hid = "PNP0501",
        .nirq = 1,
        .irq = 4,
    };
    assert_int_equal(devmgr_add(&dm, &d, err, sizeof(err)), 0);
    assert_int_equal(vm.traps.nranges, 2);
    assert_int_equal(acpi.ndevs, 1);
    assert_string_equal(acpi.devs[0].name, "COM1");
    assert_int_equal(acpi.devs[0].nio, 1);
    assert_int_equal(acpi.devs[0].io[0].base, 0x3f8);
    assert_int_equal(acpi.devs[0].nmem, 1);
    assert_int_equal(acpi.devs[0].mem[0].base, 0xd0000000);
    assert_int_equal(acpi.devs[0].irq[0], 4);
    /* An overlapping range is refused with the device's name. */
    int id2 = 2;
    struct devmgr_device e = d;
    e.name = "clash";
    e.dev = &id2;
    e.acpi_name = NULL;
    assert_int_equal(devmgr_add(&dm, &e, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "registering clash at port 0x3f8"));
    norder = 0;
    devmgr_teardown(&dm);
    /* Both were handed over, so both are torn down, last first. */
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1);
}

static void virtio_devices_take_consecutive_slots(void **state)
{
    (void)state;
    char err[160];
    static struct virtio_mmio m[3];
    static const struct virtio_device_ops ops = { .name = "t", .nqueues = 1, .queue_max = 8 };
    for (int i = 0; i < 3; i++) {
        uint64_t base = 0;
        virtio_mmio_init(&m[i], &ops, NULL, &vm.mem);
        const struct devmgr_virtio v = { .ops = &plain, .name = "virtio-t", .mmio = &m[i] };
        assert_int_equal(devmgr_attach_virtio(&dm, &v, &base, err, sizeof(err)), 0);
        assert_int_equal(base, LAYOUT_VIRTIO_MMIO_BASE + (uint64_t)i * 0x1000);
        assert_non_null(m[i].irq); /* the transport interrupts its slot's GSI */
        assert_int_equal(dm.virtio_irq[i].gsi, IRQ_VIRTIO_BASE + i);
        assert_string_equal(acpi.devs[i].hid, "LNRO0005");
        assert_int_equal(acpi.devs[i].irq[0], IRQ_VIRTIO_BASE + i);
        assert_true(acpi.devs[i].irq_extended);
    }
    assert_string_equal(dm.cmdline, "virtio_mmio.device=4K@0xc0001000:5 "
                                    "virtio_mmio.device=4K@0xc0002000:6 "
                                    "virtio_mmio.device=4K@0xc0003000:7");
    assert_string_equal(acpi.devs[2].name, "V002");
    devmgr_teardown(&dm);
}

/* The most virtio devices a configuration can have each get their
 * command-line entry; one more is refused for its slot, not the line. */
static void every_virtio_slot_fits_the_command_line(void **state)
{
    (void)state;
    char err[160] = "";
    static struct virtio_mmio m[DEVMGR_MAX_VIRTIO + 1];
    static const struct virtio_device_ops ops = { .name = "t", .nqueues = 1, .queue_max = 8 };
    for (int i = 0; i <= DEVMGR_MAX_VIRTIO; i++) {
        virtio_mmio_init(&m[i], &ops, NULL, &vm.mem);
        const struct devmgr_virtio v = { .ops = &plain, .name = "virtio-t", .mmio = &m[i] };
        int r = devmgr_attach_virtio(&dm, &v, NULL, err, sizeof(err));
        assert_int_equal(r, i < DEVMGR_MAX_VIRTIO ? 0 : -ENOSPC);
    }
    char want[64];
    snprintf(want, sizeof(want), "more than %d virtio devices", DEVMGR_MAX_VIRTIO);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof(want), " virtio_mmio.device=4K@0x%llx:%d",
             LAYOUT_VIRTIO_MMIO_BASE + (DEVMGR_MAX_VIRTIO - 1) * 0x1000ull,
             IRQ_VIRTIO_BASE + DEVMGR_MAX_VIRTIO - 1);
    size_t len = strlen(dm.cmdline);
    assert_true(len > strlen(want));
    assert_string_equal(dm.cmdline + len - strlen(want), want);
    devmgr_teardown(&dm);
}

static void full_lists_are_start_up_errors(void **state)
{
    (void)state;
    char err[160] = "";
    int ids[DEVMGR_MAX_DEVICES + 1];
    for (int i = 0; i <= DEVMGR_MAX_DEVICES; i++) {
        ids[i] = i;
        struct devmgr_device d = { .ops = &recorded, .name = "dev", .dev = &ids[i] };
        int r = devmgr_add(&dm, &d, err, sizeof(err));
        assert_int_equal(r, i < DEVMGR_MAX_DEVICES ? 0 : -ENOSPC);
    }
    char want[64];
    snprintf(want, sizeof(want), "more than %d devices", DEVMGR_MAX_DEVICES);
    assert_non_null(strstr(err, want));
    /* The refused device was torn down at once, the rest at teardown. */
    norder = 0;
    devmgr_teardown(&dm);
    assert_int_equal(norder, DEVMGR_MAX_DEVICES);

    setup(NULL);
    acpi.ndevs = ACPI_MAX_DEVS;
    struct devmgr_device d = {
        .ops = &plain, .name = "late", .acpi_name = "LATE", .acpi_hid = "PNP0000"
    };
    assert_int_equal(devmgr_add(&dm, &d, err, sizeof(err)), -ENOSPC);
    assert_non_null(strstr(err, "describing late: more than"));
}

static pthread_t io_seen_on;
static atomic_int io_calls;

static void io_handler(void *ctx, int fd, uint32_t events)
{
    (void)ctx, (void)events;
    uint64_t n;
    assert_int_equal(read(fd, &n, sizeof(n)), sizeof(n));
    io_seen_on = pthread_self();
    atomic_fetch_add(&io_calls, 1);
}

/* Backends' fds are served on the I/O thread, which teardown stops before
 * any device goes away. */
static void io_thread_serves_backends(void **state)
{
    (void)state;
    char err[160];
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(efd >= 0);
    assert_int_equal(devmgr_io_add(&dm, "t", efd, EPOLLIN, io_handler, NULL, err, sizeof(err)), 0);
    assert_int_equal(devmgr_start(&dm, err, sizeof(err)), 0);
    uint64_t one = 1;
    assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
    for (int i = 0; i < 2000 && atomic_load(&io_calls) == 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&io_calls), 1);
    assert_false(pthread_equal(io_seen_on, pthread_self()));
    devmgr_teardown(&dm);
    assert_false(dm.io_started);
    close(efd);
}

/* The TPM2 table and DSDT node must not be dropped silently: a guest would
 * boot without the TPM it was configured with. */
/* A transport placed on a backend that never answers; the manager frees
 * it at teardown. */
static struct vtpm *vtpm_new(enum tpm_model model)
{
    static struct fake_backend fb;
    fake_backend_init(&fb, TPM_BUFFER_MAX);
    struct vtpm *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->model = model;
    t->backend = fb.be;
    return t;
}

static void tpm_with_full_acpi_lists_is_an_error(void **state)
{
    (void)state;
    struct vtpm *t;
    static const uint8_t body[4];
    char err[160] = "";
    enum tpm_model models[] = { TPM_MODEL_CRB, TPM_MODEL_TIS };
    for (size_t i = 0; i < 2; i++) {
        setup(NULL);
        t = vtpm_new(models[i]);
        while (acpi.nextra < ACPI_MAX_EXTRA_TABLES)
            assert_int_equal(acpi_add_table(&acpi, "XTRA", 1, body, sizeof(body)), 0);
        assert_int_equal(vtpm_place(t, &dm, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "extra ACPI tables"));
        devmgr_teardown(&dm);
        setup(NULL);
        t = vtpm_new(models[i]);
        assert_int_equal(vtpm_place(t, &dm, err, sizeof(err)), 0);
        assert_int_equal(acpi.nextra, 1);
        assert_memory_equal(acpi.extra[0].signature, "TPM2", 4);
        assert_string_equal(acpi.devs[0].hid, "MSFT0101");
        devmgr_teardown(&dm);
    }
    enum tpm_model all[] = { TPM_MODEL_CRB, TPM_MODEL_TIS, TPM_MODEL_VIRTIO };
    for (size_t i = 0; i < 3; i++) {
        setup(NULL);
        t = vtpm_new(all[i]);
        acpi.ndevs = ACPI_MAX_DEVS;
        err[0] = 0;
        assert_int_equal(vtpm_place(t, &dm, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "ACPI devices"));
        devmgr_teardown(&dm);
    }
}

/* A kind of device for the lifecycle's loops: each instance is an int
 * (its kind * 10 + index); what the hooks see is logged. */
struct fake_dev {
    int id;
    int quiesced, resumed, reset, updated, io_index;
    uint32_t io_events;
};

static char lifelog[256];
static void note(const char *fmt, int v)
{
    size_t n = strlen(lifelog);
    snprintf(lifelog + n, sizeof(lifelog) - n, fmt, v);
}

static struct fake_dev *fakes[16];
static int nfakes;

static int fake_create_kind(const struct device_env *env, int kind, const struct device_ops *ops,
                            int index, char *err, size_t errlen)
{
    struct fake_dev *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->id = kind * 10 + index;
    fakes[nfakes++] = f;
    note("+%d", f->id);
    const struct devmgr_device d = { .ops = ops, .name = "fake", .dev = f };
    return devmgr_add(env->dm, &d, err, errlen) < 0 ? -1 : 0;
}

static void fake_destroy(void *dev)
{
    note("-%d", ((struct fake_dev *)dev)->id);
    free(dev);
}
static void fake_quiesce(void *dev) { ((struct fake_dev *)dev)->quiesced++; }
static void fake_resume(void *dev) { ((struct fake_dev *)dev)->resumed++; }
static void fake_reset(void *dev) { ((struct fake_dev *)dev)->reset++; }
static int fake_update(void *dev, int index, const struct vm_config *old,
                       const struct vm_config *next, char *err, size_t errlen)
{
    (void)old, (void)next;
    struct fake_dev *f = dev;
    f->updated++;
    if (f->id == 11) {
        snprintf(err, errlen, "drives[%d]: refused", index);
        return -1;
    }
    return 0;
}
static int fake_check(const struct vm_config *next, char *err, size_t errlen)
{
    if (next->ndrives > 1) {
        snprintf(err, errlen, "drives: one at most");
        return -1;
    }
    return 0;
}
static int fake_save(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
    (void)w, (void)err, (void)errlen;
    note("s%d", ((struct fake_dev *)dev)->id);
    return 0;
}
static void fake_metrics(void *const *devs, int n, json_t *o)
{
    json_object_set_new(o, n ? "with" : "without", json_integer(n));
    (void)devs;
}

static int two(const struct device_env *env)
{
    (void)env;
    return 2;
}
static int none(const struct device_env *env)
{
    (void)env;
    return 0;
}
static int create1(const struct device_env *env, int index, char *err, size_t errlen);
static int create2(const struct device_env *env, int index, char *err, size_t errlen);
static int create3(const struct device_env *env, int index, char *err, size_t errlen);

/* Kind 1: two drives that take PATCHes; kind 2: configured off; kind 3:
 * one, always, that can be saved. */
static const struct device_ops kind1 = {
    .name = "one",
    .section = CONFIG_DRIVES,
    .count = two,
    .check = fake_check,
    .create = create1,
    .destroy = fake_destroy,
    .quiesce = fake_quiesce,
    .resume = fake_resume,
    .reset = fake_reset,
    .update = fake_update,
    .save = fake_save,
    .metrics = fake_metrics,
};
static const struct device_ops kind2 = {
    .name = "two",
    .section = CONFIG_VSOCK,
    .count = none,
    .create = create2,
    .destroy = fake_destroy,
    .metrics = fake_metrics,
};
static const struct device_ops kind3 = {
    .name = "three",
    .section = CONFIG_NSECTIONS,
    .create = create3,
    .destroy = fake_destroy,
    .quiesce = fake_quiesce,
    .resume = fake_resume,
};
static int create1(const struct device_env *env, int index, char *err, size_t errlen)
{
    return fake_create_kind(env, 1, &kind1, index, err, errlen);
}
static int create2(const struct device_env *env, int index, char *err, size_t errlen)
{
    return fake_create_kind(env, 2, &kind2, index, err, errlen);
}
static int create3(const struct device_env *env, int index, char *err, size_t errlen)
{
    return fake_create_kind(env, 3, &kind3, index, err, errlen);
}

static const struct device_ops *const kinds[] = { &kind1, &kind2, &kind3 };

static int lifecycle_setup(void **state)
{
    (void)state;
    open_manager(kinds, 3);
    lifelog[0] = 0;
    nfakes = 0;
    return 0;
}

/* Every kind's count is honoured, in the kinds' order; each instance is
 * found by its kind and index; teardown destroys last first. */
static void devices_are_made_in_order_and_torn_down_in_reverse(void **state)
{
    (void)state;
    char err[160];
    struct vm_config cfg;
    config_init(&cfg);
    const struct device_env env = { .dm = &dm, .cfg = &cfg };
    assert_int_equal(devmgr_create_all(&dm, &env, err, sizeof(err)), 0);
    assert_string_equal(lifelog, "+10+11+30");
    assert_ptr_equal(devmgr_find(&dm, &kind1, 1), fakes[1]);
    assert_ptr_equal(devmgr_find(&dm, &kind3, 0), fakes[2]);
    assert_null(devmgr_find(&dm, &kind2, 0));
    assert_null(devmgr_find(&dm, &kind1, 2));
    lifelog[0] = 0;
    devmgr_teardown(&dm);
    assert_string_equal(lifelog, "-30-11-10");
    assert_int_equal(dm.ndevs, 0);
    assert_ptr_equal(dm.kinds, kinds); /* ready for the next start */
}

/* Quiesce and resume reach each device once however often they are
 * asked; reset reaches every device that has one. */
static void quiesce_resume_and_reset_reach_every_device(void **state)
{
    (void)state;
    char err[160];
    struct vm_config cfg;
    config_init(&cfg);
    const struct device_env env = { .dm = &dm, .cfg = &cfg };
    assert_int_equal(devmgr_create_all(&dm, &env, err, sizeof(err)), 0);
    devmgr_resume(&dm); /* not quiesced: nothing to do */
    devmgr_quiesce(&dm);
    devmgr_quiesce(&dm);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fakes[i]->quiesced, 1);
    devmgr_resume(&dm);
    devmgr_resume(&dm);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fakes[i]->resumed, 1);
    devmgr_reset(&dm);
    assert_int_equal(fakes[0]->reset + fakes[1]->reset + fakes[2]->reset, 2);
    devmgr_teardown(&dm);
}

/* PUT checks run for the kinds made from the section; a PATCH reaches
 * every instance of its section, and its error comes back whole. */
static void check_and_update_go_by_section(void **state)
{
    (void)state;
    char err[160] = "";
    struct vm_config cfg;
    config_init(&cfg);
    const struct device_env env = { .dm = &dm, .cfg = &cfg };
    assert_int_equal(devmgr_create_all(&dm, &env, err, sizeof(err)), 0);
    assert_true(devmgr_updatable(&dm, CONFIG_DRIVES));
    assert_false(devmgr_updatable(&dm, CONFIG_VSOCK));
    assert_false(devmgr_updatable(&dm, CONFIG_MACHINE));
    assert_int_equal(devmgr_check(&dm, CONFIG_VSOCK, &cfg, err, sizeof(err)), 0);
    cfg.ndrives = 2;
    assert_int_equal(devmgr_check(&dm, CONFIG_DRIVES, &cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "drives: one at most");
    assert_int_equal(devmgr_update(&dm, CONFIG_NETS, &cfg, &cfg, err, sizeof(err)), 0);
    assert_int_equal(fakes[0]->updated + fakes[1]->updated, 0);
    assert_int_equal(devmgr_update(&dm, CONFIG_DRIVES, &cfg, &cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "drives[1]: refused");
    assert_int_equal(fakes[0]->updated, 1);
    assert_int_equal(fakes[1]->updated, 1);
    assert_int_equal(fakes[2]->updated, 0);
    devmgr_teardown(&dm);
}

/* A snapshot is refused while one device cannot be saved, naming it;
 * metrics come from every kind, with or without instances. */
static void save_names_what_cannot_and_metrics_cover_every_kind(void **state)
{
    (void)state;
    char err[160] = "";
    struct vm_config cfg;
    config_init(&cfg);
    const struct device_env env = { .dm = &dm, .cfg = &cfg };
    assert_int_equal(devmgr_create_all(&dm, &env, err, sizeof(err)), 0);
    lifelog[0] = 0;
    assert_int_equal(devmgr_save(&dm, NULL, err, sizeof(err)), -1);
    assert_string_equal(lifelog, "s10s11");
    assert_string_equal(err, "fake: cannot be saved in a snapshot yet");
    assert_int_equal(devmgr_restore(&dm, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "fake: cannot be restored from a snapshot yet");
    json_t *o = json_object();
    devmgr_metrics(&dm, o);
    assert_int_equal(json_integer_value(json_object_get(o, "with")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "without")), 0);
    json_decref(o);
    devmgr_teardown(&dm);
}

/* A virtio device's backend fds, its limiters' timers and its reset go
 * through the one hook each, on the I/O thread. */
static atomic_int ready_index = -1, ready_which = -1, ready_calls;
static void t_io_ready(void *dev, int index, uint32_t events)
{
    (void)dev, (void)events;
    uint64_t n;
    int fd = index == 0 ? ((int *)dev)[0] : ((int *)dev)[1];
    assert_int_equal(read(fd, &n, sizeof(n)), sizeof(n));
    atomic_store(&ready_index, index);
    atomic_fetch_add(&ready_calls, 1);
}
static void t_limiter_ready(void *dev, int which)
{
    (void)dev;
    atomic_store(&ready_which, which);
    atomic_fetch_add(&ready_calls, 1);
}
static int t_resets;
static void t_reset(void *dev)
{
    (void)dev;
    t_resets++;
}

static void wait_calls(int n)
{
    for (int i = 0; i < 2000 && atomic_load(&ready_calls) < n; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&ready_calls), n);
}

static void virtio_backends_limiters_and_reset_have_one_hook(void **state)
{
    (void)state;
    char err[160];
    static const struct virtio_device_ops tops = { .name = "t",
                                                   .nqueues = 1,
                                                   .queue_max = 8,
                                                   .reset = t_reset,
                                                   .limiter_ready = t_limiter_ready };
    static const struct device_ops kind = {
        .name = "t", .section = CONFIG_NSECTIONS, .destroy = nothing, .io_ready = t_io_ready
    };
    static struct virtio_mmio m;
    int fds[2] = { eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    static struct ratelimit rl[2];
    rl[0].timer_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rl[1].timer_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rl[1].blocked = true;
    virtio_mmio_init(&m, &tops, fds, &vm.mem);
    const struct devmgr_virtio v = {
        .ops = &kind,
        .name = "virtio-t",
        .mmio = &m,
        .dev = fds,
        .nfds = 2,
        .fds = { { fds[0], EPOLLIN }, { fds[1], EPOLLIN } },
        .nlimiters = 2,
        .limiters = { &rl[0], &rl[1] },
    };
    assert_int_equal(devmgr_attach_virtio(&dm, &v, NULL, err, sizeof(err)), 0);
    assert_int_equal(devmgr_start(&dm, err, sizeof(err)), 0);
    uint64_t one = 1;
    assert_int_equal(write(fds[1], &one, sizeof(one)), sizeof(one));
    wait_calls(1);
    assert_int_equal(atomic_load(&ready_index), 1);
    assert_int_equal(write(rl[1].timer_fd, &one, sizeof(one)), sizeof(one));
    wait_calls(2);
    assert_int_equal(atomic_load(&ready_which), 1);
    assert_false(rl[1].blocked); /* the limiter was let go before the device ran */
    m.status = VIRTIO_STATUS_DRIVER_OK;
    devmgr_reset(&dm);
    assert_int_equal(t_resets, 1);
    assert_int_equal(m.status, 0);
    devmgr_teardown(&dm);
    for (int i = 0; i < 2; i++) {
        close(fds[i]);
        close(rl[i].timer_fd);
    }
}

/* Pausing quiesces the vTPM: a transport that holds a vCPU for its answer
 * stops holding until resume. */
static void a_quiesced_vtpm_holds_no_vcpu(void **state)
{
    (void)state;
    char err[160];
    static const struct device_ops *const tpm_kinds[] = { &vtpm_device };
    open_manager(tpm_kinds, 1);
    struct vtpm *t = vtpm_new(TPM_MODEL_CRB);
    assert_int_equal(vtpm_place(t, &dm, err, sizeof(err)), 0);
    assert_false(t->crb.no_hold);
    devmgr_quiesce(&dm);
    assert_true(t->crb.no_hold);
    devmgr_resume(&dm);
    assert_false(t->crb.no_hold);
    devmgr_teardown(&dm);
    open_manager(tpm_kinds, 1);
    t = vtpm_new(TPM_MODEL_TIS);
    assert_int_equal(vtpm_place(t, &dm, err, sizeof(err)), 0);
    devmgr_quiesce(&dm);
    assert_true(t->tis.no_hold);
    devmgr_teardown(&dm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(legacy_device_gets_traps_and_a_dsdt_node, setup),
        cmocka_unit_test_setup(virtio_devices_take_consecutive_slots, setup),
        cmocka_unit_test_setup(every_virtio_slot_fits_the_command_line, setup),
        cmocka_unit_test_setup(full_lists_are_start_up_errors, setup),
        cmocka_unit_test_setup(io_thread_serves_backends, setup),
        cmocka_unit_test_setup(tpm_with_full_acpi_lists_is_an_error, setup),
        cmocka_unit_test_setup(devices_are_made_in_order_and_torn_down_in_reverse, lifecycle_setup),
        cmocka_unit_test_setup(quiesce_resume_and_reset_reach_every_device, lifecycle_setup),
        cmocka_unit_test_setup(check_and_update_go_by_section, lifecycle_setup),
        cmocka_unit_test_setup(save_names_what_cannot_and_metrics_cover_every_kind,
                               lifecycle_setup),
        cmocka_unit_test_setup(virtio_backends_limiters_and_reset_have_one_hook, setup),
        cmocka_unit_test_setup(a_quiesced_vtpm_holds_no_vcpu, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
