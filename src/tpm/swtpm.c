/* swtpm control channel and command thread. */
#include "core/clock.h"
#include "tpm/swtpm.h"

#include "core/log.h"
#include "core/seccomp.h"
#include "tpm/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    CMD_GET_CAPABILITY = 0x01,
    CMD_INIT = 0x02,
    CMD_SHUTDOWN = 0x03,
    CMD_SET_LOCALITY = 0x05,
    CMD_CANCEL_TPM_CMD = 0x09,
    CMD_STOP = 0x0e,
    CMD_SET_DATAFD = 0x10,
    CMD_SET_BUFFERSIZE = 0x11,
};

#define CAP_INIT (1u << 0)
#define CAP_SHUTDOWN (1u << 1)
#define CAP_SET_LOCALITY (1u << 3)
#define CAP_CANCEL_TPM_CMD (1u << 5)
#define CAP_STOP (1u << 10)
#define CAP_SET_DATAFD (1u << 12)
#define CAP_SET_BUFFERSIZE (1u << 13)

static const struct {
    uint64_t bit;
    const char *name;
} required_caps[] = {
    { CAP_INIT, "INIT" },
    { CAP_SHUTDOWN, "SHUTDOWN" },
    { CAP_SET_LOCALITY, "SET_LOCALITY" },
    { CAP_CANCEL_TPM_CMD, "CANCEL_TPM_CMD" },
    { CAP_STOP, "STOP" },
    { CAP_SET_DATAFD, "SET_DATAFD" },
    { CAP_SET_BUFFERSIZE, "SET_BUFFERSIZE" },
};

static int64_t now_ns(void) { return (int64_t)mono_ns(); }

static int64_t now_ms(void) { return (int64_t)(mono_ns() / 1000000); }

/* Waits until fd is ready for `events` or the deadline passes. Also wakes
 * for wake_fd (when >= 0) and returns 1 in that case. 0: ready; -ETIMEDOUT,
 * -EPIPE (hang-up) or -errno otherwise. */
static int wait_fd(int fd, short events, int wake_fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p[2] = { { fd, events, 0 }, { wake_fd, POLLIN, 0 } };
        int n = poll(p, wake_fd >= 0 ? 2 : 1, (int)left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            continue;
        if (wake_fd >= 0 && (p[1].revents & POLLIN))
            return 1;
        if (p[0].revents & events)
            return 0;
        if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
            return -EPIPE;
    }
}

/* Reads exactly len bytes before the deadline. */
static int read_full(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
    size_t got = 0;
    while (got < len) {
        int r = wait_fd(fd, POLLIN, -1, deadline);
        if (r < 0)
            return r;
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n == 0)
            return -EPIPE;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

/* One control command: sends req (with fd attached when pass_fd >= 0) and
 * reads resp_len bytes of response. The first 4 bytes of most responses are
 * the result; on error swtpm sends only those, so callers read them first. */
static int ctrl_xfer(struct swtpm *s, const uint8_t *req, size_t req_len, int pass_fd,
                     uint8_t *resp, size_t resp_len)
{
    int64_t deadline = now_ms() + s->timeout_ms;
    struct iovec iov = { (void *)req, req_len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    int r = wait_fd(s->ctrl_fd, POLLOUT, -1, deadline);
    if (r < 0)
        return r;
    if (sendmsg(s->ctrl_fd, &msg, MSG_NOSIGNAL) != (ssize_t)req_len)
        return -errno ? -errno : -EIO;
    return read_full(s->ctrl_fd, resp, resp_len, deadline);
}

/* A control command whose response is just the 4-byte result. */
static int ctrl_simple(struct swtpm *s, uint32_t cmd, const uint8_t *arg, size_t arg_len,
                       int pass_fd, uint32_t *result)
{
    uint8_t req[16], resp[4];
    tpm_put_be32(req, cmd);
    if (arg_len)
        memcpy(req + 4, arg, arg_len); /* arg may be NULL then */
    int r = ctrl_xfer(s, req, 4 + arg_len, pass_fd, resp, 4);
    if (r == 0)
        *result = tpm_be32(resp);
    return r;
}

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

static void drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) == sizeof(v))
        ;
}

/* Runs one TPM command on the data channel: one write, then the response
 * header and body, all before the deadline. With wake_fd >= 0, a wake-up
 * during the wait forwards a guest cancel to swtpm, or abandons the command
 * on shutdown (-ECANCELED). */
