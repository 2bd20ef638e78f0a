/* Unit tests: vsock's connection state machine on its own, between a fake
 * virtio half (packets in, the guest's packets out) and a fake socket
 * backend (sockets as buffers, a clock the test moves). */
#include "core/log.h"
#include "devices/virtio/vsock_conn.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define OUT_MAX (64u << 10)
#define GUEST_BUF 65536u

/* One connection's socket, as the fake backend holds it. */
struct fake_sock {
    bool open;
    char in[8192]; /* what the host side wrote, for the guest */
    size_t in_len;
    bool in_eof;
    char out[OUT_MAX]; /* what reached the host side (its first OUT_MAX bytes) */
    size_t out_total;
    size_t room; /* how much more the socket takes before -EAGAIN */
    bool shut_wr;
    int hello; /* what hello() answers: 1 a CONNECT line, 0 not yet, -1 garbage */
    uint32_t hello_port;
    uint32_t ok_port; /* what hello_ok told the client, 0 before */
};

struct fx {
    struct vsock_conns t;
    struct vsock_stats stats;
    struct fake_sock s[VSOCK_MAX_CONNS];
    int clients_waiting; /* on the listener */
    int next_hello;      /* the next client's hello() answer */
    uint32_t next_hello_port;
    bool services_refuse;  /* connect() finds nobody */
    int connects, dropped; /* connect() calls; clients or connections without a slot */
    uint32_t last_connect_port;
    uint64_t now;
    bool timer_on;
    int rr; /* the fake virtio half's round robin */
};

static struct fake_sock fresh_sock(void)
{
    return (struct fake_sock){ .open = true, .room = SIZE_MAX };
}

static int fake_accept(void *ctx, int id)
{
    struct fx *f = ctx;
    if (!f->clients_waiting)
        return 0;
    f->clients_waiting--;
    if (id < 0) {
        f->dropped++;
        return -1;
    }
    assert_false(f->s[id].open);
    f->s[id] = fresh_sock();
    f->s[id].hello = f->next_hello;
    f->s[id].hello_port = f->next_hello_port;
    return 1;
}

static int fake_hello(void *ctx, int id, uint32_t *port)
{
    struct fx *f = ctx;
    assert_true(f->s[id].open);
    *port = f->s[id].hello_port;
    return f->s[id].hello;
}

static int fake_hello_ok(void *ctx, int id, uint32_t local_port)
{
    struct fx *f = ctx;
    assert_true(f->s[id].open);
    f->s[id].ok_port = local_port;
    return 0;
}

static int fake_connect(void *ctx, int id, uint32_t port)
{
    struct fx *f = ctx;
    f->connects++;
    f->last_connect_port = port;
    if (f->services_refuse)
        return -ECONNREFUSED;
    if (id < 0) {
        f->dropped++;
        return -ENOSPC;
    }
    assert_false(f->s[id].open);
    f->s[id] = fresh_sock();
    return 0;
}

static ssize_t fake_read(void *ctx, int id, const struct iovec *iov, int n)
{
    struct fx *f = ctx;
    struct fake_sock *s = &f->s[id];
    assert_true(s->open);
    if (!s->in_len)
        return s->in_eof ? 0 : -EAGAIN;
    size_t got = 0;
    for (int i = 0; i < n && got < s->in_len; i++) {
        size_t k = iov[i].iov_len < s->in_len - got ? iov[i].iov_len : s->in_len - got;
        memcpy(iov[i].iov_base, s->in + got, k);
        got += k;
    }
    memmove(s->in, s->in + got, s->in_len - got);
    s->in_len -= got;
    return (ssize_t)got;
}

