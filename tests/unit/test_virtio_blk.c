/* Unit tests: virtio-blk on a temporary file: reads, writes, flush, GET_ID,
 * every request checked against the disk's size and shape, the rate
 * limiter, a backing file swapped live, a reset or a queue stop with I/O in
 * flight, a ring that runs the disk's I/O and nothing else. */
#include "core/log.h"
#include "core/seccomp.h"
#include "devices/virtio/blk.h"
#include "../virtio_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#define MEM_SIZE (4 << 20)
#define DISK (1 << 20)
#define HDR VD_DATA
#define BUF (VD_DATA + 0x1000)
#define STATUS (VD_DATA + 0x100)

static struct guest_mem mem;
static struct virtio_blk blk;
static struct vd d;
static char path[64], path2[64];
static int irqs;
/* A held read's writer (hold_reads): teardown ends it and closes the pipe,
 * so that a failed test's read still completes (end of file). */
static struct late_write {
    int fd;
    uint8_t byte;
    bool started;
    pthread_t thread;
} late = { .fd = -1 };

static void t_irq(void *ctx)
{
    (void)ctx;
    irqs++;
}

static void make_disk(char *p, size_t size, uint8_t seed)
{
    strcpy(p, "/tmp/hearth-blk.XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    uint8_t *b = malloc(size);
    for (size_t i = 0; i < size; i++)
        b[i] = (uint8_t)(i / 512 + seed);
    assert_int_equal(write(fd, b, size), (ssize_t)size);
    free(b);
    close(fd);
}

static void start(bool read_only, bool writeback, const struct ratelimit_config *rl)
{
    if (!mem.host)
        assert_int_equal(guest_mem_init(&mem, MEM_SIZE, false), 0);
    memset(mem.host, 0, MEM_SIZE);
    make_disk(path, DISK, 0);
    struct drive_config cfg = { .drive_id = "drive0",
                                .path_on_host = path,
                                .is_read_only = read_only,
                                .cache_type = writeback ? CACHE_WRITEBACK : CACHE_UNSAFE };
    if (rl)
        cfg.rate_limiter = *rl;
    char err[256];
    assert_int_equal(virtio_blk_init(&blk, &cfg, &mem, err, sizeof(err)), 0);
    virtio_mmio_set_irq(&blk.mmio, t_irq, NULL);
    assert_true(vd_setup(&d, &blk.mmio, &mem, VIRTIO_RING_F_EVENT_IDX, 64));
    irqs = 0;
}

static int teardown(void **state)
{
    (void)state;
    if (late.started)
        pthread_join(late.thread, NULL);
    if (late.fd >= 0)
        close(late.fd);
    late = (struct late_write){ .fd = -1 };
    virtio_blk_destroy(&blk);
    unlink(path);
    if (path2[0])
        unlink(path2);
    path2[0] = 0;
    return 0;
}

static void header(uint32_t type, uint64_t sector)
{
    uint32_t h[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
    memcpy(mem.host + HDR, h, 16);
    mem.host[STATUS] = 0xff;
}

/* Notifies and waits for the next used element: its length, or -1. */
static int64_t run(void)
{
    vd_notify(&d, 0);
    uint32_t len;
    for (int i = 0; i < 100; i++) {
        if (vd_used(&d, 0, NULL, &len))
            return len;
        struct pollfd p = { .fd = blk.ring_fd, .events = POLLIN };
        if (poll(&p, 1, 20) == 1)
            virtio_blk_complete(&blk);
    }
    return -1;
}

static int64_t rw(uint32_t type, uint64_t sector, uint32_t len)
{
    header(type, sector);
    bool in = type != VIRTIO_BLK_T_OUT;
    struct vd_seg s[4] = { { HDR, 16, false },
                           { BUF, len / 2, in },
                           { BUF + len / 2, len - len / 2, in },
                           { STATUS, 1, true } };
    vd_chain(&d, 0, s, 4);
    return run();
}

static void reads_writes_flush_and_id(void **state)
{
    (void)state;
    start(false, true, NULL);
    uint64_t cap;
    virtio_mmio_ops.read(&blk.mmio, 0x100, (uint8_t *)&cap, 8);
    assert_int_equal(cap, DISK / 512);
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 3, 1024), 1025);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
    assert_int_equal(mem.host[BUF], 3);
    assert_int_equal(mem.host[BUF + 1023], 4);
    assert_true(irqs >= 1);
    memset(mem.host + BUF, 0xab, 2048);
    assert_int_equal(rw(VIRTIO_BLK_T_OUT, 10, 2048), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
    int fd = open(path, O_RDONLY);
    uint8_t b[2];
    assert_int_equal(pread(fd, b, 2, 10 * 512 + 2047), 2);
    close(fd);
    assert_int_equal(b[0], 0xab);
    assert_int_equal(b[1], 14);
    /* The last sector is readable; one past it is not. */
    assert_int_equal(rw(VIRTIO_BLK_T_IN, DISK / 512 - 1, 512), 513);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
    header(VIRTIO_BLK_T_FLUSH, 0);
    struct vd_seg f[2] = { { HDR, 16, false }, { STATUS, 1, true } };
    vd_chain(&d, 0, f, 2);
    assert_int_equal(run(), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
    header(VIRTIO_BLK_T_GET_ID, 0);
    struct vd_seg id[3] = { { HDR, 16, false }, { BUF, 20, true }, { STATUS, 1, true } };
    vd_chain(&d, 0, id, 3);
    assert_int_equal(run(), 21);
    assert_string_equal((char *)mem.host + BUF, "drive0");
    assert_int_equal(blk.stats.read_count, 2);
    assert_int_equal(blk.stats.write_bytes, 2048);
    assert_int_equal(blk.stats.flush_count, 1);
}

static void bad_requests_fail_and_the_device_goes_on(void **state)
{
    (void)state;
    start(false, false, NULL);
    /* Beyond the end, straddling it, a sector number that would wrap. */
    assert_int_equal(rw(VIRTIO_BLK_T_IN, DISK / 512, 512), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    assert_int_equal(rw(VIRTIO_BLK_T_OUT, DISK / 512 - 1, 1024), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    assert_int_equal(rw(VIRTIO_BLK_T_IN, ~0ull / 512 + 5, 1024), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    /* Not a whole number of sectors. */
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 700), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    /* Unknown type. */
    assert_int_equal(rw(77, 0, 512), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_UNSUPP);
    /* A read whose data is readable, a header cut short, no status byte. */
    header(VIRTIO_BLK_T_IN, 0);
    struct vd_seg wrong[3] = { { HDR, 16, false }, { BUF, 512, false }, { STATUS, 1, true } };
    vd_chain(&d, 0, wrong, 3);
    assert_int_equal(run(), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    struct vd_seg shorthdr[2] = { { HDR, 8, false }, { STATUS, 1, true } };
    vd_chain(&d, 0, shorthdr, 2);
    assert_int_equal(run(), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    struct vd_seg nostatus[1] = { { HDR, 16, false } };
    vd_chain(&d, 0, nostatus, 1);
    assert_int_equal(run(), 0);
    /* A header split over two descriptors is still a header. */
    header(VIRTIO_BLK_T_IN, 1);
    struct vd_seg split[4] = {
        { HDR, 8, false }, { HDR + 8, 8, false }, { BUF, 512, true }, { STATUS, 1, true }
    };
    vd_chain(&d, 0, split, 4);
    assert_int_equal(run(), 513);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
    assert_int_equal(mem.host[BUF], 1);
    assert_int_equal(blk.stats.invalid_reqs_count, 7);
    assert_false(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
    /* A data descriptor outside RAM breaks the queue: NEEDS_RESET. */
    header(VIRTIO_BLK_T_IN, 0);
    struct vd_seg out[3] = { { HDR, 16, false },
                             { MEM_SIZE - 256, 512, true },
                             { STATUS, 1, true } };
    vd_chain(&d, 0, out, 3);
    assert_int_equal(run(), -1);
    assert_true(vd_rd(&d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void read_only_drives_refuse_writes(void **state)
{
    (void)state;
    start(true, false, NULL);
    uint32_t f;
    vd_wr(&d, 0x14, 0);
    f = vd_rd(&d, 0x10);
    assert_true(f & (1u << 5));  /* VIRTIO_BLK_F_RO */
    assert_false(f & (1u << 9)); /* no FLUSH with Unsafe */
    assert_int_equal(rw(VIRTIO_BLK_T_OUT, 0, 512), 1);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_IOERR);
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), 513);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
}

static void rate_limited_requests_wait(void **state)
{
    (void)state;
    struct ratelimit_config rl = { .ops = { 1, 0, 100 } };
    start(false, false, &rl);
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), 513);
    header(VIRTIO_BLK_T_IN, 1);
    struct vd_seg s[3] = { { HDR, 16, false }, { BUF, 512, true }, { STATUS, 1, true } };
    vd_chain(&d, 0, s, 3);
    vd_notify(&d, 0);
    assert_false(vd_used(&d, 0, NULL, NULL));
    assert_true(blk.rl.blocked);
    struct pollfd p = { .fd = blk.rl.timer_fd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 1000), 1);
    virtio_mmio_limiter_fired(&blk.mmio, &blk.rl, 0);
    assert_int_equal(run(), 513);
    assert_int_equal(mem.host[BUF], 1);
}

/* Every request is an operation for the ops bucket, GET_ID included. */
static void get_id_takes_an_operation(void **state)
{
    (void)state;
    struct ratelimit_config rl = { .ops = { 1, 0, 100 } };
    start(false, false, &rl);
    header(VIRTIO_BLK_T_GET_ID, 0);
    struct vd_seg s[3] = { { HDR, 16, false }, { BUF, 20, true }, { STATUS, 1, true } };
    vd_chain(&d, 0, s, 3);
    assert_int_equal(run(), 21);
    header(VIRTIO_BLK_T_GET_ID, 0);
    vd_chain(&d, 0, s, 3);
    vd_notify(&d, 0);
    assert_false(vd_used(&d, 0, NULL, NULL)); /* the bucket is empty: it waits */
    assert_true(blk.rl.blocked);
}

/* A drive whose file cannot be opened: the failed set-up closes only what
 * it opened (it once closed fd 0, the console's stdin). */
static void failed_init_leaves_other_fds_alone(void **state)
{
    (void)state;
    int probe = dup(0);
    assert_true(probe >= 0);
    close(probe);
    struct drive_config cfg = { .drive_id = "gone", .path_on_host = "/nonexistent/disk.img" };
    char err[256];
    struct virtio_blk *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    assert_true(virtio_blk_init(b, &cfg, &mem, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "drives[gone]"));
    virtio_blk_destroy(b);
    free(b);
    assert_true(fcntl(0, F_GETFD) >= 0);
}

struct patch_call {
    const char *path;
    int result;
    char err[256];
};

/* PATCH /drives runs on the VMM thread, under its filter. */
static void *patch_thread(void *arg)
{
    struct patch_call *c = arg;
    struct ratelimit_config none = { 0 };
    c->result = seccomp_install(SECCOMP_VMM, true);
    if (c->result == 0)
        c->result = virtio_blk_update(&blk, c->path, &none, c->err, sizeof(c->err));
    return NULL;
}

static void backing_file_swaps_live(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* seccomp filters refuse what ASan's runtime calls (sigaltstack, mmap) */
#endif
    start(false, false, NULL);
    make_disk(path2, DISK * 2, 100);
    struct ratelimit_config none = { 0 };
    char err[256];
    irqs = 0;
    assert_int_equal(virtio_blk_update(&blk, "/nonexistent/disk", &none, err, sizeof(err)), -2);
    assert_string_equal(err, "drives[drive0].path_on_host /nonexistent/disk: No such file or "
                             "directory");
    assert_int_equal(seccomp_prepare(), 0);
    struct patch_call c = { .path = path2 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, patch_thread, &c), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(c.result, 0);
    assert_int_equal(irqs, 1);
    assert_int_equal(vd_rd(&d, 0x60) & VIRTIO_INT_CONFIG, VIRTIO_INT_CONFIG);
    uint64_t cap;
    virtio_mmio_ops.read(&blk.mmio, 0x100, (uint8_t *)&cap, 8);
    assert_int_equal(cap, 2 * DISK / 512);
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 2 * DISK / 512 - 1, 512), 513);
    assert_int_equal(mem.host[BUF], (uint8_t)(2 * DISK / 512 - 1 + 100));
    assert_int_equal(blk.stats.update_count, 1);
    assert_int_equal(blk.stats.update_fails, 1);
}

static void reset_drops_what_is_in_flight(void **state)
{
    (void)state;
    start(false, false, NULL);
    header(VIRTIO_BLK_T_IN, 0);
    struct vd_seg s[3] = { { HDR, 16, false }, { BUF, 4096, true }, { STATUS, 1, true } };
    for (int i = 0; i < 8; i++)
        vd_chain(&d, 0, s, 3);
    vd_notify(&d, 0);
    vd_wr(&d, 0x70, 0); /* reset, I/O in flight or just done */
    assert_int_equal(blk.inflight, 0);
    uint16_t used;
    memcpy(&used, mem.host + VD_USED(0) + 2, 2);
    /* What completed before the reset was returned; nothing after. */
    uint16_t before = used;
    virtio_blk_complete(&blk);
    memcpy(&used, mem.host + VD_USED(0) + 2, 2);
    assert_int_equal(used, before);
    /* The device works after the reset. */
    assert_true(vd_setup(&d, &blk.mmio, &mem, 0, 64));
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 7, 512), 513);
    assert_int_equal(mem.host[BUF], 7);
}

