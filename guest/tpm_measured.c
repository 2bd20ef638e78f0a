/* tpm_measured: measured direct boot seen from the guest. It finds the
 * event log hearth wrote (through the ACPI TPM2 table's LAML/LASA for CRB
 * and TIS, at its fixed place for virtio), checks the crypto-agile header,
 * replays every SHA-256 digest into PCRs 0-9 and compares them with what
 * the TPM reports. It prints each event so the host can check the kernel's
 * digest against the file it booted. */
#include "tpm.h"

#define LOG_ADDR 0xf0000ull
#define LOG_MAX 0x10000u
#define ALG_SHA256 0x000b
#define EV_NO_ACTION 3

static struct tpm_ctx t;
static uint8_t pcr[10][32];

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The TPM2 ACPI table (via the RSDP at 0xE0000 and the XSDT), or NULL. */
static const uint8_t *find_tpm2_table(void)
{
    const uint8_t *rsdp = (const uint8_t *)0xe0000;
    if (memcmp(rsdp, "RSD PTR ", 8) != 0)
        return NULL;
    const uint8_t *xsdt =
        (const uint8_t *)(uintptr_t)(le32(rsdp + 24) | (uint64_t)le32(rsdp + 28) << 32);
    uint32_t n = (le32(xsdt + 4) - 36) / 8;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = xsdt + 36 + 8 * i;
        const uint8_t *tbl = (const uint8_t *)(uintptr_t)(le32(e) | (uint64_t)le32(e + 4) << 32);
        if (memcmp(tbl, "TPM2", 4) == 0)
            return tbl;
    }
    return NULL;
}

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;
    char model[16] = "crb";
    opt_get(bi, "tpm", model, sizeof(model));
    const uint8_t *log = (const uint8_t *)LOG_ADDR;
    if (strcmp(model, "virtio") != 0) {
        const uint8_t *tbl = find_tpm2_table();
        bool ok = tbl && le32(tbl + 4) >= 76;
        tap_ok(ok, "the TPM2 table has the log area fields (length %u)", tbl ? le32(tbl + 4) : 0);
        if (!ok)
            return;
        uint64_t lasa = le32(tbl + 68) | (uint64_t)le32(tbl + 72) << 32;
        tap_ok(lasa == LOG_ADDR && le32(tbl + 64) == LOG_MAX, "LASA 0x%llx, LAML %u",
               (unsigned long long)lasa, le32(tbl + 64));
    }
    /* The header: a SHA-1-format EV_NO_ACTION carrying "Spec ID Event03". */
    size_t off = 0;
    bool spec = le32(log) == 0 && le32(log + 4) == EV_NO_ACTION &&
                memcmp(log + 32, "Spec ID Event03", 16) == 0;
    tap_ok(spec, "the log starts with the Spec ID Event03 header");
    if (!spec)
        return;
    uint32_t nalgs = le32(log + 32 + 24);
    uint16_t sizes[8] = { 0 }, algs[8] = { 0 };
    for (uint32_t i = 0; i < nalgs && i < 8; i++) {
        algs[i] = le16(log + 32 + 28 + 4 * i);
        sizes[i] = le16(log + 32 + 30 + 4 * i);
    }
    off = 32 + le32(log + 28);
    int events = 0;
    while (off + 12 < LOG_MAX) {
        uint32_t index = le32(log + off), type = le32(log + off + 4), count = le32(log + off + 8);
        if (type == 0 && count == 0)
            break;
        size_t p = off + 12;
        const uint8_t *d256 = NULL;
        for (uint32_t i = 0; i < count && i < 8; i++) {
            uint16_t alg = le16(log + p);
            uint16_t size = 0;
            for (uint32_t k = 0; k < nalgs && k < 8; k++)
                if (algs[k] == alg)
                    size = sizes[k];
            if (alg == ALG_SHA256)
                d256 = log + p + 2;
            p += 2 + size;
        }
        uint32_t dlen = le32(log + p);
        char h[65] = "";
        if (d256 && index < 10) {
            uint8_t cat[64];
            memcpy(cat, pcr[index], 32);
            memcpy(cat + 32, d256, 32);
            sha256(cat, 64, pcr[index]);
            hex(h, d256, 32);
        }
        char data[80];
        size_t n = dlen < sizeof(data) - 1 ? dlen : sizeof(data) - 1;
        for (size_t i = 0; i < n; i++) {
            char c = (char)log[p + 4 + i];
            data[i] = c >= 0x20 && c < 0x7f ? c : '.';
        }
        data[n] = 0;
        printf("# event pcr=%u type=0x%x sha256=%s data=%s\n", index, type, h, data);
        off = p + 4 + dlen;
        events++;
    }
    tap_ok(events >= 11, "%d events after the header", events);
    /* The raw log, for tools on the host (tpm2_eventlog). */
    for (size_t i = 0; i < off; i += 32) {
        char h[65];
        hex(h, log + i, off - i < 32 ? off - i : 32);
        printf("# eventlog %s\n", h);
    }
    for (uint32_t i = 0; i < 10; i++) {
        uint8_t now[32];
        char h[65];
        bool read = tpm_pcr_read(&t, i, now) == 0;
        hex(h, now, 32);
        tap_ok(read && memcmp(now, pcr[i], 32) == 0, "PCR %u replays from the log: %s", i, h);
    }
}
