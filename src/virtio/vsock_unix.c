/* virtio-vsock, the host's side: the listener on uds_path, the CONNECT
 * handshake, connections to "<uds_path>_<port>", the host sockets'
 * events, deadlines. */
#include "virtio/vsock.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define HELLO_MAX 32
/* Host ports for host-initiated connections (Firecracker's range). */
#define PORT_BASE (1u << 30)

struct vsock_conn *vsock_find(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &v->conns[i];
        if (c->state != VSOCK_FREE && c->state != VSOCK_HELLO && c->local_port == local_port &&
            c->peer_port == peer_port)
            return c;
    }
    return NULL;
}

struct vsock_conn *vsock_new_conn(struct virtio_vsock *v, int fd, enum vsock_state state)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &v->conns[i];
        if (c->state != VSOCK_FREE)
            continue;
        *c = (struct vsock_conn){ .state = state, .fd = fd };
        if (fd >= 0) {
            struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                      .data.u32 = (uint32_t)i };
            if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                c->state = VSOCK_FREE;
                return NULL;
            }
            v->stats.conns_added++;
        }
        return c;
    }
    return NULL;
}

void vsock_free(struct virtio_vsock *v, struct vsock_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        v->stats.conns_removed++;
    }
    free(c->txbuf);
    *c = (struct vsock_conn){ .state = VSOCK_FREE, .fd = -1 };
}

void vsock_kill(struct virtio_vsock *v, struct vsock_conn *c, bool reset_guest)
{
    v->stats.conns_killed++;
    if (!reset_guest || c->state == VSOCK_HELLO) {
        vsock_free(v, c);
        return;
    }
    /* The host socket goes now; the guest hears an RST when a chain comes. */
    uint32_t local = c->local_port, peer = c->peer_port;
    vsock_free(v, c);
    *c = (struct vsock_conn){ .state = VSOCK_RESET, .fd = -1, .local_port = local,
                              .peer_port = peer, .pending = 1u << VSOCK_OP_RST };
}

void vsock_arm_timer(struct virtio_vsock *v)
{
    struct itimerspec t = { .it_interval = { 0, 250 * 1000000L },
                            .it_value = { 0, 250 * 1000000L } };
    struct itimerspec cur;
    if (timerfd_gettime(v->timer_fd, &cur) == 0 && !cur.it_interval.tv_nsec)
        timerfd_settime(v->timer_fd, 0, &t, NULL);
}

void vsock_set_deadline(struct virtio_vsock *v, struct vsock_conn *c)
{
    c->deadline_ns = mono_ns() + VSOCK_TIMEOUT_MS * 1000000ull;
    vsock_arm_timer(v);
}

/* "<uds_path>_<port>": the host service for guest connections to port.
 * The new connection (OPEN with a RESPONSE owed, or, refused, a RESET
 * with an RST owed), or NULL when the table is full. */
struct vsock_conn *vsock_guest_connect(struct virtio_vsock *v, uint32_t port, uint32_t peer_port)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int n = snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->path, port);
    int fd = -1;
    struct vsock_conn *c = NULL;
    if (n > 0 && (size_t)n < sizeof(a.sun_path) &&
        (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
        c = vsock_new_conn(v, fd, VSOCK_OPEN);
    if (!c) {
        if (fd >= 0)
            close(fd);
        c = vsock_new_conn(v, -1, VSOCK_RESET); /* refused: the guest gets a reset */
        if (!c)
            return NULL;
        c->pending = 1u << VSOCK_OP_RST;
    } else {
        c->pending = 1u << VSOCK_OP_RESPONSE;
        c->readable = true;
    }
    c->local_port = port;
    c->peer_port = peer_port;
    return c;
}

/* Writes what the host socket takes now, keeps the rest (in order) for
 * EPOLLOUT. fwd_cnt counts what the socket took. */
bool vsock_host_write(struct virtio_vsock *v, struct vsock_conn *c, const struct iovec *iov,
                      int n, uint32_t len)
{
    ssize_t w = 0;
    if (!c->txlen && len) {
        w = writev(c->fd, iov, n);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            v->stats.tx_write_fails++;
            vsock_kill(v, c, true);
            return false;
        }
        if (w < 0)
            w = 0;
    }
    c->fwd_cnt += (uint32_t)w;
    uint32_t rest = len - (uint32_t)w;
    if (!rest)
        return true;
    /* The guest may not send more than its credit: a peer that does is
     * broken and loses the connection. */
    if (c->txlen + rest > VSOCK_BUF_ALLOC ||
        (!c->txbuf && !(c->txbuf = malloc(VSOCK_BUF_ALLOC)))) {
        vsock_kill(v, c, true);
        return false;
    }
    size_t skip = (size_t)w;
    for (int i = 0; i < n; i++) {
        size_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(c->txbuf + c->txlen, (uint8_t *)iov[i].iov_base + skip, l - skip);
        c->txlen += (uint32_t)(l - skip);
        skip = 0;
    }
    return true;
}

