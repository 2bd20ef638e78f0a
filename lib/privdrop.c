/* Dropping root for good: privdrop_to and privdrop_call_as (privdrop.h). */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* An error text built without stdio (async-signal-safe): pieces are
 * appended, cut at the buffer's end, always NUL-terminated. */
struct privdrop_msg {
    char *buf;
    size_t len, at;
};

static void privdrop_put(struct privdrop_msg *m, const char *s)
{
    for (; *s && m->at + 1 < m->len; s++)
        m->buf[m->at++] = *s;
    if (m->len)
        m->buf[m->at] = 0;
}

static void privdrop_put_id(struct privdrop_msg *m, unsigned long v)
{
    char digits[24];
    size_t n = sizeof(digits);
    digits[--n] = 0;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    privdrop_put(m, digits + n);
}

/* Fills err with "STEP ID: WHY" and returns -1 with errno set to e. WHY
 * is e's description, or `why` when a check (not a call) failed: then e
 * is only what errno reports. strerrordesc_np, unlike strerror, reads a
 * constant table: no locale, no buffer. */
static int privdrop_fail(char *err, size_t errlen, const char *step, unsigned long id, int e,
                         const char *why)
{
    struct privdrop_msg m = { err, errlen, 0 };
    privdrop_put(&m, step);
    privdrop_put(&m, " ");
    privdrop_put_id(&m, id);
    privdrop_put(&m, ": ");
    if (!why)
        why = strerrordesc_np(e);
    privdrop_put(&m, why ? why : "unknown error");
    errno = e;
    return -1;
}

int privdrop_to(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    /* Groups first, while still root: once the uid is gone, setgroups and
     * setresgid are refused, and a group left over keeps root's access to
     * whatever it owns. */
    if (setgroups(0, NULL) < 0)
        return privdrop_fail(err, errlen, "setgroups(0) for gid", gid, errno, NULL);
    if (setresgid(gid, gid, gid) < 0)
        return privdrop_fail(err, errlen, "setresgid to", gid, errno, NULL);
    if (setresuid(uid, uid, uid) < 0)
        return privdrop_fail(err, errlen, "setresuid to", uid, errno, NULL);

    /* Verified, not assumed: a saved id left at 0 would let the process
     * (or code it runs) become root again. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return privdrop_fail(err, errlen, "reading the ids back after dropping to uid", uid, errno,
                             NULL);
    if (ru != uid || eu != uid || su != uid)
        return privdrop_fail(err, errlen, "setresuid to", uid, EPERM,
                             "the real, effective and saved uid are not all that");
    if (rg != gid || eg != gid || sg != gid)
        return privdrop_fail(err, errlen, "setresgid to", gid, EPERM,
                             "the real, effective and saved gid are not all that");
    int ngroups = getgroups(0, NULL);
    if (ngroups < 0)
        return privdrop_fail(err, errlen, "getgroups after dropping to gid", gid, errno, NULL);
    if (ngroups > 0)
        return privdrop_fail(err, errlen, "setgroups(0) for gid", gid, EPERM,
                             "supplementary groups are left");
    if (uid != 0) {
        /* Must fail now. Had either succeeded, the process is root again:
         * the caller exits on the -1. */
        if (setresuid((uid_t)-1, 0, (uid_t)-1) == 0)
            return privdrop_fail(err, errlen, "setresuid to", uid, EPERM,
                                 "uid 0 can still be taken back");
        if (gid != 0 && setresgid((gid_t)-1, 0, (gid_t)-1) == 0)
            return privdrop_fail(err, errlen, "setresgid to", gid, EPERM,
                                 "gid 0 can still be taken back");
    }
    return 0;
}

bool privdrop_call_as(uid_t uid, gid_t gid, bool (*fn)(void *arg), void *arg)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        char err[160];
        if (privdrop_to(uid, gid, err, sizeof(err)) < 0)
            _exit(1);
        _exit(fn(arg) ? 0 : 1);
    }
    int status;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    return r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
