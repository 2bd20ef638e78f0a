/* hearth-tpmd's HTTP server: libmicrohttpd around api_route, with a cap
 * on connections and a deadline for each request to arrive. */
#include "api.h"

#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        pthread_mutex_lock(&a->lock);
        int open = a->nconns;
        pthread_mutex_unlock(&a->lock);
        if (open > API_MAX_CONNECTIONS) {
            char n[32];
            snprintf(n, sizeof(n), "%d", open);
            api_error(&r, 503, "too many connections (%s open); retry", n);
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
            return;
        }
        k->since_ns = mono_ns();
        pthread_mutex_lock(&a->lock);
        k->next = a->conns;
        a->conns = k;
        a->nconns++;
        pthread_mutex_unlock(&a->lock);
        *socket_context = k;
        return;
    }
    struct api_conn *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&a->lock);
    for (struct api_conn **p = &a->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            a->nconns--;
            break;
        }
    pthread_mutex_unlock(&a->lock);
    close(k->fd);
    free(k);
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

int api_start(struct api *a, const char *path, const struct api_backend *b, char *err,
              size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->backend = *b;
    a->listen_fd = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--socket %s: path too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* 0600 before listen(): nobody can connect earlier. (umask would also
     * change the mode of what the running pool workers create.) */
    int r = a->listen_fd < 0 || bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            chmod(path, 0600) < 0 || listen(a->listen_fd, 64) < 0;
    if (r) {
        snprintf(err, errlen, "--socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (pthread_create(&a->reaper, NULL, reaper, a)) {
        snprintf(err, errlen, "starting the connection reaper failed");
        return -1;
    }
    a->reaping = true;
    /* The memory limit bounds a request's headers; the idle time-out is a
     * backstop behind the reaper's deadline. */
    a->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle, a,
        MHD_OPTION_LISTEN_SOCKET, a->listen_fd, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(API_BODY_MAX * 4), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(3 * API_REQUEST_DEADLINE_S), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(API_MAX_CONNECTIONS + API_CONNECTION_SLACK), MHD_OPTION_NOTIFY_COMPLETED,
        completed, a, MHD_OPTION_NOTIFY_CONNECTION, connection, a, MHD_OPTION_END);
    if (!a->mhd) {
        snprintf(err, errlen, "starting the HTTP server failed");
        api_stop(a);
        return -1;
    }
    return 0;
}

void api_stop(struct api *a)
{
    if (a->mhd)
        MHD_stop_daemon(a->mhd); /* closes every connection: the list empties */
    a->mhd = NULL;
    if (a->reaping) {
        pthread_mutex_lock(&a->lock);
        a->stopping = true;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->reaper, NULL);
        a->reaping = false;
    }
}
