/* Unit tests: CRB, TIS and virtio-tpm transports and the virtqueue checks,
 * against a fake TPM backend. */
#include "devices/tpm_crb.h"
#include "devices/tpm_tis.h"
#include "devices/virtio/tpm.h"
#include "tpm/wire.h"
#include "../fake_backend.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static const uint8_t get_random[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

static uint32_t rd32(const struct trap_ops *ops, void *dev, uint64_t off)
{
    uint32_t v;
    ops->read(dev, off, (uint8_t *)&v, 4);
    return v;
}

static void wr32(const struct trap_ops *ops, void *dev, uint64_t off, uint32_t v)
{
    ops->write(dev, off, (uint8_t *)&v, 4);
}

static void wr8(const struct trap_ops *ops, void *dev, uint64_t off, uint8_t v)
{
    ops->write(dev, off, &v, 1);
}

static uint8_t rd8(const struct trap_ops *ops, void *dev, uint64_t off)
{
    uint8_t v;
    ops->read(dev, off, &v, 1);
    return v;
}

static void crb_command_round_trip(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_crb c;
    fake_backend_init(&f, 4096);
    tpm_crb_init(&c, &f.be, 0xfed40000, NULL);
    /* Without the locality, writes and START are ignored. */
    for (int i = 0; i < 12; i++)
        wr8(&tpm_crb_ops, &c, 0x80 + i, get_random[i]);
    wr32(&tpm_crb_ops, &c, 0x4c, 1);
    assert_int_equal(f.submits, 0);
    wr32(&tpm_crb_ops, &c, 0x08, 1);
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x00) & 0x82, 0x82);
    wr32(&tpm_crb_ops, &c, 0x40, 1);
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x40), 0);     /* cmdReady reads back 0 */
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x44) & 2, 0); /* not idle */
    for (int i = 0; i < 12; i++)
        wr8(&tpm_crb_ops, &c, 0x80 + i, get_random[i]);
    wr32(&tpm_crb_ops, &c, 0x4c, 1);
    assert_int_equal(f.submits, 1);
    assert_int_equal(f.cmd_len, 12);
    assert_memory_equal(f.cmd, get_random, 12);
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x4c), 1); /* START while running */
    wr32(&tpm_crb_ops, &c, 0x4c, 1);                   /* a second START: ignored */
    assert_int_equal(f.submits, 1);
    wr8(&tpm_crb_ops, &c, 0x80, 0xee); /* buffer locked meanwhile */
    wr32(&tpm_crb_ops, &c, 0x48, 1);
    assert_int_equal(f.cancels, 1);
    f.rsp_len = 44;
    assert_true(fake_backend_complete(&f));
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x4c), 0);
    assert_int_equal(rd8(&tpm_crb_ops, &c, 0x80), 0x80);
    assert_int_equal(rd8(&tpm_crb_ops, &c, 0x85), 44);
    /* Buffer addresses and sizes as Linux reads them. */
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x58), CRB_BUFFER_SIZE);
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x5c), 0xfed40080);
    tpm_crb_destroy(&c);
}

static void crb_refuses_bad_sizes(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_crb c;
    fake_backend_init(&f, 4096);
    tpm_crb_init(&c, &f.be, 0xfed40000, NULL);
    wr32(&tpm_crb_ops, &c, 0x08, 1);
    uint8_t cmd[12];
    const uint32_t sizes[] = { 5000, 9, 13 }; /* too big; below a header; beyond what was written */
    for (size_t k = 0; k < 3; k++) {
        memcpy(cmd, get_random, 12);
        tpm_put_be32(cmd + 2, sizes[k]);
        wr32(&tpm_crb_ops, &c, 0x40, 1);
        for (int i = 0; i < 12; i++)
            wr8(&tpm_crb_ops, &c, 0x80 + i, cmd[i]);
        wr32(&tpm_crb_ops, &c, 0x4c, 1);
        assert_int_equal(rd32(&tpm_crb_ops, &c, 0x4c), 0);
        uint8_t rsp[10];
        for (int i = 0; i < 10; i++)
            rsp[i] = rd8(&tpm_crb_ops, &c, 0x80 + i);
        assert_int_equal(tpm_response_code(rsp), TPM_RC_COMMAND_SIZE);
    }
    assert_int_equal(f.submits, 0);
    f.failed = true;
    assert_int_equal(rd32(&tpm_crb_ops, &c, 0x44) & 1, 1); /* fatal status */
    tpm_crb_destroy(&c);
}

static uint32_t tis_sts(struct tpm_tis *t) { return rd32(&tpm_tis_ops, t, 0x18); }

