/* Seccomp filters: installed per thread, violations reported and fatal. */
#include "core/seccomp_filters.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void put_uint(char *buf, size_t *n, size_t cap, unsigned long v)
{
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < (int)sizeof(tmp));
    while (k && *n < cap - 1)
        buf[(*n)++] = tmp[--k];
    buf[*n] = 0;
}

/* SIGSYS from a filter: say which call, on which thread (the log line's
 * thread tag), then stop with Firecracker's status. Async-signal-safe. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    char msg[128] = "seccomp: forbidden system call ";
    size_t n = strlen(msg);
    put_uint(msg, &n, sizeof(msg), (unsigned long)si->si_syscall);
    const char tail[] = "; the process stops (exit status 148)";
    for (size_t i = 0; tail[i] && n < sizeof(msg) - 1; i++)
        msg[n++] = tail[i];
    msg[n] = 0;
    log_signal_safe(msg);
    _exit(SECCOMP_EXIT_BAD_SYSCALL);
}

int seccomp_prepare(void)
{
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

/* The test hook (seccomp.h): "<kind>[:<call>]" naming this thread's kind. */
static void selftest(enum seccomp_thread kind, const char *test)
{
    size_t n = strlen(seccomp_thread_names[kind]);
    if (!test || strncmp(test, seccomp_thread_names[kind], n) != 0 || (test[n] && test[n] != ':'))
        return;
    const char *call = test[n] ? test + n + 1 : "";
    if (strcmp(call, "clone") == 0) {
        if (syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, 0UL, 0UL, 0UL) == 0)
            _exit(0); /* the child, where the filter let it through */
    } else if (strcmp(call, "openat") == 0) {
        syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    } else if (strcmp(call, "clone3") == 0) {
        long r = syscall(SYS_clone3, NULL, 0UL);
        log_info("seccomp self-test: clone3: %s", r < 0 ? strerror(errno) : "succeeded");
        return;
    }
    syscall(SYS_personality, 0xffffffffUL); /* allowed nowhere */
}

int seccomp_install(enum seccomp_thread kind, bool enabled)
{
    if (!enabled)
        return 0;
    /* SIGSYS must reach the handler even where a thread blocked signals. */
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
    if (syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &seccomp_filters[kind]) < 0) {
        int e = errno;
        log_error("seccomp: installing the %s filter: %s", seccomp_thread_names[kind], strerror(e));
        return -e;
    }
    selftest(kind, getenv("HEARTH_SECCOMP_SELFTEST"));
    return 0;
}

void seccomp_print(FILE *out)
{
    for (int k = 0; k < SECCOMP_NKINDS; k++) {
        const struct seccomp_rules *r = &seccomp_rules[k];
        size_t calls = 0;
        for (size_t i = 0; i < r->n; i++) {
            bool seen = r->rules[i].fail != 0;
            for (size_t j = 0; j < i; j++)
                seen |= r->rules[j].nr == r->rules[i].nr;
            calls += !seen;
        }
        fprintf(out, "%s thread: %zu system calls (%u BPF instructions)\n", seccomp_thread_names[k],
                calls, seccomp_filters[k].len);
        for (size_t i = 0; i < r->n; i++) {
            const struct seccomp_rule *x = &r->rules[i];
            if (x->fail)
                fprintf(out, "  %s (%d) fails: %s\n", x->name, x->nr, strerrorname_np(x->fail));
            else if (x->nargs)
                fprintf(out, "  %s (%d) if arg %u: %s\n", x->name, x->nr, x->arg.index,
                        x->arg.what);
            else
                fprintf(out, "  %s (%d)\n", x->name, x->nr);
        }
    }
}
