/* hearth-tpmd's HTTP server: libmicrohttpd around api_route, with a cap
 * on connections (enforced at accept) and a deadline for each request to
 * arrive. */
#include "api.h"

#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* One open connection. fd is our own dup of the socket: shutting it down
 * cuts the connection, and the socket cannot be closed and its number
 * reused by another client while we hold it. */
struct api_conn {
    int fd;
    uint64_t since_ns; /* connection start or last response */
    bool processing;   /* a whole request arrived and is being answered */
    bool cut;
    struct api_conn *next;
};

struct request {
    size_t body; /* bytes uploaded so far */
};

static enum MHD_Result queue(struct MHD_Connection *c, struct api_reply *r)
{
    if (!r->body)
        return MHD_NO; /* out of memory: drop the connection */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(r->body), r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->type);
    if (r->retry_after)
        MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(c, r->code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static struct api_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void set_processing(struct api *a, struct MHD_Connection *c, bool on)
{
    struct api_conn *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&a->lock);
    k->processing = on;
    k->since_ns = mono_ns();
    pthread_mutex_unlock(&a->lock);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    struct api *a = cls;
    struct api_reply r;
    struct request *req = *state;
    if (!req) { /* the first call: headers only */
        if (!(req = calloc(1, sizeof(*req))))
            return MHD_NO;
        *state = req;
        /* A body of another coding has no length libmicrohttpd can find:
         * it would read until the client closes, leaving it unanswered. */
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        if (te && strcasecmp(te, "chunked") != 0) {
            api_error(&r, 400, "Transfer-Encoding \"%s\" is not supported (only chunked)", te);
            return queue(c, &r);
        }
        /* A declared body is answered now, without reading it. */
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long declared = len ? strtoull(len, NULL, 10) : 0;
        if (declared > API_BODY_MAX) {
            api_error(&r, 413, "request body over %s bytes", "4096");
            return queue(c, &r);
        }
        if (declared) {
            set_processing(a, c, true);
            api_route(&a->backend, method, url, (size_t)declared, &r);
            return queue(c, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) { /* a chunked body: counted and dropped; the reaper's
                         * deadline bounds how long it may stream */
        req->body += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    set_processing(a, c, true);
    if (req->body > API_BODY_MAX) {
        api_error(&r, 413, "request body over %s bytes", "4096");
        return queue(c, &r);
    }
    api_route(&a->backend, method, url, req->body, &r);
    return queue(c, &r);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode why)
{
    (void)why;
    free(*state);
    *state = NULL;
    set_processing(cls, c, false);
}

/* Tells the overflow thread to re-check the count (none in the fuzzer). */
static void wake(struct api *a)
{
    uint64_t one = 1;
    if (a->wake_fd >= 0 && write(a->wake_fd, &one, sizeof(one)) < 0)
        return; /* the counter is already non-zero: it wakes anyway */
}

static void connection(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode what)
{
    struct api *a = cls;
    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct api_conn *k = calloc(1, sizeof(*k));
        if (!k || !i || (k->fd = fcntl(i->connect_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
            free(k); /* untracked: only the idle time-out applies */
            k = NULL;
        }
        pthread_mutex_lock(&a->lock);
        if (k) {
            k->since_ns = mono_ns();
            k->next = a->conns;
            a->conns = k;
        }
        if (++a->nconns == API_MAX_CONNECTIONS)
            wake(a); /* libmicrohttpd stops accepting: the overflow thread starts */
        pthread_mutex_unlock(&a->lock);
        *socket_context = k;
        return;
    }
    struct api_conn *k = *socket_context;
    pthread_mutex_lock(&a->lock);
    for (struct api_conn **p = &a->conns; k && *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    if (a->nconns-- == API_MAX_CONNECTIONS)
        wake(a); /* libmicrohttpd accepts again: the overflow thread stops */
    pthread_mutex_unlock(&a->lock);
    if (k) {
        close(k->fd);
        free(k);
    }
    *socket_context = NULL;
}

/* Twice a second: cut connections whose request has not arrived within the
 * deadline (a client sending a byte every few seconds, or idling). */
static void *reaper(void *arg)
{
    struct api *a = arg;
    const uint64_t deadline = (uint64_t)API_REQUEST_DEADLINE_S * 1000000000ULL;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        struct timespec until = realtime_in_ms(500);
        pthread_cond_timedwait(&a->cond, &a->lock, &until);
        uint64_t now = mono_ns();
        for (struct api_conn *k = a->conns; k; k = k->next)
            if (!k->processing && !k->cut && now - k->since_ns > deadline) {
                shutdown(k->fd, SHUT_RDWR);
                k->cut = true;
            }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* A connection past the limit: a JSON 503 at once, its output shut down.
 * Non-blocking: a client that does not read cannot hold the thread. */
static void refuse(int fd, int open)
{
    struct api_reply r;
    char n[32], head[256];
    snprintf(n, sizeof(n), "%d", open);
    api_error(&r, 503, "too many connections (%s open); retry", n);
    if (r.body) {
        size_t len = strlen(r.body);
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                          "Content-Type: %s\r\nRetry-After: 1\r\nContent-Length: %zu\r\n\r\n",
                          r.type, len);
        struct iovec iov[2] = { { head, (size_t)hl }, { r.body, len } };
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* a full or closed socket only loses the answer */
        free(r.body);
    }
    shutdown(fd, SHUT_WR);
}

struct lingering {
    int fd;
    uint64_t until_ns;
};

/* While API_MAX_CONNECTIONS are open (libmicrohttpd then leaves the listen
 * socket alone), every new connection is accepted here at once, answered
 * 503 and kept lingering a moment (API_LINGER_MS); otherwise this thread
 * sleeps until the count reaches the limit. A connection accepted just as
 * the count drops is refused all the same. */
static void *overflow(void *arg)
{
    struct api *a = arg;
    struct lingering linger[API_LINGER_MAX];
    struct pollfd p[2 + API_LINGER_MAX];
    int nl = 0;
    char drop[4096];
    for (;;) {
        pthread_mutex_lock(&a->lock);
        bool full = a->nconns >= API_MAX_CONNECTIONS, stop = a->stopping;
        pthread_mutex_unlock(&a->lock);
        if (stop)
            break;
        p[0] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
        p[1] = (struct pollfd){ .fd = full ? a->listen_fd : -1, .events = POLLIN };
        for (int i = 0; i < nl; i++)
            p[2 + i] = (struct pollfd){ .fd = linger[i].fd, .events = POLLIN };
        if (poll(p, (nfds_t)(2 + nl), nl ? 100 : -1) < 0) {
            usleep(10000);
            continue;
        }
        uint64_t now = mono_ns(), count;
        if (p[0].revents && read(a->wake_fd, &count, sizeof(count)) < 0)
            continue;
        int kept = 0;
        for (int i = 0; i < nl; i++) {
            bool done = now >= linger[i].until_ns;
            if (!done && p[2 + i].revents) {
                ssize_t n = recv(linger[i].fd, drop, sizeof(drop), MSG_DONTWAIT);
                done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
            }
            if (done)
                close(linger[i].fd);
            else
                linger[kept++] = linger[i]; /* in age order */
        }
        nl = kept;
        if (p[0].revents || !(p[1].revents & POLLIN))
            continue; /* the count changed: look again first */
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(100000); /* out of descriptors: the next try is later */
            continue;
        }
        pthread_mutex_lock(&a->lock);
        int open = a->nconns;
        pthread_mutex_unlock(&a->lock);
        refuse(fd, open);
        if (nl == API_LINGER_MAX) {
            close(linger[0].fd);
            memmove(linger, linger + 1, sizeof(linger[0]) * (size_t)--nl);
        }
        linger[nl++] = (struct lingering){ fd, now + (uint64_t)API_LINGER_MS * 1000000ULL };
    }
    for (int i = 0; i < nl; i++)
        close(linger[i].fd);
    return NULL;
}

void api_init(struct api *a, const struct api_backend *b)
{
    memset(a, 0, sizeof(*a));
    a->backend = *b;
    a->listen_fd = -1;
    a->wake_fd = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
}

int api_serve(struct api *a, unsigned int flags, int listen_fd)
{
    struct MHD_OptionItem listen[2] = { { MHD_OPTION_END, 0, NULL }, { MHD_OPTION_END, 0, NULL } };
    if (listen_fd >= 0)
        listen[0] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL };
    else
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    /* The memory limit bounds a request's headers; the idle time-out is a
     * backstop behind the reaper's deadline. */
    a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, a, MHD_OPTION_ARRAY, listen,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(API_BODY_MAX * 4),
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(3 * API_REQUEST_DEADLINE_S),
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, a,
                              MHD_OPTION_NOTIFY_CONNECTION, connection, a, MHD_OPTION_END);
    return a->mhd ? 0 : -1;
}

int api_start(struct api *a, const char *path, const struct api_backend *b, char *err,
              size_t errlen)
{
    api_init(a, b);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--socket %s: path too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    /* Non-blocking: two threads accept on it (one at a time, but a client
     * that gives up between poll and accept must not block either). */
    a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    /* 0600 before listen(): nobody can connect earlier. (umask would also
     * change the mode of what the running pool workers create.) */
    int r = a->listen_fd < 0 || bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            chmod(path, 0600) < 0 || listen(a->listen_fd, 64) < 0;
    if (r) {
        snprintf(err, errlen, "--socket %s: %s", path, strerror(errno));
        api_stop(a);
        return -1;
    }
    if ((a->wake_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
        pthread_create(&a->overflow, NULL, overflow, a)) {
        snprintf(err, errlen, "starting the overflow thread failed");
        api_stop(a);
        return -1;
    }
    a->overflowing = true;
    if (pthread_create(&a->reaper, NULL, reaper, a)) {
        snprintf(err, errlen, "starting the connection reaper failed");
        api_stop(a);
        return -1;
    }
    a->reaping = true;
    /* With its inter-thread channel, libmicrohttpd stops polling the listen
     * socket at its connection limit (the overflow thread's turn). */
    if (api_serve(a, MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC,
                  a->listen_fd) < 0) {
        snprintf(err, errlen, "starting the HTTP server failed");
        api_stop(a);
        return -1;
    }
    return 0;
}

void api_stop(struct api *a)
{
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->overflowing) { /* first: it polls the listen socket */
        wake(a);
        pthread_join(a->overflow, NULL);
        a->overflowing = false;
    }
    if (a->mhd) {
        MHD_stop_daemon(a->mhd); /* closes every connection and the listen socket */
        a->listen_fd = -1;
    }
    a->mhd = NULL;
    if (a->reaping) {
        pthread_join(a->reaper, NULL);
        a->reaping = false;
    }
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    if (a->wake_fd >= 0)
        close(a->wake_fd);
    a->listen_fd = a->wake_fd = -1;
}
