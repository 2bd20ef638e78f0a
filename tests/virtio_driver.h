/* A minimal virtio-mmio driver for the unit tests and fuzzers: drives a
 * transport through its registers and builds split-ring chains in a
 * guest_mem, the way a guest's driver would. */
#ifndef HEARTH_TEST_VIRTIO_DRIVER_H
#define HEARTH_TEST_VIRTIO_DRIVER_H

#include "virtio/mmio.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Ring layout in guest RAM: queue q at 0x1000 + q * 0x4000 (descriptors,
 * then avail at +0x1000, used at +0x2000), data from 0x20000. */
#define VD_RING(q) (0x1000ull + (uint64_t)(q)*0x4000)
#define VD_DESC(q) VD_RING(q)
#define VD_AVAIL(q) (VD_RING(q) + 0x1000)
#define VD_USED(q) (VD_RING(q) + 0x2000)
#define VD_DATA 0x20000ull

struct vd {
    struct virtio_mmio *m;
    struct guest_mem *mem;
    uint16_t qsize[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t avail_idx[VIRTIO_MMIO_MAX_QUEUES], used_seen[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t next_desc[VIRTIO_MMIO_MAX_QUEUES];
};

static inline uint32_t vd_rd(struct vd *d, uint64_t off)
{
    uint32_t v;
    virtio_mmio_ops.read(d->m, off, (uint8_t *)&v, 4);
    return v;
}

static inline void vd_wr(struct vd *d, uint64_t off, uint32_t v)
{
    virtio_mmio_ops.write(d->m, off, (uint8_t *)&v, 4);
}

/* Negotiates `features` (VERSION_1 is added) and sets up every queue with
 * `qsize` entries. Returns false when the device refused a step. */
static inline bool vd_setup(struct vd *d, struct virtio_mmio *m, struct guest_mem *mem,
                            uint64_t features, uint16_t qsize)
{
    memset(d, 0, sizeof(*d));
    d->m = m;
    d->mem = mem;
    features |= VIRTIO_F_VERSION_1;
    vd_wr(d, 0x70, 0);
    vd_wr(d, 0x70, 1);
    vd_wr(d, 0x70, 3);
    vd_wr(d, 0x24, 0);
    vd_wr(d, 0x20, (uint32_t)features);
    vd_wr(d, 0x24, 1);
    vd_wr(d, 0x20, (uint32_t)(features >> 32));
    vd_wr(d, 0x70, 11);
    if (!(vd_rd(d, 0x70) & 8))
        return false;
    for (int q = 0; q < m->ops->nqueues; q++) {
        memset(mem->host + VD_RING(q), 0, 0x4000);
        vd_wr(d, 0x30, (uint32_t)q);
        vd_wr(d, 0x38, qsize);
        vd_wr(d, 0x80, (uint32_t)VD_DESC(q));
        vd_wr(d, 0x84, 0);
        vd_wr(d, 0x90, (uint32_t)VD_AVAIL(q));
        vd_wr(d, 0x94, 0);
        vd_wr(d, 0xa0, (uint32_t)VD_USED(q));
        vd_wr(d, 0xa4, 0);
        vd_wr(d, 0x44, 1);
        if (vd_rd(d, 0x44) != 1)
            return false;
        d->qsize[q] = qsize;
    }
    vd_wr(d, 0x70, 15);
    return vd_rd(d, 0x70) == 15;
}

struct vd_seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* Writes a chain of n descriptors to queue q and publishes it (without a
 * notification). Returns the head. */
static inline uint16_t vd_chain(struct vd *d, int q, const struct vd_seg *s, int n)
{
    uint16_t size = d->qsize[q], head = d->next_desc[q];
    for (int i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % size);
        uint16_t next = (uint16_t)((head + i + 1) % size);
        uint16_t flags = (uint16_t)((i + 1 < n ? 1 : 0) | (s[i].write ? 2 : 0));
        uint8_t *p = d->mem->host + VD_DESC(q) + 16u * idx;
        memcpy(p, &s[i].gpa, 8);
        memcpy(p + 8, &s[i].len, 4);
        memcpy(p + 12, &flags, 2);
        memcpy(p + 14, &next, 2);
    }
    d->next_desc[q] = (uint16_t)((head + n) % size);
    memcpy(d->mem->host + VD_AVAIL(q) + 4 + 2u * (d->avail_idx[q] % size), &head, 2);
    d->avail_idx[q]++;
    memcpy(d->mem->host + VD_AVAIL(q) + 2, &d->avail_idx[q], 2);
    return head;
}

static inline void vd_notify(struct vd *d, int q) { vd_wr(d, 0x50, (uint32_t)q); }

/* The next used element of queue q: true with its id and length. */
static inline bool vd_used(struct vd *d, int q, uint32_t *id, uint32_t *len)
{
    uint16_t idx;
    memcpy(&idx, d->mem->host + VD_USED(q) + 2, 2);
    if (idx == d->used_seen[q])
        return false;
    uint8_t *e = d->mem->host + VD_USED(q) + 4 + 8u * (d->used_seen[q] % d->qsize[q]);
    uint32_t v[2];
    memcpy(v, e, 8);
    if (id)
        *id = v[0];
    if (len)
        *len = v[1];
    d->used_seen[q]++;
    return true;
}

#endif
