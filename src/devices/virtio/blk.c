/* virtio-blk: requests from the queue to the backing file, asynchronously. */
#include "devices/virtio/blk.h"

#include "bus/manager.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define SECTOR 512u
#define CONFIG_SIZE 16 /* capacity, size_max, seg_max */
#define RING_DISK 0    /* the disk's index in the ring's registered files */

struct blk_header {
    uint32_t type, reserved;
    uint64_t sector;
};

/* Opens drive `id`'s backing file: its fd and size, or -errno. */
static int open_disk(const char *path, const char *id, bool read_only, uint64_t *size, char *err,
                     size_t errlen)
{
    char field[128];
    snprintf(field, sizeof(field), "drives[%s].path_on_host", id);
    int fd = path_open_checked(path, read_only ? O_RDONLY : O_RDWR, 0, PATH_REG | PATH_BLK, field,
                               err, errlen);
    if (fd < 0)
        return fd;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        int e = errno;
        snprintf(err, errlen, "%s %s: %s", field, path, strerror(e));
        close(fd);
        return -e;
    }
    *size = (uint64_t)end;
    return fd;
}

/* The drive's ring, restricted to the drive's I/O. The kernel runs what a
 * ring is handed outside the submitting thread's seccomp filter, and every
 * thread that waits on this ring (I/O, vCPU, vmm) may enter it: without
 * restrictions any of them could have it open files, connect sockets or
 * unlink. So the ring starts disabled, takes the disk as its one
 * registered file, allows readv, writev and fsync on registered files
 * only, and of io_uring_register only FILES_UPDATE (PATCH's new backing
 * file), before it is enabled. 0 or -errno; nothing is left open on
 * failure. */
