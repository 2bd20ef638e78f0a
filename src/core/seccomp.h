/* Seccomp: one allowlist per thread kind, installed by each thread before
 * it touches guest- or client-controlled data. The filters are compiled to
 * BPF at build time (tools/seccomp_gen.c, from the rules in
 * seccomp_rules.c), so hearth neither links libseccomp nor compiles a
 * filter at run time. A forbidden system call stops the process with a log
 * line naming the thread and the call, and exit status 148 (Firecracker's). */
#ifndef HEARTH_SECCOMP_H
#define HEARTH_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum seccomp_thread {
    SECCOMP_VMM,  /* the main thread once the VM runs */
    SECCOMP_API,  /* the REST API's connections */
    SECCOMP_VCPU, /* KVM_RUN and the exit handlers */
    SECCOMP_TPM,  /* the swtpm backend's command thread */
    SECCOMP_IO,   /* the virtio devices' I/O thread */
    SECCOMP_NKINDS,
};

#define SECCOMP_EXIT_BAD_SYSCALL 148

extern const char *const seccomp_thread_names[SECCOMP_NKINDS];

/* One allowed system call, optionally only for some argument values: with
 * nargs 1, args[0] & mask must equal value. Several rules for the same
 * call allow any of them. With fail set, the call is not allowed but
 * answered: it returns -1 with errno fail instead of stopping the process. */
struct seccomp_rule {
    int nr;
    const char *name;
    int fail;
    int nargs;
    struct {
        unsigned index;
        uint64_t mask, value;
        const char *what; /* for --print-seccomp */
    } arg;
};

struct seccomp_rules {
    const struct seccomp_rule *rules;
    size_t n;
};
extern const struct seccomp_rules seccomp_rules[SECCOMP_NKINDS];

/* Before any thread is created: no new privileges (needed to install
 * filters unprivileged, inherited by every thread) and the SIGSYS handler
 * that reports a violation. */
int seccomp_prepare(void);

/* Installs kind's filter on the calling thread (enabled false: nothing).
 * With HEARTH_SECCOMP_SELFTEST=<kind name>[:<call>] in the environment,
 * that thread then makes a forbidden call, the test hook for the violation
 * path: personality, or with ":clone" a fork into a new user namespace,
 * with ":openat" an open with O_CREAT; ":clone3" makes a clone3 and logs
 * its answer ("seccomp self-test: clone3: <strerror>"), then runs on. */
int seccomp_install(enum seccomp_thread kind, bool enabled);

/* Every filter's rules, and how many calls each allows (--print-seccomp;
 * a call answered with an errno is listed, not counted). */
void seccomp_print(FILE *out);

#endif