static ssize_t fake_write(void *ctx, int id, const struct iovec *iov, int n)
{
    struct fx *f = ctx;
    struct fake_sock *s = &f->s[id];
    assert_true(s->open);
    assert_false(s->shut_wr);
    if (!s->room)
        return -EAGAIN;
    size_t took = 0;
    for (int i = 0; i < n && s->room; i++) {
        size_t k = iov[i].iov_len < s->room ? iov[i].iov_len : s->room;
        for (size_t j = 0; j < k; j++, s->out_total++)
            if (s->out_total < OUT_MAX)
                s->out[s->out_total] = ((char *)iov[i].iov_base)[j];
        s->room -= k;
        took += k;
    }
    return (ssize_t)took;
}

static void fake_shut_wr(void *ctx, int id)
{
    struct fx *f = ctx;
    assert_true(f->s[id].open);
    f->s[id].shut_wr = true;
}

static void fake_close(void *ctx, int id)
{
    struct fx *f = ctx;
    assert_true(f->s[id].open);
    f->s[id].open = false;
}

static void fake_timer_arm(void *ctx) { ((struct fx *)ctx)->timer_on = true; }
static void fake_timer_stop(void *ctx) { ((struct fx *)ctx)->timer_on = false; }
static uint64_t fake_now_ns(void *ctx) { return ((struct fx *)ctx)->now; }

static const struct vsock_sock_ops fake_ops = {
    .accept = fake_accept,
    .hello = fake_hello,
    .hello_ok = fake_hello_ok,
    .connect = fake_connect,
    .read = fake_read,
    .write = fake_write,
    .shut_wr = fake_shut_wr,
    .close = fake_close,
    .timer_arm = fake_timer_arm,
    .timer_stop = fake_timer_stop,
    .now_ns = fake_now_ns,
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = 1000000000ull;
    vsock_conn_init(&f->t, &fake_ops, f, &f->stats);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vsock_conn_destroy(&f->t);
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        assert_false(f->s[i].open); /* every socket was closed */
    free(f);
    return 0;
}

/* The fake virtio half. */

static void guest_send(struct fx *f, uint16_t op, uint32_t guest_port, uint32_t host_port,
                       uint32_t flags, uint32_t fwd_cnt, const void *data, uint32_t len)
{
    struct vsock_pkt p = { .op = op,
                           .src_port = guest_port,
                           .dst_port = host_port,
                           .len = len,
                           .flags = flags,
                           .buf_alloc = GUEST_BUF,
                           .fwd_cnt = fwd_cnt };
    struct iovec iov = { (void *)data, len };
    vsock_conn_guest_packet(&f->t, &p, &iov, len ? 1 : 0);
}

/* What the guest's next receive buffer gets (payload into data, up to
 * room bytes, NUL-terminated); false when nothing is owed. Round robin
 * over the connections, as the virtio half does. */
static bool guest_recv(struct fx *f, struct vsock_pkt *p, char *data, size_t room)
{
    for (int idle = 0; idle < VSOCK_MAX_CONNS;) {
        int id = f->rr;
        f->rr = (f->rr + 1) % VSOCK_MAX_CONNS;
        if (!vsock_conn_rx_wants(&f->t, id)) {
            idle++;
            continue;
        }
        if (vsock_conn_rx_control(&f->t, id, p))
            return true;
        uint32_t credit = vsock_conn_rx_credit(&f->t, id);
        assert_true(credit > 0); /* it wanted to send data */
        size_t want = credit < room ? credit : room;
        struct iovec iov = { data, want };
        int64_t got = vsock_conn_rx_data(&f->t, id, p, &iov, 1);
        if (got >= 0) {
            assert_int_equal(p->op, VSOCK_OP_RW);
            assert_int_equal(p->len, got);
            assert_true(got <= (int64_t)credit);
            data[got] = 0;
            return true;
        }
        idle = 0;
    }
    return false;
}

static void expect_pkt(struct fx *f, uint16_t op, uint32_t src_port, uint32_t dst_port)
{
    struct vsock_pkt p;
    char data[64];
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, op);
    assert_int_equal(p.src_port, src_port);
    assert_int_equal(p.dst_port, dst_port);
    assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
}

