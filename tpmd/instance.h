/* One vTPM instance managed by hearth-tpmd (not the monitor's vTPM device,
 * src/tpm/vtpm.h): its directory, manufacture, hardened swtpm start under
 * the vTPM's own uid, health and wipe.
 *
 * Layout: STATE/vtpms/<id>/ is root's (0711): status, launch.log,
 * setup.log and certs/ are written there by the root daemon, where no swtpm
 * can plant a symlink. Only STATE/vtpms/<id>/tpm/ (0700) belongs to the
 * vTPM's uid: swtpm's state, pid file, log and control socket. */
#ifndef TPMD_INSTANCE_H
#define TPMD_INSTANCE_H

/* The deadline for one swtpm control or TPM command while manufacturing or
 * verifying. Key generation is the slow step (swtpm's RSA-2048 primes take
 * ~50 ms on a fast host, seconds under emulation, and hardware TPMs allow
 * tens of seconds); a deadline only has to catch a swtpm that hangs. */
#define VTPM_COMMAND_TIMEOUT_MS 30000
/* swtpm_setup (several key generations) or swtpm's daemonizing parent:
 * killed past this. */
#define VTPM_RUN_TIMEOUT_MS (10 * VTPM_COMMAND_TIMEOUT_MS)

#include "ca.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* MANUFACTURING is only ever on disk: a status a crash interrupted. FAILED:
 * an allocated vTPM whose swtpm died; it stays until its owner frees it. */
enum vtpm_state { VTPM_READY, VTPM_ALLOCATED, VTPM_FAILED, VTPM_MANUFACTURING };

struct vtpm {
    char id[33];
    enum vtpm_state state;
    pid_t pid; /* swtpm's; while swtpm_setup manufactures, the id of the session
                * it leads (on disk before it runs) */
    uid_t uid; /* swtpm's uid and gid, this vTPM's alone; 0: root (no uid range) */
    char dir[700];
    char tpm_dir[720]; /* dir/tpm: the only place the uid can write */
    char sock[760];
    double manufacture_ms;
    bool ondemand;
    struct vtpm *next;
};

struct vtpm_opts {
    const char *state_dir;
    bool ek_rsa, ek_ecc;   /* fast path: RSA-2048 and/or ECC P-256 EKs (swtpm_setup
                            * always makes RSA-2048 and ECC P-384) */
    bool fast;             /* manufacture over the data channel, not swtpm_setup */
    const char *pcr_banks; /* active PCR banks, e.g. "sha256" or "sha1,sha256" */
};

/* Creates STATE/vtpms/<new random id> for swtpm uid `uid` (0: root) and
 * manufactures the TPM: EK,
 * EK certificate and platform certificate signed by the CA, NV locked,
 * then its swtpm ready to serve. Either with swtpm_setup (the reference)
 * or, with o->fast, by starting the hardened swtpm once and driving it over
 * its own data channel (tpmd/fast.c). On failure nothing is left behind. */
int vtpm_create(const struct vtpm_opts *o, const struct ca *ca, uid_t uid, struct vtpm *v,
                char *err, size_t errlen);

/* The fast path's body, for vtpm_create: v->dir and v->sock are set and the
 * directory exists; on return swtpm runs and certs/ holds the DER files. */
int vtpm_manufacture_fast(const struct vtpm_opts *o, const struct ca *ca, struct vtpm *v, char *err,
                          size_t errlen);

/* Starts swtpm for an existing state (used by create and by recovery). */
int vtpm_start_swtpm(const struct vtpm_opts *o, struct vtpm *v, char *err, size_t errlen);

/* True while v's swtpm process runs (and is really v's: its command line
 * names v's directory and it runs as v's uid, so a recycled pid or a pid
 * planted in the pid file does not count). */
bool vtpm_alive(const struct vtpm *v);

/* Gives an allocated vTPM's swtpm normal scheduling priority (it was
 * manufactured at nice 10). */
void vtpm_set_serving(const struct vtpm *v);

const char *vtpm_state_name(enum vtpm_state s);

/* Records the state on disk (status file, replaced atomically by rename;
 * see instance.c for why it is not flushed). */
int vtpm_save_status(const struct vtpm *v);

/* Kills every process v started (by its cgroup, by its uid, by
 * swtpm_setup's session for a manufacture that was interrupted, and by its
 * pid), then removes its directory and cgroup; the id is never used again.
 * Works from what vtpm_load could read of an interrupted manufacture: the
 * session kill needs no cgroup and reaches swtpm_setup's root processes. -1
 * (directory left, uid still in use) when the uid's processes could not
 * be killed. */
int vtpm_wipe(struct vtpm *v);

/* Kills every process of v (by uid and cgroup) without removing anything:
 * before its swtpm is started again. */
void vtpm_kill(struct vtpm *v);

/* Reads STATE/vtpms/<id> back after a restart. -1 when incomplete (a
 * manufacture a crash interrupted): v still holds the id, directory, uid
 * and pid read so far, for vtpm_wipe. */
int vtpm_load(const char *state_dir, const char *id, struct vtpm *v);

#endif
