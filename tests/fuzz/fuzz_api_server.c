/* libFuzzer target: the REST API's server, its event loop and connection
 * state machine, under clients the input scripts over socketpairs: bytes
 * sent in chunks of the input's choosing (pipelined, partial, repeated
 * until the server's input buffer fills), answers read a little at a time
 * or never (its output fills), connections closed mid-request. After the
 * script, a server whose clients are idle must go quiet: an event loop
 * that keeps reporting work that moves no byte is a spinning thread. */
#include "api/server.h"
#include "fuzz_vmm.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENTS 4
#define MAX_PAYLOAD 1024
/* More turns than any finite input needs to go quiet. */
#define QUIET_TURNS 2000

/* The input, consumed as the script runs. */
struct script {
    const uint8_t *p;
    size_t left;
};

static unsigned take(struct script *sc, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n && sc->left; i++, sc->left--)
        v = v << 8 | *sc->p++;
    return v;
}

/* A new connection in client slot k; the server owns its end. */
static void client_open(struct api_server *s, int *fds, int k)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    /* The server's smallest send buffer: its answers back up within a
     * few KiB. The client's stays large, so one send fills the server's
     * input buffer. */
    int small = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    if (api_server_adopt(s, sv[1]) < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    fds[k] = sv[0];
}

static void client_send(int fd, const uint8_t *b, size_t n)
{
    if (fd >= 0 && n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* what does not fit is dropped, as from a client that gives up */
    }
}

/* Reads up to n bytes of answers; every answer starts a status line. */
static void client_read(int fd, size_t n, size_t *got)
{
    static const char status[] = "HTTP/1.1 ";
    char buf[8192];
    while (fd >= 0 && n) {
        ssize_t r = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_DONTWAIT);
        if (r <= 0)
            return;
        size_t head = sizeof(status) - 1, k = *got < head ? head - *got : 0;
        if (k && memcmp(buf, status + *got, (size_t)r < k ? (size_t)r : k))
            abort(); /* the first answer on a connection is HTTP */
        *got += (size_t)r;
        n -= (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_router router;
    struct api_server s;
    config_init(&cfg);
    state = VMM_NOT_STARTED;
    api_router_init(&router, &ops, NULL, "fuzz");
    if (api_server_init_detached(&s, MAX_PAYLOAD, &router) < 0)
        abort();
    int fds[CLIENTS];
    size_t got[CLIENTS] = { 0 };
    for (int k = 0; k < CLIENTS; k++)
        fds[k] = -1;
    client_open(&s, fds, 0);
    struct script sc = { data, size };
    static uint8_t chunk[256 * 256];
    while (sc.left) {
        unsigned op = take(&sc, 1), k = (op >> 4) % CLIENTS;
        switch (op & 7) {
        case 0:
        case 1: { /* send the next 1..64 bytes of input */
            size_t n = (op & 1) * 32 + take(&sc, 1) % 32 + 1;
            n = n < sc.left ? n : sc.left;
            client_send(fds[k], sc.p, n);
            sc.p += n, sc.left -= n;
            break;
        }
        case 2: { /* send the next 1..256 bytes, 1..256 times over */
            size_t times = take(&sc, 1) + 1, n = take(&sc, 1) + 1;
            n = n < sc.left ? n : sc.left;
            for (size_t i = 0; i < times; i++)
                memcpy(chunk + i * n, sc.p, n);
            sc.p += n, sc.left -= n;
            client_send(fds[k], chunk, times * n);
            break;
        }
        case 3: /* read part of the answers */
            client_read(fds[k], take(&sc, 2) + 1, &got[k]);
            break;
        case 4: /* turn the server's loop */
            for (unsigned i = take(&sc, 1) % 8 + 1; i; i--)
                api_server_poll(&s, 0);
            break;
        case 5: /* close, maybe mid-request or with answers unread */
            if (fds[k] >= 0)
                close(fds[k]);
            fds[k] = -1;
            got[k] = 0;
            break;
        case 6: /* stop sending: the server sees the end of its input */
            if (fds[k] >= 0)
                shutdown(fds[k], SHUT_WR);
            break;
        case 7:
            if (fds[k] < 0)
                client_open(&s, fds, (int)k);
            break;
        }
    }
    /* Clients idle: the server goes quiet. */
    int turns = 0;
    while (api_server_poll(&s, 0) > 0)
        if (++turns == QUIET_TURNS)
            abort(); /* a connection makes no progress but is polled */
    /* Clients read everything: the server answers what it held, and goes
     * quiet again. */
    for (turns = 0; turns < QUIET_TURNS; turns++) {
        size_t before = got[0] + got[1] + got[2] + got[3];
        for (int k = 0; k < CLIENTS; k++)
            client_read(fds[k], SIZE_MAX, &got[k]);
        if (api_server_poll(&s, 0) == 0 && before == got[0] + got[1] + got[2] + got[3])
            break;
    }
    if (turns == QUIET_TURNS)
        abort();
    for (int k = 0; k < CLIENTS; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    api_server_stop(&s);
    config_free(&cfg);
    return 0;
}
