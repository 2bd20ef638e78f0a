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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM_BUFFER_MAX 4096

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
    size_t max_command; /* largest command and response the TPM accepts */
};

static inline int tpm_submit(struct tpm_backend *b, const uint8_t *cmd, size_t len,
                             uint8_t locality, tpm_done_fn *done, void *ctx)
{
    return b->ops->submit(b->impl, cmd, len, locality, done, ctx);
}
static inline void tpm_cancel(struct tpm_backend *b) { b->ops->cancel(b->impl); }
static inline bool tpm_failed(struct tpm_backend *b) { return b->ops->failed(b->impl); }

#endif
