/* The REST API's HTTP server: an epoll loop on its own thread over the
 * Unix socket's connections, and the hand-off of whole requests to the VMM
 * thread. Written by hand rather than on libmicrohttpd: that library and
 * the TLS stack it pulls in cost 1.25 ms at every exec and ~600 KiB of
 * private memory (measured, docs/architecture.md), for features a local
 * socket does not use. */
#include "api/server.h"

#include "api/http.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The API thread only parses and waits on the VMM: nothing deep. */
#define API_THREAD_STACK (128 * 1024)
/* Answers past this many unwritten bytes wait for the client to read:
 * what a client that never reads can make the server hold is this and one
 * answer (an answer of any size is queued whole). */
#define API_OUT_HELD 32768
/* Room for a status line and headers beside an answer's body. */
#define API_HEAD_ROOM 256

struct api_conn {
    int fd;
    char *in; /* received, not yet answered */
    size_t in_len, in_cap;
    char *out; /* answers not yet written */
    size_t out_len, out_off, out_cap;
    bool closing;     /* close once out is written */
    bool continued;   /* "100 Continue" sent for the request in progress */
    bool eof;         /* the client sent all it will (a half-close): answer, then close */
    uint32_t events;  /* what epoll watches the connection for */
    uint64_t last_ns; /* last byte read or written, for the idle time-out */
};

/* One request on its way to the VMM thread. */
struct api_request {
    const char *method, *url, *body;
    size_t len;
    struct api_reply reply;
    bool done;
};

static void conn_close(struct api_server *s, struct api_conn *c)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    for (int i = 0; i < API_MAX_CONNECTIONS; i++)
        if (s->conns[i] == c)
            s->conns[i] = NULL;
    s->nconns--;
    free(c);
}

/* Hands q to the VMM thread and waits for its answer. */
static void hand_over(struct api_server *s, struct api_request *q)
{
    if (s->detached) { /* no VMM thread: the caller's thread is it */
        api_route(s->router, q->method, q->url, q->body, q->len, &q->reply);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (!s->closed) {
        s->pending = q;
        uint64_t one = 1;
        if (write(s->efd, &one, sizeof(one)) < 0)
            log_warn("api: waking the VMM thread: %s", strerror(errno));
        while (!q->done && !s->closed)
            pthread_cond_wait(&s->cond, &s->lock);
        s->pending = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (!q->done)
        api_fault(&q->reply, "The microVM is shutting down.");
}

/* Makes room for n more bytes of output; false without memory. */
static bool out_reserve(struct api_conn *c, size_t n)
{
    if (c->out_cap - c->out_len >= n)
        return true;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap - c->out_len < n)
        cap *= 2;
    char *b = realloc(c->out, cap);
    if (!b)
        return false;
    c->out = b;
    c->out_cap = cap;
    return true;
}

static void queue_answer(struct api_conn *c, unsigned code, const char *body, bool keep_alive)
{
    size_t need = (body ? strlen(body) : 0) + API_HEAD_ROOM;
    size_t n = out_reserve(c, need) ? http_response(c->out + c->out_len, c->out_cap - c->out_len,
                                                    code, body, keep_alive)
                                    : 0;
    if (!n) { /* out of memory: never send half of an answer */
        c->closing = true;
        return;
    }
    c->out_len += n;
    c->closing |= !keep_alive;
}

/* The most c->in holds: a request of the largest head and body. */
static size_t in_limit(const struct api_server *s) { return HTTP_HEAD_MAX + s->max_payload; }

/* Answers every whole request in c->in, in order, while the client reads
 * its answers. */
static void serve(struct api_server *s, struct api_conn *c)
{
    while (!c->closing && c->out_len < API_OUT_HELD) {
        struct http_request r;
        enum http_parse_result p = http_parse(c->in, c->in_len, s->max_payload, &r);
        if (p == HTTP_INCOMPLETE && c->in_len >= in_limit(s))
            /* The parser bounds head and body so this cannot be; were it
             * to, no byte more would ever complete the request. */
            p = HTTP_BAD, r.error = "Request too large.";
        if (p == HTTP_INCOMPLETE) {
            if (r.expect_continue && !c->continued) {
                /* curl waits for this before sending a body over 1 KiB. */
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                if (out_reserve(c, sizeof(cont) - 1)) {
                    memcpy(c->out + c->out_len, cont, sizeof(cont) - 1);
                    c->out_len += sizeof(cont) - 1;
                }
                c->continued = true;
            }
            return;
        }
        struct api_reply reply = { 0 };
        if (p == HTTP_BAD) {
            api_fault(&reply, r.error);
            r.keep_alive = false;
        } else if (r.too_large) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "Request payload with size %llu is larger than the limit of %zu allowed by "
                     "server.",
                     r.content_length, s->max_payload);
            api_fault(&reply, msg);
        } else {
            struct api_request q = { r.method, r.target, r.body, r.body_len, { 0 }, false };
            hand_over(s, &q);
            reply = q.reply;
        }
        queue_answer(c, reply.code, reply.body, r.keep_alive);
        free(reply.body);
        c->continued = false;
        if (p == HTTP_BAD || r.too_large)
            return;
        memmove(c->in, c->in + r.consumed, c->in_len - r.consumed);
        c->in_len -= r.consumed;
    }
}

