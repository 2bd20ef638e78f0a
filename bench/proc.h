/* Launching a monitor as a child process and measuring it: wall time from
 * exec to exit, peak RSS, and private memory excluding guest RAM. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_result {
    int64_t wall_us; /* fork/exec to reaped */
    long maxrss_kib; /* ru_maxrss of the child */
    int status;      /* exit status, or 128 + signal */
    bool timed_out;
};

/* Runs argv to completion (stdout/stderr to /dev/null unless out_path),
 * killing it after timeout_ms. */
int proc_run(char *const argv[], const char *out_path, int timeout_ms, struct proc_result *r);

struct smaps_total {
    uint64_t private_kib;  /* Private_Dirty, and Private_Clean of anonymous memory
                            * (a file's clean pages are shared page cache) */
    uint64_t writable_kib; /* sizes of writable private mappings (the thesis's method) */
    uint64_t guest_kib;    /* the excluded guest RAM mapping */
};

/* Sums /proc/PID/smaps, leaving out the largest anonymous mapping of at
 * least guest_min_kib (guest RAM). */
int smaps_measure(pid_t pid, uint64_t guest_min_kib, struct smaps_total *t);

/* Starts argv with stdout on a pipe, waits (up to timeout_ms) for `ready`
 * in its output, measures smaps, then kills it. */
int proc_measure_when_ready(char *const argv[], const char *ready, uint64_t guest_min_kib,
                            int timeout_ms, struct smaps_total *t);
/* The same, keeping everything the child printed until then in `capture`
 * (a file). */
int proc_measure_capture(char *const argv[], const char *ready, uint64_t guest_min_kib,
                         int timeout_ms, struct smaps_total *t, const char *capture);

/* Where this process's KVM is, for every result it stores or prints:
 * "<nodename>, KVM: /dev/kvm" or "<nodename>, KVM: emulated test host", as
 * scripts/testhost.sh reported it (HEARTH_TESTHOST_MODE). */
void bench_host_desc(char *out, size_t len);

#endif
