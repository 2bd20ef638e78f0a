/* Unit tests: the REST API's HTTP server on a real Unix socket, its thread
 * and event loop, against a fake VMM: hostile clients cost it no CPU while
 * others are served, and answers of any size go out whole. No KVM. */
#include "api/server.h"

#include "api/http.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_PAYLOAD 4096

static struct vm_config cfg;

static enum vmm_state f_state(void *ctx)
{
    (void)ctx;
    return VMM_NOT_STARTED;
}
static const struct vm_config *f_config(void *ctx)
{
    (void)ctx;
    return &cfg;
}
static int f_configure(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                       size_t errlen)
{
    (void)ctx, (void)s, (void)body, (void)patch;
    snprintf(err, errlen, "not in this test");
    return -1;
}
static int f_action(void *ctx, enum vmm_action a, char *err, size_t errlen)
{
    (void)ctx, (void)a;
    snprintf(err, errlen, "not in this test");
    return -1;
}
static const struct vmm_ops ops = { f_state, f_configure, f_action, f_config, NULL };

/* The server, and a thread playing the VMM thread's part. */
struct fixture {
    char dir[64], path[96];
    struct api_router router;
    struct api_server srv;
    pthread_t vmm;
    volatile bool stop;
};

static void *vmm_thread(void *arg)
{
    struct fixture *f = arg;
    while (!f->stop) {
        struct pollfd p = { .fd = api_server_fd(&f->srv), .events = POLLIN };
        if (poll(&p, 1, 50) > 0)
            api_server_process(&f->srv);
    }
    return NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    config_init(&cfg);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_api_server.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
    api_router_init(&f->router, &ops, NULL, "vm-1");
    char err[256];
    assert_int_equal(api_server_start(&f->srv, f->path, MAX_PAYLOAD, &f->router, false, err,
                                      sizeof(err)),
                     0);
    assert_int_equal(pthread_create(&f->vmm, NULL, vmm_thread, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->stop = true;
    pthread_join(f->vmm, NULL);
    api_server_stop(&f->srv);
    rmdir(f->dir);
    config_free(&cfg);
    free(f);
    return 0;
}

/* A client connection and what it has received, answer by answer. */
struct client {
    int fd;
    char *buf;
    size_t len, cap, used; /* used: the last answer, dropped at the next */
    const char *body;
    size_t body_len;
};

static void client_open(struct client *c, const struct fixture *f)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    /* A server that never answers fails the test instead of hanging it. */
    struct timeval tv = { .tv_sec = 3 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void client_close(struct client *c)
{
    close(c->fd);
    free(c->buf);
}

static void client_send(struct client *c, const char *s)
{
    assert_int_equal(send(c->fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* The next answer's status, its body in c->body; 0 at EOF or time-out. */
static unsigned client_answer(struct client *c)
{
    if (c->len > c->used)
        memmove(c->buf, c->buf + c->used, c->len - c->used); /* c->buf is NULL at first */
    c->len -= c->used;
    c->used = 0;
    for (;;) {
        char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            const char *cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length: ", 16);
            size_t head = (size_t)(end + 4 - c->buf), blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (c->len >= head + blen) {
                unsigned status = 0;
                assert_int_equal(sscanf(c->buf, "HTTP/1.1 %u", &status), 1);
                c->body = c->buf + head;
                c->body_len = blen;
                c->used = head + blen;
                return status;
            }
        }
        if (c->cap - c->len < 65536) {
            c->cap = c->cap * 2 + 65536;
            c->buf = realloc(c->buf, c->cap);
            assert_non_null(c->buf);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
    }
}

/* CPU time the API thread has used, in ms. */
static double api_cpu_ms(const struct fixture *f)
{
    clockid_t id;
    struct timespec ts;
    assert_int_equal(pthread_getcpuclockid(f->srv.thread, &id), 0);
    assert_int_equal(clock_gettime(id, &ts), 0);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Sends s over and over, never reading, until nothing more goes in; the
 * number of copies sent. */
static size_t send_until_full(int fd, const char *s)
{
    size_t n = strlen(s), sent = 0, idle = 0;
    while (idle < 5) {
        ssize_t w = send(fd, s + sent % n, n - sent % n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            sent += (size_t)w;
            idle = 0;
        } else {
            assert_true(errno == EAGAIN);
            idle++;
            sleep_ms(50); /* let the server take what it will */
        }
    }
    return sent / n;
}

/* Two clients that can make no progress (one pipelines requests and never
 * reads the answers; one sends blank lines past any request's size) leave
 * the API thread idle, and others are served beside them. */
static void hostile_clients_cost_no_cpu(void **state)
{
    struct fixture *f = *state;
    static const char get[] = "GET /vm/config HTTP/1.1\r\n\r\n";
    struct client pipe, blank, other;
    client_open(&pipe, f);
    size_t requests = send_until_full(pipe.fd, get);
    assert_true(requests > 100);
    client_open(&blank, f);
    static char lines[4 * (HTTP_HEAD_MAX + MAX_PAYLOAD)];
    for (size_t i = 0; i < sizeof(lines); i += 2)
        memcpy(lines + i, "\r\n", 2);
    ssize_t w = send(blank.fd, lines, sizeof(lines), MSG_NOSIGNAL | MSG_DONTWAIT);
    assert_true(w > HTTP_HEAD_MAX + MAX_PAYLOAD);

    sleep_ms(200);
    double before = api_cpu_ms(f);
    sleep_ms(1500);
    double used = api_cpu_ms(f) - before;
    print_message("API thread CPU over 1.5 s with the hostile clients idle: %.1f ms\n", used);
    assert_true(used < 100);

    client_open(&other, f);
    client_send(&other, get);
    assert_int_equal(client_answer(&other), 200);
    /* The blank lines are refused: head limit passed. */
    assert_int_equal(client_answer(&blank), 400);
    assert_non_null(memmem(blank.body, blank.body_len, "Request headers too long.", 25));
    /* The pipelining client, reading at last, gets every answer. */
    for (size_t i = 0; i < requests; i++)
        assert_int_equal(client_answer(&pipe), 200);
    client_close(&pipe);
    client_close(&blank);
    client_close(&other);
}

/* GET /vm/config answers whole however large the configuration's JSON
 * (here, boot arguments of 100 KiB). */
static void large_answers_go_out_whole(void **state)
{
    struct fixture *f = *state;
    size_t n = 100 * 1024;
    char *args = malloc(n + 1);
    assert_non_null(args);
    memset(args, 'a', n);
    args[n] = 0;
    cfg.boot.boot_args = args;
    struct client c;
    client_open(&c, f);
    for (int i = 0; i < 3; i++) /* and again, pipelined, on the same connection */
        client_send(&c, "GET /vm/config HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(client_answer(&c), 200);
        assert_true(c.body_len > n);
        assert_non_null(memmem(c.body, c.body_len, args, n));
    }
    client_send(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(client_answer(&c), 200);
    client_close(&c);
}

/* A client that sends its requests and half-closes (socat, nc) gets
 * every answer before the server closes, also when answers too large to
 * queue at once keep requests waiting behind them past the end of input. */
static void a_half_closed_client_gets_its_answers(void **state)
{
    struct fixture *f = *state;
    size_t n = 100 * 1024;
    char *args = malloc(n + 1);
    assert_non_null(args);
    memset(args, 'a', n);
    args[n] = 0;
    cfg.boot.boot_args = args;
    struct client c;
    client_open(&c, f);
    for (int i = 0; i < 5; i++)
        client_send(&c, "GET /vm/config HTTP/1.1\r\n\r\n");
    client_send(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    sleep_ms(100); /* the server sees the end of input with answers held */
    for (int i = 0; i < 6; i++)
        assert_int_equal(client_answer(&c), 200);
    char b;
    assert_int_equal(recv(c.fd, &b, 1, 0), 0); /* then the server closes */
    client_close(&c);
    /* A request that fills the first read buffer (4096 bytes) exactly, so
     * the end of input is read in the same turn as the request. */
    char req[4097];
    const char *head = "GET / HTTP/1.1\r\nX-Pad: ", *tail = "\r\n\r\n";
    size_t pad = sizeof(req) - 1 - strlen(head) - strlen(tail);
    snprintf(req, sizeof(req), "%s%*s%s", head, (int)pad, "", tail);
    memset(req + strlen(head), 'p', pad);
    assert_int_equal(strlen(req), 4096);
    client_open(&c, f);
    client_send(&c, req);
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    assert_int_equal(client_answer(&c), 200);
    client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hostile_clients_cost_no_cpu, setup, teardown),
        cmocka_unit_test_setup_teardown(large_answers_go_out_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(a_half_closed_client_gets_its_answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
