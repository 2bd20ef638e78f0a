/* JSON lines with deadlines, and the base64/hex fields of the protocol. */
#include "proto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd until deadline (0: none). 0 ready, -1 timed out or failed. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int left = -1;
        if (deadline) {
            int64_t d = deadline - now_ms();
            if (d <= 0)
                return -1;
            left = d > 1000000 ? 1000000 : (int)d;
        }
        struct pollfd p = { fd, events, 0 };
        int r = poll(&p, 1, left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

void attest_stream_init(struct attest_stream *s, int in_fd, int out_fd, int timeout_ms)
{
    *s = (struct attest_stream){ .in_fd = in_fd, .out_fd = out_fd, .timeout_ms = timeout_ms };
}

void attest_stream_free(struct attest_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

int attest_send(struct attest_stream *s, json_t *msg, char *err, size_t errlen)
{
    json_object_set_new(msg, "v", json_integer(ATTEST_PROTO_VERSION));
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room: its NUL */
    int64_t deadline = s->timeout_ms ? now_ms() + s->timeout_ms : 0;
    size_t off = 0;
    int r = 0;
    while (off < n + 1) {
        if (wait_fd(s->out_fd, POLLOUT, deadline) < 0) {
            snprintf(err, errlen, "sending: the peer took no data for %d ms", s->timeout_ms);
            r = -1;
            break;
        }
        ssize_t w = write(s->out_fd, text + off, n + 1 - off);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "sending: %s",
                     errno == EPIPE || errno == ECONNRESET ? "the peer closed the connection"
                                                           : strerror(errno));
            r = -1;
            break;
        }
        off += (size_t)w;
    }
    free(text);
    return r;
}

int attest_recv(struct attest_stream *s, json_t **msg, char *err, size_t errlen)
{
    *msg = NULL;
    int64_t deadline = s->timeout_ms ? now_ms() + s->timeout_ms : 0;
    char *nl;
    while (!(nl = s->len ? memchr(s->buf, '\n', s->len) : NULL)) {
        if (s->len > ATTEST_LINE_MAX) {
            snprintf(err, errlen, "a message is longer than %u bytes", ATTEST_LINE_MAX);
            return -1;
        }
        if (s->cap - s->len < 65536) {
            size_t cap = s->cap ? s->cap * 2 : 65536;
            char *b = realloc(s->buf, cap);
            if (!b) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            s->buf = b;
            s->cap = cap;
        }
        if (wait_fd(s->in_fd, POLLIN, deadline) < 0) {
            snprintf(err, errlen, "no complete answer within %d ms", s->timeout_ms);
            return -1;
        }
        ssize_t r = read(s->in_fd, s->buf + s->len, s->cap - s->len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            snprintf(err, errlen, "receiving: %s", strerror(errno));
            return -1;
        }
        if (r == 0) {
            if (!s->len)
                return 1;
            snprintf(err, errlen, "the peer closed the connection in the middle of a message");
            return -1;
        }
        s->len += (size_t)r;
    }
    size_t line = (size_t)(nl - s->buf);
    json_error_t je;
    json_t *m = json_loadb(s->buf, line, JSON_REJECT_DUPLICATES, &je);
    s->len -= line + 1;
    memmove(s->buf, nl + 1, s->len);
    if (!m || !json_is_object(m)) {
        snprintf(err, errlen, "a message is not a JSON object%s%s", m ? "" : ": ",
                 m ? "" : je.text);
        json_decref(m);
        return -1;
    }
    json_t *v = json_object_get(m, "v");
    if (!json_is_integer(v) || json_integer_value(v) != ATTEST_PROTO_VERSION) {
        if (json_is_integer(v))
            snprintf(err, errlen, "protocol version %lld, this side speaks %d",
                     (long long)json_integer_value(v), ATTEST_PROTO_VERSION);
        else
            snprintf(err, errlen, "protocol version missing (this side speaks %d)",
                     ATTEST_PROTO_VERSION);
        json_decref(m);
        return -1;
    }
    *msg = m;
    return 0;
}

int attest_b64_decode(const char *s, size_t slen, uint8_t **out, size_t *len)
{
    *out = NULL;
    if (slen % 4 || slen > ATTEST_LINE_MAX)
        return -1;
    for (size_t i = 0; i < slen; i++) {
        char c = s[i];
        bool pad = c == '=' && i >= slen - 2 && (i == slen - 1 || s[slen - 1] == '=');
        if (!pad && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
            c != '+' && c != '/')
            return -1;
    }
    uint8_t *b = malloc(slen / 4 * 3 + 1);
    if (!b)
        return -1;
    int n = slen ? EVP_DecodeBlock(b, (const unsigned char *)s, (int)slen) : 0;
    if (n < 0) {
        free(b);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t pad = slen && s[slen - 1] == '=' ? (s[slen - 2] == '=' ? 2 : 1) : 0;
    *out = b;
    *len = (size_t)n - pad;
    return 0;
}

int attest_get_b64(json_t *msg, const char *key, uint8_t **out, size_t *len, size_t max, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(msg, key);
    *out = NULL;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: %s", key, v ? "not a string" : "missing");
        return -1;
    }
    if (attest_b64_decode(json_string_value(v), json_string_length(v), out, len) < 0) {
        snprintf(err, errlen, "%s: not base64", key);
        return -1;
    }
    if (*len > max) {
        snprintf(err, errlen, "%s: %zu bytes, at most %zu allowed", key, *len, max);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int attest_get_hex(json_t *msg, const char *key, uint8_t *out, size_t *len, size_t min, size_t max,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(msg, key);
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: %s", key, v ? "not a string" : "missing");
        return -1;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n % 2 || n / 2 < min || n / 2 > max) {
        snprintf(err, errlen, "%s: %zu hex digits, expected an even number from %zu to %zu", key, n,
                 2 * min, 2 * max);
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "%s: not hexadecimal", key);
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

json_t *attest_b64(const uint8_t *p, size_t len)
{
    char *s = malloc(4 * ((len + 2) / 3) + 1);
    if (!s)
        return NULL;
    EVP_EncodeBlock((unsigned char *)s, p, (int)len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

void attest_hex_str(const uint8_t *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = 0;
}

json_t *attest_hex(const uint8_t *p, size_t len)
{
    char *s = malloc(2 * len + 1);
    if (!s)
        return NULL;
    attest_hex_str(p, len, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}
