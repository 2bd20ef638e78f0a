/* x86 boot CPU state: CPUID normalisation, MSRs, LAPIC, FPU, GDT, paging. */
#include "boot/cpu.h"

#include "arch/x86_64/layout.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CR0_PE 0x1ULL
#define CR0_ET 0x10ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

/* GDT descriptors as (flags << 8 | access) words: code64, code32, data, tss. */
#define GDT_CODE64 0xa09bU
#define GDT_CODE32 0xc09bU
#define GDT_DATA 0xc093U
#define GDT_TSS 0x808bU

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
           (limit & 0xffffu) | ((uint64_t)(limit & 0xf0000u) << 32) |
           ((uint64_t)(flags & 0xf0ffu) << 40);
}

static struct kvm_segment segment(uint16_t flags, uint16_t index)
{
    uint32_t limit = 0xfffff;
    bool g = (flags >> 15) & 1;
    return (struct kvm_segment){
        .base = 0,
        .limit = g ? (limit << 12) | 0xfff : limit,
        .selector = (uint16_t)(index * 8),
        .type = flags & 0xf,
        .present = (flags >> 7) & 1,
        .dpl = (flags >> 5) & 3,
        .db = (flags >> 14) & 1,
        .s = (flags >> 4) & 1,
        .l = (flags >> 13) & 1,
        .g = g,
        .avl = (flags >> 12) & 1,
        .unusable = 0,
    };
}

static uint16_t code_flags(enum boot_mode mode)
{
    return mode == BOOT_LINUX64 ? GDT_CODE64 : GDT_CODE32;
}

int cpu_write_boot_tables(struct guest_mem *mem, enum boot_mode mode)
{
    uint64_t gdt[4] = {
        0,
        gdt_entry(code_flags(mode), 0, 0xfffff),
        gdt_entry(GDT_DATA, 0, 0xfffff),
        gdt_entry(GDT_TSS, 0, 0xfffff),
    };
    uint64_t idt = 0;
    if (guest_write(mem, LAYOUT_GDT_START, gdt, sizeof(gdt)) ||
        guest_write(mem, LAYOUT_IDT_START, &idt, sizeof(idt)))
        return -EFAULT;
    if (mode != BOOT_LINUX64)
        return 0;
    uint64_t pml4e = LAYOUT_PDPT | 3, pdpte = LAYOUT_PD | 3;
    uint64_t *pd = gpa_to_hva(mem, LAYOUT_PD, 4096);
    if (!pd || guest_write(mem, LAYOUT_PML4, &pml4e, 8) || guest_write(mem, LAYOUT_PDPT, &pdpte, 8))
        return -EFAULT;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
    return 0;
}

static void set_topology(struct kvm_cpuid_entry2 *e, int id, int nvcpus, bool smt)
{
    int threads = (smt && nvcpus > 1) ? 2 : 1;
    int cores = nvcpus / threads;
    int pkg_shift = 0;
    while ((1 << pkg_shift) < nvcpus)
        pkg_shift++;
    switch (e->function) {
    case 0x1:
        e->ebx = (e->ebx & 0xffffu & ~0xff00u) | (8u << 8) /* clflush 64 B */ |
                 ((uint32_t)nvcpus << 16) | ((uint32_t)id << 24);
        e->ecx |= 1u << 31;   /* running under a hypervisor */
        e->ecx &= ~(1u << 5); /* no VMX for the guest */
        if (nvcpus > 1)
            e->edx |= 1u << 28; /* HTT: several logical CPUs per package */
        break;
    case 0x4: {
        uint32_t level = (e->eax >> 5) & 7;
        uint32_t sharing = level >= 3 ? (uint32_t)nvcpus : (uint32_t)threads;
        e->eax = (e->eax & 0x3fffu) | ((sharing - 1) << 14) | ((uint32_t)(cores - 1) << 26);
        break;
    }
    case 0xb:
        e->edx = (uint32_t)id;
        if (e->index == 0) {
            e->eax = threads > 1 ? 1 : 0;
            e->ebx = (uint32_t)threads;
            e->ecx = 0 | (1u << 8); /* level 0: SMT */
        } else if (e->index == 1) {
            e->eax = (uint32_t)pkg_shift;
            e->ebx = (uint32_t)nvcpus;
            e->ecx = 1 | (2u << 8); /* level 1: core */
        } else {
            e->eax = e->ebx = 0;
            e->ecx = e->index; /* invalid level ends the enumeration */
        }
        break;
    case 0xa: /* no PMU for the guest */ e->eax = e->ebx = e->ecx = e->edx = 0; break;
    case 0x40000000:
        e->eax = 0x40000001;
        memcpy(&e->ebx, "KVMK", 4);
        memcpy(&e->ecx, "VMKV", 4);
        memcpy(&e->edx, "M\0\0\0", 4);
        break;
    default: break;
    }
}

/* KVM may list leaf 0xB with fewer sub-leaves than the topology needs:
 * make sure SMT (0), core (1) and the terminating level (2) exist. */
static void add_topology_subleaves(struct kvm_cpuid2 *cpuid, uint32_t cap)
{
    bool has_b = false, has[3] = { false, false, false };
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        if (e->function == 0 && e->eax >= 0xb)
            has_b = true;
        if (e->function == 0xb && e->index < 3)
            has[e->index] = true;
    }
    for (uint32_t sub = 0; has_b && sub < 3; sub++) {
        if (has[sub] || cpuid->nent >= cap)
            continue;
        cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
            .function = 0xb,
            .index = sub,
            .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
        };
    }
}

