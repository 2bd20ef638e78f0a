/* A strict HTTP/1.1 request parser and response writer for the API. */
#include "api/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum http_parse_result bad(struct http_request *r, const char *why)
{
    r->error = why;
    return HTTP_BAD;
}

/* The value of header `name` in line[0..n) ("Name: value"), or NULL. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

static bool token_is(const char *v, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(v, word, n) == 0;
}

/* "METHOD SP TARGET SP HTTP/1.x" */
static enum http_parse_result request_line(const char *p, size_t n, struct http_request *r,
                                           bool *http10)
{
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= HTTP_METHOD_MAX)
        return bad(r, "Invalid request line.");
    const char *t = sp1 + 1, *sp2 = memchr(t, ' ', n - (size_t)(t - p));
    if (!sp2 || sp2 == t || (size_t)(sp2 - t) >= HTTP_TARGET_MAX)
        return bad(r, "Invalid request line.");
    size_t vlen = n - (size_t)(sp2 + 1 - p);
    if (vlen != 8 || (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return bad(r, "Unsupported HTTP version.");
    *http10 = sp2[8] == '0';
    for (const char *c = p; c < sp1; c++)
        if (*c < 'A' || *c > 'Z')
            return bad(r, "Invalid HTTP method.");
    for (const char *c = t; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return bad(r, "Invalid request target.");
    memcpy(r->method, p, (size_t)(sp1 - p));
    r->method[sp1 - p] = 0;
    memcpy(r->target, t, (size_t)(sp2 - t));
    r->target[sp2 - t] = 0;
    return HTTP_COMPLETE;
}

enum http_parse_result http_parse(const char *buf, size_t len, size_t max_body,
                                  struct http_request *r)
{
    memset(r, 0, sizeof(*r));
    /* Blank lines before a request are allowed (RFC 9112 2.2), and count
     * toward HTTP_HEAD_MAX: head and body then always fit the caller's
     * buffer of HTTP_HEAD_MAX + max_body, however many a client sends. */
    size_t start = 0;
    while (start + 1 < len && start < HTTP_HEAD_MAX && buf[start] == '\r' && buf[start + 1] == '\n')
        start += 2;
    const char *head = buf + start;
    size_t avail = len - start;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < avail && start + i + 4 <= HTTP_HEAD_MAX; i++)
        if (head[i] == '\r' && head[i + 1] == '\n' && head[i + 2] == '\r' && head[i + 3] == '\n') {
            end = head + i;
            break;
        }
    if (!end)
        return len >= HTTP_HEAD_MAX ? bad(r, "Request headers too long.") : HTTP_INCOMPLETE;
    if (memchr(head, 0, (size_t)(end - head)))
        return bad(r, "Invalid request: a NUL byte in the headers.");
    const char *line = head, *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
    bool http10 = false, has_length = false, close = false, keep = false, expect = false;
    if (request_line(line, (size_t)(eol - line), r, &http10) == HTTP_BAD)
        return HTTP_BAD;
    for (line = eol + 2; line < end; line = eol + 2) {
        eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        size_t n = (size_t)(eol - line), vl;
        const char *v;
        if (!memchr(line, ':', n) || line[0] == ' ' || line[0] == '\t')
            return bad(r, "Invalid header line.");
        if ((v = header_value(line, n, "Content-Length", &vl))) {
            unsigned long long x = 0;
            if (has_length || vl == 0 || vl > 19)
                return bad(r, "Invalid Content-Length.");
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return bad(r, "Invalid Content-Length.");
                x = x * 10 + (unsigned)(v[i] - '0');
            }
            has_length = true;
            r->content_length = x;
        } else if ((v = header_value(line, n, "Transfer-Encoding", &vl))) {
            return bad(r, "Transfer-Encoding is not supported; send a Content-Length.");
        } else if ((v = header_value(line, n, "Connection", &vl))) {
            close |= token_is(v, vl, "close");
            keep |= token_is(v, vl, "keep-alive");
        } else if ((v = header_value(line, n, "Expect", &vl))) {
            expect = token_is(v, vl, "100-continue");
        }
    }
    r->keep_alive = http10 ? keep && !close : !close;
    size_t head_len = start + (size_t)(end + 4 - head);
    if (r->content_length > max_body) {
        r->too_large = true;
        r->keep_alive = false; /* the body is never read */
        r->consumed = head_len;
        return HTTP_COMPLETE;
    }
    if (len - head_len < r->content_length) {
        r->expect_continue = expect && !http10;
        return HTTP_INCOMPLETE;
    }
    r->body = buf + head_len;
    r->body_len = (size_t)r->content_length;
    r->consumed = head_len + r->body_len;
    return HTTP_COMPLETE;
}

static const char *reason(unsigned code)
{
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

size_t http_response(char *out, size_t outlen, unsigned code, const char *body, bool keep_alive)
{
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(out, outlen, "HTTP/1.1 %u %s\r\nServer: hearth API\r\nConnection: %s\r\n",
                     code, reason(code), keep_alive ? "keep-alive" : "close");
    if (n > 0 && code != 204 && code != 100)
        n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    if (n < 0 || (size_t)n + 2 + blen >= outlen)
        return 0;
    memcpy(out + n, "\r\n", 2);
    if (blen)
        memcpy(out + n + 2, body, blen);
    return (size_t)n + 2 + blen;
}
