/* Unit tests: exit accounting. KVM's binary statistics parsed from files
 * in its format, per-device counts from the trap registry, the coalesced
 * ring drained in order, and the summary line. */
#include "core/exits.h"
#include "core/kvm_stats.h"
#include "core/log.h"
#include "core/trap.h"
#include "core/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#define NAME_SIZE 48

struct stat_spec {
    const char *name;
    uint16_t size; /* values: 1 for a counter, more for a histogram */
    uint64_t value;
};

/* A stats file as the kernel lays it out: header, id, descriptors, data. */
static int stats_file(const struct stat_spec *s, int n, uint32_t name_size)
{
    int fd = memfd_create("stats", 0);
    assert_true(fd >= 0);
    size_t desc_len = sizeof(struct kvm_stats_desc) + name_size;
    struct kvm_stats_header h = {
        .name_size = name_size,
        .num_desc = (uint32_t)n,
        .id_offset = sizeof(h),
        .desc_offset = sizeof(h) + 16,
        .data_offset = (uint32_t)(sizeof(h) + 16 + desc_len * (size_t)n),
    };
    assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
    assert_int_equal(pwrite(fd, "kvm-1234/vcpu0\0\0", 16, h.id_offset), 16);
    uint32_t off = 0;
    for (int i = 0; i < n; i++) {
        uint8_t d[512] = { 0 };
        struct kvm_stats_desc *k = (void *)d;
        k->size = s[i].size;
        k->offset = off;
        strncpy((char *)d + sizeof(*k), s[i].name, name_size);
        assert_int_equal(pwrite(fd, d, desc_len, h.desc_offset + desc_len * (size_t)i),
                         (ssize_t)desc_len);
        for (uint16_t j = 0; j < s[i].size; j++) {
            uint64_t v = s[i].value + j;
            assert_int_equal(pwrite(fd, &v, 8, h.data_offset + off + 8u * j), 8);
        }
        off += 8u * s[i].size;
    }
    return fd;
}

static void stats_read_by_name(void **state)
{
    (void)state;
    const struct stat_spec s[] = {
        { "halt_poll_success_hist", 32, 7 }, /* a histogram comes first, as in KVM */
        { "exits", 1, 123456 },
        { "io_exits", 1, 42 },
        { "mmio_exits", 1, 0 },
    };
    int fd = stats_file(s, 4, NAME_SIZE);
    const char *names[] = { "io_exits", "exits", "nmi_window_exits", "halt_poll_success_hist",
                            "mmio_exits" };
    uint64_t v[5];
    assert_int_equal(kvm_stats_read(fd, names, 5, v), 0);
    assert_int_equal(v[0], 42);
    assert_int_equal(v[1], 123456);
    assert_true(v[2] == KVM_STATS_MISSING); /* this kernel does not count it */
    assert_true(v[3] == KVM_STATS_MISSING); /* a histogram is no counter */
    assert_int_equal(v[4], 0);
    close(fd);
}

static void stats_refuse_corrupt_files(void **state)
{
    (void)state;
    const struct stat_spec s[] = { { "exits", 1, 5 } };
    const char *names[] = { "exits" };
    uint64_t v[1];
    /* Cut short: the data block is missing. */
    int fd = stats_file(s, 1, NAME_SIZE);
    assert_int_equal(ftruncate(fd, sizeof(struct kvm_stats_header) + 20), 0);
    assert_int_equal(kvm_stats_read(fd, names, 1, v), -EBADMSG);
    assert_true(v[0] == KVM_STATS_MISSING);
    close(fd);
    /* Absurd sizes are refused before anything is allocated. */
    fd = stats_file(s, 1, NAME_SIZE);
    struct kvm_stats_header h;
    assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
    h.num_desc = 1u << 30;
    assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
    assert_int_equal(kvm_stats_read(fd, names, 1, v), -EBADMSG);
    h.num_desc = 1;
    h.name_size = 0;
    assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
    assert_int_equal(kvm_stats_read(fd, names, 1, v), -EBADMSG);
    close(fd);
    /* A name that fills its field without a NUL still matches exactly. */
    const struct stat_spec full[] = { { "exitsexits", 1, 9 } };
    fd = stats_file(full, 1, 10);
    const char *n2[] = { "exitsexits", "exits" };
    uint64_t v2[2];
    assert_int_equal(kvm_stats_read(fd, n2, 2, v2), 0);
    assert_int_equal(v2[0], 9);
    assert_true(v2[1] == KVM_STATS_MISSING);
    close(fd);
    /* Not a KVM object at all. */
    assert_true(kvm_stats_open(fd) < 0);
}

static void fake_rw(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    uint8_t *log = dev;
    (void)len;
    log[offset & 0xff] = data[0];
}

static const struct trap_ops fake_ops = { "fake", NULL, fake_rw };