static void expect_nothing(struct fx *f)
{
    struct vsock_pkt p;
    char data[64];
    assert_false(guest_recv(f, &p, data, sizeof(data) - 1));
}

/* The id of the open socket for a guest connection from guest_port. */
static int conn_of(struct fx *f, uint32_t local_port, uint32_t guest_port)
{
    for (int i = 0; i < VSOCK_MAX_CONNS; i++)
        if (f->t.slot[i].state != VSOCK_FREE && f->t.slot[i].local_port == local_port &&
            f->t.slot[i].peer_port == guest_port)
            return i;
    fail_msg("no connection %u <- %u", local_port, guest_port);
    return -1;
}

/* A guest connection to host port `port`, answered. */
static int open_guest_conn(struct fx *f, uint32_t guest_port, uint32_t port)
{
    guest_send(f, VSOCK_OP_REQUEST, guest_port, port, 0, 0, NULL, 0);
    expect_pkt(f, VSOCK_OP_RESPONSE, port, guest_port);
    int id = conn_of(f, port, guest_port);
    assert_true(f->s[id].open);
    expect_nothing(f); /* the service wrote nothing yet: the read ran dry */
    return id;
}

static void host_writes(struct fx *f, int id, const char *s)
{
    memcpy(f->s[id].in + f->s[id].in_len, s, strlen(s));
    f->s[id].in_len += strlen(s);
    vsock_conn_sock_events.ready(&f->t, id, VSOCK_SOCK_IN);
}

static void guest_credit(struct fx *f, uint32_t guest_port, uint32_t host_port, uint32_t buf_alloc,
                         uint32_t fwd_cnt)
{
    struct vsock_pkt p = { .op = VSOCK_OP_CREDIT_UPDATE,
                           .src_port = guest_port,
                           .dst_port = host_port,
                           .buf_alloc = buf_alloc,
                           .fwd_cnt = fwd_cnt };
    vsock_conn_guest_packet(&f->t, &p, NULL, 0);
}

/* REQUEST, RESPONSE, then data both ways: the host's within the guest's
 * credit, the guest's acknowledged through fwd_cnt. */
static void guest_conn_data_both_ways_within_credit(void **state)
{
    struct fx *f = *state;
    int id = open_guest_conn(f, 777, 5000);
    assert_int_equal(f->last_connect_port, 5000);
    assert_int_equal(f->t.slot[id].state, VSOCK_OPEN);
    assert_int_equal(f->stats.conns_killed, 0);

    guest_send(f, VSOCK_OP_RW, 777, 5000, 0, 0, "ping", 4);
    assert_int_equal(f->s[id].out_total, 4);
    assert_memory_equal(f->s[id].out, "ping", 4);
    assert_int_equal(f->stats.tx_bytes_count, 4);
    expect_nothing(f); /* 4 bytes are no reason for a credit update */

    /* The guest can take 10 bytes: the host's 16 go in two packets. */
    guest_credit(f, 777, 5000, 10, 0);
    host_writes(f, id, "0123456789abcdef");
    struct vsock_pkt p;
    char data[64];
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_RW);
    assert_int_equal(p.src_port, 5000);
    assert_int_equal(p.dst_port, 777);
    assert_string_equal(data, "0123456789");
    assert_int_equal(p.fwd_cnt, 4); /* what the host took of the guest's */
    assert_int_equal(vsock_conn_rx_credit(&f->t, id), 0);
    expect_nothing(f);
    guest_credit(f, 777, 5000, 10, 10); /* the guest read them */
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_string_equal(data, "abcdef");
    expect_nothing(f);
    assert_int_equal(f->stats.rx_bytes_count, 16);

    /* A quarter of the credit the host gives, taken: the guest hears. */
    char *chunk = calloc(1, VSOCK_BUF_ALLOC / 4);
    assert_non_null(chunk);
    guest_send(f, VSOCK_OP_RW, 777, 5000, 0, 10, chunk, VSOCK_BUF_ALLOC / 4);
    free(chunk);
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_CREDIT_UPDATE);
    assert_int_equal(p.fwd_cnt, 4 + VSOCK_BUF_ALLOC / 4);
    /* And whenever it asks. */
    guest_send(f, VSOCK_OP_CREDIT_REQUEST, 777, 5000, 0, 10, NULL, 0);
    expect_pkt(f, VSOCK_OP_CREDIT_UPDATE, 5000, 777);
    expect_nothing(f);
}