/* Watches c for input only while input can make progress: not once it is
 * closing, nor while its client leaves answers unread (serve() holds its
 * requests), nor with c->in full. The sockets are level-triggered, so
 * input left unread would otherwise report them readable forever. */
static bool conn_watch(struct api_server *s, struct api_conn *c)
{
    bool in = !c->closing && !c->eof && c->out_len < API_OUT_HELD && c->in_len < in_limit(s);
    uint32_t events = (in ? EPOLLIN : 0u) | (c->out_len ? EPOLLOUT : 0u);
    if (events == c->events)
        return true;
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return false;
    c->events = events;
    return true;
}

/* Writes what c owes; returns false when c is done for. */
static bool flush_out(struct api_server *s, struct api_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
        c->last_ns = mono_ns();
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > 2 * API_OUT_HELD) { /* a big answer went out: give it back */
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
    return (c->out_len || !c->closing) && conn_watch(s, c);
}

/* Answers what c->in holds and writes what the client takes, until
 * neither moves: answers held while the client read none go out once it
 * does. Returns false when c is done for. */
static bool conn_run(struct api_server *s, struct api_conn *c)
{
    for (;;) {
        serve(s, c);
        bool answered = c->out_len > 0;
        if (!flush_out(s, c))
            return false;
        if (!answered || c->out_len || !c->in_len || c->closing)
            return true;
    }
}

static bool on_readable(struct api_server *s, struct api_conn *c)
{
    size_t limit = in_limit(s);
    for (;;) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= limit)
                break; /* full: serve() answers or the request is too big */
            size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
            char *b = realloc(c->in, cap > limit ? limit : cap);
            if (!b)
                return false;
            c->in = b;
            c->in_cap = cap > limit ? limit : cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0) {
            /* No more requests; those it sent still get their answers
             * (socat, nc and the like half-close once their input ends). */
            c->eof = true;
            break;
        }
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        c->in_len += (size_t)n;
        c->last_ns = mono_ns();
        if (c->in_len < c->in_cap)
            break;
    }
    return true;
}

int api_server_adopt(struct api_server *s, int fd)
{
    int slot = -1;
    for (int i = 0; i < API_MAX_CONNECTIONS && slot < 0; i++)
        if (!s->conns[i])
            slot = i;
    struct api_conn *c = slot < 0 ? NULL : calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->fd = fd;
    c->last_ns = mono_ns();
    c->events = EPOLLIN;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        return -1;
    }
    s->conns[slot] = c;
    s->nconns++;
    return 0;
}

static void on_accept(struct api_server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (api_server_adopt(s, fd) < 0) {
            /* Past the limit: a short answer now, never a wait. */
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: "
                "application/json\r\nContent-Length: 50\r\n\r\n"
                "{\"fault_message\":\"Too many open API connections.\"}";
            ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
        }
    }
}

static void close_idle(struct api_server *s)
{
    uint64_t now = mono_ns();
    for (int i = 0; i < API_MAX_CONNECTIONS; i++)
        if (s->conns[i] && now - s->conns[i]->last_ns > (uint64_t)API_IDLE_TIMEOUT_S * 1000000000)
            conn_close(s, s->conns[i]);
}

static void *api_thread(void *arg)
{
    struct api_server *s = arg;
    log_set_thread_name("api");
    /* Before the first client byte. Without its filter the API serves
     * nothing: the VMM thread answers "shutting down" from then on. */
    if (seccomp_install(SECCOMP_API, s->seccomp) < 0) {
        api_server_close(s);
        return NULL;
    }
    while (api_server_poll(s, 1000) >= 0)
        ;
    return NULL;
}

