/* cpu: the vCPU as the monitor set it up: CPUID hypervisor leaf and
 * topology for vcpus=N (smt=1: two threads per core), boot MSRs, and the
 * LAPIC's LINT0 (ExtINT) and LINT1 (NMI). */
#include "guest.h"

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

void guest_main(const struct boot_info *bi)
{
    uint32_t vcpus = (uint32_t)opt_u64(bi, "vcpus", 1), smt = (uint32_t)opt_u64(bi, "smt", 0);
    uint32_t r[4];
    char sig[13] = { 0 };
    cpuid(0x40000000, 0, r);
    memcpy(sig, &r[1], 4);
    memcpy(sig + 4, &r[2], 4);
    memcpy(sig + 8, &r[3], 4);
    tap_ok(strcmp(sig, "KVMKVMKVM") == 0 && r[0] >= 0x40000001, "hypervisor leaf \"%s\"", sig);
    cpuid(1, 0, r);
    tap_ok(r[2] & (1u << 31), "CPUID.1:ECX.hypervisor set");
    tap_ok((r[1] >> 24) == 0, "boot CPU has APIC id %u", r[1] >> 24);
    tap_ok(((r[1] >> 16) & 0xff) == vcpus, "CPUID.1:EBX logical CPUs %u", (r[1] >> 16) & 0xff);
    tap_ok(!(r[2] & (1u << 5)), "no VMX for the guest");
    cpuid(0, 0, r);
    if (r[0] >= 0xb) {
        uint32_t t[4], c[4];
        cpuid(0xb, 0, t);
        cpuid(0xb, 1, c);
        uint32_t threads = smt && vcpus > 1 ? 2 : 1;
        tap_ok((t[1] & 0xffff) == threads && ((t[2] >> 8) & 0xff) == 1,
               "CPUID.B level 0: %u thread(s) per core", t[1] & 0xffff);
        tap_ok((c[1] & 0xffff) == vcpus && ((c[2] >> 8) & 0xff) == 2,
               "CPUID.B level 1: %u logical CPUs per package", c[1] & 0xffff);
    }
    tap_ok((rdmsr(0x2ff) & 0x8ff) == 0x806, "MTRR default type write-back, enabled (0x%llx)",
           (unsigned long long)rdmsr(0x2ff));
    tap_ok(rdmsr(0x1a0) & 1, "IA32_MISC_ENABLE fast strings");
    uint32_t lint0 = mmio_read32(0xfee00350), lint1 = mmio_read32(0xfee00360);
    tap_ok((lint0 & 0x10700) == 0x700, "LAPIC LINT0 delivers ExtINT (0x%x)", lint0);
    tap_ok((lint1 & 0x10700) == 0x400, "LAPIC LINT1 delivers NMI (0x%x)", lint1);
}
