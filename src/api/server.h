/* The REST API's HTTP server: a thread of its own runs the Unix socket's
 * connections (api/http.h parses them). Each whole request is handed to
 * the VMM thread, which routes it (api/routes.h) and answers; a slow or
 * vanished client only ever holds the API thread's event loop, never the
 * VMM or a vCPU. */
#ifndef HEARTH_API_SERVER_H
#define HEARTH_API_SERVER_H

#include "api/routes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define API_DEFAULT_MAX_PAYLOAD 51200
/* Connections served at once (Firecracker: 10); more get a 503 at once. */
#define API_MAX_CONNECTIONS 64
/* A connection that sends nothing for this long is closed. */
#define API_IDLE_TIMEOUT_S 300

struct api_request;
struct api_conn;

struct api_server {
    pthread_t thread;
    bool running;
    int listen_fd, epfd;
    int stop_fd; /* wakes the API thread to stop */
    char *path;
    size_t max_payload;
    struct api_router *router;
    struct api_conn *conns[API_MAX_CONNECTIONS];
    int nconns;
    int efd; /* readable while a request waits for the VMM thread */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct api_request *pending;
    bool closed, stopping;
    bool seccomp;  /* the API thread installs its filter */
    bool detached; /* api_server_init_detached: no socket, no thread */
};

/* Listens on path (mode 0600). A stale socket left by a dead process is
 * replaced; a live one, or any other file, is an error. -1 with a message
 * naming the path. */
int api_server_start(struct api_server *s, const char *path, size_t max_payload,
                     struct api_router *router, bool seccomp, char *err, size_t errlen);

/* For the VMM thread's event loop: api_server_fd becomes readable when a
 * request waits; api_server_process answers it, on the calling thread. */
int api_server_fd(const struct api_server *s);
void api_server_process(struct api_server *s);

/* The server without its socket and threads, for the fuzzer and tests:
 * connections are handed in with api_server_adopt, the caller turns the
 * event loop with api_server_poll, and requests are routed on its thread.
 * api_server_stop releases it. 0, or -1 with errno. */
int api_server_init_detached(struct api_server *s, size_t max_payload, struct api_router *router);
/* Serves a connected, non-blocking stream socket, which it then owns
 * (closes); -1 past API_MAX_CONNECTIONS or without memory (fd is then the
 * caller's). The listening socket's connections come through here. */
int api_server_adopt(struct api_server *s, int fd);
/* One turn of the event loop (the API thread's, or the caller's when
 * detached): waits up to timeout_ms, handles what is ready; the number of
 * events handled, or -1 once the server is stopping or on error. */
int api_server_poll(struct api_server *s, int timeout_ms);

/* From now on, requests get "shutting down" without reaching the VMM. */
void api_server_close(struct api_server *s);
/* Stops the thread, closes every connection, removes the socket. Safe
 * after a failed or no start. */
void api_server_stop(struct api_server *s);

#endif