static int data_xfer(struct swtpm *s, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len,
                     int wake_fd, int64_t deadline)
{
    int r = wait_fd(s->data_fd, POLLOUT, -1, deadline);
    if (r < 0)
        return r;
    /* One write per command: swtpm reads the whole command at once. */
    if (send(s->data_fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -EPIPE;
    for (;;) {
        r = wait_fd(s->data_fd, POLLIN, wake_fd, deadline);
        if (r != 1)
            break;
        /* Woken: a cancel or a shutdown. Drain before reading the flags: a
         * wake-up posted after this drain stays readable for the next wait,
         * so none is lost between the two. */
        drain(wake_fd);
        pthread_mutex_lock(&s->lock);
        bool stop = s->shutdown, cancel = s->cancel_requested;
        s->cancel_requested = false;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            return -ECANCELED;
        if (cancel) {
            uint32_t res;
            ctrl_simple(s, CMD_CANCEL_TPM_CMD, NULL, 0, -1, &res);
        }
    }
    if (r < 0)
        return r;
    if ((r = read_full(s->data_fd, rsp, TPM_HEADER_SIZE, deadline)) < 0)
        return r;
    uint32_t size = tpm_header_size(rsp, TPM_HEADER_SIZE);
    if (size < TPM_HEADER_SIZE || size > sizeof(s->rsp))
        return -EPROTO;
    if ((r = read_full(s->data_fd, rsp + TPM_HEADER_SIZE, size - TPM_HEADER_SIZE, deadline)) < 0)
        return r;
    *rsp_len = size;
    return 0;
}

int swtpm_open(struct swtpm *s, const char *ctrl_path, int ctrl_fd, int timeout_ms, char *err,
               size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->ctrl_fd = s->data_fd = s->wake_fd = -1;
    s->timeout_ms = timeout_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    int r, pair[2] = { -1, -1 };
    uint32_t res;
    uint8_t buf[16];

    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (ctrl_fd >= 0) {
        /* A control channel connected for us (hearth-jailer's --tpm-socket),
         * ours from here: closed on failure as on swtpm_close. It must be a
         * stream socket. */
        s->ctrl_fd = ctrl_fd;
        int type = 0;
        socklen_t tl = sizeof(type);
        if (getsockopt(ctrl_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
            r = fail(err, errlen, -EBADF, "tpm.socket %s: not a connected stream socket",
                     ctrl_path);
            goto out;
        }
        fcntl(s->ctrl_fd, F_SETFD, FD_CLOEXEC);
    } else if (strlen(ctrl_path) >= sizeof(sa.sun_path)) {
        r = fail(err, errlen, -ENAMETOOLONG, "tpm.socket %s: path too long", ctrl_path);
        goto out;
    }
    if (ctrl_fd < 0)
        strcpy(sa.sun_path, ctrl_path);
    if (ctrl_fd < 0)
        s->ctrl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ctrl_fd < 0 &&
        (s->ctrl_fd < 0 || connect(s->ctrl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
        r = -errno;
        snprintf(err, errlen, "tpm.socket %s: %s", ctrl_path,
                 errno == ENOENT         ? "does not exist"
                 : errno == ECONNREFUSED ? "nothing is listening (swtpm not running?)"
                                         : strerror(errno));
        goto out;
    }
    tpm_put_be32(buf, CMD_GET_CAPABILITY);
    uint8_t capbuf[8];
    if ((r = ctrl_xfer(s, buf, 4, -1, capbuf, sizeof(capbuf))) < 0) {
        r = fail(err, errlen, r, "tpm.socket %s: swtpm did not answer GET_CAPABILITY", ctrl_path);
        goto out;
    }
    s->caps = (uint64_t)tpm_be32(capbuf) << 32 | tpm_be32(capbuf + 4);
    for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
        if (!(s->caps & required_caps[i].bit)) {
            r = fail(err, errlen, -ENOTSUP, "swtpm lacks the %s control command",
                     required_caps[i].name);
            goto out;
        }
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        r = fail(err, errlen, -errno, "socketpair: %s", strerror(errno));
        goto out;
    }
    r = ctrl_simple(s, CMD_SET_DATAFD, NULL, 0, pair[1], &res);
    close(pair[1]);
    s->data_fd = pair[0];
    if (r < 0 || res) {
        r = fail(err, errlen, r < 0 ? r : -EIO, "swtpm refused SET_DATAFD%s",
                 r < 0 ? " (no answer)" : "");
        goto out;
    }
    if ((r = ctrl_simple(s, CMD_STOP, NULL, 0, -1, &res)) < 0 || res) {
        r = fail(err, errlen, r < 0 ? r : -EIO, "swtpm refused STOP");
        goto out;
    }
    uint8_t req[8], resp[16];
    tpm_put_be32(req, CMD_SET_BUFFERSIZE);
    tpm_put_be32(req + 4, TPM_BUFFER_MAX);
    if ((r = ctrl_xfer(s, req, 8, -1, resp, 4)) < 0 || tpm_be32(resp) ||
        (r = read_full(s->ctrl_fd, resp + 4, 12, now_ms() + timeout_ms)) < 0) {
        r = fail(err, errlen, r < 0 ? r : -EIO, "swtpm refused SET_BUFFERSIZE");
        goto out;
    }
    s->buffer_size = tpm_be32(resp + 4);
    if (s->buffer_size < TPM_HEADER_SIZE || s->buffer_size > TPM_BUFFER_MAX)
        s->buffer_size = TPM_BUFFER_MAX;
    uint8_t flags[4] = { 0 };
    if ((r = ctrl_simple(s, CMD_INIT, flags, 4, -1, &res)) < 0 || res) {
        r = r < 0 ? fail(err, errlen, r, "swtpm INIT failed (no answer)")
                  : fail(err, errlen, -EIO, "swtpm INIT failed (result 0x%x)", res);
        goto out;
    }
    uint8_t startup[12], rsp[TPM_BUFFER_MAX];
    size_t rsp_len = 0;
    tpm_put_be16(startup, TPM_ST_NO_SESSIONS);
    tpm_put_be32(startup + 2, sizeof(startup));
    tpm_put_be32(startup + 6, TPM_CC_STARTUP);
    tpm_put_be16(startup + 10, TPM_SU_CLEAR);
    if ((r = data_xfer(s, startup, sizeof(startup), rsp, &rsp_len, -1, now_ms() + timeout_ms)) <
        0) {
        r = fail(err, errlen, r, "TPM2_Startup: %s", strerror(-r));
        goto out;
    }
    uint32_t rc = tpm_response_code(rsp);
    if (rc != TPM_RC_SUCCESS && rc != TPM_RC_INITIALIZE) {
        r = fail(err, errlen, -EIO, "TPM2_Startup failed with 0x%x", rc);
        goto out;
    }
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        r = fail(err, errlen, -errno, "eventfd: %s", strerror(errno));
        goto out;
    }
    return 0;
out:
    swtpm_close(s);
    return r;
}

static void set_failed(struct swtpm *s, const char *why)
{
    if (!atomic_exchange(&s->failed, true))
        log_error("vTPM failed: %s; the guest gets TPM_RC_FAILURE from now on", why);
}

/* Hands s->rsp to the submitter. Called and returns with the lock held,
 * dropping it around `done`, which takes the transport's lock and may
 * submit again. */
static void swtpm_complete_locked(struct swtpm *s, size_t rsp_len, bool failed)
{
    uint64_t took = (uint64_t)(now_ns() - (int64_t)s->submitted_ns);
    s->stats.latency_ns_total += took;
    if (took > s->stats.latency_ns_max) {
        s->stats.latency_ns_max = took;
        s->stats.slowest_ordinal = s->cmd_len >= TPM_HEADER_SIZE ? tpm_be32(s->cmd + 6) : 0;
        s->stats.slowest_queued_ns = s->started_ns - s->submitted_ns;
    }
    s->stats.bytes_in += s->cmd_len;
    s->stats.bytes_out += rsp_len;
    tpm_done_fn *done = s->done;
    void *ctx = s->done_ctx;
    s->done = NULL;
    s->busy = false;
    s->stats.commands++;
    s->stats.failures += failed;
    pthread_mutex_unlock(&s->lock);
    done(ctx, s->rsp, rsp_len);
    pthread_mutex_lock(&s->lock);
}

static void *command_thread(void *arg)
{
    struct swtpm *s = arg;
    log_set_thread_name("tpm");
    /* Before the first byte from swtpm, which a guest can steer. */
    if (seccomp_install(SECCOMP_TPM, s->seccomp) < 0)
        set_failed(s, "its seccomp filter could not be installed");
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->shutdown && !(s->busy && s->done))
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->shutdown)
            break;
        uint8_t locality = s->locality;
        size_t len = s->cmd_len;
        s->started_ns = (uint64_t)now_ns();
        pthread_mutex_unlock(&s->lock);

        size_t rsp_len = 0;
        int r = -EIO;
        /* No drain here: the eventfd is only ever drained right before the
         * flags are read under the lock (data_xfer), so a cancel or close
         * posted at any moment is seen. A wake-up left over from the
         * previous command costs one look at the flags: submit cleared
         * cancel_requested. */
        if (!atomic_load(&s->failed)) {
            int64_t deadline = now_ms() + s->timeout_ms;
            uint32_t res = 0;
            if (locality != s->cur_locality) {
                r = ctrl_simple(s, CMD_SET_LOCALITY, &locality, 1, -1, &res);
                if (r == 0 && res == 0)
                    s->cur_locality = locality;
                else
                    set_failed(s, "swtpm did not accept SET_LOCALITY");
            }
            if (!atomic_load(&s->failed)) {
                r = data_xfer(s, s->cmd, len, s->rsp, &rsp_len, s->wake_fd, deadline);
                if (r == -ETIMEDOUT)
                    set_failed(s, "swtpm did not answer within the timeout");
                else if (r == -EPROTO)
                    set_failed(s, "swtpm sent a malformed response");
                else if (r < 0 && r != -ECANCELED)
                    set_failed(s, "the connection to swtpm broke");
            }
        }
        if (r < 0)
            rsp_len = tpm_error_response(s->rsp, TPM_RC_FAILURE);

        pthread_mutex_lock(&s->lock);
        swtpm_complete_locked(s, rsp_len, r < 0);
    }
    /* A command submitted but never started still gets its one answer. */
    if (s->busy && s->done)
        swtpm_complete_locked(s, tpm_error_response(s->rsp, TPM_RC_FAILURE), true);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int swtpm_submit(void *impl, const uint8_t *cmd, size_t len, uint8_t locality,
                        tpm_done_fn *done, void *ctx)
{
    struct swtpm *s = impl;
    if (len > sizeof(s->cmd) || len > s->buffer_size)
        return -E2BIG;
    pthread_mutex_lock(&s->lock);
    if (s->busy || s->shutdown) {
        pthread_mutex_unlock(&s->lock);
        return -EBUSY;
    }
    memcpy(s->cmd, cmd, len);
    s->cmd_len = len;
    s->locality = locality;
    s->done = done;
    s->done_ctx = ctx;
    s->busy = true;
    s->cancel_requested = false;
    s->submitted_ns = s->started_ns = (uint64_t)now_ns();
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void wake(struct swtpm *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->wake_fd, &one, sizeof(one));
    (void)n;
}

