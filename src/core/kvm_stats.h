/* KVM's binary statistics (KVM_GET_STATS_FD, Linux 5.14+): named counters
 * read from a VM's or a vCPU's stats file. */
#ifndef HEARTH_KVM_STATS_H
#define HEARTH_KVM_STATS_H

#include <stdint.h>

/* What a counter the kernel does not have reads as. */
#define KVM_STATS_MISSING UINT64_MAX

/* Reads the counters named names[0..n) from a stats file (the fd
 * KVM_GET_STATS_FD returns, or any file in its format) into values; a name
 * the kernel does not know reads KVM_STATS_MISSING, and so does a
 * histogram (only its first bucket would be a number). Returns 0, or
 * -errno when the file is not in the format (-EBADMSG) or unreadable. */
int kvm_stats_read(int stats_fd, const char *const *names, int n, uint64_t *values);

/* Opens obj_fd's stats file (a VM or vCPU fd): the fd, or -ENOTTY or
 * -EINVAL from a kernel without binary statistics. Opened once at set-up,
 * it is read later with pread alone (which the VMM thread's seccomp filter
 * allows; opening one it does not). */
int kvm_stats_open(int obj_fd);

#endif
