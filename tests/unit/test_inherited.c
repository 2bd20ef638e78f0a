/* Unit tests: the registry of descriptors inherited at process start: what
 * was open is recorded, what was opened later or closed is not, and each
 * one is taken at most once. */
#include "core/inherited.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

static void records_what_was_open(void **state)
{
    (void)state;
    int before[2], closed[2], after[2];
    assert_int_equal(pipe2(before, O_CLOEXEC), 0);
    assert_int_equal(pipe2(closed, O_CLOEXEC), 0);
    close(closed[0]);
    struct inherited_fds f;
    inherited_fds_scan(&f);
    assert_int_equal(pipe2(after, O_CLOEXEC), 0); /* may reuse closed[0]'s number */
    assert_int_equal(inherited_fd_take(&f, before[0]), before[0]);
    assert_int_equal(inherited_fd_take(&f, closed[1]), closed[1]);
    assert_int_equal(inherited_fd_take(&f, after[0]), -EBADF);
    assert_int_equal(inherited_fd_take(&f, after[1]), -EBADF);
    /* Standard streams are never inherited channels. */
    assert_int_equal(inherited_fd_take(&f, 0), -EBADF);
    assert_int_equal(inherited_fd_take(&f, 2), -EBADF);
    assert_int_equal(inherited_fd_take(&f, INHERITED_FD_MAX), -EBADF);
    assert_int_equal(inherited_fd_take(NULL, before[1]), -EBADF);
    close(before[0]), close(before[1]), close(closed[1]), close(after[0]), close(after[1]);
}

/* Under a no-file limit below the registry's range (hearth-jailer's
 * --resource-limit no-file=N), what is open is still recorded. */
static void recorded_under_a_low_file_limit(void **state)
{
    (void)state;
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    low = old;
    low.rlim_cur = (rlim_t)p[1] + 8;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct inherited_fds f;
    inherited_fds_scan(&f);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(inherited_fd_take(&f, p[0]), p[0]);
    assert_int_equal(inherited_fd_take(&f, p[1]), p[1]);
    close(p[0]), close(p[1]);
}

/* A second start naming the same N must not reach a number that now
 * belongs to something else. */
static void taken_once(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct inherited_fds f;
    inherited_fds_scan(&f);
    assert_int_equal(inherited_fd_take(&f, p[0]), p[0]);
    assert_int_equal(inherited_fd_take(&f, p[0]), -EBADF);
    assert_int_equal(inherited_fd_take(&f, p[1]), p[1]);
    close(p[0]), close(p[1]);
}

static void parses_fd_n(void **state)
{
    (void)state;
    assert_int_equal(inherited_fd_parse("fd:3"), 3);
    assert_int_equal(inherited_fd_parse("fd:1023"), 1023);
    assert_int_equal(inherited_fd_parse("/run/swtpm.sock"), -1);
    assert_int_equal(inherited_fd_parse(NULL), -1);
    static const char *const bad[] = { "fd:",   "fd:2",  "fd:1024", "fd:-3",
                                       "fd:+3", "fd: 3", "fd:3x",   "fd:99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(inherited_fd_parse(bad[i]), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_what_was_open),
        cmocka_unit_test(taken_once),
        cmocka_unit_test(recorded_under_a_low_file_limit),
        cmocka_unit_test(parses_fd_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
