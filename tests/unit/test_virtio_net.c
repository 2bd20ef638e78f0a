/* Unit tests: virtio-net over a datagram socket standing in for the TAP
 * (one read, one frame; readv answers as a TAP does for a frame cut to the
 * buffer): frames both ways without copies, num_buffers,
 * buffers running out, malformed frames, the TX rate limiter, MAC and MTU
 * in the configuration space. */
#include "core/log.h"
#include "devices/virtio/net.h"
#include "../virtio_driver.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#define MEM_SIZE (4 << 20)
#define RXBUF(i) (VD_DATA + 0x10000 + (uint64_t)(i)*0x1000)
#define TXBUF VD_DATA

static struct guest_mem mem;
static struct virtio_net net;
static struct vd d;
static int peer; /* the host's end of the "TAP" */

static void t_irq(void *ctx) { (void)ctx; }

/* The device's readv, as a TAP answers it: a frame longer than the buffer
 * is cut to it, and the frame's whole length is returned (tun_put_user's
 * `total`). A datagram socket says the same when asked with MSG_TRUNC. */
ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    if (!net.mmio.ops || fd != net.tap)
        return syscall(SYS_readv, fd, iov, iovcnt);
    struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    return recvmsg(fd, &mh, MSG_TRUNC);
}

static void start(const struct ratelimit_config *tx)
{
    if (!mem.host)
        assert_int_equal(guest_mem_init(&mem, MEM_SIZE, false), 0);
    memset(mem.host, 0, MEM_SIZE);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
    peer = sv[1];
    struct net_config cfg = { .iface_id = "eth0",
                              .host_dev_name = "tap0",
                              .has_mac = true,
                              .guest_mac = { 6, 0, 0xac, 0x10, 0, 2 },
                              .mtu = 1400 };
    if (tx)
        cfg.tx_rate_limiter = *tx;
    char err[256];
    assert_int_equal(virtio_net_init(&net, &cfg, sv[0], false, &mem, err, sizeof(err)), 0);
    virtio_mmio_set_irq(&net.mmio, t_irq, NULL);
    assert_true(vd_setup(&d, &net.mmio, &mem, VIRTIO_RING_F_EVENT_IDX, 64));
}

static int teardown(void **state)
{
    (void)state;
    virtio_net_destroy(&net);
    close(peer);
    return 0;
}

static void post_rx(int i, uint32_t len)
{
    struct vd_seg s = { RXBUF(i), len, true };
    vd_chain(&d, 0, &s, 1);
    vd_notify(&d, 0);
}

static void send_frame(const char *payload)
{
    uint8_t hdr[12] = { 0 };
    memcpy(mem.host + TXBUF, hdr, 12);
    memcpy(mem.host + TXBUF + 0x100, payload, strlen(payload));
    struct vd_seg s[2] = { { TXBUF, 12, false },
                           { TXBUF + 0x100, (uint32_t)strlen(payload), false } };
    vd_chain(&d, 1, s, 2);
    vd_notify(&d, 1);
}

static void config_and_features(void **state)
{
    (void)state;
    start(NULL);
    uint8_t mac[6];
    for (int i = 0; i < 6; i++)
        virtio_mmio_ops.read(&net.mmio, 0x100 + (uint64_t)i, &mac[i], 1);
    assert_memory_equal(mac, "\x06\x00\xac\x10\x00\x02", 6);
    uint16_t mtu;
    virtio_mmio_ops.read(&net.mmio, 0x10a, (uint8_t *)&mtu, 2);
    assert_int_equal(mtu, 1400);
    vd_wr(&d, 0x14, 0);
    uint32_t f = vd_rd(&d, 0x10);
    assert_true(f & (1u << 5));  /* MAC */
    assert_true(f & (1u << 3));  /* MTU */
    assert_true(f & (1u << 0));  /* CSUM: the TAP fills checksums */
    assert_true(f & (1u << 11)); /* HOST_TSO4 */
    assert_false(f & (1u << 1)); /* no GUEST_CSUM without TAP offloads */
}