static void tis_fifo_state_machine(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_tis t;
    fake_backend_init(&f, 4096);
    tpm_tis_init(&t, &f.be);
    assert_int_equal(tis_sts(&t), 0xffffffffu); /* no active locality */
    wr8(&tpm_tis_ops, &t, 0x0000, 0x02);        /* locality 0 */
    assert_int_equal(rd8(&tpm_tis_ops, &t, 0x0000) & 0xa0, 0xa0);

    wr8(&tpm_tis_ops, &t, 0x18, 0x40);
    assert_int_equal(tis_sts(&t) & 0xc0, 0xc0);
    assert_int_equal(rd8(&tpm_tis_ops, &t, 0x24), 0xff); /* nothing to read yet */
    for (int i = 0; i < 11; i++) {
        wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
        assert_int_equal(tis_sts(&t) & 0x88, 0x88); /* expecting more */
    }
    wr8(&tpm_tis_ops, &t, 0x24, get_random[11]);
    assert_int_equal(tis_sts(&t) & 0x88, 0x80);
    wr8(&tpm_tis_ops, &t, 0x18, 0x20); /* tpmGo */
    assert_int_equal(f.submits, 1);
    assert_int_equal(f.locality, 0);
    assert_int_equal(tis_sts(&t) & 0x10, 0);
    f.rsp_len = 20;
    fake_backend_complete(&f);
    uint32_t s = tis_sts(&t);
    assert_int_equal(s & 0x90, 0x90);
    assert_int_equal((s >> 8) & 0xffff, 20); /* burstCount = bytes left */
    uint8_t first = rd8(&tpm_tis_ops, &t, 0x24);
    assert_int_equal(first, 0x80);
    wr8(&tpm_tis_ops, &t, 0x18, 0x02); /* responseRetry */
    for (int i = 0; i < 20; i++)
        rd8(&tpm_tis_ops, &t, 0x24);
    assert_int_equal(tis_sts(&t) & 0x10, 0);
    assert_int_equal(rd8(&tpm_tis_ops, &t, 0x24), 0xff);

    /* Overrun: more bytes than claimed, refused at tpmGo without the TPM. */
    wr8(&tpm_tis_ops, &t, 0x18, 0x40);
    for (int i = 0; i < 12; i++)
        wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
    wr8(&tpm_tis_ops, &t, 0x24, 0xaa);
    wr8(&tpm_tis_ops, &t, 0x18, 0x20);
    assert_int_equal(f.submits, 1);
    uint8_t rsp[10];
    for (int i = 0; i < 10; i++)
        rsp[i] = rd8(&tpm_tis_ops, &t, 0x24);
    assert_int_equal(tpm_response_code(rsp), TPM_RC_COMMAND_SIZE);

    /* commandReady during execution: cancel, then the late answer is dropped. */
    wr8(&tpm_tis_ops, &t, 0x18, 0x40);
    for (int i = 0; i < 12; i++)
        wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
    wr8(&tpm_tis_ops, &t, 0x18, 0x20);
    wr8(&tpm_tis_ops, &t, 0x18, 0x40);
    assert_int_equal(f.cancels, 1);
    fake_backend_complete(&f);
    assert_int_equal(tis_sts(&t) & 0x50, 0x40);
    tpm_tis_destroy(&t);
}

/* Sends get_random through locality `loc`'s registers. */
static void tis_send_at(struct tpm_tis *t, uint32_t loc)
{
    wr8(&tpm_tis_ops, t, loc * 0x1000 + 0x18, 0x40);
    for (int i = 0; i < 12; i++)
        wr8(&tpm_tis_ops, t, loc * 0x1000 + 0x24, get_random[i]);
    wr8(&tpm_tis_ops, t, loc * 0x1000 + 0x18, 0x20);
}

/* Localities 1-4 reach PCRs 17-22 (DRTM's): the guest never gets them, and
 * the TPM sees every command at locality 0. */
static void tis_grants_locality_0_only(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_tis t;
    fake_backend_init(&f, 4096);
    tpm_tis_init(&t, &f.be);
    for (uint32_t loc = 1; loc < 5; loc++) {
        wr8(&tpm_tis_ops, &t, loc * 0x1000, 0x02);                /* requestUse */
        assert_int_equal(rd8(&tpm_tis_ops, &t, loc * 0x1000), 0); /* not valid, not active */
        tis_send_at(&t, loc);
    }
    assert_int_equal(f.submits, 0);
    /* Nor taken from locality 0 by a seize. */
    wr8(&tpm_tis_ops, &t, 0x0000, 0x02);
    wr8(&tpm_tis_ops, &t, 0x4000, 0x08);
    assert_int_equal(rd8(&tpm_tis_ops, &t, 0x4000), 0);
    assert_int_equal(rd8(&tpm_tis_ops, &t, 0x0000) & 0xb0, 0xa0); /* active, not seized */
    tis_send_at(&t, 4);
    assert_int_equal(f.submits, 0);
    tis_send_at(&t, 0);
    assert_int_equal(f.submits, 1);
    assert_int_equal(f.locality, 0);
    tpm_tis_destroy(&t);
}

/* One command through locality 0: written and read `width` bytes per FIFO
 * access; returns the response length read. */
