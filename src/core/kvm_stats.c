/* KVM's binary statistics: header, descriptors, data block, by name. */
#include "core/kvm_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Bounds that no kernel comes near; they keep a corrupt file from making
 * us allocate without limit. */
#define STATS_MAX_DESC 4096
#define STATS_MAX_NAME 256
#define STATS_MAX_DATA (1u << 20)

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EBADMSG; /* shorter than its header says */
        got += (size_t)r;
    }
    return 0;
}

int kvm_stats_read(int stats_fd, const char *const *names, int n, uint64_t *values)
{
    for (int i = 0; i < n; i++)
        values[i] = KVM_STATS_MISSING;
    struct kvm_stats_header h;
    int r = read_at(stats_fd, &h, sizeof(h), 0);
    if (r < 0)
        return r;
    if (h.num_desc > STATS_MAX_DESC || h.name_size == 0 || h.name_size > STATS_MAX_NAME)
        return -EBADMSG;
    size_t desc_len = sizeof(struct kvm_stats_desc) + h.name_size;
    uint8_t *descs = malloc(desc_len * h.num_desc + 1);
    if (!descs)
        return -ENOMEM;
    uint64_t *data = NULL;
    uint32_t data_len = 0;
    if ((r = read_at(stats_fd, descs, desc_len * h.num_desc, h.desc_offset)) < 0)
        goto out;
    /* The data block ends with the last descriptor's values. */
    for (uint32_t i = 0; i < h.num_desc; i++) {
        const struct kvm_stats_desc *d = (const void *)(descs + i * desc_len);
        uint64_t end = (uint64_t)d->offset + (uint64_t)d->size * sizeof(uint64_t);
        if (end > STATS_MAX_DATA || d->offset % sizeof(uint64_t)) {
            r = -EBADMSG;
            goto out;
        }
        if (end > data_len)
            data_len = (uint32_t)end;
    }
    data = malloc(data_len ? data_len : 1);
    if (!data) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = read_at(stats_fd, data, data_len, h.data_offset)) < 0)
        goto out;
    for (uint32_t i = 0; i < h.num_desc; i++) {
        const struct kvm_stats_desc *d = (const void *)(descs + i * desc_len);
        char name[STATS_MAX_NAME + 1];
        memcpy(name, d->name, h.name_size);
        name[h.name_size] = 0; /* the kernel pads with NULs; a corrupt file may not */
        for (int k = 0; k < n; k++)
            if (d->size == 1 && strcmp(name, names[k]) == 0)
                values[k] = data[d->offset / sizeof(uint64_t)];
    }
out:
    free(data);
    free(descs);
    return r;
}

int kvm_stats_open(int obj_fd)
{
    int fd = ioctl(obj_fd, KVM_GET_STATS_FD, NULL);
    if (fd < 0)
        return -errno;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
