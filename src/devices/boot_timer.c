/* Boot-timer device: reports Firecracker's "Guest-boot-time" line. */
#include "devices/boot_timer.h"

#include "bus/manager.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>
#include <time.h>

static void timer_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct boot_timer *t = dev;
    if (offset != 0 || len != 1 || data[0] != BOOT_TIMER_MAGIC) {
        /* Only the first few are worth a line; the rest are counted. */
        uint64_t n = atomic_fetch_add(&t->ignored, 1);
        if (n < 3)
            log_warn("boot-timer: ignored %u-byte write of 0x%x at offset 0x%llx "
                     "(only the byte %d at offset 0 marks boot)",
                     len, data[0], (unsigned long long)offset, BOOT_TIMER_MAGIC);
        return;
    }
    /* The boot ends once: the first magic write is reported, the rest are
     * only counted (a guest writing it in a loop must not flood the log). */
    if (atomic_fetch_add(&t->marks, 1) != 0)
        return;
    uint64_t wall_us = (clock_ns(CLOCK_MONOTONIC) - t->start_wall_ns) / 1000;
    uint64_t cpu_us = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_ns) / 1000;
    atomic_store(&t->boot_wall_us, wall_us);
    log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
             (unsigned long long)wall_us, (unsigned long long)(wall_us / 1000),
             (unsigned long long)cpu_us, (unsigned long long)(cpu_us / 1000));
}

static void timer_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)dev;
    (void)offset;
    memset(data, 0, len);
}

const struct trap_ops boot_timer_ops = {
    .name = "boot-timer",
    .read = timer_read,
    .write = timer_write,
};

void boot_timer_init(struct boot_timer *t, uint64_t start_wall_ns, uint64_t start_cpu_ns)
{
    memset(t, 0, sizeof(*t));
    t->start_wall_ns = start_wall_ns;
    t->start_cpu_ns = start_cpu_ns;
}

/* The lifecycle: one timer with --boot-timer, at LAYOUT_BOOT_TIMER. */

static int boot_timer_count(const struct device_env *env) { return env->boot_timer; }

static void boot_timer_destroy(void *dev) { free(dev); }

static int boot_timer_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct boot_timer *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "boot-timer: out of memory");
        return -1;
    }
    boot_timer_init(t, env->start_wall_ns, env->start_cpu_ns);
    const struct devmgr_device d = {
        .ops = &boot_timer_device,
        .name = "boot-timer",
        .dev = t,
        .nranges = 1,
        .ranges = { { TRAP_MMIO, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_SIZE, &boot_timer_ops } },
    };
    return devmgr_add(env->dm, &d, err, errlen) < 0 ? -1 : 0;
}

const struct device_ops boot_timer_device = {
    .name = "boot-timer",
    .section = CONFIG_NSECTIONS,
    .count = boot_timer_count,
    .create = boot_timer_create,
    .destroy = boot_timer_destroy,
};
