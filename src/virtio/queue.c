/* Split virtqueue walking with every guest value checked. */
#include "virtio/queue.h"

#include <stdatomic.h>
#include <string.h>

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static size_t desc_bytes(uint16_t n) { return 16u * n; }
static size_t avail_bytes(uint16_t n) { return 6u + 2u * n; }
static size_t used_bytes(uint16_t n) { return 6u + 8u * n; }

bool virtq_valid(const struct virtq *q, const struct guest_mem *mem, uint16_t max)
{
    uint16_t n = q->size;
    if (n == 0 || n > max || (n & (n - 1)))
        return false;
    if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
        return false;
    return gpa_to_hva(mem, q->desc_gpa, desc_bytes(n)) &&
           gpa_to_hva(mem, q->avail_gpa, avail_bytes(n)) &&
           gpa_to_hva(mem, q->used_gpa, used_bytes(n));
}

/* The device's avail_event: where the driver's next notification is due. */
static void set_avail_event(struct virtq *q, const struct guest_mem *mem, uint16_t v)
{
    uint8_t *used = gpa_to_hva(mem, q->used_gpa, used_bytes(q->size));
    if (used)
        memcpy(used + 4 + 8u * q->size, &v, 2);
}

int virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c)
{
    if (!q->ready)
        return 0;
    uint16_t n = q->size;
    const struct vring_desc *desc = gpa_to_hva(mem, q->desc_gpa, desc_bytes(n));
    volatile uint16_t *avail = gpa_to_hva(mem, q->avail_gpa, avail_bytes(n));
    if (!desc || !avail)
        return -1;
    uint16_t avail_idx = avail[1];
    if (avail_idx == q->last_avail) {
        if (!q->event_idx)
            return 0;
        /* Ask for a notification at the next chain, then look again: the
         * driver may have added one before it could see the request. */
        set_avail_event(q, mem, q->last_avail);
        atomic_thread_fence(memory_order_seq_cst);
        avail_idx = avail[1];
        if (avail_idx == q->last_avail)
            return 0;
    }
    /* The guest may not publish more than a ring's worth ahead of us. */
    if ((uint16_t)(avail_idx - q->last_avail) > n)
        return -1;
    atomic_thread_fence(memory_order_acquire); /* ring entry after the index */
    uint16_t head = avail[2 + q->last_avail % n];
    if (head >= n)
        return -1;

    memset(c, 0, sizeof(*c));
    c->head = head;
    uint16_t i = head;
    for (int count = 0;; count++) {
        if (count >= n || count >= 2 * VIRTQ_MAX_SEGS)
            return -1; /* a loop, or longer than we take */
        struct vring_desc d;
        memcpy(&d, &desc[i], sizeof(d)); /* one snapshot: the guest may race */
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return -1;
        if (d.len) {
            void *p = gpa_to_hva(mem, d.addr, d.len);
            if (!p)
                return -1;
            if (d.flags & VIRTQ_DESC_F_WRITE) {
                if (c->nin == VIRTQ_MAX_SEGS)
                    return -1;
                c->in[c->nin++] = (struct iovec){ p, d.len };
                c->in_len += d.len;
            } else {
                if (c->nin || c->nout == VIRTQ_MAX_SEGS)
                    return -1; /* readable after writable is forbidden */
                c->out[c->nout++] = (struct iovec){ p, d.len };
                c->out_len += d.len;
            }
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= n)
            return -1;
        i = d.next;
    }
    q->last_avail++;
    return 1;
}

void virtq_push(struct virtq *q, const struct guest_mem *mem, uint16_t head, uint32_t len)
{
    uint16_t n = q->size;
    uint8_t *used = gpa_to_hva(mem, q->used_gpa, used_bytes(n));
    if (!used)
        return;
    uint32_t elem[2] = { head, len };
    memcpy(used + 4 + 8u * (q->used_idx % n), elem, 8);
    q->used_idx++;
    atomic_thread_fence(memory_order_release); /* the element before the index */
    memcpy(used + 2, &q->used_idx, 2);
}

void virtq_unpop(struct virtq *q) { q->last_avail--; }

#define VRING_AVAIL_F_NO_INTERRUPT 1

bool virtq_should_signal(struct virtq *q, const struct guest_mem *mem)
{
    uint16_t n = q->size;
    volatile uint16_t *avail = gpa_to_hva(mem, q->avail_gpa, avail_bytes(n));
    if (!avail)
        return false;
    /* The used index we published before what the driver asks for. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!q->event_idx)
        return !(avail[0] & VRING_AVAIL_F_NO_INTERRUPT);
    uint16_t old = q->signalled_used, now = q->used_idx, event = avail[2 + n];
    bool first = !q->signalled;
    q->signalled_used = now;
    q->signalled = true;
    /* virtio 1.2 2.7.10: interrupt when used_event lies in [old, now). */
    return first || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

size_t virtq_chain_write_at(const struct virtq_chain *c, size_t offset, const void *src, size_t len)
{
    struct iovec iov[VIRTQ_MAX_SEGS];
    int n = virtq_iov_slice(c->in, c->nin, offset, len, iov, VIRTQ_MAX_SEGS);
    size_t done = 0;
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].iov_base, (const uint8_t *)src + done, iov[i].iov_len);
        done += iov[i].iov_len;
    }
    return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, const void *src, size_t len)
{
    return virtq_chain_write_at(c, 0, src, len);
}

int virtq_iov_slice(const struct iovec *src, int n, size_t skip, size_t len, struct iovec *dst,
                    int max)
{
    int k = 0;
    for (int i = 0; i < n && len; i++) {
        size_t l = src[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t take = l - skip < len ? l - skip : len;
        if (k == max)
            return -1;
        dst[k++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, take };
        skip = 0;
        len -= take;
    }
    return k;
}

size_t virtq_chain_read(const struct virtq_chain *c, void *dst, size_t max)
{
    size_t done = 0;
    for (int i = 0; i < c->nout && done < max; i++) {
        size_t n = c->out[i].iov_len < max - done ? c->out[i].iov_len : max - done;
        memcpy((uint8_t *)dst + done, c->out[i].iov_base, n);
        done += n;
    }
    return done;
}
