/* virtio-tpm (device type 62, one queue): each chain carries a TPM command
 * in its readable part and receives the response in its writable part;
 * the used length is the response length. Compatible with the ChromeOS
 * tpm_virtio guest driver. A chain whose writable part cannot hold the
 * response gets a 10-byte TPM_RC_SIZE response, or a used length of 0 when
 * not even that fits. */
#ifndef HEARTH_VIRTIO_TPM_H
#define HEARTH_VIRTIO_TPM_H

#include "tpm/backend.h"
#include "virtio/mmio.h"

#define VIRTIO_ID_TPM 62
#define VIRTIO_TPM_QUEUE_SIZE 64

struct virtio_tpm {
    struct virtio_mmio mmio;
    struct tpm_backend *backend;
    bool busy;                /* a chain is at the TPM */
    uint32_t busy_gen;        /* queue 0's generation when it was taken */
    struct virtq_chain chain; /* the chain at the TPM */
    uint8_t cmd[TPM_BUFFER_MAX];
    uint64_t commands;
};

extern const struct virtio_device_ops virtio_tpm_ops;

void virtio_tpm_init(struct virtio_tpm *t, struct tpm_backend *backend,
                     const struct guest_mem *mem);
void virtio_tpm_destroy(struct virtio_tpm *t);

#endif
