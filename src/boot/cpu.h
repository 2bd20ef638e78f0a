/* x86 vCPU state at boot: CPUID, MSRs, LAPIC, FPU, and the registers,
 * segments and page tables for the 64-bit Linux and 32-bit PVH entries. */
#ifndef HEARTH_CPU_H
#define HEARTH_CPU_H

#include "core/vm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum boot_mode {
    BOOT_LINUX64, /* 64-bit boot protocol: long mode, rsi = zero page */
    BOOT_PVH,     /* PVH: 32-bit protected mode, paging off, rbx = start_info */
};

struct boot_entry {
    enum boot_mode mode;
    uint64_t rip;
    uint64_t info_gpa; /* zero page or hvm_start_info */
};

/* Writes the boot GDT (and, for BOOT_LINUX64, identity page tables for the
 * first 1 GiB) into guest memory. 0 or -EFAULT. */
int cpu_write_boot_tables(struct guest_mem *mem, enum boot_mode mode);

/* Configures one vCPU: CPUID (hypervisor leaf, APIC id, topology for
 * nvcpus/smt), MSRs, LAPIC LINT0/LINT1, FPU and, for every vCPU, the entry
 * registers (KVM keeps APs waiting for INIT/SIPI regardless). */
int cpu_setup_vcpu(struct vm *vm, struct vcpu *v, bool smt, const struct boot_entry *entry,
                   char *err, size_t errlen);

#endif
