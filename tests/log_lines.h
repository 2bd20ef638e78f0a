/* For the unit tests: sends the logger to a temporary file and counts the
 * lines a piece of code wrote there, to bound what a guest can log. */
#ifndef HEARTH_TEST_LOG_LINES_H
#define HEARTH_TEST_LOG_LINES_H

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Starts capturing every level into a new file; returns its path (static). */
static inline const char *log_lines_start(void)
{
    static char path[] = "/tmp/hearth-log-XXXXXX";
    snprintf(path, sizeof(path), "/tmp/hearth-log-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || log_init(NULL, LOG_DEBUG, path) < 0)
        abort();
    close(fd);
    return path;
}

/* Stops capturing (logging off again) and returns the lines written. */
static inline int log_lines_stop(const char *path)
{
    log_close();
    log_init(NULL, LOG_OFF, NULL);
    FILE *f = fopen(path, "r");
    if (!f)
        abort();
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    unlink(path);
    return lines;
}

#endif
