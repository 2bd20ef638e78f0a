/* Confinement by cgroups, v2 or v1, for hearth-jailer's microVMs and
 * hearth-tpmd's swtpms alike: a group <parent>/<id> per process tree, its
 * limits written before any process enters, then the process itself. */
#ifndef HEARTH_JAIL_CGROUP_H
#define HEARTH_JAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_MAX_SETTINGS 8
#define CGROUP_MAX_CONTROLLERS 8

enum cgroup_version { CGROUP_AUTO = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

/* One limit: "memory.max" = "67108864" (v2) or "memory.limit_in_bytes"
 * (v1): the controller is the file name up to its first dot. */
struct cgroup_setting {
    const char *file;
    const char *value;
};

struct cgroup {
    enum cgroup_version version;
    char parent[64], id[72];
    int ncontrollers; /* the v1 hierarchies it lives in (v2: one) */
    char controllers[CGROUP_MAX_CONTROLLERS][16];
};

/* The version the host mounts: v2 when /sys/fs/cgroup is a unified
 * hierarchy, else v1. */
enum cgroup_version cgroup_host_version(void);

/* Describes <root>/<parent>/<id> in each controller the settings name
 * (nothing is created: enough to enter, kill or remove a group made
 * earlier, by this process or one before it). -1 with a message for a
 * setting that names no controller. */
int cgroup_init(struct cgroup *cg, enum cgroup_version version, const char *parent, const char *id,
                const struct cgroup_setting *settings, int n, char *err, size_t errlen);

/* cgroup_init, then creates the group (v2: once, the controllers enabled on
 * the way down) and writes the settings. -1 with a message naming the file
 * on failure. */
int cgroup_create(struct cgroup *cg, enum cgroup_version version, const char *parent,
                  const char *id, const struct cgroup_setting *settings, int n, char *err,
                  size_t errlen);

/* Moves the calling process in. Async-signal-safe (between fork and exec
 * in a threaded process). 0, or -1 when a hierarchy refused it. */
int cgroup_enter(const struct cgroup *cg);

/* v2 only: the group's directory, for clone3(CLONE_INTO_CGROUP), which
 * starts a child in it without a migration (on this kind of host a
 * migration waits for an RCU grace period, ~10 ms). -1 on v1. */
int cgroup_open_dir(const struct cgroup *cg);

/* SIGKILLs every process in it, then removes it (waiting briefly for the
 * processes to leave). */
void cgroup_kill(const struct cgroup *cg);
void cgroup_remove(const struct cgroup *cg);

#endif
