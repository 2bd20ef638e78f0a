/* The REST API's HTTP server: libmicrohttpd, a hand-off to the VMM thread. */
#include "api/server.h"

#include "core/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Small: the API thread runs libmicrohttpd and waits on the VMM, nothing deep. */
#define API_THREAD_STACK (256 * 1024)

/* One request on its way through the hand-off, and its body. */
struct api_request {
    const char *method, *url;
    char *body;
    size_t len;
    bool too_large;
    unsigned long long declared; /* Content-Length */
    struct api_reply reply;
    bool done;
};

static enum MHD_Result respond(struct MHD_Connection *c, struct api_reply *r)
{
    struct MHD_Response *resp =
        r->body ? MHD_create_response_from_buffer(strlen(r->body), r->body, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL; /* the response owns it now */
    MHD_add_response_header(resp, "Server", "hearth API");
    if (r->code != 204)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, r->code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void too_large(struct api_server *s, struct api_request *q, struct api_reply *out)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "Request payload with size %llu is larger than the limit of %zu allowed by server.",
             q->declared > q->len ? q->declared : (unsigned long long)q->len, s->max_payload);
    api_fault(out, msg);
}

/* Hands q to the VMM thread and waits for its answer. */
static void hand_over(struct api_server *s, struct api_request *q)
{
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    struct api_server *s = cls;
    struct api_request *q = *state;
    if (!q) { /* headers only */
        if (!(q = calloc(1, sizeof(*q))))
            return MHD_NO;
        *state = q;
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        q->declared = len ? strtoull(len, NULL, 10) : 0;
        if (q->declared > s->max_payload) {
            /* Answered now, the body never read (Firecracker's check). */
            too_large(s, q, &q->reply);
            return respond(c, &q->reply);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_large || n > s->max_payload - q->len) {
            q->too_large = true; /* a chunked body past the limit: read, dropped */
            q->len = s->max_payload + 1;
            return MHD_YES;
        }
        char *b = realloc(q->body, q->len + n);
        if (!b)
            return MHD_NO;
        memcpy(b + q->len, upload, n);
        q->body = b;
        q->len += n;
        return MHD_YES;
    }
    if (q->too_large) {
        too_large(s, q, &q->reply);
    } else {
        q->method = method;
        q->url = url;
        hand_over(s, q);
    }
    return respond(c, &q->reply);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    struct api_request *q = *state;
    if (q) {
        free(q->body);
        free(q->reply.body);
        free(q);
    }
    *state = NULL;
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

int api_server_start(struct api_server *s, const char *path, size_t max_payload,
                     struct api_router *router, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->efd = -1;
    s->max_payload = max_payload;
    s->router = router;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--api-sock %s: path too long (at most %zu bytes)", path,
                 sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    err[0] = 0;
    if (claim_path(path, err, errlen) < 0) {
        if (!err[0])
            snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
        return -1;
    }
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->efd < 0 || s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
        api_server_stop(s);
        return -1;
    }
    s->path = strdup(path); /* ours to remove from now on */
    /* 0600 before listen(): nobody else connects, even for a moment. */
    if (!s->path || chmod(path, 0600) < 0 || listen(s->listen_fd, 64) < 0) {
        snprintf(err, errlen, "--api-sock %s: %s", path, strerror(errno));
        api_server_stop(s);
        return -1;
    }
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY, 0, NULL, NULL, handle, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)API_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)API_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)API_THREAD_STACK, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "--api-sock %s: starting the HTTP server failed", path);
        api_server_stop(s);
        return -1;
    }
    return 0;
}

int api_server_fd(const struct api_server *s)
{
    return s->efd;
}

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
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->efd >= 0)
        close(s->efd);
    s->listen_fd = s->efd = -1;
    if (s->path)
        unlink(s->path);
    free(s->path);
    s->path = NULL;
}
