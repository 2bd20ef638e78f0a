/* libFuzzer target: the split-ring walker every virtio device relies on.
 * The input is a guest: 8 bytes of ring setup (size, where the rings are,
 * EVENT_IDX) and then guest RAM as it wrote it. Every chain virtq_pop
 * returns must lie in RAM segment by segment, within the segment limits,
 * with lengths that add up; pushes, unpops and interrupt decisions run
 * against the same memory. */
#include "core/log.h"
#include "virtio/queue.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (64 << 10)

static void check(const struct guest_mem *mem, const struct virtq_chain *c)
{
    size_t out = 0, in = 0;
    assert(c->nout <= VIRTQ_MAX_SEGS && c->nin <= VIRTQ_MAX_SEGS);
    for (int i = 0; i < c->nout + c->nin; i++) {
        const struct iovec *v = i < c->nout ? &c->out[i] : &c->in[i - c->nout];
        const uint8_t *p = v->iov_base;
        assert(v->iov_len > 0);
        assert(p >= mem->host && p + v->iov_len <= mem->host + RAM);
        *(i < c->nout ? &out : &in) += v->iov_len;
    }
    assert(out == c->out_len && in == c->in_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.host) {
        log_init(NULL, LOG_OFF, NULL);
        guest_mem_init(&mem, RAM, false);
    }
    if (size < 8)
        return 0;
    memset(mem.host, 0, RAM);
    memcpy(mem.host, data + 8, size - 8 < RAM ? size - 8 : RAM);
    struct virtq q = {
        .size = (uint16_t)(1u << (data[0] % 10)), /* 1..512: beyond 256 is refused */
        .desc_gpa = (uint64_t)data[1] << 8,
        .avail_gpa = (uint64_t)data[2] << 8 | (data[4] & 1),
        .used_gpa = (uint64_t)data[3] << 8 | (data[4] & 2),
        .event_idx = data[4] & 4,
        .last_avail = (uint16_t)(data[5] | data[6] << 8),
    };
    if (!virtq_valid(&q, &mem, 256))
        return 0;
    q.ready = true;
    struct virtq_chain c;
    for (int i = 0; i < 600; i++) {
        int r = virtq_pop(&q, &mem, &c);
        if (r <= 0)
            break;
        check(&mem, &c);
        if (data[7] & (1u << (i % 8))) {
            virtq_unpop(&q);
            if (virtq_pop(&q, &mem, &c) == 1)
                check(&mem, &c);
            else
                break; /* the guest raced us: it may change its ring */
        }
        virtq_push(&q, &mem, c.head, (uint32_t)c.in_len);
        uint8_t junk[64];
        memset(junk, 0xa5, sizeof(junk));
        virtq_chain_write_at(&c, (size_t)i, junk, sizeof(junk));
        virtq_should_signal(&q, &mem);
    }
    return 0;
}
