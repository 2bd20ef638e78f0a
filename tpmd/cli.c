/* hearth-tpm: a small client of hearth-tpmd for scripts.
 *   hearth-tpm [--socket PATH] alloc | free ID | status | list | ca
 *   hearth-tpm [--socket PATH] raw METHOD PATH
 * Prints the response body (with --include first, the status line and
 * headers); exits 0 for 2xx, 1 otherwise. */
#include "http_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *sock = getenv("HEARTH_TPMD_SOCKET");
    int i = 1;
    bool include = false;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock = argv[++i];
        else if (strcmp(argv[i], "--include") == 0)
            include = true;
        else
            break;
    }
    if (!sock || i >= argc) {
        fprintf(stderr,
                "usage: hearth-tpm [--socket PATH] [--include] alloc | free ID | status | list | ca"
                " | raw METHOD PATH\n(or set HEARTH_TPMD_SOCKET)\n");
        return 2;
    }
    const char *cmd = argv[i], *method, *path;
    char buf[256];
    if (strcmp(cmd, "alloc") == 0)
        method = "POST", path = "/vtpms";
    else if (strcmp(cmd, "free") == 0 && i + 1 < argc) {
        snprintf(buf, sizeof(buf), "/vtpms/%s", argv[i + 1]);
        method = "DELETE", path = buf;
    } else if (strcmp(cmd, "status") == 0)
        method = "GET", path = "/pool";
    else if (strcmp(cmd, "list") == 0)
        method = "GET", path = "/vtpms";
    else if (strcmp(cmd, "ca") == 0)
        method = "GET", path = "/ca";
    else if (strcmp(cmd, "raw") == 0 && i + 2 < argc)
        method = argv[i + 1], path = argv[i + 2];
    else {
        fprintf(stderr, "hearth-tpm: unknown command %s\n", cmd);
        return 2;
    }
    int status = 0;
    char *head = NULL, *body = NULL;
    char err[600];
    if (http_client_request(sock, method, path, &status, &head, &body, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth-tpm: %s\n", err);
        return 1;
    }
    if (include)
        printf("%s\n\n", head);
    free(head);
    fputs(body, stdout);
    if (*body && body[strlen(body) - 1] != '\n')
        putchar('\n');
    free(body);
    if (status < 200 || status > 299)
        fprintf(stderr, "hearth-tpm: HTTP %d\n", status);
    return status >= 200 && status <= 299 ? 0 : 1;
}
