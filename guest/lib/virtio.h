/* Guest-side virtio-mmio (version 2) for payloads that drive devices by
 * hand: set a device up with one queue, post chains, poll for the used
 * element. Also the raw register access hostile tests need. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define GV_QMAX 256
#define GV_NEEDS_RESET 0x40

struct gv_seg {
    uint64_t addr;
    uint32_t len;
    bool write;
};

struct gv {
    uint64_t base;
    uint16_t qsize;
    uint16_t avail_idx, last_used, next_desc;
};

uint32_t gv_rd(const struct gv *v, uint32_t off);
void gv_wr(const struct gv *v, uint32_t off, uint32_t val);

/* Resets the device at base (its DeviceID must be device_id), negotiates
 * `features` (VERSION_1 added) and sets up queue q with qsize entries,
 * every other queue left off. 0, or -1 naming the step in a TAP diagnostic. */
int gv_setup(struct gv *v, uint64_t base, uint32_t device_id, uint64_t features, int q,
             uint16_t qsize);

/* The queue's rings, for tests that write them by hand. */
struct gv_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
extern struct gv_desc gv_ring_desc[GV_QMAX];
extern uint16_t gv_ring_avail[3 + GV_QMAX]; /* flags, idx, ring[], used_event */

/* Writes the chain at the next descriptors, publishes it, notifies queue
 * q. gv_wait polls for its used element: the used length, or -1 after a
 * time-out or once the device sets DEVICE_NEEDS_RESET. */
void gv_post(struct gv *v, int q, const struct gv_seg *s, int n);
int gv_wait(struct gv *v);
int gv_chain(struct gv *v, int q, const struct gv_seg *s, int n);

/* The used ring's index, as the device last wrote it. */
uint16_t gv_used_idx(void);

/* Publishes descriptor `head` as the next avail entry (descriptors
 * written by hand) and notifies queue q. */
void gv_publish(struct gv *v, int q, uint16_t head);

#endif
