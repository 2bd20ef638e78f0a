/* A minimal HTTP/1.1 client over a Unix socket, for hearth-tpm and
 * hearth-bench talking to hearth-tpmd. */
#ifndef TPMD_HTTP_CLIENT_H
#define TPMD_HTTP_CLIENT_H

#include <stddef.h>

/* Sends METHOD PATH with an empty body; fills *status, *head (status line
 * and headers) and *body (both malloc'd). 0, or -1 with the reason in err
 * (callers polling a daemon that is still starting stay quiet). */
int http_request(const char *sock, const char *method, const char *path, int *status, char **head,
                 char **body, char *err, size_t errlen);

#endif
