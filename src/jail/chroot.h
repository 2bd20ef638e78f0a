/* hearth-jailer's chroot, walked as directory fds from the base down and
 * never by path: no symlink is followed, and no directory another uid
 * could have planted or can change is trusted. */
#ifndef HEARTH_JAIL_CHROOT_H
#define HEARTH_JAIL_CHROOT_H

#include <stddef.h>

/* The operator's --chroot-base-dir, created with its missing parents
 * (0755) and opened by its path as given (symlinks in it are the
 * operator's), then held to chroot_dir's rule. An O_CLOEXEC directory fd,
 * or -1 with a message in err. */
int chroot_base(const char *path, char *err, size_t errlen);

/* The directory NAME (one component) under the directory fd AT, created
 * (0755) if missing, opened without following a symlink, and refused
 * unless root owns it and neither its group nor others may write it.
 * PATH names it in the message ("<path> is a symlink", "<path> is owned
 * by uid 1000", ...). An O_CLOEXEC directory fd, or -1 with a message. */
int chroot_dir(int at, const char *name, const char *path, char *err, size_t errlen);

/* The jail's copy of the binary FROM as NAME in the directory fd AT: a
 * hard link where the filesystem allows, else a copy (0755); whatever
 * NAME was is removed first (a symlink itself, never its target), and the
 * new file is created exclusively, so nothing else is written. 0, or -1
 * with a message naming PATH. */
int chroot_binary(int at, const char *name, const char *from, const char *path, char *err,
                  size_t errlen);

#endif
