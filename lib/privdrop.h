/* Dropping root for good, one way for every program that does it
 * (hearth-jailer before it execs hearth, hearth-tpmd for swtpm and for
 * its checks and kills as a vTPM's uid). */
#ifndef HEARTH_PRIVDROP_H
#define HEARTH_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Makes uid/gid the process's only identity, in the one safe order:
 * supplementary groups cleared (setgroups(0)), then real, effective and
 * saved gid (setresgid), then real, effective and saved uid (setresuid),
 * each checked. Then verifies the drop: getresuid/getresgid report only
 * the new ids, no supplementary group is left and, when uid is not 0,
 * neither uid 0 nor gid 0 can be taken back.
 *
 * Returns 0, or -1 with errno set and err (errlen bytes, always
 * NUL-terminated) naming the step that failed and why, e.g.
 * "setresuid to 1000: Operation not permitted". After a failure the
 * process may hold any mix of old and new ids: the caller must exit (or
 * _exit) rather than go on.
 *
 * Async-signal-safe (no stdio, no allocation, no locale): a child forked
 * from a multi-threaded daemon may call it between fork and exec. */
int privdrop_to(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Runs fn(arg) with exactly uid/gid's rights, for a check or an action
 * that must not be made as root (can this uid reach a directory? kill
 * everything it runs): forks, the child drops with privdrop_to and exits
 * with fn's verdict; the caller waits for it. True only when the child
 * dropped and fn returned true; false when the fork, the drop or fn
 * failed. fn runs in the forked child and must keep to async-signal-safe
 * calls when the caller has other threads; nothing it changes reaches the
 * caller. */
bool privdrop_call_as(uid_t uid, gid_t gid, bool (*fn)(void *arg), void *arg);

#endif
