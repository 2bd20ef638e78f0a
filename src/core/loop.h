/* The VMM's event loop: epoll over file descriptors with one callback each,
 * run on the main thread. */
#ifndef HEARTH_LOOP_H
#define HEARTH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_MAX_HANDLERS 64

typedef void loop_fn(void *ctx, int fd, uint32_t events);

struct loop_handler {
    int fd;
    loop_fn *fn;
    void *ctx;
    bool used;
};

struct loop {
    int epfd;
    bool done;
    struct loop_handler handlers[LOOP_MAX_HANDLERS];
};

int loop_init(struct loop *l);
void loop_destroy(struct loop *l);

/* Calls fn(ctx, fd, events) whenever fd is ready for `events` (EPOLLIN...). */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn *fn, void *ctx);
int loop_del(struct loop *l, int fd);
/* Changes the events fd is watched for. */
int loop_mod(struct loop *l, int fd, uint32_t events);

/* Dispatches events until a callback calls loop_stop; -errno on failure. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