/* Reads that wait for the test: the ring's file becomes a pipe, whose
 * write end goes to `late`. */
static void hold_reads(void)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(io_uring_register_files_update(&blk.ring, 0, &p[0], 1), 1);
    close(p[0]);
    late.fd = p[1];
}

/* The held read's data, after a while: by then the queue stop waits in
 * the kernel for it (or, without the wait, has long returned). */
static void *write_later(void *arg)
{
    (void)arg;
    uint8_t data[512];
    memset(data, late.byte, sizeof(data));
    usleep(100 * 1000);
    ssize_t n = write(late.fd, data, sizeof(data));
    (void)n;
    return NULL;
}

static void release_held_read_later(uint8_t byte)
{
    late.byte = byte;
    assert_int_equal(pthread_create(&late.thread, NULL, write_later, NULL), 0);
    late.started = true;
}

static uint16_t used_idx(void)
{
    uint16_t used;
    memcpy(&used, mem.host + VD_USED(0) + 2, 2);
    return used;
}

/* QueueReady 0 gives the queue's buffers back to the driver: a read in
 * flight lands before the write returns, never after, and is not answered
 * (status byte and used ring untouched). */
static void queue_stop_waits_for_what_is_in_flight(void **state)
{
    (void)state;
    start(false, false, NULL);
    assert_true(blk.uring);
    hold_reads();
    header(VIRTIO_BLK_T_IN, 0);
    struct vd_seg s[3] = { { HDR, 16, false }, { BUF, 512, true }, { STATUS, 1, true } };
    vd_chain(&d, 0, s, 3);
    vd_notify(&d, 0);
    assert_int_equal(blk.inflight, 1);
    release_held_read_later(0x5a);
    vd_wr(&d, 0x30, 0);
    vd_wr(&d, 0x44, 0); /* QueueReady 0 */
    assert_int_equal(blk.inflight, 0);
    assert_int_equal(mem.host[BUF], 0x5a);
    assert_int_equal(mem.host[BUF + 511], 0x5a);
    virtio_blk_complete(&blk);
    assert_int_equal(mem.host[STATUS], 0xff);
    assert_int_equal(used_idx(), 0);
}