static int ring_open(struct virtio_blk *b)
{
    static const struct io_uring_restriction allowed[] = {
        { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
        { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
        { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
        { .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
        { .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_FILES_UPDATE },
    };
    struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
    int e = io_uring_queue_init_params(VIRTIO_BLK_INFLIGHT, &b->ring, &p);
    if (e < 0)
        return e;
    if ((e = io_uring_register_files(&b->ring, &b->fd, 1)) < 0 ||
        (e = io_uring_register_eventfd(&b->ring, b->ring_fd)) < 0 ||
        /* By number: liburing 2.3's shared library lacks these two calls. */
        (e = io_uring_register((unsigned)b->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, allowed,
                               sizeof(allowed) / sizeof(allowed[0]))) < 0 ||
        (e = io_uring_register((unsigned)b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0)) <
            0) {
        io_uring_queue_exit(&b->ring);
        return e;
    }
    return 0;
}

static void finish_locked(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
    struct virtio_mmio *m = &b->mmio;
    bool current = virtio_mmio_queue_current_locked(m, 0, r->gen);
    if (status != VIRTIO_BLK_S_OK)
        b->stats.execute_fails += r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ||
                                  r->type == VIRTIO_BLK_T_FLUSH;
    /* A queue stopped or reset since: its memory may be the guest's
     * again, so the answer goes nowhere. */
    if (current) {
        *r->status = status;
        virtq_push(&m->queues[0], m->mem, r->head, status == VIRTIO_BLK_S_OK ? r->used_len : 1);
    }
    if (r->busy) {
        r->busy = false;
        b->inflight--;
        b->inflight_bytes -= r->len;
    }
}

/* A request that completes without I/O. */
static void answer_locked(struct virtio_blk *b, const struct virtq_chain *c, uint8_t *status,
                          uint32_t used, uint8_t code)
{
    struct blk_req r = { .head = c->head,
                         .gen = virtio_mmio_queue_gen_locked(&b->mmio, 0),
                         .status = status,
                         .used_len = used };
    finish_locked(b, &r, code);
}

static struct blk_req *free_slot(struct virtio_blk *b)
{
    for (int i = 0; i < VIRTIO_BLK_INFLIGHT; i++)
        if (!b->reqs[i].busy)
            return &b->reqs[i];
    return NULL;
}

static void io_result_locked(struct virtio_blk *b, struct blk_req *r, int64_t res)
{
    bool ok = r->type == VIRTIO_BLK_T_FLUSH ? res == 0 : res == (int64_t)r->len;
    finish_locked(b, r, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* Starts r's I/O: on the ring, or at once when there is none. */
static void submit_locked(struct virtio_blk *b, struct blk_req *r, uint64_t offset)
{
    r->busy = true;
    b->inflight++;
    b->inflight_bytes += r->len;
    if (b->uring) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
        if (sqe) {
            if (r->type == VIRTIO_BLK_T_IN)
                io_uring_prep_readv(sqe, RING_DISK, r->iov, (unsigned)r->niov, offset);
            else if (r->type == VIRTIO_BLK_T_OUT)
                io_uring_prep_writev(sqe, RING_DISK, r->iov, (unsigned)r->niov, offset);
            else
                io_uring_prep_fsync(sqe, RING_DISK, 0);
            io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
            io_uring_sqe_set_data64(sqe, (uint64_t)(r - b->reqs));
            return;
        }
    }
    ssize_t n;
    if (r->type == VIRTIO_BLK_T_IN)
        n = preadv(b->fd, r->iov, r->niov, (off_t)offset);
    else if (r->type == VIRTIO_BLK_T_OUT)
        n = pwritev(b->fd, r->iov, r->niov, (off_t)offset);
    else
        n = fsync(b->fd);
    io_result_locked(b, r, n < 0 ? -errno : n);
}

/* One chain: checked, then answered or started. Returns false when the
 * rate limiter refused it or it does not fit beside the bytes in flight
 * (the caller gives it back). */
static bool request_locked(struct virtio_blk *b, const struct virtq_chain *c)
{
    struct blk_header h;
    uint8_t *status = NULL;
    if (c->nin)
        status = (uint8_t *)c->in[c->nin - 1].iov_base + c->in[c->nin - 1].iov_len - 1;
    if (!status || virtq_chain_read(c, &h, sizeof(h)) != sizeof(h)) {
        /* No header or no status byte: nothing to say it with. */
        b->stats.invalid_reqs_count++;
        if (status)
            answer_locked(b, c, status, 1, VIRTIO_BLK_S_IOERR);
        else
            answer_locked(b, c, (uint8_t[1]){ 0 }, 0, VIRTIO_BLK_S_OK);
        return true;
    }
    struct blk_req *r = free_slot(b);
    *r = (struct blk_req){ .head = c->head,
                           .type = (uint8_t)h.type,
                           .gen = virtio_mmio_queue_gen_locked(&b->mmio, 0),
                           .status = status };
    bool in = h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_GET_ID;
    /* The data: after the header (readable), or before the status
     * (writable); a request moves data one way only. */
    size_t len = in ? c->in_len - 1 : c->out_len - sizeof(h);
    bool shape = in ? c->out_len == sizeof(h) : c->in_len == 1;
    if (!shape && h.type != VIRTIO_BLK_T_FLUSH && h.type <= VIRTIO_BLK_T_GET_ID) {
        b->stats.invalid_reqs_count++;
        answer_locked(b, c, status, 1, VIRTIO_BLK_S_IOERR);
        return true;
    }
    switch (h.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        if ((h.type == VIRTIO_BLK_T_OUT && b->read_only) || len % SECTOR ||
            len > VIRTIO_BLK_MAX_REQUEST || h.sector > b->sectors ||
            len / SECTOR > b->sectors - h.sector) {
            b->stats.invalid_reqs_count++;
            answer_locked(b, c, status, 1, VIRTIO_BLK_S_IOERR);
            return true;
        }
        r->niov =
            in ? virtq_iov_slice(c->in, c->nin, 0, len, r->iov, VIRTIO_BLK_SEG_MAX + 2)
               : virtq_iov_slice(c->out, c->nout, sizeof(h), len, r->iov, VIRTIO_BLK_SEG_MAX + 2);
        if (r->niov < 0) { /* cannot happen: a chain has at most that many */
            answer_locked(b, c, status, 1, VIRTIO_BLK_S_IOERR);
            return true;
        }
        /* Waits in the ring until completions make room: what a reset
         * waits for stays bounded. */
        if (b->inflight_bytes + len > VIRTIO_BLK_INFLIGHT_BYTES)
            return false;
        if (!ratelimit_consume(&b->rl, len, mono_ns())) /* an operation, even of 0 bytes */
            return false;
        r->len = len;
        r->used_len = (uint32_t)(in ? len + 1 : 1);
        if (in) {
            b->stats.read_count++;
            b->stats.read_bytes += len;
        } else {
            b->stats.write_count++;
            b->stats.write_bytes += len;
        }
        if (len == 0)
            finish_locked(b, r, VIRTIO_BLK_S_OK);
        else
            submit_locked(b, r, h.sector * SECTOR);
        return true;
    case VIRTIO_BLK_T_FLUSH:
        if (!ratelimit_consume(&b->rl, 0, mono_ns()))
            return false;
        b->stats.flush_count++;
        r->used_len = 1;
        /* Unsafe: the host's page cache is all the durability asked for. */
        if (b->writeback)
            submit_locked(b, r, 0);
        else
            finish_locked(b, r, VIRTIO_BLK_S_OK);
        return true;
    case VIRTIO_BLK_T_GET_ID: {
        if (!ratelimit_consume(&b->rl, 0, mono_ns()))
            return false;
        uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
        memcpy(id, b->id, strnlen(b->id, sizeof(id)));
        struct virtq_chain data = *c;
        data.in[data.nin - 1].iov_len--; /* not the status byte */
        size_t n = virtq_chain_write(&data, id, len < sizeof(id) ? len : sizeof(id));
        answer_locked(b, c, status, (uint32_t)n + 1, VIRTIO_BLK_S_OK);
        return true;
    }
    default:
        if (!ratelimit_consume(&b->rl, 0, mono_ns()))
            return false;
        answer_locked(b, c, status, 1, VIRTIO_BLK_S_UNSUPP);
        return true;
    }
}

static void process_locked(struct virtio_blk *b)
{
    struct virtio_mmio *m = &b->mmio;
    struct virtq *q = &m->queues[0];
    struct virtq_chain c;
    uint16_t used = q->used_idx;
    while (virtio_mmio_live_locked(m) && !b->rl.blocked && b->inflight < VIRTIO_BLK_INFLIGHT) {
        if (virtio_mmio_pop_locked(m, 0, &c) <= 0)
            break;
        if (!request_locked(b, &c)) {
            virtq_unpop(q); /* again on the limiter's timer or a completion */
            break;
        }
    }
    if (b->uring && io_uring_sq_ready(&b->ring))
        io_uring_submit(&b->ring);
    if (q->used_idx != used)
        virtio_mmio_queue_signal_locked(m, 0);
}

/* Reaps completions: all that are ready, or (wait) until none is in
 * flight. */
static void reap_locked(struct virtio_blk *b, bool wait)
{
    struct io_uring_cqe *cqe;
    uint16_t used = b->mmio.queues[0].used_idx;
    while (b->uring && b->inflight > 0) {
        int e = wait ? io_uring_wait_cqe(&b->ring, &cqe) : io_uring_peek_cqe(&b->ring, &cqe);
        if (e == -EINTR)
            continue; /* a signal (the vCPU's kick) ends the wait, not the I/O */
        if (e != 0)
            break;
        uint64_t i = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&b->ring, cqe);
        if (i < VIRTIO_BLK_INFLIGHT && b->reqs[i].busy)
            io_result_locked(b, &b->reqs[i], res);
    }
    if (b->mmio.queues[0].used_idx != used)
        virtio_mmio_queue_signal_locked(&b->mmio, 0);
}

void virtio_blk_complete(struct virtio_blk *b)
{
    uint64_t n;
    ssize_t r = read(b->ring_fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&b->mmio.lock);
    reap_locked(b, false);
    process_locked(b); /* slots were freed */
    pthread_mutex_unlock(&b->mmio.lock);
}

static void blk_notify(void *dev, struct virtio_mmio *m, int q)
{
    (void)m, (void)q;
    process_locked(dev);
}

static void blk_limiter_ready(void *dev, int which)
{
    (void)which;
    process_locked(dev);
}

/* The driver reset the device: what is in flight finishes first (its data
 * must not land after the guest reuses the memory) and is not returned. */
static void blk_reset(void *dev)
{
    struct virtio_blk *b = dev;
    for (int i = 0; i < VIRTIO_BLK_INFLIGHT; i++)
        b->reqs[i].gen--; /* never current again */
    reap_locked(b, true);
}

/* The driver stopped the queue: as at a reset, what is in flight finishes
 * (the queue's new generation drops its answers) before the driver may
 * take the buffers back. */
static void blk_queue_stop(void *dev, int q)
{
    (void)q;
    reap_locked(dev, true);
}

static void blk_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
    struct virtio_blk *b = dev;
    uint8_t cfg[CONFIG_SIZE] = { 0 };
    uint32_t seg_max = VIRTIO_BLK_SEG_MAX;
    memcpy(cfg, &b->sectors, 8);
    memcpy(cfg + 12, &seg_max, 4);
    memcpy(data, cfg + offset, len);
}

const struct virtio_device_ops virtio_blk_ops = {
    .name = "blk",
    .device_id = VIRTIO_ID_BLOCK,
    .features = VIRTIO_RING_F_EVENT_IDX | VIRTIO_BLK_F_SEG_MAX,
    .nqueues = 1,
    .queue_max = VIRTIO_BLK_QUEUE_SIZE,
    .config_size = CONFIG_SIZE,
    .config_read = blk_config_read,
    .notify = blk_notify,
    .reset = blk_reset,
    .queue_stop = blk_queue_stop,
    .limiter_ready = blk_limiter_ready,
};

static void set_size(struct virtio_blk *b, uint64_t size)
{
    if (size % SECTOR)
        log_warn("drive %s: size %llu is not a multiple of %u; the tail is not used", b->id,
                 (unsigned long long)size, SECTOR);
    b->sectors = size / SECTOR;
}

int virtio_blk_init(struct virtio_blk *b, const struct drive_config *cfg,
                    const struct guest_mem *mem, char *err, size_t errlen)
{
    memset(b, 0, sizeof(*b));
    b->fd = b->ring_fd = b->rl.timer_fd = -1; /* closed by a failed init's teardown */
    snprintf(b->id, sizeof(b->id), "%s", cfg->drive_id);
    b->read_only = cfg->is_read_only;
    b->writeback = cfg->cache_type == CACHE_WRITEBACK;
    b->rl_cfg = cfg->rate_limiter;
    virtio_mmio_init(&b->mmio, &virtio_blk_ops, b, mem);
    b->mmio.features |=
        (b->read_only ? VIRTIO_BLK_F_RO : 0) | (b->writeback ? VIRTIO_BLK_F_FLUSH : 0);
    uint64_t size = 0;
    int e;
    if ((b->fd = open_disk(cfg->path_on_host, b->id, b->read_only, &size, err, errlen)) < 0)
        return b->fd;
    set_size(b, size);
    b->reqs = calloc(VIRTIO_BLK_INFLIGHT, sizeof(*b->reqs));
    if (!b->reqs || (e = ratelimit_open(&b->rl, &cfg->rate_limiter, mono_ns())) < 0 ||
        (b->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        e = errno ? -errno : -ENOMEM;
        snprintf(err, errlen, "drives[%s]: %s", b->id, strerror(-e));
        return e;
    }
    /* A kernel without ring restrictions (before 5.10) gets no ring at
     * all: an unrestricted one would undo the threads' filters. */
    e = ring_open(b);
    b->uring = e == 0;
    if (!b->uring)
        log_warn("drive %s: no restricted io_uring (%s): its I/O runs on the I/O thread", b->id,
                 strerror(-e));
    return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
    pthread_mutex_lock(&b->mmio.lock);
    reap_locked(b, true);
    pthread_mutex_unlock(&b->mmio.lock);
    if (b->uring)
        io_uring_queue_exit(&b->ring);
    b->uring = false;
    if (b->ring_fd >= 0)
        close(b->ring_fd);
    if (b->fd >= 0)
        close(b->fd);
    b->fd = b->ring_fd = -1;
    free(b->reqs);
    b->reqs = NULL;
    ratelimit_close(&b->rl);
    virtio_mmio_destroy(&b->mmio);
}

int virtio_blk_update(struct virtio_blk *b, const char *path, const struct ratelimit_config *rl,
                      char *err, size_t errlen)
{
    int fd = -1;
    uint64_t size = 0;
    if (path && (fd = open_disk(path, b->id, b->read_only, &size, err, errlen)) < 0) {
        pthread_mutex_lock(&b->mmio.lock);
        b->stats.update_fails++;
        pthread_mutex_unlock(&b->mmio.lock);
        return fd;
    }
    pthread_mutex_lock(&b->mmio.lock);
    if (fd >= 0) {
        reap_locked(b, true); /* in-flight requests finish on the old file */
        int e = b->uring ? io_uring_register_files_update(&b->ring, RING_DISK, &fd, 1) : 0;
        if (e < 0) {
            b->stats.update_fails++;
            pthread_mutex_unlock(&b->mmio.lock);
            close(fd);
            snprintf(err, errlen, "drives[%s]: the ring refused the new file: %s", b->id,
                     strerror(-e));
            return e;
        }
    }
    ratelimit_update(&b->rl, &b->rl_cfg, rl, mono_ns());
    b->rl_cfg = *rl;
    b->stats.update_count++;
    if (fd >= 0) {
        int old = b->fd;
        b->fd = fd;
        fd = old;
        set_size(b, size);
        virtio_mmio_config_changed_locked(&b->mmio);
    }
    pthread_mutex_unlock(&b->mmio.lock);
    if (fd >= 0)
        close(fd);
    return 0;
}

int virtio_blk_check(const struct drive_config *cfg, char *err, size_t errlen)
{
    uint64_t size;
    int fd = open_disk(cfg->path_on_host, cfg->drive_id, cfg->is_read_only, &size, err, errlen);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

void virtio_blk_stats(struct virtio_blk *b, struct blk_stats *out, uint64_t *throttled)
{
    pthread_mutex_lock(&b->mmio.lock);
    *out = b->stats;
    *throttled = b->rl.throttled;
    pthread_mutex_unlock(&b->mmio.lock);
}

/* The lifecycle: one device per configured drive. */

static int blk_count(const struct device_env *env) { return env->cfg->ndrives; }

static int blk_check(const struct vm_config *next, char *err, size_t errlen)
{
    for (int i = 0; i < next->ndrives; i++)
        if (virtio_blk_check(&next->drives[i], err, errlen) < 0)
            return -1;
    return 0;
}

static void blk_destroy(void *dev)
{
    virtio_blk_destroy(dev);
    free(dev);
}

static int blk_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    const struct drive_config *cfg = &env->cfg->drives[index];
    struct virtio_blk *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "drives[%s]: out of memory", cfg->drive_id);
        return -1;
    }
    if (virtio_blk_init(b, cfg, &env->dm->vm->mem, err, errlen) < 0) {
        blk_destroy(b);
        return -1;
    }
    const struct devmgr_virtio v = {
        .ops = &virtio_blk_device,
        .name = "virtio-blk",
        .mmio = &b->mmio,
        .dev = b,
        .nfds = 1,
        .fds = { { b->ring_fd, EPOLLIN } },
        .nlimiters = 1,
        .limiters = { &b->rl },
    };
    return devmgr_attach_virtio(env->dm, &v, NULL, err, errlen) < 0 ? -1 : 0;
}

static void blk_io_ready(void *dev, int index, uint32_t events)
{
    (void)index, (void)events; /* the ring's completion eventfd */
    virtio_blk_complete(dev);
}

/* A PATCH changes one drive (a new backing file, rate limiters); the
 * others compare equal. */
static int blk_update(void *dev, int index, const struct vm_config *old,
                      const struct vm_config *next, char *err, size_t errlen)
{
    const struct drive_config *o = &old->drives[index], *n = &next->drives[index];
    bool new_file = strcmp(o->path_on_host, n->path_on_host) != 0;
    if (!new_file && !memcmp(&o->rate_limiter, &n->rate_limiter, sizeof(n->rate_limiter)))
        return 0;
    return virtio_blk_update(dev, new_file ? n->path_on_host : NULL, &n->rate_limiter, err,
                             errlen) < 0
               ? -1
               : 0;
}

_Static_assert(sizeof(struct blk_stats) == 9 * sizeof(uint64_t), "blk_stats: counters only");

/* Per drive "block_<id>", and "block" summing them (Firecracker's). */
static void blk_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "read_count",    "write_count",
                                         "flush_count",   "read_bytes",
                                         "write_bytes",   "invalid_reqs_count",
                                         "execute_fails", "update_count",
                                         "update_fails",  "rate_limiter_throttled_events" };
    uint64_t sum[10] = { 0 };
    for (int i = 0; i < n; i++) {
        struct virtio_blk *b = devs[i];
        uint64_t v[10];
        virtio_blk_stats(b, (struct blk_stats *)v, &v[9]);
        metrics_add_device(o, "block", b->id, names, v, sum, 10);
    }
    json_object_set_new(o, "block", metrics_counters(names, sum, 10));
}

const struct device_ops virtio_blk_device = {
    .name = "block",
    .section = CONFIG_DRIVES,
    .count = blk_count,
    .check = blk_check,
    .create = blk_create,
    .destroy = blk_destroy,
    .update = blk_update,
    .io_ready = blk_io_ready,
    .metrics = blk_metrics,
};
