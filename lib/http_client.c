/* A minimal HTTP/1.1 client over a Unix socket (see http_client.h). */
#include "http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int http_client_request(const char *sock, const char *method, const char *path, int *status,
                        char **head, char **body, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "%s: %s", sock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     method, path);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(err, errlen, "%s: request line too long", sock);
        close(fd);
        return -1;
    }
    if (write(fd, req, (size_t)n) != n) {
        snprintf(err, errlen, "%s: sending the request: %s", sock, strerror(errno));
        close(fd);
        return -1;
    }
    size_t cap = HTTP_CLIENT_MAX_RESPONSE, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;
    while (buf && (r = read(fd, buf + len, cap - len)) > 0)
        if ((len += (size_t)r) == cap)
            break;
    close(fd);
    if (buf)
        buf[len] = 0; /* before sscanf: it must not run past what was read */
    if (!buf || len == 0 || sscanf(buf, "HTTP/1.%*c %d", status) != 1) {
        free(buf);
        snprintf(err, errlen, "%s: no valid HTTP response", sock);
        return -1;
    }
    char *b = strstr(buf, "\r\n\r\n");
    *body = strdup(b ? b + 4 : "");
    *head = strndup(buf, b ? (size_t)(b - buf) : len);
    free(buf);
    if (!*body || !*head) {
        free(*body);
        free(*head);
        snprintf(err, errlen, "%s: out of memory", sock);
        return -1;
    }
    return 0;
}
