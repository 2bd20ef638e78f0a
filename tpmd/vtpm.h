/* One vTPM managed by hearth-tpmd: its directory (state, control socket,
 * pid, status), manufacture, hardened swtpm start, health and wipe. */
#ifndef TPMD_VTPM_H
#define TPMD_VTPM_H

/* The deadline for one swtpm control or TPM command while manufacturing or
 * verifying. Key generation is the slow step (swtpm's RSA-2048 primes take
 * ~50 ms on a fast host, seconds under emulation, and hardware TPMs allow
 * tens of seconds); a deadline only has to catch a swtpm that hangs. */
#define VTPM_COMMAND_TIMEOUT_MS 30000

#include "ca.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum vtpm_state { VTPM_READY, VTPM_ALLOCATED };

struct vtpm {
    char id[33];
    enum vtpm_state state;
    pid_t pid;
    char dir[700];
    char sock[760];
    double manufacture_ms;
    bool ondemand;
    struct vtpm *next;
};

struct vtpm_opts {
    const char *state_dir;
    bool ek_rsa, ek_ecc; /* fast path: RSA-2048 and/or ECC P-256 EKs (swtpm_setup
                          * always makes RSA-2048 and ECC P-384) */
    const char *user;  /* run swtpm as this user; NULL: root */
    bool fast;         /* manufacture over the data channel, not swtpm_setup */
    const char *pcr_banks; /* active PCR banks, e.g. "sha256" or "sha1,sha256" */
};

/* Creates STATE/vtpms/<new random id> and manufactures the TPM: EK,
 * EK certificate and platform certificate signed by the CA, NV locked,
 * then its swtpm ready to serve. Either with swtpm_setup (the reference)
 * or, with o->fast, by starting the hardened swtpm once and driving it over
 * its own data channel (tpmd/fast.c). On failure nothing is left behind. */
int vtpm_create(const struct vtpm_opts *o, const struct ca *ca, struct vtpm *v, char *err,
                size_t errlen);

/* The fast path's body, for vtpm_create: v->dir and v->sock are set and the
 * directory exists; on return swtpm runs and certs/ holds the DER files. */
int vtpm_manufacture_fast(const struct vtpm_opts *o, const struct ca *ca, struct vtpm *v,
                          char *err, size_t errlen);

/* Starts swtpm for an existing state (used by create and by recovery). */
int vtpm_start_swtpm(const struct vtpm_opts *o, struct vtpm *v, char *err, size_t errlen);

/* True while v's swtpm process runs (and is really v's: checked against
 * its command line, so a recycled pid does not count). */
bool vtpm_alive(const struct vtpm *v);

/* Gives an allocated vTPM's swtpm normal scheduling priority (it was
 * manufactured at nice 10). */
void vtpm_set_serving(const struct vtpm *v);

/* Records the state on disk (status file, replaced atomically by rename;
 * see vtpm.c for why it is not flushed). */
int vtpm_save_status(const struct vtpm *v);

/* Stops v's swtpm and removes its directory; the id is never used again. */
void vtpm_wipe(struct vtpm *v);

/* Reads STATE/vtpms/<id> back after a restart. -1 when incomplete. */
int vtpm_load(const char *state_dir, const char *id, struct vtpm *v);

#endif
