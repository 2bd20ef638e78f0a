/* acpi: walks RSDP -> XSDT -> every table, checks signatures and checksums,
 * counts MADT LAPICs against vcpus=N; with mptable=1 also checks the MP
 * table; with dump=1 prints every table in hex for the host to disassemble;
 * i8042=0 drops the DSDT i8042 check (QEMU microvm has none). */
#include "guest.h"

static uint8_t sum(const void *p, uint64_t n)
{
    uint8_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = (uint8_t)(s + ((const uint8_t *)p)[i]);
    return s;
}

static uint32_t rd32(uint64_t a)
{
    uint32_t v;
    memcpy(&v, (const void *)a, 4);
    return v;
}
static uint64_t rd64(uint64_t a)
{
    uint64_t v;
    memcpy(&v, (const void *)a, 8);
    return v;
}

static uint64_t find_rsdp(const struct boot_info *bi)
{
    if (bi->rsdp)
        return bi->rsdp;
    for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
        if (memcmp((const void *)a, "RSD PTR ", 8) == 0)
            return a;
    return 0;
}

static void dump(uint64_t t, uint32_t len)
{
    const uint8_t *p = (const uint8_t *)t;
    char line[2 * 32 + 1];
    printf("# table %.4s %u\n", (const char *)t, len);
    for (uint32_t i = 0; i < len; i += 32) {
        uint32_t n = len - i < 32 ? len - i : 32;
        for (uint32_t j = 0; j < n; j++)
            snprintf(line + 2 * j, 3, "%02x", p[i + j]);
        printf("#hex %s\n", line);
    }
}

static bool valid_sig(uint64_t t)
{
    for (int i = 0; i < 4; i++) {
        char c = ((const char *)t)[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int madt_lapics(uint64_t t, uint32_t len)
{
    int n = 0;
    for (uint32_t off = 44; off + 2 <= len;) {
        uint8_t type = *(const uint8_t *)(t + off), elen = *(const uint8_t *)(t + off + 1);
        if (elen < 2)
            break;
        if (type == 0 && (rd32(t + off + 4) & 1))
            n++;
        off += elen;
    }
    return n;
}

static bool want_i8042;

static void check_table(uint64_t t, bool want_dump, int vcpus)
{
    uint32_t len = rd32(t + 4);
    bool ok = valid_sig(t) && len >= 36 && sum((const void *)t, len) == 0;
    tap_ok(ok, "table %.4s at 0x%llx, %u bytes, checksum valid", (const char *)t,
           (unsigned long long)t, len);
    if (!ok)
        return;
    if (want_dump)
        dump(t, len);
    if (memcmp((const void *)t, "APIC", 4) == 0) {
        int n = madt_lapics(t, len);
        tap_ok(n == vcpus, "MADT lists %d enabled LAPICs for %d vCPUs", n, vcpus);
    }
    if (memcmp((const void *)t, "FACP", 4) == 0) {
        tap_ok(rd32(t + 112) & (1u << 20), "FADT is hardware-reduced");
        uint64_t dsdt = len >= 148 && rd64(t + 140) ? rd64(t + 140) : rd32(t + 40);
        check_table(dsdt, want_dump, vcpus);
        uint32_t dlen = rd32(dsdt + 4);
        bool com1 = false, ps2 = false;
        for (uint32_t i = 36; i + 4 <= dlen; i++) {
            com1 |= memcmp((const void *)(dsdt + i), "COM1", 4) == 0;
            ps2 |= memcmp((const void *)(dsdt + i), "PS2_", 4) == 0;
        }
        if (want_i8042)
            tap_ok(com1 && ps2, "DSDT describes COM1 and the i8042");
        else
            tap_ok(com1, "DSDT describes COM1");
    }
}

static void check_mptable(int vcpus)
{
    uint64_t fp = 0;
    for (uint64_t a = 0x9fc00; a < 0xa0000 && !fp; a += 16)
        if (memcmp((const void *)a, "_MP_", 4) == 0)
            fp = a;
    if (!tap_ok(fp && sum((const void *)fp, 16) == 0, "MP floating pointer at 0x%llx",
                (unsigned long long)fp))
        return;
    uint64_t ct = rd32(fp + 4);
    uint16_t len = *(const uint16_t *)(ct + 4), count = *(const uint16_t *)(ct + 34);
    tap_ok(memcmp((const void *)ct, "PCMP", 4) == 0 && sum((const void *)ct, len) == 0,
           "MP configuration table checksum valid");
    int cpus = 0;
    uint64_t e = ct + 44;
    for (uint16_t i = 0; i < count && e < ct + len; i++) {
        uint8_t type = *(const uint8_t *)e;
        if (type == 0)
            cpus++;
        e += type == 0 ? 20 : 8;
    }
    tap_ok(cpus == vcpus, "MP table lists %d processors", cpus);
}

void guest_main(const struct boot_info *bi)
{
    int vcpus = (int)opt_u64(bi, "vcpus", 1);
    bool want_dump = opt_u64(bi, "dump", 0) != 0;
    want_i8042 = opt_u64(bi, "i8042", 1) != 0;
    uint64_t rsdp = find_rsdp(bi);
    if (!tap_ok(rsdp != 0, "RSDP found at 0x%llx", (unsigned long long)rsdp))
        return;
    tap_ok(sum((const void *)rsdp, 20) == 0 && *(const uint8_t *)(rsdp + 15) >= 2 &&
               sum((const void *)rsdp, 36) == 0,
           "RSDP revision 2 with valid checksums");
    uint64_t xsdt = rd64(rsdp + 24);
    uint32_t xlen = rd32(xsdt + 4);
    if (!tap_ok(memcmp((const void *)xsdt, "XSDT", 4) == 0 && sum((const void *)xsdt, xlen) == 0,
                "XSDT at 0x%llx valid", (unsigned long long)xsdt))
        return;
    if (want_dump)
        dump(xsdt, xlen);
    int n = (int)((xlen - 36) / 8);
    for (int i = 0; i < n; i++)
        check_table(rd64(xsdt + 36 + 8ull * i), want_dump, vcpus);
    if (opt_u64(bi, "mptable", 0))
        check_mptable(vcpus);
}
