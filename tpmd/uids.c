/* The host-wide registry of vTPM uid ranges (see uids.h). */
#include "uids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct range {
    uint64_t base, count;
    char state[512];
};

static bool overlap(uint64_t b1, uint64_t c1, uint64_t b2, uint64_t c2)
{
    return b1 < b2 + c2 && b2 < b1 + c1;
}

/* Registry entry `name` (its base) as a range; false if unreadable. */
static bool read_entry(int dirfd, const char *name, struct range *r)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[600] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unsigned long long count;
    return n > 0 &&
           sscanf(buf, "%llu %llu %511[^\n]", (unsigned long long *)&r->base, &count, r->state) ==
               3 &&
           (r->count = count, true);
}

static bool write_file(int dirfd, const char *name, const char *text)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    unlinkat(dirfd, tmp, 0);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    return close(fd) == 0 && ok && renameat(dirfd, tmp, dirfd, name) == 0;
}

/* The registry as a fresh stream: a dup() would share (and leave at the
 * end) the directory offset of dirfd, and every later scan would see
 * nothing. */
static DIR *scan(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    return d;
}

/* Whether a passwd or group entry has an id in [base, base + count):
 * those are somebody's, and a wipe kills every process of a vTPM uid. */
static bool accounts_in(uint64_t base, uint64_t count, char *who, size_t len)
{
    bool found = false;
    setpwent();
    for (struct passwd *pw; !found && (pw = getpwent());)
        if ((found = pw->pw_uid >= base && pw->pw_uid < base + count))
            snprintf(who, len, "user %s (%u)", pw->pw_name, (unsigned)pw->pw_uid);
    endpwent();
    setgrent();
    for (struct group *gr; !found && (gr = getgrent());)
        if ((found = gr->gr_gid >= base && gr->gr_gid < base + count))
            snprintf(who, len, "group %s (%u)", gr->gr_name, (unsigned)gr->gr_gid);
    endgrent();
    return found;
}

/* The first conflict of [base, base + count) with another live state
 * directory's range, or NULL. Stale entries are removed on the way. */
static bool conflicts(int dirfd, const char *state_dir, uint64_t base, uint64_t count,
                      struct range *with)
{
    DIR *d = scan(dirfd);
    if (!d)
        return true;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct range r;
        if (!read_entry(dirfd, e->d_name, &r) || strcmp(r.state, state_dir) == 0)
            continue;
        struct stat st;
        if (stat(r.state, &st) < 0) { /* its state directory is gone: free */
            unlinkat(dirfd, e->d_name, 0);
            continue;
        }
        if (overlap(base, count, r.base, r.count)) {
            *with = r;
            found = true;
        }
    }
    closedir(d);
    return found;
}

int uids_claim(const char *state_dir, uid_t *base, int count, bool chosen, char *err, size_t errlen)
{
    if (mkdir("/run/hearth-tpmd", 0700) < 0 && errno != EEXIST)
        goto io;
    if (mkdir(UIDS_REGISTRY, 0700) < 0 && errno != EEXIST)
        goto io;
    int dirfd = open(UIDS_REGISTRY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        goto io;
    flock(dirfd, LOCK_EX); /* one daemon claims at a time */
    uint64_t b = *base;
    char who[300] = "";
    if (!chosen) { /* the range this state directory had, else the first free one */
        char path[600];
        snprintf(path, sizeof(path), "%s/uid-range", state_dir);
        FILE *f = fopen(path, "re");
        unsigned long long sb = 0, sc = 0;
        bool have = f && fscanf(f, "%llu %llu", &sb, &sc) == 2 && sc == (unsigned long long)count;
        if (f)
            fclose(f);
        struct range r;
        if (have && !conflicts(dirfd, state_dir, sb, (uint64_t)count, &r))
            b = sb;
        else
            for (b = UIDS_DEFAULT_BASE; b + (uint64_t)count <= 0xfffffffeULL;) {
                if (conflicts(dirfd, state_dir, b, (uint64_t)count, &r))
                    b = r.base + r.count; /* past the range in the way */
                else if (accounts_in(b, (uint64_t)count, who, sizeof(who)))
                    b += (uint64_t)count;
                else
                    break;
            }
    }
    struct range with;
    int ret = -1;
    if (b + (uint64_t)count > 0xfffffffeULL)
        snprintf(err, errlen, "no free uid range of %d below 2^32 - 1", count);
    else if (accounts_in(b, (uint64_t)count, who, sizeof(who)))
        snprintf(err, errlen,
                 "--uid-base %llu: %s has an id in uids %llu..%llu; vTPM uids must be "
                 "nobody's",
                 (unsigned long long)b, who, (unsigned long long)b,
                 (unsigned long long)(b + (uint64_t)count - 1));
    else if (conflicts(dirfd, state_dir, b, (uint64_t)count, &with))
        snprintf(err, errlen,
                 "--uid-base %llu: uids %llu..%llu belong to hearth-tpmd state %s; give each "
                 "state directory its own range",
                 (unsigned long long)b, (unsigned long long)with.base,
                 (unsigned long long)(with.base + with.count - 1), with.state);
    else {
        char name[32], text[600], path[600];
        snprintf(name, sizeof(name), "%llu", (unsigned long long)b);
        snprintf(text, sizeof(text), "%llu %d %s\n", (unsigned long long)b, count, state_dir);
        /* Our old entry (another base) goes: a state directory holds one range. */
        DIR *d = scan(dirfd);
        struct dirent *e;
        struct range r;
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.' && strcmp(e->d_name, name) != 0 &&
                read_entry(dirfd, e->d_name, &r) && strcmp(r.state, state_dir) == 0)
                unlinkat(dirfd, e->d_name, 0);
        if (d)
            closedir(d);
        snprintf(path, sizeof(path), "%s/uid-range", state_dir);
        FILE *f = fopen(path, "we");
        bool ok = write_file(dirfd, name, text) && f &&
                  fprintf(f, "%llu %d\n", (unsigned long long)b, count) > 0;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok) {
            *base = (uid_t)b;
            ret = 0;
        } else {
            snprintf(err, errlen, "recording the uid range: %s", strerror(errno));
        }
    }
    close(dirfd); /* drops the lock */
    return ret;
io:
    snprintf(err, errlen, "%s: %s", UIDS_REGISTRY, strerror(errno));
    return -1;
}
