/* hearth-jailer's chroot, walked by directory fds that follow no symlink. */
#include "jail/chroot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int chroot_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int chroot_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Root's and root's alone: anyone else who may write a directory of the
 * chroot could swap what the jailer creates in it for a link. What the
 * jailer MADE is 0755 whatever the umask (the jailed uid must reach the
 * binary). */
static int chroot_check(int fd, bool made, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (made && fchmod(fd, 0755) < 0)
        return chroot_fail(err, errlen, "chmod %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0)
        return chroot_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (st.st_uid != 0)
        return chroot_fail(err, errlen, "%s is owned by uid %u, not root", path,
                           (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return chroot_fail(err, errlen, "%s is writable by %s (mode %03o)", path,
                           st.st_mode & S_IWOTH ? "others" : "its group",
                           (unsigned)(st.st_mode & 07777));
    return 0;
}

int chroot_base(const char *path, char *err, size_t errlen)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return chroot_fail(err, errlen, "%s: path too long", path);
    bool made = false;
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = 0;
        made = mkdir(p, 0755) == 0;
        if (!made && errno != EEXIST)
            return chroot_fail(err, errlen, "mkdir %s: %s", p, strerror(errno));
        *s = c;
        if (!c)
            break;
    }
    /* Its last component is not followed either: under a directory others
     * may write (/tmp), someone else could have planted it as a link. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(path, &st) == 0 &&
        S_ISLNK(st.st_mode))
        return chroot_fail(err, errlen, "%s is a symlink", path);
    if (fd < 0)
        return chroot_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (chroot_check(fd, made, path, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int chroot_dir(int at, const char *name, const char *path, char *err, size_t errlen)
{
    bool made = mkdirat(at, name, 0755) == 0;
    if (!made && errno != EEXIST)
        return chroot_fail(err, errlen, "mkdir %s: %s", path, strerror(errno));
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            return chroot_fail(err, errlen, "%s is a symlink", path);
        if (e == ENOTDIR)
            return chroot_fail(err, errlen, "%s is not a directory", path);
        return chroot_fail(err, errlen, "%s: %s", path, strerror(e));
    }
    if (chroot_check(fd, made, path, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int chroot_binary(int at, const char *name, const char *from, const char *path, char *err,
                  size_t errlen)
{
    /* A hard link costs nothing where a copy of a 5 MiB binary costs ms;
     * the jailed uid cannot write it either way (root's, 0755). */
    if (unlinkat(at, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
        return chroot_fail(err, errlen, "removing %s: %s", path, strerror(errno));
    if (linkat(AT_FDCWD, from, at, name, 0) == 0)
        return 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return chroot_fail(err, errlen, "copying %s: %s", from, strerror(errno));
    int out = openat(at, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
    if (out < 0) {
        int e = errno;
        close(in);
        return chroot_fail(err, errlen, "creating %s: %s", path, strerror(e));
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    int r = n < 0 || fchmod(out, 0755) < 0 ? -1 : 0;
    int e = errno;
    if (close(out) < 0 && r == 0)
        r = -1, e = errno;
    close(in);
    if (r < 0)
        return chroot_fail(err, errlen, "copying %s to %s: %s", from, path, strerror(e));
    return 0;
}
