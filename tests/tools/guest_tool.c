/* guest_tool: what the Linux guests of the device tests and benchmarks run
 * besides busybox (linked statically, so it needs nothing in the
 * initramfs):
 *   vsock-serve PORT          accept one vsock connection, echo a line back
 *   vsock-send CID PORT MSG   connect, send MSG and a newline, print the echo
 *   read-rate DEV SECONDS     sequential O_DIRECT 64 KiB reads for SECONDS:
 *                             "read-rate BYTES NS"
 *   randread DEV SECONDS DEPTH  4 KiB O_DIRECT random reads, DEPTH in flight
 *                             (Linux AIO): "randread IOS NS"
 *   seqread DEV MIB           1 MiB O_DIRECT reads: "seqread BYTES NS"
 *   tcp-send ADDR PORT MIB|FILE  MIB of zeros, or FILE, over TCP:
 *                             "tcp-send BYTES NS"
 * Every line it prints starts with $PREFIX (the guests' report prefix), and
 * goes out at once: piped through busybox sed it would sit in sed's buffer
 * while guest_tool waits for the host. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One line of output, prefixed and flushed. */
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    const char *prefix = getenv("PREFIX");
    va_list ap;
    va_start(ap, fmt);
    fputs(prefix ? prefix : "", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static int die(const char *what)
{
    fprintf(stderr, "guest_tool: %s: %s\n", what, strerror(errno));
    return 1;
}

static int vsock_serve(unsigned port)
{
    int l = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0)
        return die("vsock listen");
    out("vsock-serve: listening on %u\n", port);
    int c = accept(l, NULL, NULL);
    if (c < 0)
        return die("vsock accept");
    char buf[256];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t r = read(c, buf + n, 1);
        if (r <= 0)
            break;
        if (buf[n++] == '\n')
            break;
    }
    if (write(c, buf, n) != (ssize_t)n)
        return die("vsock write");
    buf[n] = 0;
    out("vsock-serve: got %s", buf);
    close(c);
    return 0;
}

static int vsock_send(unsigned cid, unsigned port, const char *msg)
{
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        return die("vsock connect");
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", msg);
    if (write(s, line, (size_t)n) != n)
        return die("vsock write");
    char buf[256];
    size_t got = 0;
    while (got < sizeof(buf) - 1) {
        ssize_t r = read(s, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (buf[got - 1] == '\n')
            break;
    }
    buf[got] = 0;
    out("vsock-send: reply %s", buf);
    return 0;
}

/* A block device's size, or a file's. */
static uint64_t dev_size(int fd)
{
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0)
        size = (uint64_t)lseek(fd, 0, SEEK_END);
    return size;
}

static void *aligned(size_t n)
{
    void *p = NULL;
    return posix_memalign(&p, 4096, n) ? NULL : p;
}

static int read_rate(const char *dev, unsigned seconds)
{
    int fd = open(dev, O_RDONLY | O_DIRECT);
    uint8_t *buf = aligned(65536);
    uint64_t size = fd < 0 ? 0 : dev_size(fd);
    if (fd < 0 || !buf || size < 65536)
        return die(dev);
    uint64_t t0 = now_ns(), end = t0 + seconds * 1000000000ull, bytes = 0, off = 0;
    while (now_ns() < end) {
        if (off + 65536 > size)
            off = 0;
        ssize_t r = pread(fd, buf, 65536, (off_t)off);
        if (r <= 0)
            return die("read");
        bytes += (uint64_t)r;
        off += (uint64_t)r;
    }
    out("read-rate %llu %llu\n", (unsigned long long)bytes, (unsigned long long)(now_ns() - t0));
    return 0;
}