static void devices_sum_their_ranges(void **state)
{
    (void)state;
    static struct trap_registry reg;
    uint8_t log[256];
    log_init(NULL, LOG_OFF, NULL);
    trap_init(&reg);
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x60, 1, &fake_ops, log, "i8042"), 0);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0x1000, 0x100, &fake_ops, log, NULL), 0);
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x64, 1, &fake_ops, log, "i8042"), 0);
    uint8_t d[8] = { 1 };
    for (int i = 0; i < 3; i++)
        trap_dispatch(&reg, TRAP_PIO, 0x60, d, 1, false);
    trap_dispatch(&reg, TRAP_PIO, 0x64, d, 1, true);
    /* A rep outs of 4: one exit, four writes. */
    trap_dispatch(&reg, TRAP_MMIO, 0x1010, d, 4, true);
    for (int i = 0; i < 3; i++)
        trap_dispatch_batched(&reg, TRAP_MMIO, 0x1010, d, 4, true);
    trap_dispatch(&reg, TRAP_MMIO, 0x2000, d, 4, true); /* nobody's */
    struct trap_device_count c[TRAP_MAX_RANGES];
    assert_int_equal(trap_device_counts(&reg, c, TRAP_MAX_RANGES), 2);
    assert_string_equal(c[0].name, "i8042");
    assert_int_equal(c[0].exits, 4);
    assert_int_equal(c[0].reads, 3);
    assert_int_equal(c[0].writes, 1);
    assert_string_equal(c[1].name, "fake"); /* no owner: the ops' name */
    assert_int_equal(c[1].exits, 1);
    assert_int_equal(c[1].reads, 0);
    assert_int_equal(c[1].writes, 4);
    assert_int_equal(trap_unclaimed_count(&reg), 1);
    /* Room for one device: the first only. */
    assert_int_equal(trap_device_counts(&reg, c, 1), 1);
    assert_string_equal(c[0].name, "i8042");
}

struct order {
    uint8_t seen[64];
    int n;
};

static void record(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct order *o = dev;
    (void)offset;
    if (o->n < 64)
        o->seen[o->n++] = data[len - 1];
}

static const struct trap_ops record_ops = { "rec", NULL, record };

/* A ring as KVM fills it: entries [first, last), wrapping at max. */
static void coalesced_writes_drain_in_order(void **state)
{
    (void)state;
    static struct vm vm;
    static struct order o;
    memset(&vm, 0, sizeof(vm));
    memset(&o, 0, sizeof(o));
    trap_init(&vm.traps);
    pthread_mutex_init(&vm.coalesced_lock, NULL);
    assert_int_equal(trap_register(&vm.traps, TRAP_MMIO, 0xfed40024, 4, &record_ops, &o, "tis"), 0);
    long page = sysconf(_SC_PAGESIZE);
    struct kvm_coalesced_mmio_ring *ring = aligned_alloc((size_t)page, (size_t)page);
    memset(ring, 0, (size_t)page);
    vm.coalesced = ring;
    vm.coalesced_max = 8;
    ring->first = 6;
    for (uint32_t i = 0; i < 5; i++) {
        struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[(6 + i) % 8];
        e->phys_addr = 0xfed40024;
        e->len = 1;
        e->data[0] = (uint8_t)(0x10 + i);
    }
    ring->last = 3; /* wrapped */
    vm_flush_coalesced(&vm);
    assert_int_equal(o.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(o.seen[i], 0x10 + i);
    assert_int_equal(ring->first, 3);
    struct trap_device_count c[TRAP_MAX_RANGES];
    assert_int_equal(trap_device_counts(&vm.traps, c, TRAP_MAX_RANGES), 1);
    assert_int_equal(c[0].exits, 0); /* KVM took them without exiting */
    assert_int_equal(c[0].writes, 5);
    /* An entry the registry refuses (a width no access has) is counted as
     * unclaimed, never handed to the device; an index past the ring's end
     * stops the drain instead of reading past it. */
    ring->coalesced_mmio[3] = (struct kvm_coalesced_mmio){ .phys_addr = 0xfed40024, .len = 3 };
    ring->last = 4;
    vm_flush_coalesced(&vm);
    assert_int_equal(o.n, 5);
    assert_int_equal(trap_unclaimed_count(&vm.traps), 1);
    ring->first = 100;
    vm_flush_coalesced(&vm);
    assert_int_equal(ring->first, 100);
    free(ring);
}

static void summary_line(void **state)
{
    (void)state;
    static struct vm_exits e;
    memset(&e, 0, sizeof(e));
    e.kvm_stats = true;
    e.kvm[KVM_STAT_EXITS] = 1000;
    e.kvm[KVM_STAT_IO] = 100;
    e.kvm[KVM_STAT_MMIO] = 200;
    e.kvm[KVM_STAT_HALT] = 50;
    e.kvm[KVM_STAT_IRQ] = 25;
    e.kvm[KVM_STAT_IRQ_WINDOW] = 5;
    e.kvm[KVM_STAT_NMI_WINDOW] = KVM_STATS_MISSING;
    e.kvm[KVM_STAT_PF_FIXED] = 300;
    e.hearth[VCPU_EXIT_IO_OUT] = 90;
    e.hearth[VCPU_EXIT_MMIO_READ] = 200;
    e.ndevices = 3;
    e.devices[0] = (struct trap_device_count){ "serial", 90, 5, 85 };
    e.devices[1] = (struct trap_device_count){ "boot-timer", 0, 0, 0 };
    e.devices[2] = (struct trap_device_count){ "tpm-tis", 200, 200, 64 };
    e.unclaimed = 2;
    char line[512];
    vm_exits_format(&e, line, sizeof(line));
    assert_string_equal(
        line, "VM exits: 1000 in KVM (io 100, mmio 200, halt 50, irq 25, "
              "irq window 5, other 620 (page faults 300)); 290 reached hearth: serial 90, tpm-tis "
              "200 (264 accesses), unclaimed 2");
    assert_int_equal(vm_exits_other(&e), 620);
    /* A short buffer is cut, never overrun. */
    char small[16];
    vm_exits_format(&e, small, sizeof(small));
    assert_string_equal(small, "VM exits: 1000 ");
    e.kvm_stats = false;
    vm_exits_format(&e, line, sizeof(line));
    assert_non_null(strstr(line, "KVM's statistics unavailable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_read_by_name),
        cmocka_unit_test(stats_refuse_corrupt_files),
        cmocka_unit_test(devices_sum_their_ranges),
        cmocka_unit_test(coalesced_writes_drain_in_order),
        cmocka_unit_test(summary_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