/* A host client's CONNECT: REQUEST to the guest from a fresh host port,
 * RESPONSE, "OK <port>" to the client, then the stream. */
static void host_conn_handshake_then_data(void **state)
{
    struct fx *f = *state;
    f->clients_waiting = 1;
    f->next_hello = 0; /* the line is not all there yet */
    vsock_conn_sock_events.incoming(&f->t);
    assert_int_equal(f->t.slot[0].state, VSOCK_HELLO);
    assert_true(f->timer_on);
    expect_nothing(f);
    f->s[0].hello = 1;
    f->s[0].hello_port = 1234;
    memcpy(f->s[0].in, "early", 5); /* written right after the line */
    f->s[0].in_len = 5;
    vsock_conn_sock_events.ready(&f->t, 0, VSOCK_SOCK_IN);
    assert_int_equal(f->t.slot[0].state, VSOCK_CONNECTING);
    struct vsock_pkt p;
    char data[64];
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_REQUEST);
    assert_int_equal(p.dst_port, 1234);
    assert_true(p.src_port >= 1u << 30);
    uint32_t local = p.src_port;
    assert_int_equal(f->s[0].ok_port, 0); /* no OK before the guest accepts */

    guest_send(f, VSOCK_OP_RESPONSE, 1234, local, 0, 0, NULL, 0);
    assert_int_equal(f->s[0].ok_port, local);
    assert_int_equal(f->t.slot[0].state, VSOCK_OPEN);
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_string_equal(data, "early");
    assert_int_equal(p.src_port, local);
    guest_send(f, VSOCK_OP_RW, 1234, local, 0, 0, "world", 5);
    assert_memory_equal(f->s[0].out, "world", 5);

    /* Another client for the same guest port gets another host port; one
     * that says something else is hung up on, the guest never hears. */
    f->clients_waiting = 1;
    f->next_hello = 1;
    f->next_hello_port = 1234;
    vsock_conn_sock_events.incoming(&f->t);
    assert_int_equal(f->t.slot[1].state, VSOCK_CONNECTING);
    f->clients_waiting = 1;
    f->next_hello = -1;
    vsock_conn_sock_events.incoming(&f->t);
    assert_int_equal(f->clients_waiting, 0);
    assert_false(f->s[2].open);
    assert_int_equal(f->t.slot[2].state, VSOCK_FREE);
    assert_int_equal(f->stats.conns_killed, 1);
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_REQUEST);
    assert_int_equal(p.dst_port, 1234);
    assert_true(p.src_port >= 1u << 30 && p.src_port != local);
    expect_nothing(f);
}

/* What the host socket does not take waits, in order, up to the credit the
 * guest was given (VSOCK_BUF_ALLOC) and not a byte more. */