int api_server_poll(struct api_server *s, int timeout_ms)
{
    struct epoll_event evs[16];
    int n = epoll_wait(s->epfd, evs, 16, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == NULL) { /* the stop eventfd */
            pthread_mutex_lock(&s->lock);
            bool stop = s->stopping;
            pthread_mutex_unlock(&s->lock);
            if (stop)
                return -1;
            continue;
        }
        if (evs[i].data.ptr == s) {
            on_accept(s);
            continue;
        }
        /* Only bytes moved refresh a connection's idle time: an event
         * that moves none is no sign of a live client. */
        struct api_conn *c = evs[i].data.ptr;
        bool alive = (!(evs[i].events & EPOLLIN) || on_readable(s, c)) && conn_run(s, c);
        /* Half-closed and every answer written: what is left of its input
         * can never complete. */
        if (c->eof && !c->out_len)
            alive = false;
        /* The client is gone both ways (it closed): nothing to answer. */
        if (evs[i].events & (EPOLLHUP | EPOLLERR))
            alive = false;
        if (!alive)
            conn_close(s, c);
    }
    close_idle(s);
    return n;
}

/* A socket file nobody listens on any more (a hearth that died) may go;
 * one that answers belongs to a live process. */
static int claim_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "--api-sock %s: exists and is not a socket", path);
        return -1;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (live || (fd >= 0 && e != ECONNREFUSED)) {
        snprintf(err, errlen, "--api-sock %s: in use by another process", path);
        return -1;
    }
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int fail(struct api_server *s, char *err, size_t errlen, const char *path)
{
    if (!err[0])
        snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
    api_server_stop(s);
    return -1;
}

int api_server_start(struct api_server *s, const char *path, size_t max_payload,
                     struct api_router *router, bool seccomp, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->seccomp = seccomp;
    s->listen_fd = s->efd = s->epfd = s->stop_fd = -1;
    s->max_payload = max_payload;
    s->router = router;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    err[0] = 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--api-sock %s: path too long (at most %zu bytes)", path,
                 sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (claim_path(path, err, errlen) < 0)
        return fail(s, err, errlen, path);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->efd < 0 || s->stop_fd < 0 || s->epfd < 0 || s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return fail(s, err, errlen, path);
    s->path = strdup(path); /* ours to remove from now on */
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = s };
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = NULL };
    /* 0600 before listen(): nobody else connects, even for a moment. */
    if (!s->path || chmod(path, 0600) < 0 || listen(s->listen_fd, 64) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev) < 0)
        return fail(s, err, errlen, path);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, API_THREAD_STACK);
    /* The VMM thread takes the signals; the API thread never does. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&s->thread, &attr, api_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r) {
        errno = r;
        return fail(s, err, errlen, path);
    }
    s->running = true;
    return 0;
}

int api_server_init_detached(struct api_server *s, size_t max_payload, struct api_router *router)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->efd = s->stop_fd = -1;
    s->max_payload = max_payload;
    s->router = router;
    s->detached = true;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    return s->epfd < 0 ? -1 : 0;
}

int api_server_fd(const struct api_server *s) { return s->efd; }

void api_server_process(struct api_server *s)
{
    uint64_t n;
    if (read(s->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("api: reading its eventfd: %s", strerror(errno));
    pthread_mutex_lock(&s->lock);
    struct api_request *q = s->pending && !s->pending->done ? s->pending : NULL;
    pthread_mutex_unlock(&s->lock);
    if (!q)
        return;
    /* The API thread waits for `done`, so q is ours until we set it. */
    api_route(s->router, q->method, q->url, q->body, q->len, &q->reply);
    log_debug("api: %s %s -> %u", q->method, q->url, q->reply.code);
    pthread_mutex_lock(&s->lock);
    q->done = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void api_server_close(struct api_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void api_server_stop(struct api_server *s)
{
    api_server_close(s);
    if (s->running) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_mutex_unlock(&s->lock);
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0)
            log_warn("api: stopping its thread: %s", strerror(errno));
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    for (int i = 0; i < API_MAX_CONNECTIONS; i++)
        if (s->conns[i])
            conn_close(s, s->conns[i]);
    int *fds[] = { &s->listen_fd, &s->efd, &s->epfd, &s->stop_fd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    if (s->path)
        unlink(s->path);
    free(s->path);
    s->path = NULL;
}