static int setup_cpuid(struct vm *vm, struct vcpu *v, bool smt)
{
    int nent = 128;
    struct kvm_cpuid2 *cpuid = NULL;
    for (;;) {
        cpuid = calloc(1, sizeof(*cpuid) + (size_t)nent * sizeof(cpuid->entries[0]));
        if (!cpuid)
            return -ENOMEM;
        cpuid->nent = (uint32_t)nent - 3; /* room for add_topology_subleaves */
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
            break;
        int e = errno;
        free(cpuid);
        if (e != E2BIG || nent >= 4096)
            return -e;
        nent *= 2;
    }
    add_topology_subleaves(cpuid, (uint32_t)nent);
    for (uint32_t i = 0; i < cpuid->nent; i++)
        set_topology(&cpuid->entries[i], v->id, vm->nvcpus, smt);
    int r = ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
    free(cpuid);
    return r;
}

static int setup_msrs(struct vcpu *v, char *err, size_t errlen)
{
    static const struct {
        uint32_t index;
        uint64_t value;
    } boot_msrs[] = {
        { 0x174, 0 },              /* IA32_SYSENTER_CS */
        { 0x175, 0 },              /* IA32_SYSENTER_ESP */
        { 0x176, 0 },              /* IA32_SYSENTER_EIP */
        { 0xc0000081, 0 },         /* STAR */
        { 0xc0000082, 0 },         /* LSTAR */
        { 0xc0000083, 0 },         /* CSTAR */
        { 0xc0000084, 0 },         /* SYSCALL_MASK */
        { 0xc0000102, 0 },         /* KERNEL_GS_BASE */
        { 0x10, 0 },               /* IA32_TSC */
        { 0x1a0, 1 },              /* IA32_MISC_ENABLE: fast strings */
        { 0x2ff, (1u << 11) | 6 }, /* MTRR default type: enabled, write-back */
    };
    enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
    } msrs;
    memset(&msrs, 0, sizeof(msrs));
    msrs.hdr.nmsrs = N;
    for (int i = 0; i < N; i++)
        msrs.hdr.entries[i] =
            (struct kvm_msr_entry){ .index = boot_msrs[i].index, .data = boot_msrs[i].value };
    int set = ioctl(v->fd, KVM_SET_MSRS, &msrs);
    if (set != N) {
        snprintf(err, errlen, "KVM_SET_MSRS: MSR 0x%x rejected",
                 set >= 0 && set < N ? boot_msrs[set].index : 0);
        return -EINVAL;
    }
    return 0;
}

static int setup_lapic(struct vcpu *v)
{
    struct kvm_lapic_state lapic;
    if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
        return -errno;
    uint32_t lint0, lint1;
    memcpy(&lint0, &lapic.regs[0x350], 4);
    memcpy(&lint1, &lapic.regs[0x360], 4);
    /* LINT0 delivers ExtINT (the PIC), LINT1 NMI; both unmasked. */
    lint0 = (lint0 & ~0x10700u) | (7u << 8);
    lint1 = (lint1 & ~0x10700u) | (4u << 8);
    memcpy(&lapic.regs[0x350], &lint0, 4);
    memcpy(&lapic.regs[0x360], &lint1, 4);
    return ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static int setup_regs(struct vcpu *v, const struct boot_entry *entry)
{
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
        return -errno;

    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    struct kvm_segment code = segment(code_flags(entry->mode), 1);
    struct kvm_segment data = segment(GDT_DATA, 2);
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.tr = segment(GDT_TSS, 3);
    sregs.gdt = (struct kvm_dtable){ .base = LAYOUT_GDT_START, .limit = 4 * 8 - 1 };
    sregs.idt = (struct kvm_dtable){ .base = LAYOUT_IDT_START, .limit = 7 };
    if (entry->mode == BOOT_LINUX64) {
        sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
        sregs.cr3 = LAYOUT_PML4;
        sregs.cr4 = CR4_PAE;
        sregs.efer = EFER_LME | EFER_LMA;
    } else {
        sregs.cr0 = CR0_PE | CR0_ET;
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer = 0;
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        return -errno;

    struct kvm_regs regs = { .rflags = 2, .rip = entry->rip };
    if (entry->mode == BOOT_LINUX64) {
        regs.rsp = regs.rbp = LAYOUT_BOOT_STACK;
        regs.rsi = entry->info_gpa;
    } else {
        regs.rbx = entry->info_gpa;
    }
    return ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

int cpu_setup_vcpu(struct vm *vm, struct vcpu *v, bool smt, const struct boot_entry *entry,
                   char *err, size_t errlen)
{
    int r = setup_cpuid(vm, v, smt);
    if (r < 0) {
        snprintf(err, errlen, "vcpu%d: CPUID setup: %s", v->id, strerror(-r));
        return r;
    }
    if ((r = setup_msrs(v, err, errlen)) < 0)
        return r;
    if ((r = setup_lapic(v)) < 0) {
        snprintf(err, errlen, "vcpu%d: LAPIC setup: %s", v->id, strerror(-r));
        return r;
    }
    if ((r = setup_regs(v, entry)) < 0) {
        snprintf(err, errlen, "vcpu%d: register setup: %s", v->id, strerror(-r));
        return r;
    }
    return 0;
}