static void guest_beyond_credit_loses_the_connection(void **state)
{
    struct fx *f = *state;
    int id = open_guest_conn(f, 3, 7000);
    f->s[id].room = 3;
    guest_send(f, VSOCK_OP_RW, 3, 7000, 0, 0, "abcdef", 6);
    guest_send(f, VSOCK_OP_RW, 3, 7000, 0, 0, "gh", 2);
    assert_int_equal(f->s[id].out_total, 3);
    assert_int_equal(f->t.slot[id].txlen, 5);
    f->s[id].room = 100;
    vsock_conn_sock_events.ready(&f->t, id, VSOCK_SOCK_OUT);
    assert_int_equal(f->s[id].out_total, 8);
    assert_memory_equal(f->s[id].out, "abcdefgh", 8);
    assert_int_equal(f->t.slot[id].txlen, 0);
    struct vsock_pkt p;
    char data[64];
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1)); /* the room, told */
    assert_int_equal(p.op, VSOCK_OP_CREDIT_UPDATE);
    assert_int_equal(p.fwd_cnt, 8);

    /* A host that reads nothing: the guest's whole credit waits. */
    f->s[id].room = 0;
    char *chunk = malloc(VSOCK_BUF_ALLOC / 4);
    assert_non_null(chunk);
    memset(chunk, 'z', VSOCK_BUF_ALLOC / 4);
    for (uint32_t i = 1; i <= 4; i++) {
        guest_send(f, VSOCK_OP_RW, 3, 7000, 0, 0, chunk, VSOCK_BUF_ALLOC / 4);
        assert_int_equal(f->t.slot[id].state, VSOCK_OPEN);
        assert_int_equal(f->t.slot[id].txlen, i * (VSOCK_BUF_ALLOC / 4));
    }
    free(chunk);
    assert_int_equal(f->s[id].out_total, 8);
    /* One byte past it: the connection resets, nothing more is kept. */
    guest_send(f, VSOCK_OP_RW, 3, 7000, 0, 0, "!", 1);
    assert_int_equal(f->t.slot[id].state, VSOCK_RESET);
    assert_int_equal(f->t.slot[id].txlen, 0);
    assert_null(f->t.slot[id].txbuf);
    assert_false(f->s[id].open);
    assert_int_equal(f->stats.conns_killed, 1);
    expect_pkt(f, VSOCK_OP_RST, 7000, 3);
    assert_int_equal(f->t.slot[id].state, VSOCK_FREE);
    expect_nothing(f);
}

/* A packet for no connection gets an RST (never for an RST); so does one
 * not addressed to us; a malformed one resets its connection; the guest's
 * RST ends one silently. */
static void rst_for_unknown_connections(void **state)
{
    struct fx *f = *state;
    guest_send(f, VSOCK_OP_RW, 9, 9999, 0, 0, "x", 1);
    expect_pkt(f, VSOCK_OP_RST, 9999, 9);
    guest_send(f, VSOCK_OP_CREDIT_UPDATE, 9, 9999, 0, 0, NULL, 0);
    expect_pkt(f, VSOCK_OP_RST, 9999, 9);
    guest_send(f, VSOCK_OP_RST, 9, 9999, 0, 0, NULL, 0);
    expect_nothing(f);
    struct vsock_pkt stray = { .op = VSOCK_OP_REQUEST, .src_port = 1, .dst_port = 2 };
    vsock_conn_guest_stray(&f->t, &stray);
    expect_pkt(f, VSOCK_OP_RST, 2, 1);
    assert_int_equal(f->connects, 0); /* a stray REQUEST connects nowhere */
    stray.op = VSOCK_OP_RST;
    vsock_conn_guest_stray(&f->t, &stray);
    expect_nothing(f);

    f->services_refuse = true; /* nobody serves the port */
    guest_send(f, VSOCK_OP_REQUEST, 8, 4000, 0, 0, NULL, 0);
    expect_pkt(f, VSOCK_OP_RST, 4000, 8);
    f->services_refuse = false;

    int id = open_guest_conn(f, 4, 5000);
    struct vsock_pkt bad = { .op = VSOCK_OP_RW, .src_port = 4, .dst_port = 5000, .len = 1 };
    vsock_conn_guest_bad(&f->t, &bad);
    assert_false(f->s[id].open);
    expect_pkt(f, VSOCK_OP_RST, 5000, 4);
    id = open_guest_conn(f, 5, 5001);
    guest_send(f, VSOCK_OP_RESPONSE, 5, 5001, 0, 0, NULL, 0); /* it is no handshake */
    assert_false(f->s[id].open);
    expect_pkt(f, VSOCK_OP_RST, 5001, 5);
    id = open_guest_conn(f, 6, 5002);
    guest_send(f, VSOCK_OP_RST, 6, 5002, 0, 0, NULL, 0);
    assert_false(f->s[id].open);
    assert_int_equal(f->t.slot[id].state, VSOCK_FREE);
    expect_nothing(f);
    assert_int_equal(f->stats.conns_killed, 3);
}

