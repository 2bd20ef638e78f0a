/* Split virtqueues: the one place where guest-controlled ring indices,
 * descriptor addresses, lengths and chain lengths are checked, and where
 * notifications are suppressed (VIRTIO_RING_F_EVENT_IDX). */
#ifndef HEARTH_VIRTQ_H
#define HEARTH_VIRTQ_H

#include "core/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTQ_MAX_SIZE 256
/* Segments per direction in one chain: a virtio-blk request of seg_max
 * (62) data segments plus its header or status, a virtio-net receive
 * buffer of 19 (Linux's "big packets"). */
#define VIRTQ_MAX_SEGS 64

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq {
    uint16_t size; /* QueueNum: a power of two <= max */
    bool ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
    uint16_t last_avail; /* next avail entry the device will take */
    uint16_t used_idx;
    uint16_t signalled_used; /* used_idx at the last interrupt */
    bool signalled;          /* signalled_used is valid */
};

/* A popped chain, flattened into host buffers that were bounds-checked:
 * `out` are the device-readable segments, then `in` the device-writable. */
struct virtq_chain {
    uint16_t head;
    int nout, nin;
    struct iovec out[VIRTQ_MAX_SEGS], in[VIRTQ_MAX_SEGS];
    size_t out_len, in_len;
};

/* Checks a queue's configuration before it becomes ready: size a power of
 * two in 1..max, rings inside guest RAM and aligned. */
bool virtq_valid(const struct virtq *q, const struct guest_mem *mem, uint16_t max);

/* Takes the next chain. Returns 1 with *c filled, 0 when the ring is empty,
 * -1 when the guest broke the queue (index beyond the ring, a descriptor
 * loop or overlong chain, an address outside RAM, an indirect descriptor
 * that was not negotiated, or a readable segment after a writable one).
 * With EVENT_IDX, an empty ring asks the driver for a notification when
 * it adds the next chain (and looks once more, closing the race). */
int virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c);

/* Gives the chain virtq_pop just returned back to the ring, to be taken
 * again later (a device that cannot serve it now: rate limited, backend
 * full). Only the last popped chain, before anything else is popped. */
void virtq_unpop(struct virtq *q);

/* Returns chain `head` to the guest with `len` bytes written. */
void virtq_push(struct virtq *q, const struct guest_mem *mem, uint16_t head, uint32_t len);

/* After one or more pushes: whether the driver wants an interrupt for
 * them (its used_event with EVENT_IDX, else VRING_AVAIL_F_NO_INTERRUPT).
 * Records that it was asked. */
bool virtq_should_signal(struct virtq *q, const struct guest_mem *mem);

/* Copies src into the chain's writable segments; returns bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *c, const void *src, size_t len);
/* The same from byte `offset` of the writable part. */
size_t virtq_chain_write_at(const struct virtq_chain *c, size_t offset, const void *src,
                            size_t len);

/* Bytes [skip, skip + len) of a segment list as segments in dst (at most
 * max): the count, or -1 when they do not fit. Stops early at the end of
 * the list. */
int virtq_iov_slice(const struct iovec *src, int n, size_t skip, size_t len, struct iovec *dst,
                    int max);
/* Copies the chain's readable segments into dst (up to max); returns bytes. */
size_t virtq_chain_read(const struct virtq_chain *c, void *dst, size_t max);

#endif
