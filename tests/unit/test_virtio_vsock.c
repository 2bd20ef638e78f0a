/* Unit tests: virtio-vsock's Unix-socket model both ways (host CONNECT
 * with "OK <port>", guest connections to <uds_path>_<port>), credit,
 * shutdown and reset, and what a stray or forged packet gets. */
#include "core/log.h"
#include "devices/virtio/vsock.h"
#include "../virtio_driver.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#define MEM_SIZE (4 << 20)
#define CID 3
#define RXBUF(i) (VD_DATA + 0x10000 + (uint64_t)(i)*0x2000)
#define TXBUF (VD_DATA)

static struct guest_mem mem;
static struct virtio_vsock vs;
static struct vd d;
static char dir[40], uds[64];
static int next_rx;

static void t_irq(void *ctx) { (void)ctx; }

/* Gives the device n receive buffers (header and 4 KiB, one chain each). */
static void post_rx(int n)
{
    for (int i = 0; i < n; i++, next_rx++) {
        struct vd_seg s[2] = { { RXBUF(next_rx % 64), 44, true },
                               { RXBUF(next_rx % 64) + 64, 4096, true } };
        vd_chain(&d, 0, s, 2);
    }
    vd_notify(&d, 0);
}

static int setup(void **state)
{
    (void)state;
    if (!mem.host)
        assert_int_equal(guest_mem_init(&mem, MEM_SIZE, false), 0);
    memset(mem.host, 0, MEM_SIZE);
    strcpy(dir, "/tmp/hearth-vsock.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(uds, sizeof(uds), "%s/v.sock", dir);
    struct vsock_config cfg = { .on = true, .guest_cid = CID, .uds_path = uds };
    char err[256];
    assert_int_equal(virtio_vsock_check(&cfg, err, sizeof(err)), 0);
    assert_int_equal(virtio_vsock_init(&vs, &cfg, &mem, err, sizeof(err)), 0);
    assert_int_equal(virtio_vsock_check(&cfg, err, sizeof(err)), -EADDRINUSE);
    virtio_mmio_set_irq(&vs.mmio, t_irq, NULL);
    assert_true(vd_setup(&d, &vs.mmio, &mem, VIRTIO_RING_F_EVENT_IDX, 64));
    next_rx = 0;
    post_rx(16);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    virtio_vsock_destroy(&vs);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void send_pkt(uint16_t op, uint32_t src_port, uint32_t dst_port, const char *data,
                     uint32_t flags)
{
    uint32_t len = data ? (uint32_t)strlen(data) : 0;
    struct vsock_hdr h = { .src_cid = CID,
                           .dst_cid = 2,
                           .src_port = src_port,
                           .dst_port = dst_port,
                           .len = len,
                           .type = 1,
                           .op = op,
                           .flags = flags,
                           .buf_alloc = 65536 };
    memcpy(mem.host + TXBUF, &h, sizeof(h));
    if (len)
        memcpy(mem.host + TXBUF + 0x100, data, len);
    struct vd_seg s[2] = { { TXBUF, sizeof(h), false }, { TXBUF + 0x100, len, false } };
    vd_chain(&d, 1, s, len ? 2 : 1);
    vd_notify(&d, 1);
}

/* The next packet the device put on the RX queue. */
static bool recv_pkt(struct vsock_hdr *h, char *data)
{
    uint32_t id, len;
    if (!vd_used(&d, 0, &id, &len))
        return false;
    /* Chains were posted as descriptor pairs in order: id / 2 is the slot. */
    uint64_t buf = RXBUF((id / 2) % 64);
    memcpy(h, mem.host + buf, sizeof(*h));
    assert_int_equal(len, sizeof(*h) + h->len);
    if (data) {
        memcpy(data, mem.host + buf + 64, h->len);
        data[h->len] = 0;
    }
    return true;
}

static int client(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* A host service for guest connections to `port`: <uds_path>_<port>. */
static int host_service(unsigned port)
{
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", uds, port);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    return l;
}

static void host_events(void)
{
    struct pollfd p = { .fd = vs.host.epfd, .events = POLLIN };
    poll(&p, 1, 200);
    virtio_vsock_host_events(&vs);
}

static void host_connects_and_talks(void **state)
{
    (void)state;
    int fd = client(uds);
    assert_int_equal(write(fd, "CONNECT 1234\nearly", 18), 18);
    host_events();
    struct vsock_hdr h;
    char data[4200];
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_REQUEST);
    assert_int_equal(h.src_cid, 2);
    assert_int_equal(h.dst_cid, CID);
    assert_int_equal(h.dst_port, 1234);
    assert_true(h.src_port >= 1u << 30);
    uint32_t host_port = h.src_port;
    send_pkt(VSOCK_OP_RESPONSE, 1234, host_port, NULL, 0);
    char ok[32] = { 0 };
    assert_true(read(fd, ok, sizeof(ok) - 1) > 0);
    char want[32];
    snprintf(want, sizeof(want), "OK %u\n", host_port);
    assert_string_equal(ok, want);
    /* What the client wrote after its CONNECT line is the stream's. */
    host_events();
    assert_true(recv_pkt(&h, data));
    assert_int_equal(h.op, VSOCK_OP_RW);
    assert_string_equal(data, "early");
    assert_int_equal(write(fd, "hello", 5), 5);
    host_events();
    assert_true(recv_pkt(&h, data));
    assert_string_equal(data, "hello");
    send_pkt(VSOCK_OP_RW, 1234, host_port, "world", 0);
    char got[8] = { 0 };
    assert_int_equal(read(fd, got, 5), 5);
    assert_string_equal(got, "world");
    /* The guest closes both ways: Firecracker resets; the client sees EOF. */
    send_pkt(VSOCK_OP_SHUTDOWN, 1234, host_port, NULL, 3);
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RST);
    assert_int_equal(read(fd, got, 1), 0);
    close(fd);
}

static void guest_connects_to_a_host_service(void **state)
{
    (void)state;
    int l = host_service(5000);
    send_pkt(VSOCK_OP_REQUEST, 777, 5000, NULL, 0);
    struct vsock_hdr h;
    char data[4200];
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RESPONSE);
    assert_int_equal(h.src_port, 5000);
    assert_int_equal(h.dst_port, 777);
    assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
    int fd = accept(l, NULL, NULL);
    assert_true(fd >= 0);
    send_pkt(VSOCK_OP_RW, 777, 5000, "ping", 0);
    char got[8] = { 0 };
    assert_int_equal(read(fd, got, 4), 4);
    assert_string_equal(got, "ping");
    assert_int_equal(write(fd, "pong", 4), 4);
    host_events();
    assert_true(recv_pkt(&h, data));
    assert_string_equal(data, "pong");
    assert_int_equal(h.fwd_cnt, 4); /* the credit it took */
    /* The host service closes: the guest hears SHUTDOWN, answers RST. */
    close(fd);
    host_events();
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
    assert_int_equal(h.flags, 3);
    send_pkt(VSOCK_OP_RST, 777, 5000, NULL, 0);
    assert_false(recv_pkt(&h, NULL));
    close(l);
    /* No service on a port: the guest gets a reset. */
    send_pkt(VSOCK_OP_REQUEST, 778, 5001, NULL, 0);
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RST);
    assert_int_equal(h.src_port, 5001);
}

