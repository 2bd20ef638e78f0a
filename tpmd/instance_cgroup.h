/* Memory and pids limits for one swtpm: the group hearth-tpmd/<id> of the
 * shared confinement module (src/jail/cgroup.h), in cgroup v2 or v1,
 * whichever the host mounts; a host without writable cgroups runs swtpm
 * unconfined. */
#ifndef TPMD_INSTANCE_CGROUP_H
#define TPMD_INSTANCE_CGROUP_H

#include "jail/cgroup.h"

#include <stdbool.h>

#define VTPM_CGROUP_MEMORY (64ULL << 20) /* swtpm needs ~1 MiB; generous cap */
#define VTPM_CGROUP_PIDS 8

/* Set to 1 in the daemon's environment, cgroups count as not writable:
 * the tests' way to run as on a host without them. */
#define CGROUP_DISABLE_ENV "HEARTH_TPMD_NO_CGROUPS"

/* The group of vTPM id (nothing created). */
void vtpm_cgroup_of(const char *id, struct cgroup *cg);

/* Creates it with the limits. false when cgroups are not writable here, or
 * CGROUP_DISABLE_ENV is 1 (callers log that once). */
bool vtpm_cgroup_create(const char *id, struct cgroup *cg);

/* SIGKILLs every process in it (none: nothing happens); removes it once
 * its processes are gone. */
void vtpm_cgroup_kill(const char *id);
void vtpm_cgroup_remove(const char *id);

#endif
