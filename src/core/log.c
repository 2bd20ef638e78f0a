/* Leveled, thread-tagged logging to stderr or a file. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static struct {
    int fd;
    enum log_level level;
    char id[65];
} g_log = { .fd = STDERR_FILENO, .level = LOG_INFO, .id = "anonymous-instance" };

static _Thread_local char t_name[16] = "main";

static const char *const level_tag[] = { "", "ERROR", "WARN", "INFO", "DEBUG" };

bool log_parse_level(const char *name, enum log_level *out)
{
    static const struct { const char *name; enum log_level level; } names[] = {
        { "off", LOG_OFF },   { "error", LOG_ERROR }, { "warning", LOG_WARN },
        { "warn", LOG_WARN }, { "info", LOG_INFO },   { "debug", LOG_DEBUG },
        { "trace", LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

int log_init(const char *instance_id, enum log_level level, const char *path)
{
    g_log.level = level;
    if (instance_id)
        snprintf(g_log.id, sizeof(g_log.id), "%s", instance_id);
    if (path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        g_log.fd = fd;
    }
    return 0;
}

void log_close(void)
{
    if (g_log.fd != STDERR_FILENO) {
        close(g_log.fd);
        g_log.fd = STDERR_FILENO;
    }
}

void log_set_thread_name(const char *name)
{
    snprintf(t_name, sizeof(t_name), "%s", name);
}

bool log_enabled(enum log_level level)
{
    return level != LOG_OFF && level <= g_log.level;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ [%s:%s:%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000, g_log.id, t_name, level_tag[level]);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t r = write(g_log.fd, line, (size_t)n);
    (void)r;
}
