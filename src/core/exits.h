/* A VM's exits counted three ways: KVM's own statistics (every VM exit, by
 * the reasons KVM counts), the exits that reached hearth (by kind), and
 * hearth's dispatch per device. */
#ifndef HEARTH_EXITS_H
#define HEARTH_EXITS_H

#include "core/kvm_stats.h"
#include "core/trap.h"
#include "core/vm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* KVM's vCPU counters of exits, under KVM's own names. exits counts every
 * VM exit; io_exits every port access KVM intercepted (its in-kernel PIT
 * and PIC included); mmio_exits the MMIO accesses it sent to user space;
 * signal_exits and request_irq_exits are KVM_RUN returns without a VM exit. */
enum kvm_exit_stat {
    KVM_STAT_EXITS,
    KVM_STAT_IO,
    KVM_STAT_MMIO,
    KVM_STAT_HALT,
    KVM_STAT_IRQ,
    KVM_STAT_IRQ_WINDOW,
    KVM_STAT_NMI_WINDOW,
    KVM_STAT_SIGNAL,
    KVM_STAT_REQUEST_IRQ,
    KVM_STAT_PF_FIXED, /* guest RAM KVM mapped on a nested page fault: an exit each */
    KVM_STAT_N,
};

extern const char *const kvm_exit_stat_names[KVM_STAT_N];

struct vm_exits {
    bool kvm_stats;           /* false: this kernel has no binary statistics */
    uint64_t kvm[KVM_STAT_N]; /* summed over the vCPUs; KVM_STATS_MISSING if unknown */
    uint64_t hearth[VCPU_EXIT_NKINDS];
    uint64_t unclaimed; /* exits no device claimed */
    int ndevices;
    struct trap_device_count devices[TRAP_MAX_RANGES];
};

/* Reads everything; batched writes still in KVM's ring are handed to their
 * devices first so they count. */
void vm_exits_collect(struct vm *vm, struct vm_exits *e);

/* VM exits KVM counted but not under one of its reasons (MSR and CPUID
 * intercepts, nested page faults on RAM, ...). */
uint64_t vm_exits_other(const struct vm_exits *e);

/* The summary for the log, one line: "VM exits: N in KVM (io .., mmio ..,
 * halt .., irq .., irq window .., other .. (page faults ..)); M reached
 * hearth: DEVICE EXITS [(ACCESSES accesses)], ..., unclaimed U". */
void vm_exits_format(const struct vm_exits *e, char *out, size_t len);

#endif
