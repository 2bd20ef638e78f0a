/* Descriptors inherited at process start: recorded once, each taken once. */
#include "core/inherited.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void inherited_fds_scan(struct inherited_fds *f)
{
    memset(f, 0, sizeof(*f));
    /* One poll over every candidate: a closed descriptor reports POLLNVAL.
     * No /proc needed (a jail has none), and no descriptor of its own. */
    /* poll refuses more entries than RLIMIT_NOFILE (EINVAL), and no open
     * descriptor can be at or above it: hearth-jailer's no-file limit. */
    int n = INHERITED_FD_MAX - 3;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)INHERITED_FD_MAX)
        n = rl.rlim_cur > 3 ? (int)rl.rlim_cur - 3 : 0;
    struct pollfd p[INHERITED_FD_MAX - 3];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){ .fd = i + 3 };
    if (n == 0 || poll(p, (nfds_t)n, 0) < 0)
        return; /* then nothing can be named */
    for (int i = 0; i < n; i++)
        if (!(p[i].revents & POLLNVAL))
            f->open[(i + 3) / 64] |= 1ull << ((i + 3) % 64);
}

int inherited_fd_parse(const char *s)
{
    if (!s || strncmp(s, "fd:", 3) != 0)
        return -1;
    if (s[3] < '0' || s[3] > '9')
        return -2; /* no sign, no blank: strtol would take them */
    char *end;
    long fd = strtol(s + 3, &end, 10);
    return end != s + 3 && !*end && fd >= 3 && fd < INHERITED_FD_MAX ? (int)fd : -2;
}

int inherited_fd_take(struct inherited_fds *f, int fd)
{
    if (!f || fd < 3 || fd >= INHERITED_FD_MAX || !(f->open[fd / 64] & 1ull << (fd % 64)))
        return -EBADF;
    f->open[fd / 64] &= ~(1ull << (fd % 64));
    return fd;
}
