/* hearth-tpmd's JSON-over-HTTP API on a Unix socket (libmicrohttpd). */
#ifndef TPMD_API_H
#define TPMD_API_H

#include "ca.h"
#include "pool.h"

#include <stddef.h>

struct MHD_Daemon;

struct api {
    struct MHD_Daemon *mhd;
    struct pool *pool;
    const struct ca *ca;
    int listen_fd;
};

/* Listens on `path` (mode 0600, replacing a stale socket) and serves:
 *   POST /vtpms         201 {id, ctrl_socket, ek_cert_pem, platform_cert_pem,
 *                            state_dir, source, manufacture_ms, allocate_ms}
 *   DELETE /vtpms/{id}  204, 404, 409
 *   GET /vtpms, GET /pool, GET /ca (PEM)
 * Errors are JSON {"error": reason}; 503 carries Retry-After. */
int api_start(struct api *a, const char *path, struct pool *pool, const struct ca *ca, char *err,
              size_t errlen);
void api_stop(struct api *a);

#endif