static void swtpm_cancel(void *impl)
{
    struct swtpm *s = impl;
    pthread_mutex_lock(&s->lock);
    bool busy = s->busy;
    if (busy)
        s->cancel_requested = true;
    pthread_mutex_unlock(&s->lock);
    if (busy)
        wake(s);
}

static bool swtpm_failed(void *impl) { return atomic_load(&((struct swtpm *)impl)->failed); }

const struct tpm_backend_ops swtpm_backend_ops = {
    .submit = swtpm_submit,
    .cancel = swtpm_cancel,
    .failed = swtpm_failed,
};

uint64_t swtpm_answer_bound_ns(const struct swtpm *s)
{
    /* SET_LOCALITY and the command each have the time-out; the rest is
     * the tpm thread getting the CPU to answer. */
    return ((uint64_t)s->timeout_ms * 2 + 100) * 1000000ull;
}

int swtpm_start(struct swtpm *s, struct tpm_backend *b)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024); /* no deep calls; keeps the footprint small */
    int r = pthread_create(&s->thread, &attr, command_thread, s);
    pthread_attr_destroy(&attr);
    if (r)
        return -r;
    s->thread_started = true;
    *b = (struct tpm_backend){ .ops = &swtpm_backend_ops,
                               .impl = s,
                               .max_command = s->buffer_size,
                               .sync_wait_ns = swtpm_answer_bound_ns(s) };
    return 0;
}

