/* cgroup v2 / v1 confinement of swtpm processes. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define V2_ROOT "/sys/fs/cgroup"
#define V1_MEMORY "/sys/fs/cgroup/memory"
#define V1_PIDS "/sys/fs/cgroup/pids"

static bool write_str(const char *path, const char *value)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return false;
    bool ok = fputs(value, f) >= 0;
    return fclose(f) == 0 && ok;
}

static bool is_v2(void)
{
    return access(V2_ROOT "/cgroup.controllers", F_OK) == 0;
}

static void dir_of(char *out, size_t len, const char *root, const char *id)
{
    snprintf(out, len, "%s/hearth-tpmd%s%s", root, id ? "/" : "", id ? id : "");
}

bool cgroup_create(const char *id)
{
    char dir[256], file[320], value[32];
    const char *off = getenv(CGROUP_DISABLE_ENV);
    if (off && strcmp(off, "1") == 0)
        return false;
    if (is_v2()) {
        /* A controller reaches hearth-tpmd/<id> only when every ancestor
         * enables it for its children: the root first (systemd hosts
         * already do; a bare cgroup2 mount does not). */
        write_str(V2_ROOT "/cgroup.subtree_control", "+memory +pids");
        dir_of(dir, sizeof(dir), V2_ROOT, NULL);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return false;
        snprintf(file, sizeof(file), "%s/cgroup.subtree_control", dir);
        write_str(file, "+memory +pids");
        dir_of(dir, sizeof(dir), V2_ROOT, id);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return false;
        snprintf(file, sizeof(file), "%s/memory.max", dir);
        snprintf(value, sizeof(value), "%llu", CGROUP_SWTPM_MEMORY);
        bool ok = write_str(file, value);
        snprintf(file, sizeof(file), "%s/pids.max", dir);
        snprintf(value, sizeof(value), "%d", CGROUP_SWTPM_PIDS);
        return write_str(file, value) && ok;
    }
    bool ok = true;
    static const char *const roots[2] = { V1_MEMORY, V1_PIDS };
    for (int i = 0; i < 2; i++) {
        dir_of(dir, sizeof(dir), roots[i], NULL);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return false;
        dir_of(dir, sizeof(dir), roots[i], id);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return false;
    }
    dir_of(dir, sizeof(dir), V1_MEMORY, id);
    snprintf(file, sizeof(file), "%s/memory.limit_in_bytes", dir);
    snprintf(value, sizeof(value), "%llu", CGROUP_SWTPM_MEMORY);
    ok &= write_str(file, value);
    dir_of(dir, sizeof(dir), V1_PIDS, id);
    snprintf(file, sizeof(file), "%s/pids.max", dir);
    snprintf(value, sizeof(value), "%d", CGROUP_SWTPM_PIDS);
    ok &= write_str(file, value);
    return ok;
}

/* Called in a forked child of a multi-threaded daemon: only
 * async-signal-safe calls (no stdio, no malloc). */
static void enter_one(const char *root, const char *id)
{
    char path[256];
    size_t n = 0;
    const char *parts[4] = { root, "/hearth-tpmd/", id, "/cgroup.procs" };
    for (int i = 0; i < 4; i++)
        for (const char *p = parts[i]; *p && n + 1 < sizeof(path); p++)
            path[n++] = *p;
    path[n] = 0;
    char pid[16];
    int len = 0;
    for (unsigned v = (unsigned)getpid(); v || !len; v /= 10)
        pid[len++] = (char)('0' + v % 10);
    for (int i = 0; i < len / 2; i++) {
        char t = pid[i];
        pid[i] = pid[len - 1 - i];
        pid[len - 1 - i] = t;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, pid, (size_t)len);
        (void)w;
        close(fd);
    }
}

void cgroup_enter(const char *id)
{
    if (access(V2_ROOT "/cgroup.controllers", F_OK) == 0) {
        enter_one(V2_ROOT, id);
        return;
    }
    enter_one(V1_MEMORY, id);
    enter_one(V1_PIDS, id);
}

static void kill_procs(const char *dir)
{
    char path[320];
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

void cgroup_kill(const char *id)
{
    char dir[256], file[320];
    if (is_v2()) {
        dir_of(dir, sizeof(dir), V2_ROOT, id);
        snprintf(file, sizeof(file), "%s/cgroup.kill", dir);
        if (!write_str(file, "1")) /* before Linux 5.14 */
            kill_procs(dir);
        return;
    }
    dir_of(dir, sizeof(dir), V1_PIDS, id);
    kill_procs(dir);
}

/* A killed process leaves its cgroup a moment after it stops running:
 * retry EBUSY for up to half a second. */
static void remove_dir(const char *dir)
{
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno != EBUSY)
            return;
        usleep(10000);
    }
}

void cgroup_remove(const char *id)
{
    char dir[256];
    if (is_v2()) {
        dir_of(dir, sizeof(dir), V2_ROOT, id);
        remove_dir(dir);
        return;
    }
    dir_of(dir, sizeof(dir), V1_MEMORY, id);
    remove_dir(dir);
    dir_of(dir, sizeof(dir), V1_PIDS, id);
    remove_dir(dir);
}
