/* Leveled, thread-tagged logging to stderr or a file. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The one global of the monitor: every thread logs, from anywhere. */
static struct {
    atomic_int fd;
    enum log_level level;
    bool show_level, show_origin;
    char id[65];
    atomic_ullong missed;
} g_log = {
    .fd = STDERR_FILENO, .level = LOG_INFO, .show_level = true, .id = "anonymous-instance"
};

static _Thread_local char t_name[16] = "main";

static const char *const level_tag[] = { "", "ERROR", "WARN", "INFO", "DEBUG" };

bool log_parse_level(const char *name, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        { "off", LOG_OFF },   { "error", LOG_ERROR }, { "warning", LOG_WARN }, { "warn", LOG_WARN },
        { "info", LOG_INFO }, { "debug", LOG_DEBUG }, { "trace", LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

static int open_target(const char *path, bool nonblock)
{
    int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0), 0600);
    return fd < 0 ? -errno : fd;
}

static void set_fd(int fd)
{
    int old = atomic_exchange(&g_log.fd, fd);
    if (old != STDERR_FILENO && old != fd)
        close(old);
}

int log_init(const char *instance_id, enum log_level level, const char *path)
{
    /* The first localtime_r reads the time zone files: now, not under a
     * thread's seccomp filter later. */
    tzset();
    g_log.level = level;
    if (instance_id)
        snprintf(g_log.id, sizeof(g_log.id), "%s", instance_id);
    if (path) {
        int fd = open_target(path, false);
        if (fd < 0)
            return fd;
        set_fd(fd);
    }
    return 0;
}

int log_configure(const char *path, enum log_level level, bool show_level, bool show_origin)
{
    if (path) {
        int fd = open_target(path, true);
        if (fd < 0)
            return fd;
        set_fd(fd);
    }
    g_log.level = level;
    g_log.show_level = show_level;
    g_log.show_origin = show_origin;
    return 0;
}

void log_close(void) { set_fd(STDERR_FILENO); }

unsigned long long log_missed(void) { return atomic_load(&g_log.missed); }

void log_set_thread_name(const char *name) { snprintf(t_name, sizeof(t_name), "%s", name); }

bool log_enabled(enum log_level level) { return level != LOG_OFF && level <= g_log.level; }

void log_write(enum log_level level, const char *file, int line_no, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm); /* Firecracker's: local time, nanoseconds */
    char origin[96] = "";
    if (g_log.show_origin) {
        const char *base = strrchr(file, '/');
        snprintf(origin, sizeof(origin), ":%s:%d", base ? base + 1 : file, line_no);
    }
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s%s%s%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec, g_log.id, t_name, g_log.show_level ? ":" : "",
                     g_log.show_level ? level_tag[level] : "", origin);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    if (write(atomic_load(&g_log.fd), line, (size_t)n) != n)
        atomic_fetch_add(&g_log.missed, 1);
}

void log_signal_safe(const char *msg)
{
    char line[512];
    size_t n = 0;
    const char *parts[] = { "[", g_log.id, ":", t_name, ":ERROR] ", msg, "\n" };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        for (const char *p = parts[i]; *p && n < sizeof(line) - 1; p++)
            line[n++] = *p;
    if (line[n - 1] != '\n')
        line[n++] = '\n';
    ssize_t r = write(atomic_load(&g_log.fd), line, n);
    (void)r;
}
