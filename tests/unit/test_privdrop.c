/* Unit tests: lib/privdrop.c drops every id and group for good, and says
 * which step failed (run as root; skipped otherwise). */
#include "privdrop.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define NOBODY 65534
#define OTHER 65533

/* In the dropped child: one id everywhere, no group, no way back. */
static bool dropped_for_good(void *unused)
{
    (void)unused;
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return false;
    return ru == NOBODY && eu == NOBODY && su == NOBODY && rg == OTHER && eg == OTHER &&
           sg == OTHER && getgroups(0, NULL) == 0 && setuid(0) < 0 && setgid(0) < 0;
}

static bool nothing(void *unused)
{
    (void)unused;
    return false;
}

static void call_as_drops_everything(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_true(privdrop_call_as(NOBODY, OTHER, dropped_for_good, NULL));
    /* fn's false is the caller's false; the caller stays root. */
    assert_false(privdrop_call_as(NOBODY, OTHER, nothing, NULL));
    assert_int_equal(geteuid(), 0);
}

/* A process that already dropped cannot drop again to another uid: the
 * first refused step is named, with errno's reason. */
static void a_refused_step_is_named(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[160] = "unset";
        int ok = privdrop_to(NOBODY, NOBODY, err, sizeof(err)) == 0;
        int again = privdrop_to(1000, 1000, err, sizeof(err));
        char out[200];
        int n = snprintf(out, sizeof(out), "%d %d %d %s", ok, again, errno, err);
        _exit(write(pipefd[1], out, (size_t)n) == n ? 0 : 1);
    }
    close(pipefd[1]);
    char got[200] = "";
    ssize_t n = read(pipefd[0], got, sizeof(got) - 1);
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(n > 0);
    got[n] = 0;
    char want[200];
    snprintf(want, sizeof(want), "1 -1 %d setgroups(0) for gid 1000: Operation not permitted",
             EPERM);
    assert_string_equal(got, want);
}

/* A short buffer is cut, still terminated. */
static void a_short_buffer_is_terminated(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[8];
        memset(err, 'x', sizeof(err));
        privdrop_to(NOBODY, NOBODY, err, sizeof(err));
        int r = privdrop_to(1000, 1000, err, sizeof(err));
        _exit(r == -1 && strcmp(err, "setgrou") == 0 ? 0 : 1);
    }
    close(pipefd[0]);
    close(pipefd[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_as_drops_everything),
        cmocka_unit_test(a_refused_step_is_named),
        cmocka_unit_test(a_short_buffer_is_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
