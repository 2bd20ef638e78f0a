/* Unit tests: the swtpm backend against tests/tools/fake_swtpm (path in
 * argv[1]) holding every command for a minute, racing close and guest
 * cancel against the command thread at random small delays; and the CRB
 * and TIS transports over a fake that takes longer than Linux's deadline
 * for a command. */
#include "core/clock.h"
#include "core/log.h"
#include "devices/tpm_crb.h"
#include "devices/tpm_tis.h"
#include "tpm/swtpm.h"
#include "tpm/wire.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define ITERATIONS 1000
#define DEADLINE_MS 60000 /* the backend's command timeout and the fake's stall */
#define PROMPT_MS 5000    /* "well under the deadline", with room for a loaded host */
#define TPM_RC_CANCELED 0x909
/* Longer than Linux's deadline for GetCapability, PCR_Extend (750 ms). */
#define SLOW_MS 1000

static const uint8_t get_random[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

struct fixture {
    const char *fake_path;
    int stall_ms;
    char dir[64], sock[96];
    pid_t pid;
    unsigned seed;
};

/* What the backend handed to `done`, and how often. */
struct probe {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    uint32_t rc;
};

static void probe_done(void *ctx, const uint8_t *rsp, size_t len)
{
    struct probe *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->calls++;
    p->rc = len >= TPM_HEADER_SIZE ? tpm_response_code(rsp) : 0xffffffffu;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void probe_init(struct probe *p)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
}

static void probe_destroy(struct probe *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

/* Waits up to ms for the first call; returns the number of calls. */
static int probe_wait(struct probe *p, int ms)
{
    struct timespec until = realtime_in_ms(ms);
    pthread_mutex_lock(&p->lock);
    while (p->calls == 0 && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
        ;
    int calls = p->calls;
    pthread_mutex_unlock(&p->lock);
    return calls;
}

/* Nothing, a yield, a spin or a short sleep: lands the next call at a
 * different point of the command thread's path each time. */
static void random_delay(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    switch (r % 4) {
    case 0: break;
    case 1: sched_yield(); break;
    case 2: {
        uint64_t until = mono_ns() + (r >> 2) % 200000;
        while (mono_ns() < until)
            ;
        break;
    }
    case 3: {
        struct timespec ts = { 0, (long)((r >> 2) % 300000) };
        nanosleep(&ts, NULL);
        break;
    }
    }
}

static int setup(void **state)
{
    struct fixture *f = *state;
    snprintf(f->dir, sizeof(f->dir), "/tmp/hearth-swtpm-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->sock, sizeof(f->sock), "%s/ctrl", f->dir);
    char stall[32];
    snprintf(stall, sizeof(stall), "stall=%d", f->stall_ms);
    char *argv[] = { (char *)f->fake_path, f->sock, stall, NULL };
    if (posix_spawn(&f->pid, f->fake_path, NULL, NULL, argv, NULL) != 0)
        return -1;
    /* Ready once it accepts a whole open. */
    for (int i = 0; i < 500; i++) {
        struct swtpm s;
        char err[256];
        if (swtpm_open(&s, f->sock, -1, 1000, err, sizeof(err)) == 0) {
            swtpm_close(&s);
            return 0;
        }
        usleep(10000);
    }
    return -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    unlink(f->sock);
    rmdir(f->dir);
    return 0;
}

static void open_and_submit(struct fixture *f, struct swtpm *s, struct tpm_backend *b,
                            struct probe *p)
{
    char err[256];
    assert_int_equal(swtpm_open(s, f->sock, -1, DEADLINE_MS, err, sizeof(err)), 0);
    assert_int_equal(swtpm_start(s, b), 0);
    probe_init(p);
    assert_int_equal(tpm_submit(b, get_random, sizeof(get_random), 0, probe_done, p), 0);
}

/* Close lands anywhere from before the thread takes the command to while
 * swtpm holds it: it must return promptly, having answered it once. */
static void close_races_a_command(void **state)
{
    struct fixture *f = *state;
    uint64_t worst = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        struct swtpm s;
        struct tpm_backend b;
        struct probe p;
        open_and_submit(f, &s, &b, &p);
        random_delay(&f->seed);
        uint64_t t0 = mono_ns();
        swtpm_close(&s);
        uint64_t took = mono_ns() - t0;
        worst = took > worst ? took : worst;
        assert_true(took < PROMPT_MS * 1000000ULL);
        assert_int_equal(p.calls, 1);
        assert_int_equal(p.rc, TPM_RC_FAILURE);
        probe_destroy(&p);
    }
    print_message("close: worst %.1f ms over %d races\n", worst / 1e6, ITERATIONS);
}

/* A guest cancel posted at any moment after submit reaches swtpm, which
 * answers TPM_RC_CANCELED at once; the command must not sit out its
 * deadline. */
static void cancel_races_a_command(void **state)
{
    struct fixture *f = *state;
    uint64_t worst = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        struct swtpm s;
        struct tpm_backend b;
        struct probe p;
        open_and_submit(f, &s, &b, &p);
        random_delay(&f->seed);
        uint64_t t0 = mono_ns();
        tpm_cancel(&b);
        assert_int_equal(probe_wait(&p, PROMPT_MS), 1);
        uint64_t took = mono_ns() - t0;
        worst = took > worst ? took : worst;
        assert_int_equal(p.rc, TPM_RC_CANCELED);
        assert_false(tpm_failed(&b));
        swtpm_close(&s);
        assert_int_equal(p.calls, 1);
        probe_destroy(&p);
    }
    print_message("cancel: worst %.1f ms over %d races\n", worst / 1e6, ITERATIONS);
}

/* Cancel and close close together: still one answer, still prompt. */
static void cancel_then_close(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < ITERATIONS; i++) {
        struct swtpm s;
        struct tpm_backend b;
        struct probe p;
        open_and_submit(f, &s, &b, &p);
        random_delay(&f->seed);
        tpm_cancel(&b);
        random_delay(&f->seed);
        uint64_t t0 = mono_ns();
        swtpm_close(&s);
        assert_true(mono_ns() - t0 < PROMPT_MS * 1000000ULL);
        assert_int_equal(p.calls, 1);
        assert_true(p.rc == TPM_RC_CANCELED || p.rc == TPM_RC_FAILURE);
        probe_destroy(&p);
    }
}

static uint32_t rd32(const struct trap_ops *ops, void *dev, uint64_t off)
{
    uint32_t v = 0;
    ops->read(dev, off, (uint8_t *)&v, 4);
    return v;
}

static void wr32(const struct trap_ops *ops, void *dev, uint64_t off, uint32_t v)
{
    ops->write(dev, off, (uint8_t *)&v, 4);
}

/* A guest driver starts its command's deadline when START or tpmGo
 * returns (Linux: 750 ms for most commands, and no last look past it). A
 * command swtpm takes longer than that over must be answered by the time
 * the write returns, so the first status read sees it: a starved host
 * cannot make the guest time out a command the TPM answered. */
static void slow_answer_is_in_when_go_returns(void **state)
{
    struct fixture *f = *state;
    static struct tpm_crb c;
    static struct tpm_tis t;
    for (int model = 0; model < 2; model++) {
        struct swtpm s;
        struct tpm_backend b;
        char err[256];
        assert_int_equal(swtpm_open(&s, f->sock, -1, 4 * SLOW_MS, err, sizeof(err)), 0);
        assert_int_equal(swtpm_start(&s, &b), 0);
        uint64_t t0 = 0;
        bool answered;
        if (model == 0) {
            tpm_crb_init(&c, &b, 0xfed40000, NULL);
            wr32(&tpm_crb_ops, &c, 0x08, 1); /* requestAccess */
            wr32(&tpm_crb_ops, &c, 0x40, 1); /* cmdReady */
            for (size_t i = 0; i < sizeof(get_random); i++)
                tpm_crb_ops.write(&c, 0x80 + i, (uint8_t *)&get_random[i], 1);
            t0 = mono_ns();
            wr32(&tpm_crb_ops, &c, 0x4c, 1); /* START */
            answered = rd32(&tpm_crb_ops, &c, 0x4c) == 0;
        } else {
            tpm_tis_init(&t, &b);
            uint8_t v = 0x02; /* requestUse */
            tpm_tis_ops.write(&t, 0x00, &v, 1);
            v = 0x40; /* commandReady */
            tpm_tis_ops.write(&t, 0x18, &v, 1);
            for (size_t i = 0; i < sizeof(get_random); i++)
                tpm_tis_ops.write(&t, 0x24, (uint8_t *)&get_random[i], 1);
            v = 0x20; /* tpmGo */
            t0 = mono_ns();
            tpm_tis_ops.write(&t, 0x18, &v, 1);
            answered = (rd32(&tpm_tis_ops, &t, 0x18) & 0x90) == 0x90; /* stsValid, dataAvail */
        }
        uint64_t took_ms = (mono_ns() - t0) / 1000000;
        print_message("%s: the write returned after %llu ms, answered: %d\n", model ? "tis" : "crb",
                      (unsigned long long)took_ms, answered);
        assert_true(answered);
        assert_true(took_ms >= SLOW_MS - 50);
        assert_false(tpm_failed(&b));
        swtpm_close(&s);
        if (model == 0)
            tpm_crb_destroy(&c);
        else
            tpm_tis_destroy(&t);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_swtpm PATH-TO-fake_swtpm\n");
        return 2;
    }
    log_init(NULL, LOG_OFF, NULL);
    struct fixture f = { .fake_path = argv[1], .stall_ms = DEADLINE_MS, .seed = 9 };
    const struct CMUnitTest races[] = {
        cmocka_unit_test_prestate(close_races_a_command, &f),
        cmocka_unit_test_prestate(cancel_races_a_command, &f),
        cmocka_unit_test_prestate(cancel_then_close, &f),
    };
    struct fixture slow = { .fake_path = argv[1], .stall_ms = SLOW_MS, .seed = 9 };
    const struct CMUnitTest transports[] = {
        cmocka_unit_test_prestate(slow_answer_is_in_when_go_returns, &slow),
    };
    void *state = &f, *slow_state = &slow;
    int r = 1;
    if (setup(&state) < 0 || setup(&slow_state) < 0)
        fprintf(stderr, "test_swtpm: %s did not come up\n", f.fake_path);
    else
        r = cmocka_run_group_tests(races, NULL, NULL) |
            cmocka_run_group_tests(transports, NULL, NULL);
    teardown(&state);
    teardown(&slow_state);
    return r;
}
