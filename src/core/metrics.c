/* Metrics lines: cumulative counters in, deltas out. */
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void metrics_init(struct metrics *mt)
{
    memset(mt, 0, sizeof(*mt));
    mt->fd = -1;
}

int metrics_open(struct metrics *mt, const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    metrics_close(mt);
    mt->fd = fd;
    return 0;
}

bool metrics_enabled(const struct metrics *mt) { return mt->fd >= 0; }

static bool is_store(const char *parent, const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "num_faults") == 0 || (n >= 6 && strcmp(key + n - 6, "max_us") == 0) ||
           (parent && (strcmp(parent, "latencies_us") == 0 || strcmp(parent, "api_server") == 0));
}

/* A copy of now whose counters are less what prev held for them. */
static json_t *delta(json_t *now, json_t *prev, const char *name)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(now, key, v) {
        json_t *p = prev ? json_object_get(prev, key) : NULL;
        if (json_is_object(v)) {
            json_object_set_new(out, key, delta(v, json_is_object(p) ? p : NULL, key));
        } else if (json_is_integer(v) && json_is_integer(p) && !is_store(name, key)) {
            json_int_t d = json_integer_value(v) - json_integer_value(p);
            json_object_set_new(out, key, json_integer(d > 0 ? d : 0));
        } else {
            json_object_set(out, key, v);
        }
    }
    return out;
}

int metrics_write(struct metrics *mt, json_t *now)
{
    if (!now)
        return -ENOMEM;
    if (mt->fd < 0) {
        json_decref(now);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *line = json_object();
    json_object_set_new(line, "utc_timestamp_ms",
                        json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
    json_t *d = delta(now, mt->last, NULL);
    json_object_update(line, d);
    json_decref(d);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    int r = -ENOMEM;
    if (text) {
        size_t len = strlen(text);
        text[len] = '\n'; /* json_dumps' NUL becomes the newline */
        ssize_t w = write(mt->fd, text, len + 1);
        r = w == (ssize_t)(len + 1) ? 0 : (w < 0 ? -errno : -EAGAIN);
        free(text);
    }
    if (r == 0) {
        json_decref(mt->last);
        mt->last = now;
        mt->lines++;
    } else {
        json_decref(now);
        mt->missed++;
    }
    return r;
}

void metrics_close(struct metrics *mt)
{
    if (mt->fd >= 0)
        close(mt->fd);
    mt->fd = -1;
    json_decref(mt->last);
    mt->last = NULL;
}

json_t *metrics_counters(const char *const *names, const uint64_t *values, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, names[i], json_integer((json_int_t)values[i]));
    return o;
}

void metrics_add_device(json_t *o, const char *group, const char *id, const char *const *names,
                        const uint64_t *values, uint64_t *sum, int n)
{
    char key[96];
    snprintf(key, sizeof(key), "%s_%s", group, id);
    json_object_set_new(o, key, metrics_counters(names, values, n));
    for (int i = 0; i < n; i++)
        sum[i] += values[i];
}