static size_t tis_transfer(struct tpm_tis *t, struct fake_backend *f, const uint8_t *cmd,
                           size_t len, uint32_t width, uint8_t *rsp)
{
    wr8(&tpm_tis_ops, t, 0x18, 0x40);
    for (size_t i = 0; i < len;) {
        uint32_t n = len - i >= width ? width : 1;
        uint8_t v[4];
        memcpy(v, cmd + i, n);
        tpm_tis_ops.write(t, 0x24, v, n);
        i += n;
    }
    assert_int_equal(tis_sts(t) & 0x88, 0x80); /* complete, nothing more expected */
    wr8(&tpm_tis_ops, t, 0x18, 0x20);
    fake_backend_complete(f);
    size_t want = (tis_sts(t) >> 8) & 0xffff, got = 0;
    while (got < want) {
        uint32_t n = want - got >= width ? width : 1;
        tpm_tis_ops.read(t, 0x24, rsp + got, n);
        got += n;
    }
    assert_int_equal(tis_sts(t) & 0x10, 0); /* drained */
    return got;
}

/* A burst of 4-byte FIFO accesses moves exactly the bytes byte-wise
 * accesses do, both ways; a burst that runs past the response's end reads
 * 0xff there. */
static void tis_burst_matches_bytewise(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_tis t;
    fake_backend_init(&f, 4096);
    tpm_tis_init(&t, &f.be);
    wr8(&tpm_tis_ops, &t, 0x0000, 0x02);
    uint8_t cmd[22], rsp1[64], rsp2[64];
    memcpy(cmd, get_random, 12);
    for (int i = 12; i < 22; i++)
        cmd[i] = (uint8_t)(0x30 + i);
    tpm_put_be32(cmd + 2, 22);
    f.rsp_len = 41; /* not a multiple of 4 */
    assert_int_equal(tis_transfer(&t, &f, cmd, 22, 1, rsp1), 41);
    uint8_t seen1[22];
    memcpy(seen1, f.cmd, 22);
    assert_int_equal(tis_transfer(&t, &f, cmd, 22, 4, rsp2), 41);
    assert_memory_equal(f.cmd, seen1, 22);
    assert_memory_equal(f.cmd, cmd, 22);
    assert_memory_equal(rsp1, rsp2, 41);
    /* responseRetry, then a 4-byte read across the end: 3 bytes and 0xff. */
    wr8(&tpm_tis_ops, &t, 0x18, 0x02);
    uint8_t skip[40];
    for (int i = 0; i < 38; i++)
        skip[i] = rd8(&tpm_tis_ops, &t, 0x24);
    uint32_t last = rd32(&tpm_tis_ops, &t, 0x24);
    assert_memory_equal(&last, rsp1 + 38, 3);
    assert_int_equal(last >> 24, 0xff);
    (void)skip;
    tpm_tis_destroy(&t);
}

/* A backend that answers from its own thread after `delay_us`. */
struct slow_backend {
    struct fake_backend f;
    pthread_t thread;
    unsigned delay_us;
};

static void *answer_later(void *arg)
{
    struct slow_backend *s = arg;
    usleep(s->delay_us);
    fake_backend_complete(&s->f);
    return NULL;
}

static int slow_submit(void *impl, const uint8_t *cmd, size_t len, uint8_t locality,
                       tpm_done_fn *done, void *ctx)
{
    struct slow_backend *s = impl;
    memcpy(s->f.cmd, cmd, len);
    s->f.cmd_len = len;
    s->f.done = done;
    s->f.ctx = ctx;
    s->f.pending = true;
    s->f.submits++;
    (void)locality;
    return pthread_create(&s->thread, NULL, answer_later, s) ? -EAGAIN : 0;
}

static void slow_cancel(void *impl) { (void)impl; }
static bool slow_failed(void *impl)
{
    (void)impl;
    return false;
}
static const struct tpm_backend_ops slow_ops = { slow_submit, slow_cancel, slow_failed };

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* tpmGo and START wait, up to the backend's bound, for the answer: a quick
 * one is there at the guest's first status read; a slow one is not waited
 * for past the bound, and completes later as before. */
