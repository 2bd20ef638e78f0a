/* QMP: line-delimited JSON over a Unix socket, events skipped. */
#include "qmp.h"

#include "core/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int64_t now_ms(void) { return (int64_t)(mono_ns() / 1000000); }

/* The next whole JSON line, or NULL at the deadline or on EOF. */
static json_t *read_message(struct qmp *q, int64_t deadline)
{
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl) {
            *nl = 0;
            json_t *m = json_loads(q->buf, 0, NULL);
            size_t used = (size_t)(nl + 1 - q->buf);
            memmove(q->buf, nl + 1, q->len - used);
            q->len -= used;
            if (m)
                return m;
            continue; /* not JSON: skip the line */
        }
        if (q->len == sizeof(q->buf))
            q->len = 0; /* an absurd line: drop it */
        int64_t left = deadline - now_ms();
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return NULL;
        ssize_t r = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
        if (r <= 0)
            return NULL;
        q->len += (size_t)r;
    }
}

json_t *qmp_call(struct qmp *q, const char *command, json_t *args, int timeout_ms)
{
    json_t *req = json_pack("{s:s}", "execute", command);
    if (args)
        json_object_set_new(req, "arguments", args);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    text[n] = '\n';
    ssize_t w = write(q->fd, text, n + 1);
    free(text);
    if (w != (ssize_t)(n + 1))
        return NULL;
    int64_t deadline = now_ms() + timeout_ms;
    json_t *m;
    while ((m = read_message(q, deadline))) {
        json_t *ret = json_object_get(m, "return");
        if (ret || json_object_get(m, "error")) {
            json_incref(ret);
            json_decref(m);
            return ret;
        }
        json_decref(m); /* an event */
    }
    return NULL;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
    q->len = 0;
    q->fd = -1;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(a.sun_path))
        return -1;
    strcpy(a.sun_path, path);
    int64_t deadline = now_ms() + timeout_ms;
    while (q->fd < 0 && now_ms() < deadline) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            q->fd = fd;
            break;
        }
        if (fd >= 0)
            close(fd);
        usleep(20000);
    }
    if (q->fd < 0)
        return -1;
    json_t *greeting = read_message(q, deadline);
    json_t *caps = greeting ? qmp_call(q, "qmp_capabilities", NULL, timeout_ms) : NULL;
    int ok = greeting && json_object_get(greeting, "QMP") && caps;
    json_decref(greeting);
    json_decref(caps);
    if (!ok) {
        qmp_close(q);
        return -1;
    }
    return 0;
}

int qmp_status(struct qmp *q, char *out, size_t len)
{
    json_t *r = qmp_call(q, "query-status", NULL, 5000);
    const char *s = json_string_value(json_object_get(r, "status"));
    if (s)
        snprintf(out, len, "%s", s);
    json_decref(r);
    return s ? 0 : -1;
}

int qmp_vcpu_stats(struct qmp *q, const char *const *names, int n, unsigned long long *values)
{
    for (int i = 0; i < n; i++)
        values[i] = 0;
    json_t *r = qmp_call(q, "query-stats", json_pack("{s:s}", "target", "vcpu"), 10000);
    if (!json_is_array(r)) {
        json_decref(r);
        return -1;
    }
    size_t i, j;
    json_t *vcpu, *st;
    json_array_foreach(r, i, vcpu) {
        const char *provider = json_string_value(json_object_get(vcpu, "provider"));
        if (!provider || strcmp(provider, "kvm") != 0)
            continue;
        json_array_foreach(json_object_get(vcpu, "stats"), j, st) {
            const char *name = json_string_value(json_object_get(st, "name"));
            json_t *v = json_object_get(st, "value");
            for (int k = 0; name && json_is_integer(v) && k < n; k++)
                if (strcmp(name, names[k]) == 0)
                    values[k] += (unsigned long long)json_integer_value(v);
        }
    }
    json_decref(r);
    return 0;
}

void qmp_close(struct qmp *q)
{
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
}
