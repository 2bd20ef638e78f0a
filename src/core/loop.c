/* epoll event loop. */
#include "core/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn *fn, void *ctx)
{
    for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
        struct loop_handler *h = &l->handlers[i];
        if (h->used)
            continue;
        struct epoll_event ev = { .events = events, .data.ptr = h };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            return -errno;
        *h = (struct loop_handler){ .fd = fd, .fn = fn, .ctx = ctx, .used = true };
        return 0;
    }
    return -ENOSPC;
}

int loop_del(struct loop *l, int fd)
{
    for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
        struct loop_handler *h = &l->handlers[i];
        if (h->used && h->fd == fd) {
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            h->used = false;
            return 0;
        }
    }
    return -ENOENT;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
    for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
        struct loop_handler *h = &l->handlers[i];
        if (h->used && h->fd == fd) {
            struct epoll_event ev = { .events = events, .data.ptr = h };
            return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
        }
    }
    return -ENOENT;
}

void loop_stop(struct loop *l) { l->done = true; }

int loop_run(struct loop *l)
{
    struct epoll_event evs[16];
    while (!l->done) {
        int n = epoll_wait(l->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n && !l->done; i++) {
            struct loop_handler *h = evs[i].data.ptr;
            if (h->used)
                h->fn(h->ctx, h->fd, evs[i].events);
        }
    }
    return 0;
}
