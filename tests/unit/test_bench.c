/* Unit tests: benchmark statistics and smaps accounting. */
#include "../../bench/proc.h"
#include "../../bench/stats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

static void stats_by_hand(void **state)
{
    (void)state;
    double v[] = { 5, 1, 4, 2, 3, 10, 9, 8, 7, 6 };
    struct stats s;
    stats_compute(v, 10, &s);
    assert_int_equal(s.n, 10);
    assert_true(s.min == 1 && s.max == 10);
    assert_true(s.mean == 5.5);
    assert_true(s.p50 == 5);  /* nearest rank: ceil(0.5 * 10) = 5th */
    assert_true(s.p95 == 10); /* ceil(0.95 * 10) = 10th */
    /* sample stddev of 1..10 = sqrt(82.5 / 9) */
    assert_true(s.stddev > 3.0276 && s.stddev < 3.0277);
    double one[] = { 42 };
    stats_compute(one, 1, &s);
    assert_true(s.p50 == 42 && s.p95 == 42 && s.stddev == 0);
}

static void smaps_excludes_the_guest_mapping(void **state)
{
    (void)state;
    size_t big = 64 << 20, touched = 1 << 20;
    char *g =
        mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(g != MAP_FAILED);
    memset(g, 1, touched);
    struct smaps_total with, without;
    assert_int_equal(smaps_measure(getpid(), 32 << 10, &with), 0);
    assert_int_equal(with.guest_kib, big / 1024);
    munmap(g, big);
    assert_int_equal(smaps_measure(getpid(), 32 << 10, &without), 0);
    assert_int_equal(without.guest_kib, 0);
    /* The touched MiB was excluded along with its mapping: the totals
     * differ by far less than that MiB. */
    assert_true(with.private_kib < without.private_kib + 512);
}

/* A file's pages count only once copied on write: dirty page cache (a
 * binary just built, not yet written back) is not the process's memory. */
static void smaps_counts_a_files_pages_only_when_copied(void **state)
{
    (void)state;
    char path[] = "/tmp/test_bench.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    size_t len = 4 << 20;
    char *buf = malloc(len);
    assert_non_null(buf);
    memset(buf, 7, len);
    assert_int_equal(write(fd, buf, len), (ssize_t)len); /* dirty page cache */
    free(buf);
    struct smaps_total before, mapped, copied;
    assert_int_equal(smaps_measure(getpid(), 1 << 30, &before), 0);
    volatile char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned sum = 0;
    for (size_t i = 0; i < len; i += 4096)
        sum += m[i];
    assert_int_equal(sum, 7 * (len / 4096));
    assert_int_equal(smaps_measure(getpid(), 1 << 30, &mapped), 0);
    assert_true(mapped.private_kib < before.private_kib + 512);
    for (size_t i = 0; i < len; i += 4096)
        m[i] = 1; /* each page now this process's own */
    assert_int_equal(smaps_measure(getpid(), 1 << 30, &copied), 0);
    assert_true(copied.private_kib >= mapped.private_kib + (len >> 10) - 256);
    munmap((void *)m, len);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_by_hand),
        cmocka_unit_test(smaps_excludes_the_guest_mapping),
        cmocka_unit_test(smaps_counts_a_files_pages_only_when_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