void vsock_host_shutdown(struct vsock_conn *c)
{
    if (c->txlen)
        c->shut_wr_owed = true; /* flush_tx shuts it when txbuf drains */
    else if (c->fd >= 0)
        shutdown(c->fd, SHUT_WR);
}

void vsock_guest_close(struct virtio_vsock *v, struct vsock_conn *c)
{
    if (!c->txlen) {
        vsock_kill(v, c, true); /* both ways done: Firecracker resets */
        return;
    }
    c->reset_when_drained = true;
    c->state = VSOCK_CLOSING;
    vsock_set_deadline(v, c);
}

/* EPOLLOUT: what waits in txbuf goes first; the guest hears of the room. */
static void flush_tx(struct virtio_vsock *v, struct vsock_conn *c)
{
    if (!c->txlen)
        return;
    ssize_t w = write(c->fd, c->txbuf, c->txlen);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        v->stats.tx_write_fails++;
        vsock_kill(v, c, true);
        return;
    }
    if (w <= 0)
        return;
    memmove(c->txbuf, c->txbuf + w, c->txlen - (size_t)w);
    c->txlen -= (uint32_t)w;
    c->fwd_cnt += (uint32_t)w;
    if (c->txlen) {
        c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
        return;
    }
    free(c->txbuf);
    c->txbuf = NULL;
    if (c->reset_when_drained) {
        vsock_kill(v, c, true);
        return;
    }
    if (c->shut_wr_owed)
        shutdown(c->fd, SHUT_WR);
    c->shut_wr_owed = false;
    c->pending |= 1u << VSOCK_OP_CREDIT_UPDATE;
}

/* A host client's first line: "CONNECT <port>\n", read without taking a
 * byte of what follows it. */
static void hello(struct virtio_vsock *v, struct vsock_conn *c)
{
    char line[HELLO_MAX + 1];
    ssize_t n = recv(c->fd, line, HELLO_MAX, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    char *nl = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
    if (!nl) {
        if (n <= 0 || n == HELLO_MAX)
            vsock_kill(v, c, false); /* closed, or no line in sight */
        return;
    }
    size_t len = (size_t)(nl - line) + 1;
    ssize_t r = read(c->fd, line, len);
    (void)r;
    line[len - 1] = 0;
    char *end = NULL;
    unsigned long port = 0;
    if (strncmp(line, "CONNECT ", 8) == 0)
        port = strtoul(line + 8, &end, 10);
    if (strncmp(line, "CONNECT ", 8) != 0 || end == line + 8 || *end || port > UINT32_MAX) {
        vsock_kill(v, c, false);
        return;
    }
    /* A host port no connection uses. */
    do
        c->local_port = PORT_BASE + (v->next_port++ % PORT_BASE);
    while (vsock_find(v, c->local_port, (uint32_t)port));
    c->peer_port = (uint32_t)port;
    c->state = VSOCK_CONNECTING;
    c->pending = 1u << VSOCK_OP_REQUEST;
    vsock_set_deadline(v, c);
}

static void accept_clients(struct virtio_vsock *v)
{
    for (;;) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct vsock_conn *c = vsock_new_conn(v, fd, VSOCK_HELLO);
        if (!c) {
            close(fd); /* full */
            continue;
        }
        vsock_set_deadline(v, c);
        hello(v, c);
    }
}

#define LISTENER UINT32_MAX

