/* virtio-vsock's lifecycle: made from the vsock section, its host sockets
 * and timer served on the I/O thread, its metrics. */
#include "core/metrics.h"
#include "bus/manager.h"
#include "virtio/vsock.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

enum { FD_HOST, FD_TIMER };

static int vsock_count(const struct device_env *env)
{
    return env->cfg->vsock.on;
}

static int vsock_check(const struct vm_config *next, char *err, size_t errlen)
{
    return virtio_vsock_check(&next->vsock, err, errlen) < 0 ? -1 : 0;
}

static void vsock_destroy(void *dev)
{
    virtio_vsock_destroy(dev);
    free(dev);
}

static int vsock_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct virtio_vsock *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "vsock: out of memory");
        return -1;
    }
    if (virtio_vsock_init(v, &env->cfg->vsock, &env->dm->vm->mem, err, errlen) < 0) {
        vsock_destroy(v);
        return -1;
    }
    const struct devmgr_virtio d = {
        .ops = &virtio_vsock_device, .name = "virtio-vsock", .mmio = &v->mmio, .dev = v,
        .nfds = 2, .fds = { [FD_HOST] = { v->epfd, EPOLLIN }, [FD_TIMER] = { v->timer_fd, EPOLLIN } },
    };
    return devmgr_attach_virtio(env->dm, &d, NULL, err, errlen) < 0 ? -1 : 0;
}

static void vsock_io_ready(void *dev, int index, uint32_t events)
{
    (void)events;
    if (index == FD_HOST)
        virtio_vsock_host_events(dev);
    else
        virtio_vsock_timer(dev);
}

_Static_assert(sizeof(struct vsock_stats) == 9 * sizeof(uint64_t), "vsock_stats: counters only");

/* Firecracker's "vsock" group (zeros without the device). */
static void vsock_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "rx_packets_count", "tx_packets_count",
                                         "rx_bytes_count", "tx_bytes_count", "conns_added",
                                         "conns_killed", "conns_removed", "tx_write_fails",
                                         "rx_read_fails" };
    struct vsock_stats sum = { 0 };
    for (int i = 0; i < n; i++) {
        struct vsock_stats st;
        virtio_vsock_stats(devs[i], &st);
        uint64_t *d = (uint64_t *)&sum;
        const uint64_t *s = (const uint64_t *)&st;
        for (size_t k = 0; k < sizeof(st) / sizeof(uint64_t); k++)
            d[k] += s[k];
    }
    json_object_set_new(o, "vsock", metrics_counters(names, (const uint64_t *)&sum, 9));
}

const struct device_ops virtio_vsock_device = {
    .name = "vsock",
    .section = CONFIG_VSOCK,
    .count = vsock_count,
    .check = vsock_check,
    .create = vsock_create,
    .destroy = vsock_destroy,
    .io_ready = vsock_io_ready,
    .metrics = vsock_metrics,
};