/* The guest's credit bounds what the host sends. */
static void host_data_waits_for_credit(void **state)
{
    (void)state;
    int l = host_service(6000);
    /* buf_alloc 65536 from send_pkt; then an update with only 10 bytes. */
    send_pkt(VSOCK_OP_REQUEST, 1, 6000, NULL, 0);
    struct vsock_hdr h;
    assert_true(recv_pkt(&h, NULL));
    int fd = accept(l, NULL, NULL);
    struct vsock_hdr cu = { .src_cid = CID,
                            .dst_cid = 2,
                            .src_port = 1,
                            .dst_port = 6000,
                            .type = 1,
                            .op = VSOCK_OP_CREDIT_UPDATE,
                            .buf_alloc = 10 };
    memcpy(mem.host + TXBUF, &cu, sizeof(cu));
    struct vd_seg s = { TXBUF, sizeof(cu), false };
    vd_chain(&d, 1, &s, 1);
    vd_notify(&d, 1);
    assert_int_equal(write(fd, "0123456789abcdef", 16), 16);
    host_events();
    char data[4200];
    assert_true(recv_pkt(&h, data));
    assert_string_equal(data, "0123456789");
    assert_false(recv_pkt(&h, NULL)); /* no credit left */
    cu.fwd_cnt = 10;
    memcpy(mem.host + TXBUF, &cu, sizeof(cu));
    vd_chain(&d, 1, &s, 1);
    vd_notify(&d, 1);
    assert_true(recv_pkt(&h, data));
    assert_string_equal(data, "abcdef");
    close(fd);
    close(l);
}

