/* The protocol between hearth-attest-agent and hearth-attest: JSON lines
 * over one stream, request then answer, version 1 (docs/attestation.md).
 * Binary fields are base64 (TPM structures in TPM wire format), nonces
 * hex. Both sides bound every read by a deadline and a line length. */
#ifndef ATTEST_PROTO_H
#define ATTEST_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ATTEST_PROTO_VERSION 1
#define ATTEST_DEFAULT_PORT 5252
#define ATTEST_LINE_MAX (1u << 20) /* one message, base64 and all */
#define ATTEST_NONCE_MIN 16
#define ATTEST_NONCE_MAX 64 /* TPM2B_DATA */
#define ATTEST_EVENT_LOG_MAX (256u * 1024)

/* One end of a connection: a socket or a pipe pair. */
struct attest_stream {
    int in_fd, out_fd;
    int timeout_ms; /* per message; 0 for none */
    char *buf;      /* bytes read past the last line */
    size_t len, cap;
};

void attest_stream_init(struct attest_stream *s, int in_fd, int out_fd, int timeout_ms);
void attest_stream_free(struct attest_stream *s);

/* Writes msg as one line (adds "v"; msg stays the caller's). 0, or -1
 * with a message. */
int attest_send(struct attest_stream *s, json_t *msg, char *err, size_t errlen);

/* Reads one line into a JSON object with "v" 1. 0; 1 at a clean end of
 * stream before any byte of a line; -1 with a message naming what was
 * wrong (time-out, a line over ATTEST_LINE_MAX, not JSON, no or another
 * version). */
int attest_recv(struct attest_stream *s, json_t **msg, char *err, size_t errlen);

/* Field helpers; each -1 with "KEY: reason" in err. */
int attest_get_b64(json_t *msg, const char *key, uint8_t **out, size_t *len, size_t max, char *err,
                   size_t errlen);
int attest_get_hex(json_t *msg, const char *key, uint8_t *out, size_t *len, size_t min, size_t max,
                   char *err, size_t errlen);
json_t *attest_b64(const uint8_t *p, size_t len);
json_t *attest_hex(const uint8_t *p, size_t len);
void attest_hex_str(const uint8_t *p, size_t len, char *out); /* out: 2*len+1 */

/* Decodes base64 (no whitespace); -1 when it is not. */
int attest_b64_decode(const char *s, size_t slen, uint8_t **out, size_t *len);

#endif
