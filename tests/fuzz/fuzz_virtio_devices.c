/* libFuzzer target: a hostile guest drives virtio-blk, virtio-net,
 * virtio-vsock or virtio-rng (first input byte) through the transport:
 * register accesses, its RAM (rings, descriptors, requests and packet
 * headers), and the backends' side (a completion to reap, a frame from the
 * "TAP", bytes from a host socket, a limiter's timer). The second input
 * byte's low bit sets the device up first as a driver would (every queue
 * live, 16 entries, rings as tests/virtio_driver.h places them), so the
 * steps reach the request parsers. Each step is 12 bytes: op, width,
 * offset (u16), value (u64). The devices run in place (no I/O thread), on
 * a 64 KiB disk, a datagram socket pair for the TAP, a Unix socket for
 * vsock. */
#include "core/log.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "../virtio_driver.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (256 << 10)

static void no_irq(void *ctx) { (void)ctx; }

static struct guest_mem mem;
static struct virtio_blk blk;
static struct virtio_net net;
static struct virtio_vsock vs;
static struct virtio_rng rng;
static char disk[64], uds[64];
static int peer = -1;

static struct virtio_mmio *start(int kind)
{
    char err[256];
    if (kind == 0) {
        struct drive_config cfg = { .drive_id = "fuzz",
                                    .path_on_host = disk,
                                    .cache_type = CACHE_WRITEBACK,
                                    .rate_limiter = { .ops = { 20, 0, 1 } } };
        if (virtio_blk_init(&blk, &cfg, &mem, err, sizeof(err)) < 0)
            abort();
        return &blk.mmio;
    }
    if (kind == 1) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
            abort();
        peer = sv[1];
        struct net_config cfg = { .iface_id = "eth0",
                                  .host_dev_name = "tap",
                                  .rx_rate_limiter = { .bandwidth = { 4096, 0, 1 } } };
        if (virtio_net_init(&net, &cfg, sv[0], false, &mem, err, sizeof(err)) < 0)
            abort();
        return &net.mmio;
    }
    if (kind == 2) {
        unlink(uds);
        struct vsock_config cfg = { .on = true, .guest_cid = 3, .uds_path = uds };
        if (virtio_vsock_init(&vs, &cfg, &mem, err, sizeof(err)) < 0)
            abort();
        return &vs.mmio;
    }
    struct entropy_config cfg = { .on = true, .rate_limiter = { .bandwidth = { 256, 0, 1 } } };
    if (virtio_rng_init(&rng, &cfg, &mem) < 0)
        abort();
    return &rng.mmio;
}

static void stop(int kind)
{
    if (kind == 0)
        virtio_blk_destroy(&blk);
    else if (kind == 1) {
        virtio_net_destroy(&net);
        close(peer);
    } else if (kind == 2)
        virtio_vsock_destroy(&vs);
    else
        virtio_rng_destroy(&rng);
}

/* The backend's side of one step. */
static void backend(int kind, const uint8_t *s)
{
    if (kind == 0) {
        virtio_blk_complete(&blk);
        if (s[4] & 1)
            virtio_mmio_limiter_fired(&blk.mmio, &blk.rl, 0);
    } else if (kind == 1) {
        uint8_t frame[256] = { 0 };
        size_t n = 12 + s[4] % 200;
        memcpy(frame, s, 12);
        if (s[5] & 1) {
            ssize_t w = write(peer, frame, n);
            (void)w;
        }
        virtio_net_tap_event(&net, s[6] & 3 ? 1 /* EPOLLIN */ : 4 /* EPOLLOUT */);
        if (s[7] & 1)
            virtio_mmio_limiter_fired(&net.mmio, &net.rx_rl, 0);
    } else if (kind == 2) {
        if (s[4] & 1) {
            /* a host client that says CONNECT, or something else */
            int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
            struct sockaddr_un a = { .sun_family = AF_UNIX };
            snprintf(a.sun_path, sizeof(a.sun_path), "%s", uds);
            if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
                char line[32];
                int n = snprintf(line, sizeof(line), "%s %u\n", s[5] & 1 ? "CONNECT" : "X",
                                 s[6] | s[7] << 8);
                ssize_t w = write(c, line, (size_t)n);
                (void)w;
            }
            if (c >= 0)
                close(c);
        }
        virtio_vsock_host_events(&vs);
    } else {
        virtio_mmio_limiter_fired(&rng.mmio, &rng.rl, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mem.host) {
        log_init(NULL, LOG_OFF, NULL);
        /* As hearth does: a host client that hung up is vsock's EPIPE, not
         * the end of the process. */
        signal(SIGPIPE, SIG_IGN);
        guest_mem_init(&mem, RAM, false);
        snprintf(disk, sizeof(disk), "/tmp/hearth-fuzz-disk.%d", getpid());
        snprintf(uds, sizeof(uds), "/tmp/hearth-fuzz-vsock.%d", getpid());
        FILE *f = fopen(disk, "w");
        if (!f || ftruncate(fileno(f), 64 << 10) < 0)
            abort();
        fclose(f);
    }
    if (size < 2)
        return 0;
    memset(mem.host, 0, RAM);
    int kind = data[0] % 4;
    struct virtio_mmio *m = start(kind);
    virtio_mmio_set_irq(m, no_irq, NULL);
    if (data[1] & 1) {
        struct vd d;
        vd_setup(&d, m, &mem, data[1] & 2 ? VIRTIO_RING_F_EVENT_IDX : 0, 16);
    }
    for (size_t off = 2; off + 12 <= size; off += 12) {
        const uint8_t *s = data + off;
        static const uint32_t widths[4] = { 1, 2, 4, 8 };
        uint32_t len = widths[s[1] & 3];
        uint64_t reg = ((uint64_t)s[2] | (uint64_t)s[3] << 8) % 0x1000;
        uint8_t val[8];
        memcpy(val, s + 4, 8);
        if (reg + len > 0x1000)
            continue; /* the trap registry never passes such an access */
        switch (s[0] % 8) {
        case 0: virtio_mmio_ops.read(m, reg, val, len); break;
        case 1: virtio_mmio_ops.write(m, reg, val, len); break;
        case 2: { /* a notification, the way a driver writes it */
            uint32_t q = s[4] % 4;
            virtio_mmio_ops.write(m, 0x50, (uint8_t *)&q, 4);
            break;
        }
        case 3:
        case 4:
        case 5: /* the guest writes its own RAM: rings, headers, buffers */
            memcpy(mem.host + ((uint32_t)s[2] | (uint32_t)s[3] << 8 | (uint32_t)(s[1] >> 4) << 16) %
                                  (RAM - 8),
                   val, 8);
            break;
        case 6:
        case 7: backend(kind, s); break;
        }
    }
    stop(kind);
    return 0;
}
