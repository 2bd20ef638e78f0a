/* fake_swtpm: a control socket that misbehaves, for start-up error tests,
 * or a minimal working swtpm whose TPM commands take as long as asked.
 *   fake_swtpm PATH silent      accept connections, never answer
 *   fake_swtpm PATH caps=HEX    answer GET_CAPABILITY with these caps only
 *   fake_swtpm PATH stall=MS    serve one client at a time: every control
 *                               command hearth uses succeeds; TPM2_Startup
 *                               is answered at once, any other command after
 *                               MS ms with TPM_RC_SUCCESS, or at once with
 *                               TPM_RC_CANCELED when CANCEL_TPM_CMD comes
 *                               first. SHUTDOWN ends the client, not us. */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    CMD_GET_CAPABILITY = 0x01,
    CMD_SHUTDOWN = 0x03,
    CMD_SET_LOCALITY = 0x05,
    CMD_CANCEL_TPM_CMD = 0x09,
    CMD_SET_DATAFD = 0x10,
    CMD_SET_BUFFERSIZE = 0x11,
};

#define TPM_CC_STARTUP 0x144
#define TPM_RC_CANCELED 0x909
#define ALL_CAPS 0x3fffu

struct fake_client {
    int ctrl, data;
    bool pending;      /* a TPM command waits for its answer */
    int64_t answer_at; /* ms, when pending */
};

static uint32_t fake_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fake_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static int64_t fake_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fake_answer(struct fake_client *c, uint32_t rc)
{
    uint8_t rsp[10] = { 0x80, 0x01 };
    fake_put_be32(rsp + 2, sizeof(rsp));
    fake_put_be32(rsp + 6, rc);
    if (send(c->data, rsp, sizeof(rsp), MSG_NOSIGNAL) != (ssize_t)sizeof(rsp))
        fprintf(stderr, "fake_swtpm: lost a response\n");
    c->pending = false;
}

static void fake_drop(struct fake_client *c)
{
    if (c->data >= 0)
        close(c->data);
    close(c->ctrl);
    c->ctrl = c->data = -1;
    c->pending = false;
}

/* One TPM command on the data channel; false when the client went away. */
static bool fake_data(struct fake_client *c, int stall_ms)
{
    uint8_t cmd[4096];
    ssize_t n = recv(c->data, cmd, sizeof(cmd), 0);
    if (n <= 0)
        return false;
    if (n >= 10 && fake_be32(cmd + 6) == TPM_CC_STARTUP) {
        fake_answer(c, 0);
        return true;
    }
    c->pending = true;
    c->answer_at = fake_now_ms() + stall_ms;
    return true;
}

/* One control command; false when the client went away or shut us down. */
static bool fake_ctrl(struct fake_client *c)
{
    uint8_t req[64], resp[16] = { 0 };
    size_t resp_len = 4;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = { req, sizeof(req) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
    };
    ssize_t n = recvmsg(c->ctrl, &msg, 0);
    if (n < 4)
        return false;
    struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
    if (h && h->cmsg_type == SCM_RIGHTS) {
        if (c->data >= 0)
            close(c->data);
        memcpy(&c->data, CMSG_DATA(h), sizeof(int));
    }
    switch (fake_be32(req)) {
    case CMD_GET_CAPABILITY: fake_put_be32(resp + 4, ALL_CAPS), resp_len = 8; break;
    case CMD_SET_BUFFERSIZE:
        fake_put_be32(resp + 4, 4096);
        fake_put_be32(resp + 8, 128);
        fake_put_be32(resp + 12, 4096);
        resp_len = 16;
        break;
    case CMD_CANCEL_TPM_CMD:
        if (c->pending)
            fake_answer(c, TPM_RC_CANCELED);
        break;
    default: break; /* STOP, INIT, SET_LOCALITY, SET_DATAFD: just succeed */
    }
    if (write(c->ctrl, resp, resp_len) != (ssize_t)resp_len)
        return false;
    return fake_be32(req) != CMD_SHUTDOWN;
}

static _Noreturn void fake_serve(int s, int stall_ms)
{
    for (;;) {
        struct fake_client c = { .ctrl = accept(s, NULL, NULL), .data = -1 };
        if (c.ctrl < 0)
            continue;
        for (;;) {
            int timeout = -1;
            if (c.pending) {
                int64_t left = c.answer_at - fake_now_ms();
                timeout = left > 0 ? (int)left : 0;
            }
            struct pollfd p[2] = { { c.data, POLLIN, 0 }, { c.ctrl, POLLIN, 0 } };
            if (poll(p, 2, timeout) < 0)
                continue;
            /* Data first: hearth sends a command before it may cancel it, so
             * a cancel is never looked at before the command it is for. */
            if ((p[0].revents & (POLLIN | POLLHUP)) && !fake_data(&c, stall_ms))
                break;
            if ((p[1].revents & (POLLIN | POLLHUP)) && !fake_ctrl(&c))
                break;
            if (c.pending && fake_now_ms() >= c.answer_at)
                fake_answer(&c, 0);
        }
        fake_drop(&c);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fake_swtpm PATH silent|caps=HEX|stall=MS\n");
        return 2;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
    unlink(argv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
        perror("fake_swtpm");
        return 1;
    }
    if (strncmp(argv[2], "stall=", 6) == 0)
        fake_serve(s, atoi(argv[2] + 6));
    bool silent = strcmp(argv[2], "silent") == 0;
    uint64_t caps = silent ? 0 : strtoull(argv[2] + 5, NULL, 16);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        uint8_t req[64];
        while (read(c, req, sizeof(req)) > 0) {
            if (silent)
                continue;
            uint8_t resp[8];
            for (int i = 0; i < 8; i++)
                resp[i] = (uint8_t)(caps >> (56 - 8 * i));
            if (write(c, resp, 8) != 8)
                break;
        }
        close(c);
    }
}
