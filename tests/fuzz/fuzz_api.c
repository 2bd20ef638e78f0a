/* libFuzzer target: raw bytes from an API client through the HTTP parser,
 * the routes and the configuration setters, as the API thread and the VMM
 * thread handle them. Actions change the fake VMM's state, so post-boot
 * rules are reached too. */
#include "api/http.h"
#include "api/routes.h"
#include "fuzz_vmm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct api_router r;
    config_init(&cfg);
    state = VMM_NOT_STARTED;
    api_router_init(&r, &ops, NULL, "fuzz");
    /* Every whole request in the input, pipelined, as a connection would. */
    for (size_t off = 0; off < size;) {
        struct http_request req;
        if (http_parse(buf + off, size - off, 4096, &req) != HTTP_COMPLETE)
            break;
        if (req.consumed == 0 || req.consumed > size - off)
            abort(); /* the parser must always make progress within its input */
        struct api_reply reply;
        if (!req.too_large) {
            api_route(&r, req.method, req.target, req.body, req.body_len, &reply);
            if (reply.code != 204 && !reply.body)
                abort(); /* every answer but 204 carries JSON */
            char out[8192];
            if (!http_response(out, sizeof(out), reply.code, reply.body, req.keep_alive))
                abort();
            free(reply.body);
        }
        off += req.consumed;
    }
    struct api_reply reply;
    api_route(&r, "GET", "/vm/config", NULL, 0, &reply);
    free(reply.body);
    config_free(&cfg);
    return 0;
}