static void frames_both_ways(void **state)
{
    (void)state;
    start(NULL);
    send_frame("a frame for the host");
    char buf[128];
    ssize_t n = read(peer, buf, sizeof(buf));
    assert_int_equal(n, 12 + 20);
    assert_memory_equal(buf + 12, "a frame for the host", 20);
    assert_int_equal(net.stats.tx_packets_count, 1);
    assert_int_equal(net.stats.tx_bytes_count, 20);
    /* To the guest: none until it gives a buffer. */
    uint8_t frame[12 + 30] = { 0 };
    memcpy(frame + 12, "a frame for the guest, 30 byte", 30);
    assert_int_equal(write(peer, frame, sizeof(frame)), sizeof(frame));
    virtio_net_tap_event(&net, EPOLLIN);
    assert_false(vd_used(&d, 0, NULL, NULL));
    assert_true(net.rx_starved);
    post_rx(0, 2048);
    uint32_t len;
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, sizeof(frame));
    assert_memory_equal(mem.host + RXBUF(0) + 12, frame + 12, 30);
    uint16_t nb;
    memcpy(&nb, mem.host + RXBUF(0) + 10, 2);
    assert_int_equal(nb, 1); /* num_buffers */
    assert_int_equal(net.stats.rx_bytes_count, 30);
    /* Malformed: a header and nothing else, a writable TX buffer. */
    struct vd_seg h = { TXBUF, 12, false };
    vd_chain(&d, 1, &h, 1);
    vd_notify(&d, 1);
    assert_true(vd_used(&d, 1, NULL, NULL));
    assert_true(vd_used(&d, 1, NULL, NULL));
    assert_int_equal(net.stats.tx_malformed_frames, 1);
    assert_int_equal(read(peer, buf, sizeof(buf)), -1); /* nothing went out */
    /* A receive buffer too small for a header is given back empty. */
    post_rx(1, 4);
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, 0);
    assert_false(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

/* The used length never claims more than the buffer the guest gave: a
 * frame that did not fit is dropped, and the buffer takes the next one. */
static void rx_used_length_stays_within_the_buffer(void **state)
{
    (void)state;
    start(NULL);
    uint8_t big[12 + 200] = { 0 };
    memset(big + 12, 0xab, 200);
    assert_int_equal(write(peer, big, sizeof(big)), sizeof(big));
    post_rx(0, 64);
    uint32_t len;
    assert_false(vd_used(&d, 0, NULL, &len));
    assert_int_equal(net.stats.tap_read_fails, 1);
    assert_int_equal(net.stats.rx_packets_count, 0);
    uint8_t small[12 + 30] = { 0 };
    memcpy(small + 12, "a frame for the guest, 30 byte", 30);
    assert_int_equal(write(peer, small, sizeof(small)), sizeof(small));
    virtio_net_tap_event(&net, EPOLLIN);
    assert_true(vd_used(&d, 0, NULL, &len));
    assert_int_equal(len, sizeof(small));
    assert_memory_equal(mem.host + RXBUF(0) + 12, small + 12, 30);
    assert_false(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void tx_rate_limiter_holds_frames(void **state)
{
    (void)state;
    struct ratelimit_config tx = { .ops = { 1, 0, 100 } };
    start(&tx);
    send_frame("one");
    send_frame("two");
    char buf[64];
    assert_int_equal(read(peer, buf, sizeof(buf)), 15);
    assert_int_equal(read(peer, buf, sizeof(buf)), -1);
    struct pollfd p = { .fd = net.tx_rl.timer_fd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 1000), 1);
    virtio_mmio_limiter_fired(&net.mmio, &net.tx_rl, 1);
    assert_int_equal(read(peer, buf, sizeof(buf)), 15);
    assert_memory_equal(buf + 12, "two", 3);
    /* A PATCH lifts the limit. */
    struct ratelimit_config none = { 0 };
    struct ratelimit_config rx = { 0 };
    virtio_net_update(&net, &rx, &none);
    for (int i = 0; i < 5; i++)
        send_frame("more");
    for (int i = 0; i < 5; i++)
        assert_int_equal(read(peer, buf, sizeof(buf)), 16);
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(config_and_features, teardown),
        cmocka_unit_test_teardown(frames_both_ways, teardown),
        cmocka_unit_test_teardown(rx_used_length_stays_within_the_buffer, teardown),
        cmocka_unit_test_teardown(tx_rate_limiter_holds_frames, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