static void go_waits_briefly_for_the_answer(void **state)
{
    (void)state;
    static struct slow_backend s;
    static struct tpm_tis t;
    static struct tpm_crb c;
    for (int model = 0; model < 2; model++) {
        for (int quick = 1; quick >= 0; quick--) {
            memset(&s, 0, sizeof(s));
            s.f.be = (struct tpm_backend){ .ops = &slow_ops,
                                           .impl = &s,
                                           .max_command = 4096,
                                           .sync_wait_ns = quick ? 2000000000ull : 20000000ull };
            s.delay_us = quick ? 1000 : 500000;
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            bool answered;
            if (model == 0) {
                tpm_tis_init(&t, &s.f.be);
                wr8(&tpm_tis_ops, &t, 0x0000, 0x02);
                wr8(&tpm_tis_ops, &t, 0x18, 0x40);
                for (int i = 0; i < 12; i++)
                    wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                wr8(&tpm_tis_ops, &t, 0x18, 0x20);
                answered = (tis_sts(&t) & 0x10) != 0;
            } else {
                tpm_crb_init(&c, &s.f.be, 0xfed40000, NULL);
                wr32(&tpm_crb_ops, &c, 0x08, 1);
                wr32(&tpm_crb_ops, &c, 0x40, 1);
                for (int i = 0; i < 12; i++)
                    wr8(&tpm_crb_ops, &c, 0x80 + i, get_random[i]);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                wr32(&tpm_crb_ops, &c, 0x4c, 1);
                answered = rd32(&tpm_crb_ops, &c, 0x4c) == 0;
            }
            double waited = ms_since(&t0);
            if (quick) {
                assert_true(answered);
                assert_true(waited < 1000); /* the answer ended the wait, not the bound */
            } else {
                assert_false(answered); /* the bound ended the wait, not the answer */
                assert_true(waited >= 19);
            }
            pthread_join(s.thread, NULL);
            if (model == 0) {
                assert_int_equal(tis_sts(&t) & 0x10, 0x10);
                tpm_tis_destroy(&t);
            } else {
                assert_int_equal(rd32(&tpm_crb_ops, &c, 0x4c), 0);
                tpm_crb_destroy(&c);
            }
        }
    }
}

/* The vCPU writing START or tpmGo, on its own thread. */
struct go_writer {
    int model; /* 0: TIS, 1: CRB */
    struct tpm_tis *t;
    struct tpm_crb *c;
    double took_ms;
};

static void *write_go(void *arg)
{
    struct go_writer *w = arg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (w->model == 0)
        wr8(&tpm_tis_ops, w->t, 0x18, 0x20);
    else
        wr32(&tpm_crb_ops, w->c, 0x4c, 1);
    w->took_ms = ms_since(&t0);
    return NULL;
}

/* A pause or the stop lets go of a vCPU held for a slow answer at once,
 * and a START or tpmGo meanwhile is not held; the command completes as
 * before, and after the resume holding is back. */
static void a_pause_lets_go_of_a_held_vcpu(void **state)
{
    (void)state;
    static struct slow_backend s;
    static struct tpm_tis t;
    static struct tpm_crb c;
    for (int model = 0; model < 2; model++) {
        memset(&s, 0, sizeof(s));
        s.f.be = (struct tpm_backend){
            .ops = &slow_ops, .impl = &s, .max_command = 4096, .sync_wait_ns = 5000000000ull
        };
        s.delay_us = 400000;
        struct go_writer w = { .model = model, .t = &t, .c = &c };
        if (model == 0) {
            tpm_tis_init(&t, &s.f.be);
            wr8(&tpm_tis_ops, &t, 0x0000, 0x02);
        } else {
            tpm_crb_init(&c, &s.f.be, 0xfed40000, NULL);
            wr32(&tpm_crb_ops, &c, 0x08, 1);
        }
        for (int round = 0; round < 3; round++) {
            /* round 0: released mid-hold; 1: not held at all; 2: held again */
            if (model == 0) {
                wr8(&tpm_tis_ops, &t, 0x18, 0x40);
                for (int i = 0; i < 12; i++)
                    wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
            } else {
                wr32(&tpm_crb_ops, &c, 0x40, 1);
                for (int i = 0; i < 12; i++)
                    wr8(&tpm_crb_ops, &c, 0x80 + i, get_random[i]);
            }
            pthread_t vcpu;
            assert_int_equal(pthread_create(&vcpu, NULL, write_go, &w), 0);
            if (round == 0) {
                usleep(50000);
                if (model == 0)
                    tpm_tis_allow_hold(&t, false);
                else
                    tpm_crb_allow_hold(&c, false);
            }
            pthread_join(vcpu, NULL);
            if (round < 2)
                assert_true(w.took_ms < 300); /* let go, not held to the answer */
            else
                assert_true(w.took_ms >= 350); /* held again: the answer came with it */
            pthread_join(s.thread, NULL);
            /* Answered either way. */
            if (model == 0)
                assert_int_equal(tis_sts(&t) & 0x10, 0x10);
            else
                assert_int_equal(rd32(&tpm_crb_ops, &c, 0x4c), 0);
            if (round == 1) {
                if (model == 0)
                    tpm_tis_allow_hold(&t, true);
                else
                    tpm_crb_allow_hold(&c, true);
            }
            if (model == 0)
                wr8(&tpm_tis_ops, &t, 0x18, 0x40); /* done with the response */
        }
        if (model == 0)
            tpm_tis_destroy(&t);
        else
            tpm_crb_destroy(&c);
    }
}

/* A guest spinning on the status register while a command runs gets one
 * answer per bound (or at the completion), not one per read; a read after
 * a pause as long as Linux's 1 ms sleep is answered at once. */
