/* A minimal QMP client (QEMU's JSON monitor on a Unix socket), enough to
 * read a paused peer's KVM statistics and make it quit. */
#ifndef BENCH_QMP_H
#define BENCH_QMP_H

#include <jansson.h>
#include <stddef.h>

struct qmp {
    int fd;
    char buf[64 * 1024];
    size_t len;
};

/* Connects to QEMU's -qmp socket (waiting for it up to timeout_ms),
 * reads the greeting and negotiates capabilities. -1 on failure. */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
/* Runs one command (args may be NULL; the reference is taken) and returns
 * its "return" value (a new reference), skipping events; NULL on an error
 * answer, a broken connection or timeout_ms without an answer. */
json_t *qmp_call(struct qmp *q, const char *command, json_t *args, int timeout_ms);
/* QEMU's run state ("running", "paused", "shutdown", ...) into out. */
int qmp_status(struct qmp *q, char *out, size_t len);
/* Sums KVM's vCPU counters named names[0..n) over the vCPUs (query-stats);
 * a name QEMU did not report stays 0. -1 on failure. */
int qmp_vcpu_stats(struct qmp *q, const char *const *names, int n, unsigned long long *values);
void qmp_close(struct qmp *q);

#endif