/* A reset, QueueReady 0, PATCH or teardown waits for what is in flight,
 * on a vCPU or the VMM thread: at most VIRTIO_BLK_INFLIGHT_BYTES of it,
 * not 128 requests of 64 MiB. Requests past the bound wait in the ring
 * and start as completions make room. */
static void bytes_in_flight_are_bounded(void **state)
{
    (void)state;
    start(false, false, NULL);
    /* A sparse 32 MiB disk and 16 MiB reads, 2 MiB segments over one
     * buffer: five of them are 80 MiB. */
    const uint32_t seg = 2u << 20, nseg = 8, req = seg * nseg;
    strcpy(path2, "/tmp/hearth-blk.XXXXXX");
    int fd = mkstemp(path2);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 2 * req), 0);
    close(fd);
    struct ratelimit_config none = { 0 };
    char err[256];
    assert_int_equal(virtio_blk_update(&blk, path2, &none, err, sizeof(err)), 0);
    header(VIRTIO_BLK_T_IN, 0);
    struct vd_seg s[10] = { { HDR, 16, false } };
    for (uint32_t i = 1; i <= nseg; i++)
        s[i] = (struct vd_seg){ BUF, seg, true };
    s[nseg + 1] = (struct vd_seg){ STATUS, 1, true };
    for (int i = 0; i < 5; i++)
        vd_chain(&d, 0, s, nseg + 2);
    vd_notify(&d, 0);
    assert_true(VIRTIO_BLK_INFLIGHT_BYTES / req >= 1);
    assert_int_equal(blk.inflight, VIRTIO_BLK_INFLIGHT_BYTES / req);
    /* The rest start as the first complete; all five are answered. */
    int done = 0;
    uint32_t len;
    for (int i = 0; i < 500 && done < 5; i++) {
        assert_true(blk.inflight <= (int)(VIRTIO_BLK_INFLIGHT_BYTES / req));
        while (vd_used(&d, 0, NULL, &len)) {
            assert_int_equal(len, req + 1);
            done++;
        }
        struct pollfd p = { .fd = blk.ring_fd, .events = POLLIN };
        if (done < 5 && poll(&p, 1, 20) == 1)
            virtio_blk_complete(&blk);
    }
    assert_int_equal(done, 5);
    assert_int_equal(mem.host[STATUS], VIRTIO_BLK_S_OK);
}

