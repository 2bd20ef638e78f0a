/* Fake TPM backend: deferred completion, canned responses. */
#include "fake_backend.h"

#include "tpm/wire.h"

#include <errno.h>
#include <string.h>

static int fake_submit(void *impl, const uint8_t *cmd, size_t len, uint8_t locality,
                       tpm_done_fn *done, void *ctx)
{
    struct fake_backend *f = impl;
    if (f->pending)
        return -EBUSY;
    memcpy(f->cmd, cmd, len);
    f->cmd_len = len;
    f->locality = locality;
    f->done = done;
    f->ctx = ctx;
    f->pending = true;
    f->submits++;
    return 0;
}

static void fake_cancel(void *impl) { ((struct fake_backend *)impl)->cancels++; }
static bool fake_failed(void *impl) { return ((struct fake_backend *)impl)->failed; }

static const struct tpm_backend_ops fake_ops = { fake_submit, fake_cancel, fake_failed };

void fake_backend_init(struct fake_backend *f, size_t max_command)
{
    memset(f, 0, sizeof(*f));
    f->be = (struct tpm_backend){ .ops = &fake_ops, .impl = f, .max_command = max_command };
}

bool fake_backend_complete(struct fake_backend *f)
{
    if (!f->pending)
        return false;
    static uint8_t rsp[TPM_BUFFER_MAX];
    size_t len = f->rsp_len ? f->rsp_len : TPM_HEADER_SIZE + f->cmd_len;
    if (len > sizeof(rsp))
        len = sizeof(rsp);
    memset(rsp, 0x5a, len);
    tpm_error_response(rsp, TPM_RC_SUCCESS);
    tpm_put_be32(rsp + 2, (uint32_t)len);
    f->pending = false;
    f->done(f->ctx, rsp, len);
    return true;
}