static int randread(const char *dev, unsigned seconds, unsigned depth)
{
    int fd = open(dev, O_RDONLY | O_DIRECT);
    uint64_t size = fd < 0 ? 0 : dev_size(fd);
    if (fd < 0 || size < 4096 || depth < 1 || depth > 64)
        return die(dev);
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, depth, &ctx) < 0)
        return die("io_setup");
    struct iocb cbs[64], *ptrs[64];
    uint8_t *bufs = aligned(4096u * depth);
    uint64_t blocks = size / 4096, seed = 88172645463325252ull, ios = 0;
    for (unsigned i = 0; i < depth; i++)
        ptrs[i] = &cbs[i];
    uint64_t t0 = now_ns(), end = t0 + seconds * 1000000000ull;
    unsigned inflight = 0;
    for (;;) {
        bool more = now_ns() < end;
        unsigned nsub = 0;
        for (unsigned i = 0; more && inflight + nsub < depth; i++) {
            /* xorshift: a spread of offsets without libc state */
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            struct iocb *cb = &cbs[(inflight + nsub) % depth];
            memset(cb, 0, sizeof(*cb));
            cb->aio_fildes = (uint32_t)fd;
            cb->aio_lio_opcode = IOCB_CMD_PREAD;
            cb->aio_buf = (uint64_t)(uintptr_t)(bufs + 4096u * ((inflight + nsub) % depth));
            cb->aio_nbytes = 4096;
            cb->aio_offset = (int64_t)((seed % blocks) * 4096);
            ptrs[nsub] = cb;
            nsub++;
        }
        if (nsub && syscall(SYS_io_submit, ctx, (long)nsub, ptrs) != (long)nsub)
            return die("io_submit");
        inflight += nsub;
        if (!inflight)
            break;
        struct io_event ev[64];
        long got = syscall(SYS_io_getevents, ctx, 1L, (long)inflight, ev, NULL);
        if (got < 0)
            return die("io_getevents");
        for (long i = 0; i < got; i++)
            if (ev[i].res != 4096)
                return die("short read");
        inflight -= (unsigned)got;
        ios += (uint64_t)got;
    }
    out("randread %llu %llu\n", (unsigned long long)ios, (unsigned long long)(now_ns() - t0));
    return 0;
}

static int seqread(const char *dev, unsigned mib)
{
    int fd = open(dev, O_RDONLY | O_DIRECT);
    uint8_t *buf = aligned(1 << 20);
    if (fd < 0 || !buf)
        return die(dev);
    uint64_t t0 = now_ns(), bytes = 0;
    for (unsigned i = 0; i < mib; i++) {
        ssize_t r = pread(fd, buf, 1 << 20, (off_t)i << 20);
        if (r <= 0)
            return die("read");
        bytes += (uint64_t)r;
    }
    out("seqread %llu %llu\n", (unsigned long long)bytes, (unsigned long long)(now_ns() - t0));
    return 0;
}

static int tcp_send(const char *addr, unsigned port, const char *what)
{
    bool zeros = strspn(what, "0123456789") == strlen(what);
    int in = zeros ? -1 : open(what, O_RDONLY);
    if (!zeros && in < 0)
        return die(what);
    unsigned mib = zeros ? (unsigned)atoi(what) : 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (s < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 ||
        connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        return die("tcp connect");
    static char buf[1 << 16];
    uint64_t t0 = now_ns(), bytes = 0, want = (uint64_t)mib << 20;
    for (;;) {
        ssize_t n = sizeof(buf);
        if (zeros && bytes >= want)
            break;
        if (!zeros && (n = read(in, buf, sizeof(buf))) <= 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(s, buf + done, (size_t)(n - done));
            if (w <= 0)
                return die("tcp write");
            done += w;
        }
        bytes += (uint64_t)n;
    }
    shutdown(s, SHUT_WR);
    char c;
    while (read(s, &c, 1) > 0) /* the receiver closes once it has it all */
        ;
    out("tcp-send %llu %llu\n", (unsigned long long)bytes, (unsigned long long)(now_ns() - t0));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "vsock-serve") && argc == 3)
        return vsock_serve((unsigned)atoi(argv[2]));
    if (!strcmp(cmd, "vsock-send") && argc == 5)
        return vsock_send((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argv[4]);
    if (!strcmp(cmd, "read-rate") && argc == 4)
        return read_rate(argv[2], (unsigned)atoi(argv[3]));
    if (!strcmp(cmd, "randread") && argc == 5)
        return randread(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (!strcmp(cmd, "seqread") && argc == 4)
        return seqread(argv[2], (unsigned)atoi(argv[3]));
    if (!strcmp(cmd, "tcp-send") && argc == 5)
        return tcp_send(argv[2], (unsigned)atoi(argv[3]), argv[4]);
    fprintf(stderr, "usage: see the comment at the top of guest_tool.c\n");
    return 2;
}