static void tis_spinning_reads_wait(void **state)
{
    (void)state;
    static struct slow_backend s;
    static struct tpm_tis t;
    memset(&s, 0, sizeof(s));
    s.f.be = (struct tpm_backend){
        .ops = &slow_ops, .impl = &s, .max_command = 4096, .sync_wait_ns = 10000000ull
    };
    s.delay_us = 300000;
    tpm_tis_init(&t, &s.f.be);
    wr8(&tpm_tis_ops, &t, 0x0000, 0x02);
    wr8(&tpm_tis_ops, &t, 0x18, 0x40);
    for (int i = 0; i < 12; i++)
        wr8(&tpm_tis_ops, &t, 0x24, get_random[i]);
    wr8(&tpm_tis_ops, &t, 0x18, 0x20);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tis_sts(&t) & 0x10, 0);
    usleep(2000); /* Linux's pace: answered without a wait */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tis_sts(&t) & 0x10, 0);
    assert_true(ms_since(&t0) < 5);
    int reads = 0;
    while (!(tis_sts(&t) & 0x10))
        reads++;
    /* ~300 ms at one read per 10 ms bound, not a read per microsecond. */
    assert_true(reads >= 5 && reads < 100);
    pthread_join(s.thread, NULL);
    tpm_tis_destroy(&t);
}

/* With its page in guest memory the CRB answers reads from the image it
 * keeps: the image must be current after every write and completion. */
static void crb_image_is_always_current(void **state)
{
    (void)state;
    static struct fake_backend f;
    static struct tpm_crb c;
    static uint8_t mapped[CRB_PAGE_SIZE];
    fake_backend_init(&f, 4096);
    memset(mapped, 0xee, sizeof(mapped));
    tpm_crb_init(&c, &f.be, 0xfed40000, mapped);
    uint32_t v;
    memcpy(&v, mapped + 0x00, 4);
    assert_int_equal(v, 0x80); /* valid, no locality */
    memcpy(&v, mapped + 0x5c, 4);
    assert_int_equal(v, 0xfed40080);   /* buffer address */
    assert_int_equal(mapped[0x80], 0); /* buffer cleared */
    wr32(&tpm_crb_ops, &c, 0x08, 1);
    memcpy(&v, mapped + 0x00, 4);
    assert_int_equal(v, 0x82);
    wr32(&tpm_crb_ops, &c, 0x40, 1);
    for (int i = 0; i < 12; i++)
        wr8(&tpm_crb_ops, &c, 0x80 + i, get_random[i]);
    assert_memory_equal(mapped + 0x80, get_random, 12);
    wr32(&tpm_crb_ops, &c, 0x4c, 1);
    memcpy(&v, mapped + 0x4c, 4);
    assert_int_equal(v, 1); /* START while executing */
    f.rsp_len = 30;
    fake_backend_complete(&f);
    memcpy(&v, mapped + 0x4c, 4);
    assert_int_equal(v, 0);
    assert_int_equal(mapped[0x80], 0x80);
    assert_int_equal(mapped[0x85], 30);
    wr32(&tpm_crb_ops, &c, 0x40, 2); /* goIdle */
    memcpy(&v, mapped + 0x44, 4);
    assert_int_equal(v & 2, 2);
    tpm_crb_destroy(&c);
}

/* Guest memory for virtio tests: rings at fixed places. */
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define CMD 0x4000
#define RSP 0x5000

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static void put_desc(struct guest_mem *m, int i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    struct desc d = { addr, len, flags, next };
    guest_write(m, DESC + 16u * i, &d, sizeof(d));
}

static void publish(struct guest_mem *m, uint16_t idx, uint16_t head)
{
    guest_write(m, AVAIL + 4 + 2u * ((idx - 1) % 8), &head, 2);
    guest_write(m, AVAIL + 2, &idx, 2);
}

static void virtqueue_checks(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 1 << 20, false), 0);
    struct virtq q = { .size = 8, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED };
    assert_true(virtq_valid(&q, &m, 256));
    q.ready = true;
    struct virtq_chain c;
    assert_int_equal(virtq_pop(&q, &m, &c), 0); /* empty */

    put_desc(&m, 0, CMD, 12, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&m, 1, RSP, 64, VIRTQ_DESC_F_WRITE, 0);
    publish(&m, 1, 0);
    assert_int_equal(virtq_pop(&q, &m, &c), 1);
    assert_int_equal(c.out_len, 12);
    assert_int_equal(c.in_len, 64);
    virtq_push(&q, &m, c.head, 10);
    uint16_t used_idx;
    guest_read(&m, USED + 2, &used_idx, 2);
    assert_int_equal(used_idx, 1);

    /* A loop: 0 -> 1 -> 0. */
    put_desc(&m, 1, RSP, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
    publish(&m, 2, 0);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);
    /* Head beyond the ring. */
    q.last_avail = 2;
    publish(&m, 3, 9);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);
    /* An address outside RAM. */
    q.last_avail = 3;
    put_desc(&m, 2, 0xfffff000, 0x2000, 0, 0);
    publish(&m, 4, 2);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);
    /* Readable after writable. */
    q.last_avail = 4;
    put_desc(&m, 3, RSP, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
    put_desc(&m, 4, CMD, 8, 0, 0);
    publish(&m, 5, 3);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);
    /* Indirect descriptors were never offered. */
    q.last_avail = 5;
    put_desc(&m, 5, CMD, 16, VIRTQ_DESC_F_INDIRECT, 0);
    publish(&m, 6, 5);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);
    /* The guest claiming more than a ring's worth ahead. */
    q.last_avail = 6;
    uint16_t far = 6 + 9;
    guest_write(&m, AVAIL + 2, &far, 2);
    assert_int_equal(virtq_pop(&q, &m, &c), -1);

    /* Invalid layouts are refused before the queue goes live. */
    struct virtq v = q;
    v.size = 6;
    assert_false(virtq_valid(&v, &m, 256));
    v.size = 512;
    assert_false(virtq_valid(&v, &m, 256));
    v = q;
    v.used_gpa = (1 << 20) - 8;
    assert_false(virtq_valid(&v, &m, 256));
    v = q;
    v.desc_gpa = DESC + 8;
    assert_false(virtq_valid(&v, &m, 256));
    guest_mem_free(&m);
}