void virtio_vsock_host_events(struct virtio_vsock *v)
{
    struct epoll_event evs[16];
    pthread_mutex_lock(&v->mmio.lock);
    int n = epoll_wait(v->epfd, evs, 16, 0);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u32 == LISTENER) {
            accept_clients(v);
            continue;
        }
        struct vsock_conn *c = &v->conns[evs[i].data.u32 % VSOCK_MAX_CONNS];
        if (c->fd < 0)
            continue;
        if (c->state == VSOCK_HELLO) {
            hello(v, c);
            continue;
        }
        if (evs[i].events & EPOLLOUT)
            flush_tx(v, c);
        /* flush_tx may have ended the connection (its fd is gone then). */
        if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
            c->readable = true;
        if (c->fd >= 0 && (evs[i].events & EPOLLERR))
            vsock_kill(v, c, true);
    }
    vsock_rx_pump_locked(v);
    pthread_mutex_unlock(&v->mmio.lock);
}

void virtio_vsock_timer(struct virtio_vsock *v)
{
    uint64_t ticks;
    if (read(v->timer_fd, &ticks, sizeof(ticks)) < 0)
        return;
    pthread_mutex_lock(&v->mmio.lock);
    uint64_t now = mono_ns();
    bool waiting = false;
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &v->conns[i];
        bool timed = c->state == VSOCK_HELLO || c->state == VSOCK_CONNECTING ||
                     c->state == VSOCK_CLOSING;
        if (timed && c->deadline_ns && now >= c->deadline_ns)
            vsock_kill(v, c, c->state != VSOCK_HELLO);
        else if (timed)
            waiting = true;
    }
    if (!waiting) {
        struct itimerspec off = { 0 };
        timerfd_settime(v->timer_fd, 0, &off, NULL);
    }
    vsock_rx_pump_locked(v);
    pthread_mutex_unlock(&v->mmio.lock);
}

int virtio_vsock_check(const struct vsock_config *cfg, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(cfg->uds_path, &st) == 0) {
        snprintf(err, errlen, "vsock.uds_path %s: already exists (remove it, or use another "
                              "path)", cfg->uds_path);
        return -EADDRINUSE;
    }
    return 0;
}

int virtio_vsock_init(struct virtio_vsock *v, const struct vsock_config *cfg,
                      const struct guest_mem *mem, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->listen_fd = v->epfd = v->timer_fd = -1;
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        v->conns[i].fd = -1;
    v->guest_cid = cfg->guest_cid;
    snprintf(v->path, sizeof(v->path), "%s", cfg->uds_path);
    virtio_mmio_init(&v->mmio, &virtio_vsock_ops, v, mem);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", cfg->uds_path);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTENER };
    int e = 0;
    if ((v->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        (v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        e = errno;
    else if (bind(v->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        e = errno;
    else if (listen(v->listen_fd, 32) < 0 ||
             epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0) {
        e = errno;
        unlink(v->path);
    }
    if (e) {
        snprintf(err, errlen, "vsock.uds_path %s: %s", cfg->uds_path, strerror(e));
        if (v->listen_fd >= 0)
            close(v->listen_fd);
        v->listen_fd = -1;
        return -e;
    }
    return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state != VSOCK_FREE)
            vsock_free(v, &v->conns[i]);
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        unlink(v->path);
    }
    if (v->epfd >= 0)
        close(v->epfd);
    if (v->timer_fd >= 0)
        close(v->timer_fd);
    v->listen_fd = v->epfd = v->timer_fd = -1;
    virtio_mmio_destroy(&v->mmio);
}

static void on_host(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    virtio_vsock_host_events(ctx);
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    virtio_vsock_timer(ctx);
}

static void vsock_teardown(void *dev)
{
    virtio_vsock_destroy(dev);
    free(dev);
}

int virtio_vsock_attach(const struct vsock_config *cfg, struct devmgr *dm,
                        struct virtio_vsock **out, char *err, size_t errlen)
{
    struct virtio_vsock *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vsock: out of memory");
        return -ENOMEM;
    }
    int e = virtio_vsock_init(v, cfg, &dm->vm->mem, err, errlen);
    if (e < 0) {
        vsock_teardown(v);
        return e;
    }
    *out = v;
    const struct devmgr_fd fds[] = { { v->epfd, EPOLLIN, on_host }, { v->timer_fd, EPOLLIN, on_timer } };
    return devmgr_add_virtio_io(dm, "virtio-vsock", &v->mmio, v, vsock_teardown, fds, 2, err,
                                errlen);
}
