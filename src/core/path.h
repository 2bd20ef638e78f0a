/* Opening the files the API and the configuration name, without waiting. */
#ifndef HEARTH_PATH_H
#define HEARTH_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* The file types a path may name, or'ed together. */
#define PATH_REG 0x1u
#define PATH_BLK 0x2u
#define PATH_CHR 0x4u
#define PATH_FIFO 0x8u

/* Opens `path` with `flags` (and `mode`, for O_CREAT) when it names a file of
 * one of `types`; anything else is refused. The open never waits: it is
 * O_NONBLOCK (O_NOCTTY too), so a FIFO nobody has open at the other end, or
 * a file a lease is held on, fails at once instead of holding the thread
 * that serves the API and the signals. O_NONBLOCK stays on only when
 * `flags` asks for it; so a FIFO opened for writing needs its reader
 * already there. `field` names the path in messages, which read
 * "FIELD PATH: is a FIFO, not a regular file" or "FIELD PATH: <errno's>".
 * Returns the descriptor, or -errno (-EINVAL for a refused type). */
int path_open_checked(const char *path, int flags, mode_t mode, unsigned types, const char *field,
                      char *err, size_t errlen);

#endif
