/* A minimal HTTP/1.1 client over a Unix socket: how hearth-tpm,
 * hearth-attest and hearth-bench talk to hearth-tpmd. */
#ifndef HEARTH_HTTP_CLIENT_H
#define HEARTH_HTTP_CLIENT_H

#include <stddef.h>

/* The largest response read; the rest of a longer one is dropped (every
 * tpmd answer, a vTPM list included, is far smaller). */
#define HTTP_CLIENT_MAX_RESPONSE 65536

/* Sends METHOD PATH with an empty body to the server on Unix socket SOCK
 * and reads the whole answer (the request says Connection: close).
 * Returns 0 with *status the HTTP status, *head the status line and
 * headers and *body what follows them, both NUL-terminated and malloc'd
 * (the caller frees them); or -1 with the reason in err and nothing
 * allocated. Prints nothing: callers polling a daemon that is still
 * starting stay quiet. */
int http_client_request(const char *sock, const char *method, const char *path, int *status,
                        char **head, char **body, char *err, size_t errlen);

#endif