int swtpm_command(struct swtpm *s, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    if (len > s->buffer_size)
        return -E2BIG;
    return data_xfer(s, cmd, len, rsp, rsp_len, -1, now_ms() + s->timeout_ms);
}

void swtpm_release(struct swtpm *s)
{
    s->keep_running = true;
    swtpm_close(s);
}

void swtpm_get_stats(struct swtpm *s, struct swtpm_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

void swtpm_log_stats(struct swtpm *s)
{
    struct swtpm_stats st;
    swtpm_get_stats(s, &st);
    uint64_t n = st.commands, fails = st.failures, total = st.latency_ns_total,
             max = st.latency_ns_max;
    if (n)
        log_info("vTPM: %llu commands (%llu failed), submit to response mean %.1f us, max %.1f us "
                 "(ordinal 0x%x, %.1f us of it waiting for the tpm thread)",
                 (unsigned long long)n, (unsigned long long)fails, (double)total / n / 1000.0,
                 (double)max / 1000.0, st.slowest_ordinal, (double)st.slowest_queued_ns / 1000.0);
}

void swtpm_close(struct swtpm *s)
{
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->shutdown = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        wake(s);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    /* A failed swtpm cannot be asked for anything; a released one stays up. */
    if (s->ctrl_fd >= 0 && !atomic_load(&s->failed) && !s->keep_running) {
        uint32_t res;
        s->timeout_ms = s->timeout_ms < 500 ? s->timeout_ms : 500;
        ctrl_simple(s, CMD_SHUTDOWN, NULL, 0, -1, &res);
    }
    if (s->data_fd >= 0)
        close(s->data_fd);
    if (s->ctrl_fd >= 0)
        close(s->ctrl_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->data_fd = s->ctrl_fd = s->wake_fd = -1;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}