struct ring_probe {
    enum seccomp_thread kind;
    int installed, openat, openat_fixed, socket, unfixed, fixed;
    uint8_t buf[512];
};

/* One operation on the drive's ring, waited for: its result. */
static int ring_run(struct io_uring_sqe *sqe, uint8_t flags)
{
    struct io_uring_cqe *cqe;
    io_uring_sqe_set_flags(sqe, flags);
    io_uring_sqe_set_data64(sqe, ~0ull); /* no request slot of the device's */
    if (io_uring_submit(&blk.ring) != 1 || io_uring_wait_cqe(&blk.ring, &cqe) != 0)
        return INT_MIN;
    int res = cqe->res;
    io_uring_cqe_seen(&blk.ring, cqe);
    return res;
}

/* Under a thread's filter, what the drive's ring runs for whoever can
 * enter it: opening a file or a socket is refused, so is the disk's own
 * fd outside the registered table; a read of the disk goes through. */
static void *ring_probe_thread(void *arg)
{
    struct ring_probe *p = arg;
    if ((p->installed = seccomp_install(p->kind, true)) < 0)
        return NULL;
    struct iovec iov = { p->buf, sizeof(p->buf) };
    struct io_uring_sqe *sqe = io_uring_get_sqe(&blk.ring);
    io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
    p->openat = ring_run(sqe, 0);
    sqe = io_uring_get_sqe(&blk.ring);
    io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
    p->openat_fixed = ring_run(sqe, IOSQE_FIXED_FILE);
    sqe = io_uring_get_sqe(&blk.ring);
    io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
    p->socket = ring_run(sqe, 0);
    sqe = io_uring_get_sqe(&blk.ring);
    io_uring_prep_readv(sqe, blk.fd, &iov, 1, 512);
    p->unfixed = ring_run(sqe, 0);
    sqe = io_uring_get_sqe(&blk.ring);
    io_uring_prep_readv(sqe, 0, &iov, 1, 512); /* fixed file 0: the disk */
    p->fixed = ring_run(sqe, IOSQE_FIXED_FILE);
    return NULL;
}

