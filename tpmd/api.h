/* hearth-tpmd's JSON-over-HTTP API on a Unix socket: the routes (a pure
 * function of the request, fuzzed) and the libmicrohttpd server around them
 * (connection cap, per-request deadline, bounded bodies). */
#ifndef TPMD_API_H
#define TPMD_API_H

#include "instance.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* A request body is refused past this many bytes (413), unread. */
#define API_BODY_MAX 4096
/* Open connections served, each on a thread of its own. While that many
 * are open, libmicrohttpd stops accepting and an overflow thread takes
 * every new connection instead: a JSON 503 (Retry-After: 1) at once, then
 * closed, so no client waits in the listen backlog. */
#define API_MAX_CONNECTIONS 128
/* A refused connection is kept this long after its 503 (its output shut
 * down), reading and dropping what the client sends, so that a client
 * still writing its request reads the answer rather than EPIPE; at most
 * API_LINGER_MAX at once, the oldest closed first. */
#define API_LINGER_MS 1000
#define API_LINGER_MAX 64
/* A request (headers and body) must arrive within this many seconds of the
 * connection's start or of its previous response; slower clients are cut. */
#define API_REQUEST_DEADLINE_S 10
/* Quoted client input (URL, method, id) in error messages is cut here. */
#define API_QUOTE_MAX 96

/* What the routes need from the daemon (the pool in hearth-tpmd, fakes in
 * the fuzzer). Returns follow pool.h. */
struct api_backend {
    void *ctx;
    int (*allocate)(void *ctx, struct vtpm *out, double *alloc_ms, char *err, size_t errlen);
    int (*release)(void *ctx, const char *id);
    json_t *(*get)(void *ctx, const char *id); /* NULL: no such vTPM */
    json_t *(*list)(void *ctx);
    json_t *(*status)(void *ctx);
    char *(*ca_pem)(void *ctx); /* malloc'd PEM, or NULL */
};

struct api_reply {
    unsigned code;
    const char *type;
    char *body; /* malloc'd; NULL only when out of memory */
    bool retry_after;
};

/* Routes one request whose URL libmicrohttpd has already percent-decoded
 * (any bytes, including invalid UTF-8) and whose body is body_len bytes:
 *   POST /vtpms         201 {id, ctrl_socket, state_dir, source, manufacture_ms,
 *                            allocate_ms, ek_cert_pem, ek_ecc_cert_pem, platform_cert_pem}
 *   GET /vtpms/{id}     200 {id, state, ...}; 404
 *   DELETE /vtpms/{id}  204, 404, 409
 *   GET /vtpms, GET /pool, GET /ca (PEM)
 * No route takes a body. Errors are JSON {"error": reason} with client input
 * quoted as printable ASCII; 503 sets retry_after. Never fails but for
 * memory (body NULL). */
void api_route(const struct api_backend *b, const char *method, const char *url, size_t body_len,
               struct api_reply *out);

/* A JSON error reply: "{"error": fmt with arg quoted}". */
void api_error(struct api_reply *out, unsigned code, const char *fmt, const char *arg);

struct api_conn;
struct MHD_Daemon;

struct api {
    struct MHD_Daemon *mhd;
    struct api_backend backend;
    int listen_fd;
    int wake_fd; /* eventfd: the overflow thread re-checks the count, or stops */
    pthread_mutex_t lock;
    struct api_conn *conns; /* tracked connections, for the deadline */
    int nconns;             /* libmicrohttpd's open connections */
    pthread_t reaper, overflow;
    bool reaping, overflowing, stopping;
    pthread_cond_t cond;
};

/* Listens on `path` (mode 0600, replacing a stale socket) and serves the
 * routes above with b: libmicrohttpd on a thread per connection, up to
 * API_MAX_CONNECTIONS; an overflow thread answering connections past that;
 * a reaper cutting connections whose request is late. */
int api_start(struct api *a, const char *path, const struct api_backend *b, char *err,
              size_t errlen);
void api_stop(struct api *a);

/* The pieces of api_start, for the HTTP fuzzer. api_init: a with backend
 * b, no connection and nothing running (api_stop undoes any of it).
 * api_serve: starts a->mhd, libmicrohttpd with the routes, the request
 * limits and the connection tracking above, on listen_fd, or with none
 * when it is -1 (connections then come from MHD_add_connection). `flags`
 * are libmicrohttpd's threading flags (api_start: its polling thread and a
 * thread per connection; the fuzzer: none, driven by MHD_run). -1 if it
 * does not start. */
void api_init(struct api *a, const struct api_backend *b);
int api_serve(struct api *a, unsigned int flags, int listen_fd);

#endif
