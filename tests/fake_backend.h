/* A TPM backend for unit tests and fuzzing: records the submitted command
 * and completes it only when asked, with an echo-style response. */
#ifndef HEARTH_FAKE_BACKEND_H
#define HEARTH_FAKE_BACKEND_H

#include "tpm/backend.h"

#include <stdbool.h>

struct fake_backend {
    struct tpm_backend be;
    bool pending, failed;
    uint8_t cmd[TPM_BUFFER_MAX];
    size_t cmd_len;
    uint8_t locality;
    tpm_done_fn *done;
    void *ctx;
    int submits, cancels;
    size_t rsp_len; /* response size to produce; 0: 10 + command length */
};

void fake_backend_init(struct fake_backend *f, size_t max_command);
/* Completes the pending command: a success response of rsp_len bytes.
 * Returns false when nothing was pending. */
bool fake_backend_complete(struct fake_backend *f);

#endif
