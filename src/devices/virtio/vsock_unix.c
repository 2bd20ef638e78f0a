/* vsock's socket backend: the listener on uds_path and its CONNECT
 * handshake, connections to "<uds_path>_<port>", socket I/O, epoll, the
 * deadline timer. */
#include "devices/virtio/vsock_unix.h"

#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define HELLO_MAX 32
/* The listener's epoll data; a connection's is its id. */
#define LISTENER UINT32_MAX

/* Edge-triggered: the layer above keeps "readable" until a read runs dry,
 * and writes only when it has something. */
static int vsock_unix_watch(struct vsock_unix *u, int id, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              .data.u32 = (uint32_t)id };
    if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    u->fd[id] = fd;
    u->stats->conns_added++;
    return 0;
}

static int vsock_unix_accept(void *ctx, int id)
{
    struct vsock_unix *u = ctx;
    int fd = accept4(u->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return 0;
    if (id < 0 || vsock_unix_watch(u, id, fd) < 0) {
        close(fd);
        return -1;
    }
    return 1;
}

/* Peeks first so that what the client wrote after its line stays in the
 * socket, for the guest. */
static int vsock_unix_hello(void *ctx, int id, uint32_t *port)
{
    struct vsock_unix *u = ctx;
    char line[HELLO_MAX + 1];
    ssize_t n = recv(u->fd[id], line, HELLO_MAX, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    char *nl = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
    if (!nl)
        return n <= 0 || n == HELLO_MAX ? -1 : 0; /* closed, or no line in sight */
    size_t len = (size_t)(nl - line) + 1;
    ssize_t r = read(u->fd[id], line, len);
    (void)r;
    line[len - 1] = 0;
    char *end = NULL;
    unsigned long p = 0;
    if (strncmp(line, "CONNECT ", 8) == 0)
        p = strtoul(line + 8, &end, 10);
    if (strncmp(line, "CONNECT ", 8) != 0 || end == line + 8 || *end || p > UINT32_MAX)
        return -1;
    *port = (uint32_t)p;
    return 1;
}

static ssize_t vsock_unix_write(void *ctx, int id, const struct iovec *iov, int n)
{
    struct vsock_unix *u = ctx;
    ssize_t w = writev(u->fd[id], iov, n);
    if (w >= 0)
        return w;
    int e = errno;
    if (e != EAGAIN && e != EINTR)
        u->stats->tx_write_fails++;
    return -e;
}

/* A fresh connection's socket has nothing queued yet, so it takes the
 * line whole; less would be a broken socket. */
static int vsock_unix_hello_ok(void *ctx, int id, uint32_t local_port)
{
    char ok[32];
    int n = snprintf(ok, sizeof(ok), "OK %u\n", local_port);
    struct iovec iov = { ok, (size_t)n };
    ssize_t w = vsock_unix_write(ctx, id, &iov, 1);
    return w == n ? 0 : w < 0 ? (int)w : -EIO;
}

/* With no slot the service still sees the attempt, as it always has. */
static int vsock_unix_connect(void *ctx, int id, uint32_t port)
{
    struct vsock_unix *u = ctx;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int n = snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", u->path, port);
    if (n <= 0 || (size_t)n >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int e = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        e = -errno;
    else if (id < 0)
        e = -ENOSPC;
    else
        e = vsock_unix_watch(u, id, fd);
    if (e < 0)
        close(fd);
    return e;
}

static ssize_t vsock_unix_read(void *ctx, int id, const struct iovec *iov, int n)
{
    struct vsock_unix *u = ctx;
    ssize_t got = readv(u->fd[id], iov, n);
    if (got >= 0)
        return got;
    int e = errno;
    if (e != EAGAIN && e != EINTR)
        u->stats->rx_read_fails++;
    return -e;
}

static void vsock_unix_shut_wr(void *ctx, int id)
{
    struct vsock_unix *u = ctx;
    if (u->fd[id] >= 0)
        shutdown(u->fd[id], SHUT_WR);
}

static void vsock_unix_close(void *ctx, int id)
{
    struct vsock_unix *u = ctx;
    if (id < 0 || id >= VSOCK_MAX_CONNS || u->fd[id] < 0)
        return;
    epoll_ctl(u->epfd, EPOLL_CTL_DEL, u->fd[id], NULL);
    close(u->fd[id]);
    u->fd[id] = -1;
    u->stats->conns_removed++;
}

static void vsock_unix_timer_arm(void *ctx)
{
    struct vsock_unix *u = ctx;
    struct itimerspec t = { .it_interval = { 0, 250 * 1000000L },
                            .it_value = { 0, 250 * 1000000L } };
    struct itimerspec cur;
    if (timerfd_gettime(u->timer_fd, &cur) == 0 && !cur.it_interval.tv_nsec)
        timerfd_settime(u->timer_fd, 0, &t, NULL);
}

static void vsock_unix_timer_stop(void *ctx)
{
    struct vsock_unix *u = ctx;
    struct itimerspec off = { 0 };
    timerfd_settime(u->timer_fd, 0, &off, NULL);
}

static uint64_t vsock_unix_now_ns(void *ctx)
{
    (void)ctx;
    return mono_ns();
}

const struct vsock_sock_ops vsock_unix_ops = {
    .accept = vsock_unix_accept,
    .hello = vsock_unix_hello,
    .hello_ok = vsock_unix_hello_ok,
    .connect = vsock_unix_connect,
    .read = vsock_unix_read,
    .write = vsock_unix_write,
    .shut_wr = vsock_unix_shut_wr,
    .close = vsock_unix_close,
    .timer_arm = vsock_unix_timer_arm,
    .timer_stop = vsock_unix_timer_stop,
    .now_ns = vsock_unix_now_ns,
};

void vsock_unix_poll(struct vsock_unix *u)
{
    struct epoll_event evs[16];
    int n = epoll_wait(u->epfd, evs, 16, 0);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u32 == LISTENER) {
            u->ev->incoming(u->ev_ctx);
            continue;
        }
        int id = (int)(evs[i].data.u32 % VSOCK_MAX_CONNS);
        /* An earlier event of this batch may have closed it. */
        if (u->fd[id] < 0)
            continue;
        uint32_t what = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            what |= VSOCK_SOCK_IN;
        if (evs[i].events & EPOLLOUT)
            what |= VSOCK_SOCK_OUT;
        if (evs[i].events & EPOLLERR)
            what |= VSOCK_SOCK_ERR;
        u->ev->ready(u->ev_ctx, id, what);
    }
}

bool vsock_unix_timer(struct vsock_unix *u)
{
    uint64_t ticks;
    if (read(u->timer_fd, &ticks, sizeof(ticks)) < 0)
        return false;
    u->ev->tick(u->ev_ctx);
    return true;
}

int vsock_unix_check(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        snprintf(err, errlen,
                 "vsock.uds_path %s: already exists (remove it, or use another "
                 "path)",
                 path);
        return -EADDRINUSE;
    }
    return 0;
}

