/* libFuzzer target: hearth-tpmd's routes see any method, decoded URL and
 * body size, against a backend whose answers the input also picks; every
 * reply must be a well-formed JSON error or a success body. */
#include "fake_api_backend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input: mode byte, then METHOD NUL URL NUL, then the body (its size only). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0]; /* what the fake backend answers */
    struct api_backend backend;
    fake_api_backend(&backend, &mode);
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
