/* Descriptors hearth inherited at process start (a jailer's connected vTPM
 * channel, fd 3): the only ones a configuration may name, as "fd:N". */
#ifndef HEARTH_INHERITED_H
#define HEARTH_INHERITED_H

#include <stdint.h>

/* Descriptors from 3 up to this (exclusive) can be recorded and named. */
#define INHERITED_FD_MAX 1024

struct inherited_fds {
    uint64_t open[INHERITED_FD_MAX / 64]; /* bit N: fd N was open at start, not yet taken */
};

/* Records the descriptors >= 3 open now: call first thing in main, before
 * hearth opens anything of its own. */
void inherited_fds_scan(struct inherited_fds *f);

/* "fd:N" with 3 <= N < INHERITED_FD_MAX: N; another "fd:" value: -2; NULL
 * or anything else (a path): -1. */
int inherited_fd_parse(const char *s);

/* Hands fd over to its one user: fd if it was open at start and not taken
 * before (it is then no longer recorded: the caller owns it, and closing
 * it is the caller's), else -EBADF. f may be NULL (nothing inherited). */
int inherited_fd_take(struct inherited_fds *f, int fd);

#endif
