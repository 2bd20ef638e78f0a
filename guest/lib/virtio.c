/* Guest-side virtio-mmio: one queue, chains by hand, polled. */
#include "virtio.h"

#define POLLS 2000000

struct gv_desc gv_ring_desc[GV_QMAX] __attribute__((aligned(4096)));
uint16_t gv_ring_avail[3 + GV_QMAX] __attribute__((aligned(4096)));
static struct {
    uint16_t flags, idx;
    struct {
        uint32_t id, len;
    } ring[GV_QMAX];
    uint16_t avail_event;
} ring_used __attribute__((aligned(4096)));

uint32_t gv_rd(const struct gv *v, uint32_t off) { return mmio_read32(v->base + off); }
void gv_wr(const struct gv *v, uint32_t off, uint32_t val) { mmio_write32(v->base + off, val); }

int gv_setup(struct gv *v, uint64_t base, uint32_t device_id, uint64_t features, int q,
             uint16_t qsize)
{
    v->base = base;
    v->qsize = qsize;
    v->avail_idx = v->last_used = v->next_desc = 0;
    if (gv_rd(v, 0x000) != 0x74726976 || gv_rd(v, 0x004) != 2 || gv_rd(v, 0x008) != device_id) {
        tap_diag("no virtio device %u at 0x%llx", device_id, (unsigned long long)base);
        return -1;
    }
    gv_wr(v, 0x070, 0);
    gv_wr(v, 0x070, 1);
    gv_wr(v, 0x070, 3);
    gv_wr(v, 0x024, 0);
    gv_wr(v, 0x020, (uint32_t)features);
    gv_wr(v, 0x024, 1);
    gv_wr(v, 0x020, (uint32_t)(features >> 32) | 1); /* VIRTIO_F_VERSION_1 */
    gv_wr(v, 0x070, 11);
    if (!(gv_rd(v, 0x070) & 8)) {
        tap_diag("features 0x%llx refused", (unsigned long long)features);
        return -1;
    }
    memset(gv_ring_desc, 0, sizeof(gv_ring_desc));
    memset(gv_ring_avail, 0, sizeof(gv_ring_avail));
    memset(&ring_used, 0, sizeof(ring_used));
    gv_wr(v, 0x030, (uint32_t)q);
    if (gv_rd(v, 0x034) < qsize) {
        tap_diag("queue %d takes at most %u", q, gv_rd(v, 0x034));
        return -1;
    }
    gv_wr(v, 0x038, qsize);
    gv_wr(v, 0x080, (uint32_t)(uint64_t)gv_ring_desc);
    gv_wr(v, 0x084, 0);
    gv_wr(v, 0x090, (uint32_t)(uint64_t)gv_ring_avail);
    gv_wr(v, 0x094, 0);
    gv_wr(v, 0x0a0, (uint32_t)(uint64_t)&ring_used);
    gv_wr(v, 0x0a4, 0);
    gv_wr(v, 0x044, 1);
    if (gv_rd(v, 0x044) != 1) {
        tap_diag("queue %d refused", q);
        return -1;
    }
    gv_wr(v, 0x070, 15);
    return 0;
}

void gv_publish(struct gv *v, int q, uint16_t head)
{
    gv_ring_avail[2 + v->avail_idx % v->qsize] = head;
    __asm__ volatile("mfence" ::: "memory");
    v->avail_idx++;
    *(volatile uint16_t *)&gv_ring_avail[1] = v->avail_idx;
    __asm__ volatile("mfence" ::: "memory");
    gv_wr(v, 0x050, (uint32_t)q);
}

void gv_post(struct gv *v, int q, const struct gv_seg *s, int n)
{
    uint16_t head = v->next_desc;
    for (int i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % v->qsize);
        gv_ring_desc[d] = (struct gv_desc){ s[i].addr, s[i].len,
                                            (uint16_t)((i + 1 < n ? 1 : 0) | (s[i].write ? 2 : 0)),
                                            (uint16_t)((head + i + 1) % v->qsize) };
    }
    v->next_desc = (uint16_t)((head + n) % v->qsize);
    gv_publish(v, q, head);
}

int gv_wait(struct gv *v)
{
    for (int i = 0; i < POLLS; i++) {
        if (*(volatile uint16_t *)&ring_used.idx != v->last_used) {
            uint32_t len = ring_used.ring[v->last_used % v->qsize].len;
            v->last_used++;
            gv_wr(v, 0x064, gv_rd(v, 0x060)); /* acknowledge the interrupt */
            return (int)len;
        }
        if (gv_rd(v, 0x070) & GV_NEEDS_RESET)
            return -1;
    }
    return -1;
}

uint16_t gv_used_idx(void) { return *(volatile uint16_t *)&ring_used.idx; }

int gv_chain(struct gv *v, int q, const struct gv_seg *s, int n)
{
    gv_post(v, q, s, n);
    return gv_wait(v);
}
