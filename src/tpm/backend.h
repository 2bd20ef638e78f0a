/* The TPM command executor behind every transport (CRB, TIS, virtio-tpm).
 * Transports submit a command from a vCPU thread and return at once; the
 * backend runs it elsewhere and calls `done` exactly once per accepted
 * submit, from its own thread, with the response, or with a TPM failure
 * response when the TPM is gone or too slow or the backend is closing. Even
 * on close: a transport may hold state (a locked buffer, a chain taken from
 * the guest) until `done`, and a command that never answers would leave it
 * held, so closing completes the command rather than forgetting it. `done`
 * has run for every command by the time the backend's close returns, so the
 * transport may be destroyed right after. */
#ifndef HEARTH_TPM_BACKEND_H
#define HEARTH_TPM_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TPM_BUFFER_MAX 4096

/* The transport that starts a command (START, tpmGo) holds the guest's
 * vCPU until the answer is in, up to the backend's sync_wait_ns, which is
 * the backend's own bound for answering (it answers TPM_RC_FAILURE by
 * then), or until the VMM needs the vCPU (a pause or the stop quiesces the
 * device, which lets go at once: devices/device.h). Why hold it that
 * long: a guest driver starts its command's deadline when that write
 * returns and polls against it (Linux's
 * tpm_try_transmit: 750 ms for GetCapability or PCR_Extend, with no last
 * look once the deadline has passed). On a starved host a command swtpm
 * answered in time still missed such a deadline ("tpm tpm0: Operation
 * Timed out") when the write returned early: an answer that is already
 * there when the write returns cannot. Most commands take swtpm 30-100 us,
 * so the guest's first status read sees the answer and it never polls
 * (Linux sleeps 1 ms between polls, with the timer and halt exits around
 * each sleep). The cost: a vCPU held for a slow command (key generation),
 * at most this bound. */

/* A guest that reads the status again sooner than this while a command
 * runs (only once tpmGo's hold ran out) is spinning on it (Linux sleeps
 * 1 ms between polls): its read waits like tpmGo does, for the answer or
 * the bound, rather than cost an exit every few microseconds and the CPU
 * the TPM needs. */
#define TPM_SPIN_NS 500000ull

typedef void tpm_done_fn(void *ctx, const uint8_t *rsp, size_t len);

struct tpm_backend_ops {
    /* Copies cmd[0..len) and queues it for `locality`. -EBUSY while
     * another command is in flight. Never blocks. */
    int (*submit)(void *impl, const uint8_t *cmd, size_t len, uint8_t locality, tpm_done_fn *done,
                  void *ctx);
    /* Asks the TPM to cancel the command in flight, if any. Never blocks. */
    void (*cancel)(void *impl);
    /* True once the TPM has failed; every later command fails too. */
    bool (*failed)(void *impl);
};

struct tpm_backend {
    const struct tpm_backend_ops *ops;
    void *impl;
    size_t max_command;    /* largest command and response the TPM accepts */
    uint64_t sync_wait_ns; /* what a transport may wait for an answer (0: never) */
};

static inline int tpm_submit(struct tpm_backend *b, const uint8_t *cmd, size_t len,
                             uint8_t locality, tpm_done_fn *done, void *ctx)
{
    return b->ops->submit(b->impl, cmd, len, locality, done, ctx);
}
static inline void tpm_cancel(struct tpm_backend *b) { b->ops->cancel(b->impl); }
static inline bool tpm_failed(struct tpm_backend *b) { return b->ops->failed(b->impl); }

/* A condition variable on CLOCK_MONOTONIC, for tpm_sync_deadline. */
static inline void tpm_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* When a transport stops waiting for the command it just submitted. */
static inline struct timespec tpm_sync_deadline(const struct tpm_backend *b)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t ns = (uint64_t)t.tv_nsec + b->sync_wait_ns;
    t.tv_sec += (time_t)(ns / 1000000000u);
    t.tv_nsec = (long)(ns % 1000000000u);
    return t;
}

#endif