/* SHUTDOWN each way: the guest's send side shuts the socket's write side
 * once what it sent is through; the host's end of stream is the guest's
 * SHUTDOWN; both ways from the guest, a reset once its data is through. */
static void shutdown_both_directions(void **state)
{
    struct fx *f = *state;
    struct vsock_pkt p;
    char data[64];
    int a = open_guest_conn(f, 10, 6000);
    guest_send(f, VSOCK_OP_SHUTDOWN, 10, 6000, VSOCK_SHUTDOWN_SEND, 0, NULL, 0);
    assert_true(f->s[a].shut_wr);
    host_writes(f, a, "late"); /* the other way still flows */
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_string_equal(data, "late");

    /* The host's end of stream: SHUTDOWN both ways, until the guest resets. */
    f->s[a].in_eof = true;
    vsock_conn_sock_events.ready(&f->t, a, VSOCK_SOCK_IN);
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_SHUTDOWN);
    assert_int_equal(p.flags, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
    assert_int_equal(f->t.slot[a].state, VSOCK_CLOSING);
    assert_true(f->timer_on);
    guest_send(f, VSOCK_OP_RST, 10, 6000, 0, 0, NULL, 0);
    assert_false(f->s[a].open);
    expect_nothing(f);

    /* The guest's send side while its data waits: shut once it is through. */
    int b = open_guest_conn(f, 11, 6001);
    f->s[b].room = 0;
    guest_send(f, VSOCK_OP_RW, 11, 6001, 0, 0, "queued", 6);
    guest_send(f, VSOCK_OP_SHUTDOWN, 11, 6001, VSOCK_SHUTDOWN_SEND, 0, NULL, 0);
    assert_false(f->s[b].shut_wr);
    f->s[b].room = SIZE_MAX;
    vsock_conn_sock_events.ready(&f->t, b, VSOCK_SOCK_OUT);
    assert_memory_equal(f->s[b].out, "queued", 6);
    assert_true(f->s[b].shut_wr);
    expect_pkt(f, VSOCK_OP_CREDIT_UPDATE, 6001, 11);

    /* Both ways from the guest: a reset at once with nothing waiting... */
    int c = open_guest_conn(f, 12, 6002);
    guest_send(f, VSOCK_OP_SHUTDOWN, 12, 6002, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, 0, NULL,
               0);
    assert_false(f->s[c].open);
    expect_pkt(f, VSOCK_OP_RST, 6002, 12);
    /* ...or once what it sent reached the host. */
    int d = open_guest_conn(f, 13, 6003);
    f->s[d].room = 0;
    guest_send(f, VSOCK_OP_RW, 13, 6003, 0, 0, "bye", 3);
    guest_send(f, VSOCK_OP_SHUTDOWN, 13, 6003, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, 0, NULL,
               0);
    assert_true(f->s[d].open);
    assert_int_equal(f->t.slot[d].state, VSOCK_CLOSING);
    expect_nothing(f);
    f->s[d].room = SIZE_MAX;
    vsock_conn_sock_events.ready(&f->t, d, VSOCK_SOCK_OUT);
    assert_memory_equal(f->s[d].out, "bye", 3);
    assert_false(f->s[d].open);
    expect_pkt(f, VSOCK_OP_RST, 6003, 13);
    expect_nothing(f);
}

/* Handshakes and closes end by their deadline: a host client that never
 * says CONNECT is hung up on, a REQUEST or SHUTDOWN the guest leaves
 * unanswered ends in an RST. The timer stops when nothing waits. */
