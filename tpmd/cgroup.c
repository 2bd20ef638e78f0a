/* cgroup v2 / v1 confinement of swtpm processes. */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define V2_ROOT "/sys/fs/cgroup"
#define V1_MEMORY "/sys/fs/cgroup/memory"
#define V1_PIDS "/sys/fs/cgroup/pids"

static bool write_str(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
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
    if (is_v2()) {
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

void cgroup_enter(const char *id)
{
    char dir[256], file[320], pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (is_v2()) {
        dir_of(dir, sizeof(dir), V2_ROOT, id);
        snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
        write_str(file, pid);
        return;
    }
    static const char *const roots[2] = { V1_MEMORY, V1_PIDS };
    for (int i = 0; i < 2; i++) {
        dir_of(dir, sizeof(dir), roots[i], id);
        snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
        write_str(file, pid);
    }
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
