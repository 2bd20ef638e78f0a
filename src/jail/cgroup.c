/* cgroup v2 / v1 confinement shared by hearth-jailer and hearth-tpmd. */
#include "jail/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT "/sys/fs/cgroup"

enum cgroup_version cgroup_host_version(void)
{
    return access(ROOT "/cgroup.controllers", F_OK) == 0 ? CGROUP_V2 : CGROUP_V1;
}

static int write_str(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(value);
    int r = write(fd, value, n) == (ssize_t)n ? 0 : -1;
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/* dir of controller i: /sys/fs/cgroup[/<controller>]/<parent>/<id>. */
static void dir_of(const struct cgroup *cg, int i, bool leaf, char *out, size_t len)
{
    if (cg->version == CGROUP_V2)
        snprintf(out, len, ROOT "/%s%s%s", cg->parent, leaf ? "/" : "", leaf ? cg->id : "");
    else
        snprintf(out, len, ROOT "/%s/%s%s%s", cg->controllers[i], cg->parent, leaf ? "/" : "",
                 leaf ? cg->id : "");
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "cgroup %s %s: %s", what, path, strerror(errno));
    return -1;
}

static int add_controller(struct cgroup *cg, const char *file)
{
    size_t n = strcspn(file, ".");
    if (n == 0 || n >= sizeof(cg->controllers[0]) || !file[n])
        return -1;
    for (int i = 0; i < cg->ncontrollers; i++)
        if (strlen(cg->controllers[i]) == n && strncmp(cg->controllers[i], file, n) == 0)
            return 0;
    if (cg->ncontrollers == CGROUP_MAX_CONTROLLERS)
        return -1;
    memcpy(cg->controllers[cg->ncontrollers], file, n);
    cg->controllers[cg->ncontrollers++][n] = 0;
    return 0;
}

int cgroup_init(struct cgroup *cg, enum cgroup_version version, const char *parent, const char *id,
                const struct cgroup_setting *settings, int n, char *err, size_t errlen)
{
    memset(cg, 0, sizeof(*cg));
    cg->version = version == CGROUP_AUTO ? cgroup_host_version() : version;
    snprintf(cg->parent, sizeof(cg->parent), "%s", parent);
    snprintf(cg->id, sizeof(cg->id), "%s", id);
    for (int i = 0; i < n; i++) {
        if (strchr(settings[i].file, '/') || add_controller(cg, settings[i].file) < 0) {
            snprintf(err, errlen, "cgroup setting %s: not <controller>.<file>", settings[i].file);
            return -1;
        }
    }
    return 0;
}

/* v2: the controllers, enabled from the root down to <parent>. */
static int enable_v2(const struct cgroup *cg, char *err, size_t errlen)
{
    char enable[160] = "", path[512], file[600];
    for (int i = 0; i < cg->ncontrollers; i++)
        snprintf(enable + strlen(enable), sizeof(enable) - strlen(enable), "%s+%s", i ? " " : "",
                 cg->controllers[i]);
    /* A controller reaches <parent>/<id> only when every ancestor enables
     * it for its children: the root first (systemd hosts already do; a
     * bare cgroup2 mount does not). */
    if (enable[0])
        write_str(ROOT "/cgroup.subtree_control", enable);
    snprintf(path, sizeof(path), ROOT "/%s", cg->parent);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return fail(err, errlen, "creating", path);
    snprintf(file, sizeof(file), "%s/cgroup.subtree_control", path);
    if (enable[0] && write_str(file, enable) < 0)
        return fail(err, errlen, "enabling controllers in", file);
    return 0;
}

int cgroup_create(struct cgroup *cg, enum cgroup_version version, const char *parent,
                  const char *id, const struct cgroup_setting *settings, int n, char *err,
                  size_t errlen)
{
    if (cgroup_init(cg, version, parent, id, settings, n, err, errlen) < 0)
        return -1;
    char path[512], file[600];
    int dirs = cg->version == CGROUP_V2 ? 1 : cg->ncontrollers;
    if (cg->version == CGROUP_V2 && enable_v2(cg, err, errlen) < 0)
        return -1;
    for (int i = 0; i < dirs; i++) {
        if (cg->version == CGROUP_V1) {
            dir_of(cg, i, false, path, sizeof(path));
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return fail(err, errlen, "creating", path);
        }
        dir_of(cg, i, true, path, sizeof(path));
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return fail(err, errlen, "creating", path);
    }
    /* The limits, before any process is in. */
    for (int i = 0; i < n; i++) {
        int c = 0;
        while (cg->version == CGROUP_V1 &&
               strncmp(settings[i].file, cg->controllers[c], strlen(cg->controllers[c])))
            c++;
        dir_of(cg, c, true, path, sizeof(path));
        snprintf(file, sizeof(file), "%s/%s", path, settings[i].file);
        if (write_str(file, settings[i].value) < 0)
            return fail(err, errlen, "writing", file);
    }
    return 0;
}

/* Async-signal-safe: no stdio, no malloc. */
static size_t append(char *out, size_t n, size_t cap, const char *s)
{
    while (*s && n + 1 < cap)
        out[n++] = *s++;
    out[n] = 0;
    return n;
}

int cgroup_enter(const struct cgroup *cg)
{
    char pid[16];
    int len = 0;
    for (unsigned v = (unsigned)getpid(); v || !len; v /= 10)
        pid[len++] = (char)('0' + v % 10);
    for (int i = 0; i < len / 2; i++) {
        char t = pid[i];
        pid[i] = pid[len - 1 - i];
        pid[len - 1 - i] = t;
    }
    pid[len] = 0;
    int r = 0;
    for (int i = 0; i < (cg->version == CGROUP_V2 ? 1 : cg->ncontrollers); i++) {
        char path[512];
        size_t n = append(path, 0, sizeof(path), ROOT "/");
        if (cg->version == CGROUP_V1) {
            n = append(path, n, sizeof(path), cg->controllers[i]);
            n = append(path, n, sizeof(path), "/");
        }
        n = append(path, n, sizeof(path), cg->parent);
        n = append(path, n, sizeof(path), "/");
        n = append(path, n, sizeof(path), cg->id);
        append(path, n, sizeof(path), "/cgroup.procs");
        if (write_str(path, pid) < 0)
            r = -1;
    }
    return r;
}

int cgroup_open_dir(const struct cgroup *cg)
{
    if (cg->version != CGROUP_V2)
        return -1;
    char dir[512];
    dir_of(cg, 0, true, dir, sizeof(dir));
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void kill_procs(const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        if (pid > 0)
            kill(pid, SIGKILL);
    fclose(f);
}

void cgroup_kill(const struct cgroup *cg)
{
    char dir[512], file[600];
    for (int i = 0; i < (cg->version == CGROUP_V2 ? 1 : cg->ncontrollers); i++) {
        dir_of(cg, i, true, dir, sizeof(dir));
        snprintf(file, sizeof(file), "%s/cgroup.kill", dir);
        if (cg->version != CGROUP_V2 || write_str(file, "1") < 0) /* v1, or before Linux 5.14 */
            kill_procs(dir);
    }
}

void cgroup_remove(const struct cgroup *cg)
{
    char dir[512];
    for (int i = 0; i < (cg->version == CGROUP_V2 ? 1 : cg->ncontrollers); i++) {
        dir_of(cg, i, true, dir, sizeof(dir));
        /* A killed process leaves its group a moment after it stops. */
        for (int k = 0; k < 50 && rmdir(dir) < 0 && errno == EBUSY; k++)
            usleep(10000);
    }
}