/* The review's case: any thread allowed io_uring_enter (vmm, vCPU, I/O)
 * could have the kernel open files and sockets for it through the drive's
 * ring, outside its own filter. */
static void the_ring_runs_only_the_disks_io(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* seccomp filters refuse what ASan's runtime calls (sigaltstack, mmap) */
#endif
    start(false, false, NULL);
    assert_true(blk.uring);
    assert_int_equal(seccomp_prepare(), 0);
    const enum seccomp_thread kinds[] = { SECCOMP_VMM, SECCOMP_VCPU, SECCOMP_IO };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct ring_probe p = { .kind = kinds[i] };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, ring_probe_thread, &p), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(p.installed, 0);
        assert_int_equal(p.openat, -EACCES);
        assert_int_equal(p.openat_fixed, -EACCES);
        assert_int_equal(p.socket, -EACCES);
        assert_int_equal(p.unfixed, -EACCES);
        assert_int_equal(p.fixed, 512);
        assert_int_equal(p.buf[0], 1);
    }
    /* The device's own requests still run on the ring. */
    assert_int_equal(rw(VIRTIO_BLK_T_IN, 3, 1024), 1025);
    assert_int_equal(mem.host[BUF], 3);
}

int main(void)
{
    log_init(NULL, LOG_OFF, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(reads_writes_flush_and_id, teardown),
        cmocka_unit_test_teardown(bad_requests_fail_and_the_device_goes_on, teardown),
        cmocka_unit_test_teardown(read_only_drives_refuse_writes, teardown),
        cmocka_unit_test_teardown(rate_limited_requests_wait, teardown),
        cmocka_unit_test_teardown(get_id_takes_an_operation, teardown),
        cmocka_unit_test(failed_init_leaves_other_fds_alone),
        cmocka_unit_test_teardown(backing_file_swaps_live, teardown),
        cmocka_unit_test_teardown(reset_drops_what_is_in_flight, teardown),
        cmocka_unit_test_teardown(the_ring_runs_only_the_disks_io, teardown),
        cmocka_unit_test_teardown(queue_stop_waits_for_what_is_in_flight, teardown),
        cmocka_unit_test_teardown(bytes_in_flight_are_bounded, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
