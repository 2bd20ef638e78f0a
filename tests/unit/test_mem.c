/* Unit tests: guest memory layout and the checked address translation. */
#include "arch/x86_64/layout.h"
#include "core/mem.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <cmocka.h>

static void small_guest_is_one_region(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 128 << 20, false), 0);
    assert_int_equal(m.nregions, 1);
    assert_int_equal(guest_mem_low_end(&m), 128 << 20);
    assert_ptr_equal(gpa_to_hva(&m, 0, 1), m.host);
    assert_ptr_equal(gpa_to_hva(&m, (128 << 20) - 8, 8), m.host + (128 << 20) - 8);
    guest_mem_free(&m);
}

/* Host and guest addresses agree modulo 2 MiB (KVM maps a host huge page
 * as a guest large page only then), and exactly the guest's size is mapped:
 * the first byte past it is not ours. */
static void ram_is_2m_aligned(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++) {
        struct guest_mem m;
        uint64_t size = (uint64_t)(3 + i) << 20; /* odd sizes too */
        assert_int_equal(guest_mem_init(&m, size, false), 0);
        assert_int_equal((uintptr_t)m.host % (2u << 20), 0);
        assert_int_equal(msync(m.host + size - 4096, 4096, MS_ASYNC), 0);
        assert_int_equal(msync(m.host + size, 4096, MS_ASYNC), -1);
        assert_int_equal(errno, ENOMEM);
        guest_mem_free(&m);
    }
}

static void large_guest_splits_around_the_gap(void **state)
{
    (void)state;
    struct guest_mem m;
    uint64_t size = 8ULL << 30;
    assert_int_equal(guest_mem_init(&m, size, false), 0);
    assert_int_equal(m.nregions, 2);
    assert_int_equal(m.regions[0].size, LAYOUT_MMIO_GAP_START);
    assert_int_equal(m.regions[1].gpa, LAYOUT_MMIO_GAP_END);
    assert_int_equal(m.regions[1].size, size - LAYOUT_MMIO_GAP_START);
    /* The gap itself translates to nothing. */
    assert_null(gpa_to_hva(&m, LAYOUT_MMIO_GAP_START, 1));
    assert_null(gpa_to_hva(&m, LAYOUT_MMIO_GAP_END - 1, 1));
    /* High RAM maps right after low RAM in the one host mapping. */
    assert_ptr_equal(gpa_to_hva(&m, LAYOUT_MMIO_GAP_END, 4096), m.host + LAYOUT_MMIO_GAP_START);
    guest_mem_free(&m);
}

static void translation_rejects_bad_ranges(void **state)
{
    (void)state;
    struct guest_mem m;
    uint64_t size = 16 << 20;
    assert_int_equal(guest_mem_init(&m, size, false), 0);
    assert_null(gpa_to_hva(&m, 0, 0));              /* empty */
    assert_null(gpa_to_hva(&m, size, 1));           /* just past the end */
    assert_null(gpa_to_hva(&m, size - 4, 8));       /* straddles the end */
    assert_null(gpa_to_hva(&m, 8, UINT64_MAX));     /* length overflow */
    assert_null(gpa_to_hva(&m, UINT64_MAX - 3, 8)); /* address overflow */
    assert_non_null(gpa_to_hva(&m, size - 8, 8));
    uint8_t buf[16] = { 1, 2, 3 };
    assert_int_equal(guest_write(&m, size - 16, buf, 16), 0);
    assert_int_equal(guest_write(&m, size - 15, buf, 16), -EFAULT);
    assert_int_equal(guest_read(&m, UINT64_MAX, buf, 2), -EFAULT);
    guest_mem_free(&m);
}

static void bad_sizes_are_refused(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 0, false), -EINVAL);
    assert_int_equal(guest_mem_init(&m, 3 << 20, true), -EINVAL); /* not 2 MiB aligned */
    assert_int_equal(guest_mem_init(&m, LAYOUT_MAX_RAM + 1, false), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_guest_is_one_region),
        cmocka_unit_test(ram_is_2m_aligned),
        cmocka_unit_test(large_guest_splits_around_the_gap),
        cmocka_unit_test(translation_rejects_bad_ranges),
        cmocka_unit_test(bad_sizes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