int vsock_unix_init(struct vsock_unix *u, const char *path, const struct vsock_sock_events *ev,
                    void *ev_ctx, struct vsock_stats *stats, char *err, size_t errlen)
{
    *u = (struct vsock_unix){
        .listen_fd = -1, .epfd = -1, .timer_fd = -1, .stats = stats, .ev = ev, .ev_ctx = ev_ctx
    };
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        u->fd[i] = -1;
    snprintf(u->path, sizeof(u->path), "%s", path);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    struct epoll_event lev = { .events = EPOLLIN, .data.u32 = LISTENER };
    int e = 0;
    if ((u->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        (u->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        e = errno;
    else if (bind(u->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        e = errno;
    else if (listen(u->listen_fd, 32) < 0 ||
             epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->listen_fd, &lev) < 0) {
        e = errno;
        unlink(u->path);
    }
    if (e) {
        snprintf(err, errlen, "vsock.uds_path %s: %s", path, strerror(e));
        if (u->listen_fd >= 0)
            close(u->listen_fd);
        u->listen_fd = -1;
        return -e;
    }
    return 0;
}

void vsock_unix_destroy(struct vsock_unix *u)
{
    if (u->listen_fd >= 0) {
        close(u->listen_fd);
        unlink(u->path);
    }
    if (u->epfd >= 0)
        close(u->epfd);
    if (u->timer_fd >= 0)
        close(u->timer_fd);
    u->listen_fd = u->epfd = u->timer_fd = -1;
}