static void deadlines(void **state)
{
    struct fx *f = *state;
    int a = open_guest_conn(f, 20, 9000);
    f->s[a].in_eof = true;
    vsock_conn_sock_events.ready(&f->t, a, VSOCK_SOCK_IN);
    struct vsock_pkt p;
    char data[64];
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_SHUTDOWN);
    f->clients_waiting = 2;
    f->next_hello = 0;
    vsock_conn_sock_events.incoming(&f->t); /* two silent clients */
    f->s[2].hello = 1;
    f->s[2].hello_port = 80;
    vsock_conn_sock_events.ready(&f->t, 2, VSOCK_SOCK_IN);
    assert_true(guest_recv(f, &p, data, sizeof(data) - 1));
    assert_int_equal(p.op, VSOCK_OP_REQUEST);
    uint32_t local = p.src_port;

    f->now += VSOCK_TIMEOUT_MS * 1000000ull - 1;
    vsock_conn_sock_events.tick(&f->t);
    assert_true(f->s[a].open && f->s[1].open && f->s[2].open);
    assert_true(f->timer_on);
    f->now += 1;
    vsock_conn_sock_events.tick(&f->t);
    assert_false(f->s[a].open || f->s[1].open || f->s[2].open);
    assert_false(f->timer_on);
    assert_int_equal(f->stats.conns_killed, 3);
    bool rst_a = false, rst_req = false;
    while (guest_recv(f, &p, data, sizeof(data) - 1)) {
        assert_int_equal(p.op, VSOCK_OP_RST);
        rst_a |= p.src_port == 9000 && p.dst_port == 20;
        rst_req |= p.src_port == local && p.dst_port == 80;
    }
    assert_true(rst_a && rst_req); /* the silent client's hang-up is not the guest's news */
}

/* VSOCK_MAX_CONNS at once: one more finds no slot (not even for an RST),
 * host clients are hung up on; a slot freed serves again. A driver reset
 * ends them all. */
static void connection_table_full(void **state)
{
    struct fx *f = *state;
    for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
        guest_send(f, VSOCK_OP_REQUEST, 100 + i, 8000, 0, 0, NULL, 0);
        expect_pkt(f, VSOCK_OP_RESPONSE, 8000, 100 + i);
    }
    expect_nothing(f); /* every read ran dry */
    guest_send(f, VSOCK_OP_REQUEST, 999, 8000, 0, 0, NULL, 0);
    assert_int_equal(f->connects, VSOCK_MAX_CONNS + 1);
    assert_int_equal(f->dropped, 1); /* the service saw the attempt, as it always did */
    expect_nothing(f);
    f->clients_waiting = 2;
    vsock_conn_sock_events.incoming(&f->t);
    assert_int_equal(f->clients_waiting, 0);
    assert_int_equal(f->dropped, 3);
    guest_send(f, VSOCK_OP_RW, 1, 1, 0, 0, "x", 1); /* no slot for its RST either */
    expect_nothing(f);

    int id = conn_of(f, 8000, 100);
    guest_send(f, VSOCK_OP_RST, 100, 8000, 0, 0, NULL, 0);
    assert_false(f->s[id].open);
    guest_send(f, VSOCK_OP_REQUEST, 999, 8000, 0, 0, NULL, 0);
    expect_pkt(f, VSOCK_OP_RESPONSE, 8000, 999);
    assert_int_equal(conn_of(f, 8000, 999), id);

    uint64_t killed = f->stats.conns_killed;
    vsock_conn_reset(&f->t);
    for (int i = 0; i < VSOCK_MAX_CONNS; i++) {
        assert_false(f->s[i].open);
        assert_int_equal(f->t.slot[i].state, VSOCK_FREE);
    }
    assert_int_equal(f->stats.conns_killed, killed + VSOCK_MAX_CONNS);
    expect_nothing(f);
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(guest_conn_data_both_ways_within_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(host_conn_handshake_then_data, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_beyond_credit_loses_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(rst_for_unknown_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(deadlines, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_table_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
