/* libFuzzer target: raw bytes (method, URL, headers, body, pipelined
 * requests, garbage) on one connection to hearth-tpmd's real HTTP layer:
 * tpmd/api.c's handler, limits and connection tracking inside
 * libmicrohttpd, against a fake backend whose answers the input's first
 * byte picks. The daemon has no listen socket and no thread: each input's
 * connection is one end of a socketpair given to MHD_add_connection, and
 * MHD_run drives it on this thread until the server closes it. Each input
 * must end with the connection closed, no connection left tracked and no
 * descriptor left open; every answer must be HTTP/1.x, every error the
 * daemon's JSON {"error": printable ASCII} (503 with Retry-After) or
 * libmicrohttpd's own HTML page for requests it rejects itself. */
#include "fake_api_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's entry points carry no context: the one server outlives inputs. */
static struct api server;
static uint8_t mode; /* the current input's first byte, read by the fake backend */

/* MHD_run calls one input may take before its connection closes: more is
 * a hang (a request takes a few). */
#define ROUNDS_MAX 100000
#define OUT_MAX (1u << 20)

/* Open descriptors below 64 (the fuzzer's all are): counted before and
 * after each input, since libFuzzer itself opens some between inputs (its
 * symbolizer's pipes). */
static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 64; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    struct api_backend b;
    fake_api_backend(&b, &mode);
    api_init(&server, &b);
    if (api_serve(&server, 0, -1) < 0) /* no thread: MHD_run below */
        abort();
    return 0;
}

/* The value of header `name` in [h, end) (a response's header lines), or NULL. */
static const char *header(const char *h, const char *end, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *line = h; line < end;) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v);
            return v;
        }
        line = eol + 2;
    }
    return NULL;
}

static void check_json_error(const char *body, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(body, len, 0, &e);
    if (!j || !json_is_string(json_object_get(j, "error")))
        abort(); /* the daemon's errors are JSON {"error": "..."} */
    for (const char *c = json_string_value(json_object_get(j, "error")); *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            abort(); /* quoted input stays printable ASCII */
    json_decref(j);
}

/* Every answer on the connection, in order: status line, headers, body. */
static void check_answers(const char *out, size_t len)
{
    for (size_t at = 0; at < len;) {
        const char *r = out + at;
        size_t left = len - at;
        if (left < 12 || (memcmp(r, "HTTP/1.1 ", 9) != 0 && memcmp(r, "HTTP/1.0 ", 9) != 0))
            abort(); /* not an HTTP answer */
        const char *hend = memmem(r, left, "\r\n\r\n", 4);
        if (!hend)
            abort(); /* a cut answer */
        int code = atoi(r + 9);
        const char *headers = memchr(r, '\n', left) + 1;
        size_t vlen = 0;
        const char *cl = header(headers, hend + 2, "Content-Length", &vlen);
        size_t blen = cl ? strtoul(cl, NULL, 10) : 0;
        const char *body = hend + 4;
        size_t rest = len - (size_t)(body - out);
        /* 1xx answers have no body, nor does the answer to a HEAD, nor
         * the first of the two header blocks libmicrohttpd 0.9.75 writes
         * for a bad Content-Length (README: hearth-tpmd). */
        if (code < 200 || rest == 0 || (rest >= 7 && memcmp(body, "HTTP/1.", 7) == 0))
            blen = 0;
        if (blen > rest)
            abort(); /* a body shorter than announced */
        if (code >= 400 && blen) {
            const char *type = header(headers, hend + 2, "Content-Type", &vlen);
            if (type && vlen == 16 && memcmp(type, "application/json", 16) == 0) {
                check_json_error(body, blen);
                if (code == 503 && !header(headers, hend + 2, "Retry-After", &vlen))
                    abort(); /* a 503 says when to retry */
            } else if (type || blen < 6 || memcmp(body, "<html>", 6) != 0) {
                abort(); /* neither the daemon's JSON nor libmicrohttpd's page */
            }
        }
        at = (size_t)(body - out) + blen;
    }
}

/* Input: the mode byte, then the bytes a client sends before it shuts its
 * side down. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mode = data[0];
    int fds = open_fds();
    const uint8_t *req = data + 1;
    size_t n = size - 1, sent = 0, got = 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    struct sockaddr_un peer = { .sun_family = AF_UNIX };
    if (MHD_add_connection(server.mhd, sv[1], (struct sockaddr *)&peer,
                           (socklen_t)sizeof(peer.sun_family)) != MHD_YES)
        abort();
    char *out = malloc(OUT_MAX);
    bool shut = false, closed = false;
    for (int round = 0; !closed; round++) {
        if (round == ROUNDS_MAX)
            abort(); /* neither answered and closed nor waiting for the client */
        if (sent < n) {
            ssize_t w = send(sv[0], req + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN)
                sent = n; /* the server stopped reading: the rest is lost */
        }
        if (sent == n && !shut) {
            shutdown(sv[0], SHUT_WR);
            shut = true;
        }
        MHD_run(server.mhd);
        for (;;) {
            ssize_t r = recv(sv[0], out + got, OUT_MAX - got, 0);
            if (r > 0 && (got += (size_t)r) == OUT_MAX)
                abort(); /* a megabyte of answers to 4 KiB of requests */
            if (r == 0)
                closed = true;
            if (r <= 0)
                break;
        }
    }
    close(sv[0]);
    check_answers(out, got);
    free(out);
    /* The server is back where it started: nothing tracked, nothing open. */
    if (server.nconns != 0 || server.conns)
        abort();
    if (open_fds() != fds)
        abort();
    return 0;
}
