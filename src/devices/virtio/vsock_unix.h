/* vsock's socket backend, the bottom layer: Firecracker's Unix sockets.
 * - the listener on uds_path, and its handshake: a host client writes
 *   "CONNECT <port>\n" and, once the guest accepts, reads "OK <port>\n";
 * - connections to the host service "<uds_path>_<port>";
 * - reads and writes on those sockets, their epoll set, the timer that
 *   ticks while some connection has a deadline.
 * It knows a connection only by its id (the slot the layer above gave it)
 * and keeps nothing of it but the socket; states, credit and deadlines are
 * the layer above's. That layer calls it through struct vsock_sock_ops and
 * hears from it through struct vsock_sock_events, handed in at init. */
#ifndef HEARTH_VIRTIO_VSOCK_UNIX_H
#define HEARTH_VIRTIO_VSOCK_UNIX_H

#include "config/config.h"
#include "devices/virtio/vsock_defs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* What a connection's socket saw (struct vsock_sock_events.ready). */
#define VSOCK_SOCK_IN 1u  /* readable, or the peer hung up */
#define VSOCK_SOCK_OUT 2u /* room to write */
#define VSOCK_SOCK_ERR 4u

/* A socket backend's services (vsock_unix_ops, or a test's fake). `ctx` is
 * the backend; `id` a connection's slot, 0 to VSOCK_MAX_CONNS - 1, unless
 * said otherwise. Failures are -errno. Nothing blocks. */
struct vsock_sock_ops {
    /* Takes one waiting host client as connection id; id < 0 (no slot
     * free): takes it and hangs up. 1: taken; 0: nobody waits; -1: one came
     * and was hung up on. */
    int (*accept)(void *ctx, int id);
    /* The client's "CONNECT <port>\n", taking nothing past it: 1 with
     * *port; 0: the line is not all there yet; -1: it hung up, or sent
     * something else. */
    int (*hello)(void *ctx, int id, uint32_t *port);
    /* Tells the client its connection is up: "OK <local_port>\n". */
    int (*hello_ok)(void *ctx, int id, uint32_t local_port);
    /* Connects id to the host's service for guest connections to `port`;
     * id < 0 (no slot free): tries it and hangs up. */
    int (*connect)(void *ctx, int id, uint32_t port);
    /* What the socket gives / takes now: bytes (read: 0 at the end of the
     * stream); -EAGAIN or -EINTR: nothing now; another -errno: broken. */
    ssize_t (*read)(void *ctx, int id, const struct iovec *iov, int n);
    ssize_t (*write)(void *ctx, int id, const struct iovec *iov, int n);
    /* No more bytes to the host for id (its reading side sees the end). */
    void (*shut_wr)(void *ctx, int id);
    /* The socket goes; id may be reused at once. */
    void (*close)(void *ctx, int id);
    /* events.tick comes every 250 ms from the first arm to a stop; arming
     * a running timer changes nothing. */
    void (*timer_arm)(void *ctx);
    void (*timer_stop)(void *ctx);
    uint64_t (*now_ns)(void *ctx); /* CLOCK_MONOTONIC, for deadlines */
};

/* What the backend tells the layer above (its `ctx`), only from inside
 * vsock_unix_poll and vsock_unix_timer. */
struct vsock_sock_events {
    void (*incoming)(void *ctx);                     /* host clients wait */
    void (*ready)(void *ctx, int id, uint32_t what); /* VSOCK_SOCK_* on id */
    void (*tick)(void *ctx);
};

struct vsock_unix {
    char path[CONFIG_UDS_PATH_MAX + 1];
    int listen_fd;
    int epfd;                /* the connections' sockets and the listener */
    int timer_fd;            /* ticks while armed */
    int fd[VSOCK_MAX_CONNS]; /* each connection's socket, or -1 */
    struct vsock_stats *stats;
    const struct vsock_sock_events *ev;
    void *ev_ctx;
};

/* The Unix backend's services; ctx: a struct vsock_unix. */
extern const struct vsock_sock_ops vsock_unix_ops;

/* uds_path is free (for PUT /vsock's check). -EADDRINUSE with a message. */
int vsock_unix_check(const char *path, char *err, size_t errlen);
/* Binds and listens on `path` (which must not exist). -errno with a
 * message; vsock_unix_destroy cleans up either way. */
int vsock_unix_init(struct vsock_unix *u, const char *path, const struct vsock_sock_events *ev,
                    void *ev_ctx, struct vsock_stats *stats, char *err, size_t errlen);
/* Closes the listener (removing `path`), the epoll set and the timer; the
 * layer above has closed its connections first. */
void vsock_unix_destroy(struct vsock_unix *u);
/* epfd is readable: hands what the sockets and the listener saw up. */
void vsock_unix_poll(struct vsock_unix *u);
/* timer_fd is readable: true when it ticked (events.tick was called). */
bool vsock_unix_timer(struct vsock_unix *u);

#endif