/* A guest that closes while the host has not read all it sent: what the
 * device acknowledged still reaches the host, then EOF, then the RST. */
static void guest_close_drains_to_the_host(void **state)
{
    (void)state;
    int l = host_service(7000);
    send_pkt(VSOCK_OP_REQUEST, 2, 7000, NULL, 0);
    struct vsock_hdr h;
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RESPONSE);
    int fd = accept(l, NULL, NULL);
    assert_true(fd >= 0);
    /* More than the host socket holds (it is not read yet), less than
     * the credit the device gave (VSOCK_BUF_ALLOC): the rest waits. */
    char chunk[4001];
    size_t sent = 0;
    for (int i = 0; sent + 4000 <= VSOCK_BUF_ALLOC + 128 * 1024 && i < 200; i++) {
        memset(chunk, 'a' + i % 26, 4000);
        chunk[4000] = 0;
        send_pkt(VSOCK_OP_RW, 2, 7000, chunk, 0);
        sent += 4000;
        while (recv_pkt(&h, NULL)) /* credit updates */
            ;
        if (vs.conns.slot[0].txlen + vs.conns.slot[1].txlen > 64 * 1024)
            break;
    }
    assert_true(vs.conns.slot[0].txlen + vs.conns.slot[1].txlen > 0); /* some of it waits */
    send_pkt(VSOCK_OP_SHUTDOWN, 2, 7000, NULL, 3);
    size_t got = 0;
    bool eof = false, rst = false;
    char buf[65536];
    for (int tries = 0; tries < 200 && !eof; tries++) {
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            for (ssize_t k = 0; k < r; k++)
                assert_int_equal(buf[k], 'a' + (int)((got + (size_t)k) / 4000) % 26);
            got += (size_t)r;
        } else if (r == 0) {
            eof = true;
        }
        host_events();
        while (recv_pkt(&h, NULL))
            rst |= h.op == VSOCK_OP_RST;
    }
    assert_true(eof);
    assert_int_equal(got, sent);
    assert_true(rst);
    close(fd);
    close(l);
}

static void strays_and_forgeries_get_resets(void **state)
{
    (void)state;
    struct vsock_hdr h;
    send_pkt(VSOCK_OP_RW, 9, 9999, "x", 0); /* no such connection */
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RST);
    send_pkt(VSOCK_OP_RST, 9, 9999, NULL, 0); /* a reset is never answered */
    assert_false(recv_pkt(&h, NULL));
    /* A forged source CID. */
    struct vsock_hdr f = {
        .src_cid = 77, .dst_cid = 2, .src_port = 1, .dst_port = 2, .type = 1, .op = VSOCK_OP_REQUEST
    };
    memcpy(mem.host + TXBUF, &f, sizeof(f));
    struct vd_seg s = { TXBUF, sizeof(f), false };
    vd_chain(&d, 1, &s, 1);
    vd_notify(&d, 1);
    assert_true(recv_pkt(&h, NULL));
    assert_int_equal(h.op, VSOCK_OP_RST);
    /* A short header is dropped; the device goes on. */
    struct vd_seg shorth = { TXBUF, 20, false };
    vd_chain(&d, 1, &shorth, 1);
    vd_notify(&d, 1);
    assert_false(recv_pkt(&h, NULL));
    /* A client that never says CONNECT, or says something else, is cut. */
    int fd = client(uds);
    assert_int_equal(write(fd, "HELLO 5\n", 8), 8);
    host_events();
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    close(fd);
    assert_false(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(host_connects_and_talks, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_connects_to_a_host_service, setup, teardown),
        cmocka_unit_test_setup_teardown(host_data_waits_for_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_close_drains_to_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(strays_and_forgeries_get_resets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
