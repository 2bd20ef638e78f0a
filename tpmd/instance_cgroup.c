/* hearth-tpmd's swtpm cgroups, on the shared confinement module. */
#include "instance_cgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARENT "hearth-tpmd"

/* The limits, in the file names of the host's cgroup version. */
static int settings(enum cgroup_version v, struct cgroup_setting out[2], char mem[24], char pids[8])
{
    snprintf(mem, 24, "%llu", VTPM_CGROUP_MEMORY);
    snprintf(pids, 8, "%d", VTPM_CGROUP_PIDS);
    out[0] =
        (struct cgroup_setting){ v == CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes", mem };
    out[1] = (struct cgroup_setting){ "pids.max", pids };
    return 2;
}

void vtpm_cgroup_of(const char *id, struct cgroup *cg)
{
    struct cgroup_setting s[2];
    char mem[24], pids[8], err[128];
    enum cgroup_version v = cgroup_host_version();
    cgroup_init(cg, v, PARENT, id, s, settings(v, s, mem, pids), err, sizeof(err));
}

bool vtpm_cgroup_create(const char *id, struct cgroup *cg)
{
    const char *off = getenv(CGROUP_DISABLE_ENV);
    if (off && strcmp(off, "1") == 0)
        return false;
    struct cgroup_setting s[2];
    char mem[24], pids[8], err[256];
    enum cgroup_version v = cgroup_host_version();
    return cgroup_create(cg, v, PARENT, id, s, settings(v, s, mem, pids), err, sizeof(err)) == 0;
}

void vtpm_cgroup_kill(const char *id)
{
    struct cgroup cg;
    vtpm_cgroup_of(id, &cg);
    cgroup_kill(&cg);
}

void vtpm_cgroup_remove(const char *id)
{
    struct cgroup cg;
    vtpm_cgroup_of(id, &cg);
    cgroup_remove(&cg);
}
