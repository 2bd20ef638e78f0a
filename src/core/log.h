/* Leveled, thread-tagged logging to stderr or a file, safe to call from any
 * thread, in Firecracker's line format:
 * "2026-11-30T05:00:00.123456789 [instance-id:thread:LEVEL(:file:line)] message". */
#ifndef HEARTH_LOG_H
#define HEARTH_LOG_H

#include <stdbool.h>

enum log_level { LOG_OFF, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Parses Firecracker's level names (Off, Error, Warning, Info, Debug, Trace;
 * case-insensitive). Returns false for anything else. */
bool log_parse_level(const char *name, enum log_level *out);

/* Sets the instance id shown on every line and the threshold. path == NULL
 * logs to stderr. Returns 0, or -errno when the file cannot be opened. */
int log_init(const char *instance_id, enum log_level level, const char *path);
void log_close(void);

/* PUT /logger: a new target (NULL: keep the current one; a file or a
 * FIFO, opened non-blocking so a stalled reader costs lines, not a
 * thread), threshold and line format ("[id:thread:LEVEL:file:line]").
 * Returns 0, or -errno with nothing changed. Pre-boot only: no other
 * thread may be logging while the target changes. */
int log_configure(const char *path, enum log_level level, bool show_level, bool show_origin);

/* From a signal handler: one line "[id:thread:ERROR] msg", with only
 * async-signal-safe calls (no time stamp). */
void log_signal_safe(const char *msg);

/* Lines lost to a full or failing target since the start. */
unsigned long long log_missed(void);

/* Names the calling thread in log lines ("main", "vcpu0", ...). */
void log_set_thread_name(const char *name);

bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(...) log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
