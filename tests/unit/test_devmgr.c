/* Unit tests: the device manager places devices (traps, virtio slots and
 * GSIs, command line, DSDT nodes), refuses what does not fit, and tears
 * down in reverse order. */
#include "../fake_backend.h"
#include "devices/manager.h"
#include "tpm/vtpm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

static int setup(void **state)
{
    (void)state;
    memset(&vm, 0, sizeof(vm));
    vm.vm_fd = -1; /* interrupts go nowhere */
    trap_init(&vm.traps);
    memset(&acpi, 0, sizeof(acpi));
    devmgr_init(&dm, &vm, &acpi);
    return 0;
}

static const struct trap_ops nop_ops = { .name = "nop" };

static int order[8], norder;
static void record(void *dev) { order[norder++] = *(int *)dev; }

static void legacy_device_gets_traps_and_a_dsdt_node(void **state)
{
    (void)state;
    char err[160];
    int id = 1;
    const struct devmgr_device d = {
        .name = "uart", .dev = &id, .teardown = record, .nranges = 2,
        .ranges = { { TRAP_PIO, 0x3f8, 8, &nop_ops }, { TRAP_MMIO, 0xd0000000, 0x1000, &nop_ops } },
        .acpi_name = "COM1", .acpi_hid = "PNP0501", .nirq = 1, .irq = 4,
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
        assert_int_equal(devmgr_add_virtio(&dm, "virtio-t", &m[i], NULL, NULL, &base, err,
                                           sizeof(err)),
                         0);
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
        int r = devmgr_add_virtio(&dm, "virtio-t", &m[i], NULL, NULL, NULL, err, sizeof(err));
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
        struct devmgr_device d = { .name = "dev", .dev = &ids[i], .teardown = record };
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
    struct devmgr_device d = { .name = "late", .acpi_name = "LATE", .acpi_hid = "PNP0000" };
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
    assert_int_equal(devmgr_io_add(&dm, "t", efd, EPOLLIN, io_handler, NULL, err, sizeof(err)),
                     0);
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
/* A transport placed on a backend that never answers. */
static void vtpm_reset(struct vtpm *t, enum tpm_model model)
{
    static struct fake_backend fb;
    fake_backend_init(&fb, TPM_BUFFER_MAX);
    memset(t, 0, sizeof(*t));
    t->model = model;
    t->backend = fb.be;
}

static void tpm_with_full_acpi_lists_is_an_error(void **state)
{
    (void)state;
    static struct vtpm t;
    static const uint8_t body[4];
    char err[160] = "";
    enum tpm_model models[] = { TPM_MODEL_CRB, TPM_MODEL_TIS };
    for (size_t i = 0; i < 2; i++) {
        setup(NULL);
        vtpm_reset(&t, models[i]);
        while (acpi.nextra < ACPI_MAX_EXTRA_TABLES)
            assert_int_equal(acpi_add_table(&acpi, "XTRA", 1, body, sizeof(body)), 0);
        assert_int_equal(vtpm_place(&t, &dm, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "extra ACPI tables"));
        devmgr_teardown(&dm);
        setup(NULL);
        vtpm_reset(&t, models[i]);
        assert_int_equal(vtpm_place(&t, &dm, err, sizeof(err)), 0);
        assert_int_equal(acpi.nextra, 1);
        assert_memory_equal(acpi.extra[0].signature, "TPM2", 4);
        assert_string_equal(acpi.devs[0].hid, "MSFT0101");
        devmgr_teardown(&dm);
    }
    enum tpm_model all[] = { TPM_MODEL_CRB, TPM_MODEL_TIS, TPM_MODEL_VIRTIO };
    for (size_t i = 0; i < 3; i++) {
        setup(NULL);
        vtpm_reset(&t, all[i]);
        acpi.ndevs = ACPI_MAX_DEVS;
        err[0] = 0;
        assert_int_equal(vtpm_place(&t, &dm, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "ACPI devices"));
        devmgr_teardown(&dm);
    }
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
