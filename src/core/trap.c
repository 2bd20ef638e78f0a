/* MMIO/PIO trap registry: range lookup, access checks, unclaimed accounting. */
#include "core/clock.h"
#include "core/trap.h"

#include "core/log.h"

#include <errno.h>
#include <string.h>

#define UNCLAIMED_LOG_INTERVAL_NS 1000000000LL

void trap_init(struct trap_registry *reg) { memset(reg, 0, sizeof(*reg)); }

int trap_register(struct trap_registry *reg, enum trap_space space, uint64_t base, uint64_t len,
                  const struct trap_ops *ops, void *dev, const char *owner)
{
    if (len == 0 || base + len < base || !ops)
        return -EINVAL;
    if (reg->nranges == TRAP_MAX_RANGES)
        return -ENOSPC;
    for (int i = 0; i < reg->nranges; i++) {
        const struct trap_range *r = &reg->ranges[i];
        if (r->space == space && base < r->base + r->len && r->base < base + len)
            return -EEXIST;
    }
    struct trap_range *r = &reg->ranges[reg->nranges++];
    r->space = space;
    r->base = base;
    r->len = len;
    r->ops = ops;
    r->dev = dev;
    r->owner = owner ? owner : ops->name;
    atomic_init(&r->exits, 0);
    atomic_init(&r->reads, 0);
    atomic_init(&r->writes, 0);
    return 0;
}

static struct trap_range *find(struct trap_registry *reg, enum trap_space space, uint64_t addr,
                               uint32_t len)
{
    for (int i = 0; i < reg->nranges; i++) {
        struct trap_range *r = &reg->ranges[i];
        if (r->space != space || addr < r->base)
            continue;
        uint64_t off = addr - r->base;
        if (off < r->len && len <= r->len - off)
            return r;
    }
    return NULL;
}

static int64_t now_ns(void) { return (int64_t)mono_ns(); }

static void note_unclaimed(struct trap_registry *reg, enum trap_space space, uint64_t addr,
                           uint32_t len, bool is_write)
{
    uint64_t total = atomic_fetch_add(&reg->unclaimed, 1) + 1;
    int64_t now = now_ns();
    int64_t next = atomic_load(&reg->next_log_ns);
    /* One line per interval at most; whoever wins the exchange logs it. */
    if (now < next ||
        !atomic_compare_exchange_strong(&reg->next_log_ns, &next, now + UNCLAIMED_LOG_INTERVAL_NS))
        return;
    uint64_t since = total - atomic_exchange(&reg->unclaimed_logged, total);
    log_warn("unclaimed %s %s at 0x%llx (%u bytes); %llu unclaimed since last report, %llu total",
             space == TRAP_PIO ? "port" : "mmio", is_write ? "write" : "read",
             (unsigned long long)addr, len, (unsigned long long)since, (unsigned long long)total);
}

static bool dispatch(struct trap_registry *reg, enum trap_space space, uint64_t addr, uint8_t *data,
                     uint32_t len, bool is_write, bool exit)
{
    struct trap_range *r = NULL;
    if (len == 1 || len == 2 || len == 4 || len == 8)
        r = find(reg, space, addr, len);
    if (!r) {
        if (!is_write)
            memset(data, 0xff, len > 8 ? 8 : len);
        note_unclaimed(reg, space, addr, len, is_write);
        return false;
    }
    if (exit)
        atomic_fetch_add_explicit(&r->exits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(is_write ? &r->writes : &r->reads, 1, memory_order_relaxed);
    trap_fn *fn = is_write ? r->ops->write : r->ops->read;
    if (fn)
        fn(r->dev, addr - r->base, data, len);
    else if (!is_write)
        memset(data, 0xff, len);
    return true;
}

bool trap_dispatch(struct trap_registry *reg, enum trap_space space, uint64_t addr, uint8_t *data,
                   uint32_t len, bool is_write)
{
    return dispatch(reg, space, addr, data, len, is_write, true);
}

bool trap_dispatch_batched(struct trap_registry *reg, enum trap_space space, uint64_t addr,
                           uint8_t *data, uint32_t len, bool is_write)
{
    return dispatch(reg, space, addr, data, len, is_write, false);
}

uint64_t trap_unclaimed_count(struct trap_registry *reg) { return atomic_load(&reg->unclaimed); }

int trap_device_counts(struct trap_registry *reg, struct trap_device_count *out, int max)
{
    int n = 0;
    for (int i = 0; i < reg->nranges; i++) {
        struct trap_range *r = &reg->ranges[i];
        int k = 0;
        while (k < n && strcmp(out[k].name, r->owner) != 0)
            k++;
        if (k == n) {
            if (n == max)
                continue; /* no room: TRAP_MAX_RANGES entries always suffice */
            out[n++] = (struct trap_device_count){ .name = r->owner };
        }
        out[k].exits += atomic_load_explicit(&r->exits, memory_order_relaxed);
        out[k].reads += atomic_load_explicit(&r->reads, memory_order_relaxed);
        out[k].writes += atomic_load_explicit(&r->writes, memory_order_relaxed);
    }
    return n;
}

void trap_log_stats(struct trap_registry *reg)
{
    for (int i = 0; i < reg->nranges; i++) {
        struct trap_range *r = &reg->ranges[i];
        uint64_t n = atomic_load(&r->reads) + atomic_load(&r->writes);
        if (n)
            log_debug("%s at 0x%llx: %llu guest accesses", r->ops->name,
                      (unsigned long long)r->base, (unsigned long long)n);
    }
}
