/* Exit accounting: KVM's binary statistics, hearth's own counts, devices. */
#include "core/exits.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const kvm_exit_stat_names[KVM_STAT_N] = {
    [KVM_STAT_EXITS] = "exits",
    [KVM_STAT_IO] = "io_exits",
    [KVM_STAT_MMIO] = "mmio_exits",
    [KVM_STAT_HALT] = "halt_exits",
    [KVM_STAT_IRQ] = "irq_exits",
    [KVM_STAT_IRQ_WINDOW] = "irq_window_exits",
    [KVM_STAT_NMI_WINDOW] = "nmi_window_exits",
    [KVM_STAT_SIGNAL] = "signal_exits",
    [KVM_STAT_REQUEST_IRQ] = "request_irq_exits",
    [KVM_STAT_PF_FIXED] = "pf_fixed",
};

void vm_exits_collect(struct vm *vm, struct vm_exits *e)
{
    memset(e, 0, sizeof(*e));
    vm_flush_coalesced(vm);
    e->kvm_stats = vm->nvcpus > 0;
    for (int i = 0; i < vm->nvcpus; i++) {
        uint64_t v[KVM_STAT_N];
        if (vm->vcpus[i].stats_fd < 0 ||
            kvm_stats_read(vm->vcpus[i].stats_fd, kvm_exit_stat_names, KVM_STAT_N, v) < 0) {
            e->kvm_stats = false;
            break;
        }
        for (int k = 0; k < KVM_STAT_N; k++)
            e->kvm[k] = v[k] == KVM_STATS_MISSING || e->kvm[k] == KVM_STATS_MISSING
                            ? KVM_STATS_MISSING
                            : e->kvm[k] + v[k];
    }
    if (!e->kvm_stats)
        for (int k = 0; k < KVM_STAT_N; k++)
            e->kvm[k] = KVM_STATS_MISSING;
    for (int k = 0; k < VCPU_EXIT_NKINDS; k++)
        e->hearth[k] = vm_exit_count(vm, k);
    e->unclaimed = trap_unclaimed_count(&vm->traps);
    e->ndevices = trap_device_counts(&vm->traps, e->devices, TRAP_MAX_RANGES);
}

static uint64_t known(uint64_t v) { return v == KVM_STATS_MISSING ? 0 : v; }

uint64_t vm_exits_other(const struct vm_exits *e)
{
    uint64_t named = 0;
    for (int k = KVM_STAT_IO; k <= KVM_STAT_NMI_WINDOW; k++)
        named += known(e->kvm[k]);
    uint64_t all = known(e->kvm[KVM_STAT_EXITS]);
    return all > named ? all - named : 0;
}

struct out {
    char *p;
    size_t left;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, o->left, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t used = (size_t)n < o->left ? (size_t)n : (o->left ? o->left - 1 : 0);
    o->p += used;
    o->left -= used;
}

void vm_exits_format(const struct vm_exits *e, char *out, size_t len)
{
    struct out o = { out, len };
    if (len)
        out[0] = 0;
    if (e->kvm_stats && e->kvm[KVM_STAT_EXITS] != KVM_STATS_MISSING) {
        static const struct {
            enum kvm_exit_stat k;
            const char *label;
        } shown[] = {
            { KVM_STAT_IO, "io" },
            { KVM_STAT_MMIO, "mmio" },
            { KVM_STAT_HALT, "halt" },
            { KVM_STAT_IRQ, "irq" },
            { KVM_STAT_IRQ_WINDOW, "irq window" },
        };
        put(&o, "VM exits: %llu in KVM (", (unsigned long long)e->kvm[KVM_STAT_EXITS]);
        for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
            put(&o, "%s %llu, ", shown[i].label, (unsigned long long)known(e->kvm[shown[i].k]));
        put(&o, "other %llu (page faults %llu)); ", (unsigned long long)vm_exits_other(e),
            (unsigned long long)known(e->kvm[KVM_STAT_PF_FIXED]));
    } else {
        put(&o, "VM exits: KVM's statistics unavailable (Linux 5.14+); ");
    }
    uint64_t to_hearth = 0;
    for (int k = 0; k < VCPU_EXIT_NKINDS; k++)
        to_hearth += e->hearth[k];
    put(&o, "%llu reached hearth:", (unsigned long long)to_hearth);
    for (int i = 0; i < e->ndevices; i++) {
        const struct trap_device_count *d = &e->devices[i];
        uint64_t accesses = d->reads + d->writes;
        if (!accesses)
            continue;
        put(&o, " %s %llu", d->name, (unsigned long long)d->exits);
        if (accesses != d->exits)
            put(&o, " (%llu accesses)", (unsigned long long)accesses);
        put(&o, ",");
    }
    put(&o, " unclaimed %llu", (unsigned long long)e->unclaimed);
}
