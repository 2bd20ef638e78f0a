/* Unit tests: the MMIO/PIO trap registry. */
#include "core/log.h"
#include "core/trap.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

struct fake {
    uint64_t last_offset;
    uint32_t last_len;
    uint8_t last_write[8];
    int reads, writes;
};

static void fake_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct fake *f = dev;
    f->reads++;
    f->last_offset = offset;
    f->last_len = len;
    memset(data, 0xab, len);
}

static void fake_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct fake *f = dev;
    f->writes++;
    f->last_offset = offset;
    f->last_len = len;
    memcpy(f->last_write, data, len);
}

static const struct trap_ops fake_ops = { "fake", fake_read, fake_write };

static void registration_refuses_overlaps(void **state)
{
    (void)state;
    static struct trap_registry reg;
    struct fake f = { 0 };
    trap_init(&reg);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0x1000, 0x100, &fake_ops, &f, NULL), 0);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0x10ff, 1, &fake_ops, &f, NULL), -EEXIST);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0xf00, 0x101, &fake_ops, &f, NULL), -EEXIST);
    /* Same addresses in the other space are independent. */
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x1000, 0x100, &fake_ops, &f, NULL), 0);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0x1100, 0x100, &fake_ops, &f, NULL), 0);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0, 0, &fake_ops, &f, NULL), -EINVAL);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, UINT64_MAX, 2, &fake_ops, &f, NULL), -EINVAL);
    for (int i = reg.nranges; i < TRAP_MAX_RANGES; i++)
        assert_int_equal(trap_register(&reg, TRAP_PIO, 0x10000 + (uint64_t)i * 8, 8, &fake_ops, &f,
                                       NULL),
                         0);
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x90000, 8, &fake_ops, &f, NULL), -ENOSPC);
}

static void dispatch_passes_offsets(void **state)
{
    (void)state;
    static struct trap_registry reg;
    struct fake f = { 0 };
    trap_init(&reg);
    assert_int_equal(trap_register(&reg, TRAP_MMIO, 0xfed40000, 0x1000, &fake_ops, &f, NULL), 0);
    uint8_t data[8] = { 1, 2, 3, 4 };
    assert_true(trap_dispatch(&reg, TRAP_MMIO, 0xfed40018, data, 4, true));
    assert_int_equal(f.last_offset, 0x18);
    assert_int_equal(f.last_len, 4);
    assert_memory_equal(f.last_write, data, 4);
    assert_true(trap_dispatch(&reg, TRAP_MMIO, 0xfed40ff8, data, 8, false));
    assert_int_equal(f.last_offset, 0xff8);
    assert_int_equal(data[7], 0xab);
}

static void bad_accesses_are_unclaimed(void **state)
{
    (void)state;
    static struct trap_registry reg;
    struct fake f = { 0 };
    log_init(NULL, LOG_OFF, NULL);
    trap_init(&reg);
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x3f8, 8, &fake_ops, &f, NULL), 0);
    uint8_t data[8];
    /* Width 3 is no x86 access; 2 bytes at the last port straddle the end. */
    assert_false(trap_dispatch(&reg, TRAP_PIO, 0x3f8, data, 3, false));
    assert_false(trap_dispatch(&reg, TRAP_PIO, 0x3ff, data, 2, false));
    assert_int_equal(data[0], 0xff);
    assert_int_equal(data[1], 0xff);
    assert_false(trap_dispatch(&reg, TRAP_PIO, 0x2f8, data, 1, true));
    assert_false(trap_dispatch(&reg, TRAP_MMIO, 0x3f8, data, 1, false));
    assert_int_equal(f.reads + f.writes, 0);
    assert_int_equal(trap_unclaimed_count(&reg), 4);
}

static void missing_handlers_read_ones(void **state)
{
    (void)state;
    static struct trap_registry reg;
    static const struct trap_ops write_only = { "wo", NULL, fake_write };
    struct fake f = { 0 };
    trap_init(&reg);
    assert_int_equal(trap_register(&reg, TRAP_PIO, 0x80, 1, &write_only, &f, NULL), 0);
    uint8_t v = 0;
    assert_true(trap_dispatch(&reg, TRAP_PIO, 0x80, &v, 1, false));
    assert_int_equal(v, 0xff);
    assert_int_equal(trap_unclaimed_count(&reg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registration_refuses_overlaps),
        cmocka_unit_test(dispatch_passes_offsets),
        cmocka_unit_test(bad_accesses_are_unclaimed),
        cmocka_unit_test(missing_handlers_read_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
