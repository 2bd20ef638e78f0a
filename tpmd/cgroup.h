/* Memory and pids limits for one swtpm, in cgroup v2 or v1 (whichever the
 * host mounts writable); a host without either runs swtpm unconfined. */
#ifndef TPMD_CGROUP_H
#define TPMD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_SWTPM_MEMORY (64ULL << 20) /* swtpm needs ~1 MiB; generous cap */
#define CGROUP_SWTPM_PIDS 8

/* Set to 1 in the daemon's environment, cgroups count as not writable:
 * the tests' way to run as on a host without them. */
#define CGROUP_DISABLE_ENV "HEARTH_TPMD_NO_CGROUPS"

/* Creates the cgroup(s) hearth-tpmd/<id> with the limits. false when
 * cgroups are not writable here, or CGROUP_DISABLE_ENV is 1 (callers log
 * that once). */
bool cgroup_create(const char *id);

/* Moves the calling process into them (from the launcher child, before
 * exec, so swtpm and its daemonized child are confined). Async-signal-safe:
 * callable between fork and exec in a multi-threaded process. */
void cgroup_enter(const char *id);

/* SIGKILLs every process in the cgroup(s) of id (none: nothing happens). */
void cgroup_kill(const char *id);

/* Removes the cgroup(s) of an id whose processes are gone. */
void cgroup_remove(const char *id);

#endif
