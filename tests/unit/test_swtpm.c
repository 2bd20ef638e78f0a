/* Unit tests: the swtpm backend against tests/tools/fake_swtpm (path in
 * argv[1]) holding every command for a minute, racing close and guest
 * cancel against the command thread at random small delays. */
#include "core/clock.h"
#include "core/log.h"
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

static const uint8_t get_random[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

struct fixture {
    const char *fake_path;
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
    snprintf(stall, sizeof(stall), "stall=%d", DEADLINE_MS);
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

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_swtpm PATH-TO-fake_swtpm\n");
        return 2;
    }
    log_init(NULL, LOG_OFF, NULL);
    struct fixture f = { .fake_path = argv[1], .seed = 9 };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(close_races_a_command, &f),
        cmocka_unit_test_prestate(cancel_races_a_command, &f),
        cmocka_unit_test_prestate(cancel_then_close, &f),
    };
    void *state = &f;
    if (setup(&state) < 0) {
        fprintf(stderr, "test_swtpm: %s did not come up\n", f.fake_path);
        teardown(&state);
        return 1;
    }
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    teardown(&state);
    return r;
}