static int irqs;
static void count_irq(void *ctx)
{
    (void)ctx;
    irqs++;
}

static void mmio_setup(struct virtio_mmio *mm)
{
    wr32(&virtio_mmio_ops, mm, 0x70, 0);
    wr32(&virtio_mmio_ops, mm, 0x70, 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 3);
    wr32(&virtio_mmio_ops, mm, 0x24, 1);
    wr32(&virtio_mmio_ops, mm, 0x20, 1); /* VERSION_1 */
    wr32(&virtio_mmio_ops, mm, 0x70, 11);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x70) & 8, 8);
    wr32(&virtio_mmio_ops, mm, 0x38, 8);
    wr32(&virtio_mmio_ops, mm, 0x80, DESC);
    wr32(&virtio_mmio_ops, mm, 0x90, AVAIL);
    wr32(&virtio_mmio_ops, mm, 0xa0, USED);
    wr32(&virtio_mmio_ops, mm, 0x44, 1);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x44), 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 15);
}

/* 1 MiB of guest memory and a virtio-tpm on a fake backend. */
static void virtio_setup(struct guest_mem *m, struct fake_backend *f, struct virtio_tpm *t)
{
    assert_int_equal(guest_mem_init(m, 1 << 20, false), 0);
    fake_backend_init(f, 4096);
    virtio_tpm_init(t, &f->be, m);
    virtio_mmio_set_irq(&t->mmio, count_irq, NULL);
}

static void virtio_tpm_round_trip(void **state)
{
    (void)state;
    struct guest_mem m;
    static struct fake_backend f;
    static struct virtio_tpm t;
    virtio_setup(&m, &f, &t);
    struct virtio_mmio *mm = &t.mmio;
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x000), 0x74726976);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x004), 2);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x008), 62);
    /* Features without VERSION_1 are refused. */
    wr32(&virtio_mmio_ops, mm, 0x70, 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 3);
    wr32(&virtio_mmio_ops, mm, 0x70, 11);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x70) & 8, 0);
    mmio_setup(mm);

    guest_write(&m, CMD, get_random, 12);
    put_desc(&m, 0, CMD, 12, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&m, 1, RSP, 64, VIRTQ_DESC_F_WRITE, 0);
    publish(&m, 1, 0);
    wr32(&virtio_mmio_ops, mm, 0x50, 0);
    assert_int_equal(f.submits, 1);
    f.rsp_len = 44;
    irqs = 0;
    fake_backend_complete(&f);
    assert_int_equal(irqs, 1);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x60), 1);
    uint32_t used[2];
    guest_read(&m, USED + 4, used, 8);
    assert_int_equal(used[0], 0);
    assert_int_equal(used[1], 44);

    /* Too small for the answer: TPM_RC_SIZE in 10 bytes. */
    put_desc(&m, 1, RSP, 16, VIRTQ_DESC_F_WRITE, 0);
    publish(&m, 2, 0);
    wr32(&virtio_mmio_ops, mm, 0x50, 0);
    fake_backend_complete(&f);
    guest_read(&m, USED + 12, used, 8);
    assert_int_equal(used[1], 10);
    uint8_t rsp[10];
    guest_read(&m, RSP, rsp, 10);
    assert_int_equal(tpm_response_code(rsp), 0x095);

    /* A malformed chain breaks the device until it is reset. */
    put_desc(&m, 0, 0xfff00000, 12, 0, 0);
    publish(&m, 3, 0);
    wr32(&virtio_mmio_ops, mm, 0x50, 0);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x70) & 0x40, 0x40);
    mmio_setup(mm);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x70) & 0x40, 0);
    virtio_tpm_destroy(&t);
    guest_mem_free(&m);
}

static uint32_t vstatus(struct virtio_mmio *mm) { return rd32(&virtio_mmio_ops, mm, 0x70); }

