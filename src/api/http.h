/* The HTTP/1.1 subset the REST API speaks, parsed by hand: one request at
 * a time from a byte buffer, Content-Length bodies, keep-alive and
 * pipelining; no chunked bodies, no TLS (it is a local Unix socket).
 * A pure function of its input, so the fuzzer drives it directly. */
#ifndef HEARTH_API_HTTP_H
#define HEARTH_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX 8192 /* request line and headers */
#define HTTP_METHOD_MAX 16
#define HTTP_TARGET_MAX 2048

enum http_parse_result {
    HTTP_INCOMPLETE, /* more bytes needed */
    HTTP_COMPLETE,   /* a whole request; `consumed` bytes of the buffer */
    HTTP_BAD,        /* answer 400 with `error` and close the connection */
};

struct http_request {
    char method[HTTP_METHOD_MAX];
    char target[HTTP_TARGET_MAX];
    const char *body; /* into the parsed buffer */
    size_t body_len;
    size_t consumed;      /* head + body */
    bool keep_alive;      /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool expect_continue; /* "Expect: 100-continue" and the body not here yet */
    bool too_large;       /* Content-Length over the limit: answered unread, then closed */
    unsigned long long content_length;
    const char *error; /* HTTP_BAD: why, for the client */
};

/* Parses the request at the start of buf[0..len). max_body bounds
 * Content-Length: a larger one completes at once with too_large set and no
 * body consumed. INCOMPLETE may still fill `expect_continue`. */
enum http_parse_result http_parse(const char *buf, size_t len, size_t max_body,
                                  struct http_request *req);

/* Writes a response (status line, Server, Connection, and for a body
 * Content-Type: application/json and Content-Length) into out; returns its
 * length, or 0 when it does not fit. */
size_t http_response(char *out, size_t outlen, unsigned code, const char *body, bool keep_alive);

#endif
