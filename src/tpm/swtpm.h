/* The swtpm backend: drives an external swtpm over its control socket
 * (capabilities, SET_DATAFD, STOP, SET_BUFFERSIZE, INIT, SET_LOCALITY,
 * CANCEL_TPM_CMD, SHUTDOWN) and runs TPM commands on its own thread over
 * the data channel, each bounded by a timeout. */
#ifndef HEARTH_SWTPM_H
#define HEARTH_SWTPM_H

#include "tpm/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the backend has done since it opened. */
struct swtpm_stats {
    uint64_t commands, failures;
    uint64_t bytes_in, bytes_out;              /* command and response bytes */
    uint64_t latency_ns_total, latency_ns_max; /* submit to response, per command */
    /* The slowest command: its ordinal, and how long of it the command
     * waited for the tpm thread (the rest is swtpm and the way back). */
    uint32_t slowest_ordinal;
    uint64_t slowest_queued_ns;
};

struct swtpm {
    int ctrl_fd;
    int data_fd;
    int wake_fd; /* eventfd: a job, a cancel or shutdown is pending */
    int timeout_ms;
    uint64_t caps;
    uint32_t buffer_size; /* what swtpm accepted */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool shutdown;
    bool busy; /* a job is queued or running */
    bool cancel_requested;
    uint8_t locality, cur_locality;
    uint8_t cmd[TPM_BUFFER_MAX];
    size_t cmd_len;
    tpm_done_fn *done;
    void *done_ctx;

    atomic_bool failed; /* sticky: logged once, every later command fails */
    bool keep_running;  /* close without SHUTDOWN (swtpm_release) */
    bool seccomp;       /* the command thread installs its filter */
    uint8_t rsp[TPM_BUFFER_MAX];

    struct swtpm_stats stats;          /* under lock */
    uint64_t submitted_ns, started_ns; /* the command in flight: submitted, picked up */
};

extern const struct tpm_backend_ops swtpm_backend_ops;

/* Connects to swtpm's control socket at ctrl_path, or with ctrl_fd >= 0
 * takes that descriptor as the control channel, already connected (a
 * jailed hearth cannot reach swtpm's socket path: hearth-jailer's
 * --tpm-socket): it is the swtpm's from then on, closed on failure or by
 * swtpm_close, and ctrl_path only names it in messages. Then makes the TPM
 * ready: checks its
 * capabilities, hands it a data channel, sets the buffer size, INIT, and
 * TPM2_Startup(CLEAR) (an already started TPM is fine). Each step is
 * bounded by timeout_ms. On failure returns -errno with a message in err
 * and leaves nothing open. */
int swtpm_open(struct swtpm *s, const char *ctrl_path, int ctrl_fd, int timeout_ms, char *err,
               size_t errlen);

/* Runs one command synchronously (tools and manufacture only: before
 * swtpm_start, never on a vCPU). Returns 0 with the response, or -errno. */
int swtpm_command(struct swtpm *s, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len);

/* Closes our connections but leaves swtpm running for its next client
 * (no SHUTDOWN): a manufactured vTPM stays ready to serve. */
void swtpm_release(struct swtpm *s);

/* How long a transport may hold a vCPU for an answer (tpm/backend.h):
 * this backend answers every command by then, TPM_RC_FAILURE at worst. */
uint64_t swtpm_answer_bound_ns(const struct swtpm *s);
/* Starts the command thread; fills `b` to use this backend. */
int swtpm_start(struct swtpm *s, struct tpm_backend *b);

/* A consistent copy of the statistics; any thread. */
void swtpm_get_stats(struct swtpm *s, struct swtpm_stats *out);

/* Logs (at Info) how many commands ran and their submit-to-response
 * latency: the monitor's and swtpm's share of a guest's TPM command. */
void swtpm_log_stats(struct swtpm *s);

/* Stops the thread, sends SHUTDOWN, and closes everything. A command queued
 * or in flight is abandoned at once (not left to its deadline) and its
 * `done` runs, with TPM_RC_FAILURE, before this returns. Safe after a
 * failed or partial open. */
void swtpm_close(struct swtpm *s);

#endif
