/* Unit tests: the VMM thread's compiled filter, installed in a child: the
 * detached teardown's fork and a drive's reopen pass, any other clone or
 * open stops the process with status 148, clone3 answers ENOSYS. */
#include "core/path.h"
#include "core/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

enum probe {
    FORK,
    CLONE_USERNS,
    CLONE_SHARED_FILES,
    OPEN_READ,
    OPEN_RDWR,
    OPEN_CREATE,
    OPEN_TRUNCATE,
    CLONE3
};

/* A regular file for the drive's reopen, made before any filter. */
static char disk[] = "/tmp/hearth-seccomp-disk-XXXXXX";

/* In the child, under the filter: 0 when the call did what it should. */
static int probe_run(enum probe p)
{
    long r = -1;
    char err[256];
    switch (p) {
    case FORK: r = fork(); break;
    case CLONE_USERNS:
        r = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
        break;
    case CLONE_SHARED_FILES:
        r = syscall(SYS_clone, (unsigned long)(CLONE_FILES | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
        break;
    /* The very call a drive's reopen makes (open_disk). */
    case OPEN_READ:
        r = path_open_checked(disk, O_RDONLY, 0, PATH_REG | PATH_BLK, "drive", err, sizeof(err));
        break;
    case OPEN_RDWR:
        r = path_open_checked(disk, O_RDWR, 0, PATH_REG | PATH_BLK, "drive", err, sizeof(err));
        break;
    case OPEN_CREATE: r = open("/dev/null", O_WRONLY | O_CREAT | O_CLOEXEC, 0600); break;
    case OPEN_TRUNCATE: r = open("/dev/null", O_RDWR | O_TRUNC | O_CLOEXEC); break;
    case CLONE3: return syscall(SYS_clone3, NULL, 0UL) < 0 && errno == ENOSYS ? 0 : 1;
    }
    if (r == 0 && (p == FORK || p == CLONE_USERNS || p == CLONE_SHARED_FILES))
        _exit(0); /* the new process */
    return r >= 0 ? 0 : 1;
}

/* The probe's exit status, in a child with the VMM thread's filter on. */
static int probe(enum probe p)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsetenv("HEARTH_SECCOMP_SELFTEST");
        if (seccomp_prepare() < 0 || seccomp_install(SECCOMP_VMM, true) < 0)
            _exit(2);
        _exit(probe_run(p));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* What the VMM thread does after start: the detached teardown's fork,
 * PATCH /drives/{id}'s open of the new backing file (read-only or not). */
static void production_calls_pass(void **state)
{
    (void)state;
    assert_int_equal(probe(FORK), 0);
    assert_int_equal(probe(OPEN_READ), 0);
    assert_int_equal(probe(OPEN_RDWR), 0);
}

/* No new namespace and no other sharing than fork's; no file created or
 * truncated. */
static void other_clones_and_opens_stop_hearth(void **state)
{
    (void)state;
    assert_int_equal(probe(CLONE_USERNS), SECCOMP_EXIT_BAD_SYSCALL);
    assert_int_equal(probe(CLONE_SHARED_FILES), SECCOMP_EXIT_BAD_SYSCALL);
    assert_int_equal(probe(OPEN_CREATE), SECCOMP_EXIT_BAD_SYSCALL);
    assert_int_equal(probe(OPEN_TRUNCATE), SECCOMP_EXIT_BAD_SYSCALL);
}

/* clone3's flags live in memory, out of a filter's reach: it is refused
 * as an old kernel would, so that glibc falls back to clone. */
static void clone3_answers_enosys(void **state)
{
    (void)state;
    assert_int_equal(probe(CLONE3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(production_calls_pass),
        cmocka_unit_test(other_clones_and_opens_stop_hearth),
        cmocka_unit_test(clone3_answers_enosys),
    };
    int fd = mkstemp(disk);
    if (fd < 0)
        return 1;
    close(fd);
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(disk);
    return r;
}
