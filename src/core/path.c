/* Opening the files the API and the configuration name, without waiting. */
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    unsigned type;
    mode_t fmt;
    const char *name;
} path_types[] = {
    { PATH_REG, S_IFREG, "a regular file" },
    { PATH_BLK, S_IFBLK, "a block device" },
    { PATH_CHR, S_IFCHR, "a character device" },
    { PATH_FIFO, S_IFIFO, "a FIFO" },
};

static const char *path_type_name(mode_t m)
{
    for (size_t i = 0; i < sizeof(path_types) / sizeof(path_types[0]); i++)
        if ((m & S_IFMT) == path_types[i].fmt)
            return path_types[i].name;
    return S_ISDIR(m) ? "a directory" : S_ISSOCK(m) ? "a socket" : "an unknown kind of file";
}

static bool path_type_allowed(mode_t m, unsigned types)
{
    for (size_t i = 0; i < sizeof(path_types) / sizeof(path_types[0]); i++)
        if ((m & S_IFMT) == path_types[i].fmt)
            return (types & path_types[i].type) != 0;
    return false;
}

/* "FIELD PATH: is a FIFO, not a regular file or block device". */
static int path_refuse(mode_t m, unsigned types, const char *path, const char *field, char *err,
                       size_t errlen)
{
    int n = snprintf(err, errlen, "%s %s: is %s, not ", field, path, path_type_name(m));
    size_t count = 0, listed = 0;
    for (size_t i = 0; i < sizeof(path_types) / sizeof(path_types[0]); i++)
        count += (types & path_types[i].type) != 0;
    for (size_t i = 0;
         i < sizeof(path_types) / sizeof(path_types[0]) && n >= 0 && (size_t)n < errlen; i++) {
        if (!(types & path_types[i].type))
            continue;
        listed++;
        const char *sep = listed == 1 ? "" : listed == count ? " or " : ", ";
        n += snprintf(err + n, errlen - (size_t)n, "%s%s", sep,
                      path_types[i].name + (listed == 1 ? 0 : 2)); /* "a " once */
    }
    return -EINVAL;
}

int path_open_checked(const char *path, int flags, mode_t mode, unsigned types, const char *field,
                      char *err, size_t errlen)
{
    struct stat st;
    /* A device of the wrong type is refused before it is opened (opening
     * some has effects: a watchdog arms, a tape rewinds); the fstat after
     * the open is the check that counts. */
    if (stat(path, &st) == 0 && !path_type_allowed(st.st_mode, types))
        return path_refuse(st.st_mode, types, path, field, err, errlen);
    int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        /* A FIFO without a reader, a socket, a directory: say which. */
        if ((e == ENXIO || e == EISDIR || e == EWOULDBLOCK) && stat(path, &st) == 0 &&
            !path_type_allowed(st.st_mode, types))
            return path_refuse(st.st_mode, types, path, field, err, errlen);
        if (e == ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
            snprintf(err, errlen, "%s %s: is a FIFO nobody has open for reading", field, path);
        else
            snprintf(err, errlen, "%s %s: %s", field, path, strerror(e));
        return -e;
    }
    int e = fstat(fd, &st) < 0 ? errno : 0;
    if (!e && !path_type_allowed(st.st_mode, types)) {
        close(fd);
        return path_refuse(st.st_mode, types, path, field, err, errlen);
    }
    int fl = e ? -1 : fcntl(fd, F_GETFL);
    if (!e && (fl < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)))
        e = errno;
    if (e) {
        snprintf(err, errlen, "%s %s: %s", field, path, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}