/* Each write must be refused: the status stays what it was. */
static void refused(struct virtio_mmio *mm, const uint32_t *writes, size_t n)
{
    uint32_t before = vstatus(mm);
    for (size_t i = 0; i < n; i++) {
        wr32(&virtio_mmio_ops, mm, 0x70, writes[i]);
        assert_int_equal(vstatus(mm), before);
    }
}

/* Status bits are added one at a time in the order of virtio 1.2 §3.1.1;
 * 0 resets, FAILED is taken at any step, anything else is ignored. */
static void virtio_status_transitions(void **state)
{
    (void)state;
    struct guest_mem m;
    static struct fake_backend f;
    static struct virtio_tpm t;
    virtio_setup(&m, &f, &t);
    struct virtio_mmio *mm = &t.mmio;

    refused(mm, (const uint32_t[]){ 2, 3, 4, 8, 15, 0x10 }, 6);
    wr32(&virtio_mmio_ops, mm, 0x70, 1);
    assert_int_equal(vstatus(mm), 1);
    refused(mm, (const uint32_t[]){ 1 | 4, 1 | 8, 1 | 2 | 8, 2, 0x21 }, 5);
    wr32(&virtio_mmio_ops, mm, 0x70, 1); /* the same bits again: harmless */
    assert_int_equal(vstatus(mm), 1);
    /* Features before DRIVER are ignored. */
    wr32(&virtio_mmio_ops, mm, 0x24, 1);
    wr32(&virtio_mmio_ops, mm, 0x20, 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 3);
    assert_int_equal(vstatus(mm), 3);
    wr32(&virtio_mmio_ops, mm, 0x70, 11);
    assert_int_equal(vstatus(mm), 3); /* no VERSION_1 negotiated: FEATURES_OK not kept */
    /* A feature never offered is refused too. */
    wr32(&virtio_mmio_ops, mm, 0x24, 0);
    wr32(&virtio_mmio_ops, mm, 0x20, 1);
    wr32(&virtio_mmio_ops, mm, 0x24, 1);
    wr32(&virtio_mmio_ops, mm, 0x20, 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 11);
    assert_int_equal(vstatus(mm), 3);
    wr32(&virtio_mmio_ops, mm, 0x24, 0);
    wr32(&virtio_mmio_ops, mm, 0x20, 0);
    /* DRIVER_OK without FEATURES_OK, or both at once, or a bit cleared. */
    refused(mm, (const uint32_t[]){ 1 | 2 | 4, 1 | 2 | 4 | 8, 1, 2 | 8 }, 4);
    /* Queue setup before FEATURES_OK is ignored. */
    wr32(&virtio_mmio_ops, mm, 0x38, 8);
    wr32(&virtio_mmio_ops, mm, 0x80, DESC);
    wr32(&virtio_mmio_ops, mm, 0x90, AVAIL);
    wr32(&virtio_mmio_ops, mm, 0xa0, USED);
    wr32(&virtio_mmio_ops, mm, 0x44, 1);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x44), 0);
    wr32(&virtio_mmio_ops, mm, 0x70, 11);
    assert_int_equal(vstatus(mm), 11);
    /* Features are fixed once FEATURES_OK is set. */
    wr32(&virtio_mmio_ops, mm, 0x20, 0);
    assert_int_equal(t.mmio.driver_features, VIRTIO_F_VERSION_1);
    refused(mm, (const uint32_t[]){ 1 | 2, 1 | 2 | 4 | 8 | 0x10 }, 2);
    wr32(&virtio_mmio_ops, mm, 0x38, 8);
    wr32(&virtio_mmio_ops, mm, 0x80, DESC);
    wr32(&virtio_mmio_ops, mm, 0x90, AVAIL);
    wr32(&virtio_mmio_ops, mm, 0xa0, USED);
    wr32(&virtio_mmio_ops, mm, 0x44, 1);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x44), 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 15);
    assert_int_equal(vstatus(mm), 15);
    refused(mm, (const uint32_t[]){ 11, 1, 7, 0x1f }, 4);
    /* Queue layout is frozen after DRIVER_OK, even with the queue stopped. */
    wr32(&virtio_mmio_ops, mm, 0x44, 0);
    wr32(&virtio_mmio_ops, mm, 0x80, DESC + 0x100);
    assert_int_equal(t.mmio.queues[0].desc_gpa, DESC);
    wr32(&virtio_mmio_ops, mm, 0x44, 1);
    assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x44), 0);
    /* DEVICE_NEEDS_RESET echoed back by the driver is not a new bit. */
    t.mmio.status |= VIRTIO_STATUS_NEEDS_RESET;
    wr32(&virtio_mmio_ops, mm, 0x70, 15 | 0x40);
    assert_int_equal(vstatus(mm), 15 | 0x40);
    /* FAILED at any step; then nothing but a reset. */
    wr32(&virtio_mmio_ops, mm, 0x70, 15 | 0x80);
    assert_int_equal(vstatus(mm), 15 | 0x40 | 0x80);
    refused(mm, (const uint32_t[]){ 15, 1 }, 2);
    wr32(&virtio_mmio_ops, mm, 0x70, 0);
    assert_int_equal(vstatus(mm), 0);
    wr32(&virtio_mmio_ops, mm, 0x70, 1);
    wr32(&virtio_mmio_ops, mm, 0x70, 1 | 0x80);
    assert_int_equal(vstatus(mm), 0x81);
    /* A FAILED device takes no notifications. */
    mmio_setup(mm);
    wr32(&virtio_mmio_ops, mm, 0x70, 15 | 0x80);
    guest_write(&m, CMD, get_random, 12);
    put_desc(&m, 0, CMD, 12, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&m, 1, RSP, 64, VIRTQ_DESC_F_WRITE, 0);
    publish(&m, 1, 0);
    wr32(&virtio_mmio_ops, mm, 0x50, 0);
    assert_int_equal(f.submits, 0);
    virtio_tpm_destroy(&t);
    guest_mem_free(&m);
}

