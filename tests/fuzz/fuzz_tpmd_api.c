/* libFuzzer target: hearth-tpmd's routes see any method, decoded URL and
 * body size, against a backend whose answers the input also picks; every
 * reply must be a well-formed JSON error or a success body. */
#include "../../tpmd/api.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mode; /* the input's first byte: what the fake backend answers */

static int fake_allocate(void *ctx, struct vtpm *out, double *ms, char *err, size_t errlen)
{
    (void)ctx;
    static const int rcs[4] = { 0, -EAGAIN, -EIO, -ENOMEM };
    memset(out, 0, sizeof(*out));
    strcpy(out->id, "0123456789abcdef0123456789abcdef");
    strcpy(out->dir, "/nonexistent");
    strcpy(out->tpm_dir, "/nonexistent/tpm");
    strcpy(out->sock, "/nonexistent/tpm/ctrl.sock");
    *ms = 1.5;
    /* An error text with bytes that are not UTF-8, as a bug could leave. */
    snprintf(err, errlen, "fake \xff\xc3 reason");
    return rcs[mode & 3];
}

static int fake_release(void *ctx, const char *id)
{
    (void)ctx;
    (void)id;
    static const int rcs[3] = { 0, -ENOENT, -EBUSY };
    return rcs[(mode >> 2) % 3];
}

static json_t *fake_get(void *ctx, const char *id)
{
    (void)ctx;
    return mode & 0x10 ? json_pack("{s:s}", "id", id) : NULL;
}

static json_t *fake_list(void *ctx)
{
    (void)ctx;
    return json_array();
}

static json_t *fake_status(void *ctx)
{
    (void)ctx;
    return json_pack("{s:i}", "ready", 1);
}

static char *fake_ca(void *ctx)
{
    (void)ctx;
    return mode & 0x20 ? strdup("-----BEGIN CERTIFICATE-----\n") : NULL;
}

static const struct api_backend backend = {
    .allocate = fake_allocate,
    .release = fake_release,
    .get = fake_get,
    .list = fake_list,
    .status = fake_status,
    .ca_pem = fake_ca,
};

/* Input: mode byte, then METHOD NUL URL NUL, then the body (its size only). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mode = data[0];
    size_t n = size - 1; /* bytes after the mode byte */
    char *copy = malloc(n + 1);
    memcpy(copy, data + 1, n);
    copy[n] = 0;
    const char *method = copy;
    size_t at = strlen(method) + 1; /* offsets into copy, never past n + 1 */
    const char *url = at <= n ? copy + at : "";
    at = at <= n ? at + strlen(url) + 1 : n + 1;
    size_t body = at <= n ? n - at : 0;
    struct api_reply r;
    api_route(&backend, method, url, body, &r);
    if (!r.body)
        abort(); /* only out of memory may leave no body */
    if (r.code >= 400) {
        json_error_t e;
        json_t *j = json_loads(r.body, 0, &e);
        if (!j || !json_is_string(json_object_get(j, "error")))
            abort(); /* an error must be JSON {"error": "..."} */
        for (const char *c = json_string_value(json_object_get(j, "error")); *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                abort(); /* quoted input stays printable ASCII */
        json_decref(j);
    }
    if ((r.code == 503) != r.retry_after)
        abort();
    free(r.body);
    free(copy);
    return 0;
}
