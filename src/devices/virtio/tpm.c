/* virtio-tpm device: commands from the queue to the TPM backend and back. */
#include "devices/virtio/tpm.h"

#include "tpm/wire.h"

#include <string.h>

#define TPM_RC_SIZE 0x095

static void process_locked(struct virtio_tpm *t);

static void finish_locked(struct virtio_tpm *t, const uint8_t *rsp, size_t len)
{
    struct virtio_mmio *m = &t->mmio;
    uint8_t err[TPM_HEADER_SIZE];
    if (len > t->chain.in_len) {
        /* The guest's buffer is too small for the answer. */
        len = t->chain.in_len >= TPM_HEADER_SIZE ? tpm_error_response(err, TPM_RC_SIZE) : 0;
        rsp = err;
    }
    size_t written = virtq_chain_write(&t->chain, rsp, len);
    virtq_push(&m->queues[0], m->mem, t->chain.head, (uint32_t)written);
    virtio_mmio_signal_used_locked(m);
}

/* Runs on the backend's thread. */
static void command_done(void *ctx, const uint8_t *rsp, size_t len)
{
    struct virtio_tpm *t = ctx;
    pthread_mutex_lock(&t->mmio.lock);
    bool current = virtio_mmio_queue_current_locked(&t->mmio, 0, t->busy_gen);
    t->busy = false;
    /* A queue stopped or reset since the chain was taken: the guest may
     * already reuse that memory, so the answer goes nowhere. */
    if (current)
        finish_locked(t, rsp, len);
    process_locked(t); /* the next chain, if the guest queued one */
    pthread_mutex_unlock(&t->mmio.lock);
}

static void process_locked(struct virtio_tpm *t)
{
    struct virtio_mmio *m = &t->mmio;
    while (!t->busy && virtio_mmio_live_locked(m)) {
        if (virtio_mmio_pop_locked(m, 0, &t->chain) <= 0)
            return;
        size_t max =
            t->backend->max_command < sizeof(t->cmd) ? t->backend->max_command : sizeof(t->cmd);
        size_t got = virtq_chain_read(&t->chain, t->cmd, sizeof(t->cmd));
        size_t len = t->chain.out_len == got ? tpm_command_length(t->cmd, got, max) : 0;
        t->commands++;
        uint8_t err[TPM_HEADER_SIZE];
        if (len == 0 || len != t->chain.out_len) {
            finish_locked(t, err, tpm_error_response(err, TPM_RC_COMMAND_SIZE));
            continue;
        }
        t->busy = true;
        t->busy_gen = virtio_mmio_queue_gen_locked(m, 0);
        if (tpm_submit(t->backend, t->cmd, len, 0, command_done, t) < 0) {
            t->busy = false;
            finish_locked(t, err, tpm_error_response(err, TPM_RC_FAILURE));
        }
    }
}

static void tpm_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m;
    (void)q;
    process_locked(dev);
}

static void tpm_reset(void *dev)
{
    struct virtio_tpm *t = dev;
    if (t->busy)
        tpm_cancel(t->backend); /* its completion is dropped: the transport retires the queue */
}

const struct virtio_device_ops virtio_tpm_ops = {
    .name = "tpm",
    .device_id = VIRTIO_ID_TPM,
    .features = 0,
    .nqueues = 1,
    .queue_max = VIRTIO_TPM_QUEUE_SIZE,
    .notify = tpm_notify,
    .reset = tpm_reset,
};

void virtio_tpm_init(struct virtio_tpm *t, struct tpm_backend *backend, const struct guest_mem *mem)
{
    memset(t, 0, sizeof(*t));
    t->backend = backend;
    virtio_mmio_init(&t->mmio, &virtio_tpm_ops, t, mem);
}

void virtio_tpm_destroy(struct virtio_tpm *t) { virtio_mmio_destroy(&t->mmio); }