/* A fresh queue at the usual place with one GetRandom chain published,
 * its 64-byte response buffer filled with 0xa5. */
static void fresh_chain(struct guest_mem *m, struct virtio_mmio *mm)
{
    static const uint8_t zero[0x100];
    guest_write(m, AVAIL, zero, sizeof(zero));
    guest_write(m, USED, zero, sizeof(zero));
    mmio_setup(mm);
    uint8_t fill[64];
    memset(fill, 0xa5, sizeof(fill));
    guest_write(m, RSP, fill, sizeof(fill));
    guest_write(m, CMD, get_random, 12);
    put_desc(m, 0, CMD, 12, VIRTQ_DESC_F_NEXT, 1);
    put_desc(m, 1, RSP, 64, VIRTQ_DESC_F_WRITE, 0);
    publish(m, 1, 0);
    wr32(&virtio_mmio_ops, mm, 0x50, 0);
}

/* The guest stops the queue or resets the device while its command is at
 * the TPM: the late answer must not reach guest memory or raise an
 * interrupt, even once the queue is set up again at the same place. */
static void virtio_late_completion_dropped(void **state)
{
    (void)state;
    struct guest_mem m;
    static struct fake_backend f;
    static struct virtio_tpm t;
    virtio_setup(&m, &f, &t);
    struct virtio_mmio *mm = &t.mmio;
    uint8_t untouched[64], rsp[64];
    memset(untouched, 0xa5, sizeof(untouched));

    for (int how = 0; how < 3; how++) {
        fresh_chain(&m, mm);
        assert_true(f.pending);
        int submits = f.submits, cancels = f.cancels;
        if (how == 0) {
            wr32(&virtio_mmio_ops, mm, 0x30, 0);
            wr32(&virtio_mmio_ops, mm, 0x44, 0); /* QueueReady = 0, no reset */
            assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x44), 0);
        } else if (how == 1) {
            wr32(&virtio_mmio_ops, mm, 0x70, 0);
            assert_int_equal(f.cancels, cancels + 1);
        } else {
            /* Reset and set up again: the old chain's memory is live again
             * and a new chain waits there for the old command to end. */
            fresh_chain(&m, mm);
            assert_int_equal(f.cancels, cancels + 1);
            assert_int_equal(f.submits, submits);
        }
        irqs = 0;
        f.rsp_len = 44;
        assert_true(fake_backend_complete(&f));
        uint16_t used_idx;
        guest_read(&m, USED + 2, &used_idx, 2);
        guest_read(&m, RSP, rsp, sizeof(rsp));
        assert_int_equal(used_idx, 0);
        assert_memory_equal(rsp, untouched, sizeof(rsp));
        assert_int_equal(irqs, 0);
        assert_int_equal(rd32(&virtio_mmio_ops, mm, 0x60), 0);
        if (how == 2) {
            /* The new chain goes to the TPM once the old one is dropped,
             * and its answer lands. */
            assert_int_equal(f.submits, submits + 1);
            assert_true(fake_backend_complete(&f));
            guest_read(&m, USED + 2, &used_idx, 2);
            assert_int_equal(used_idx, 1);
            assert_int_equal(irqs, 1);
        }
        assert_false(f.pending);
    }
    virtio_tpm_destroy(&t);
    guest_mem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crb_command_round_trip),
        cmocka_unit_test(crb_refuses_bad_sizes),
        cmocka_unit_test(tis_burst_matches_bytewise),
        cmocka_unit_test(go_waits_briefly_for_the_answer),
        cmocka_unit_test(a_pause_lets_go_of_a_held_vcpu),
        cmocka_unit_test(crb_image_is_always_current),
        cmocka_unit_test(tis_spinning_reads_wait),
        cmocka_unit_test(tis_fifo_state_machine),
        cmocka_unit_test(tis_grants_locality_0_only),
        cmocka_unit_test(virtqueue_checks),
        cmocka_unit_test(virtio_tpm_round_trip),
        cmocka_unit_test(virtio_status_transitions),
        cmocka_unit_test(virtio_late_completion_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
