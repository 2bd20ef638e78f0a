/* Guest runtime: boot information from PVH start_info or the Linux zero
 * page, command-line options, TAP results and the exit path. */
#include "guest.h"
#include "tsc_rate.h"

#define PVH_MAGIC 0x336ec578u
#define COM1 0x3f8

static struct boot_info g_boot;
static int g_tap_n, g_tap_failed;

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

static void from_start_info(uint64_t si)
{
    if (rd32(si) != PVH_MAGIC) {
        printf("# bad start_info magic 0x%x\n", rd32(si));
        return;
    }
    uint32_t nmod = rd32(si + 12);
    uint64_t modlist = rd64(si + 16), cmdline = rd64(si + 24);
    g_boot.rsdp = rd64(si + 32);
    uint64_t memmap = rd64(si + 40);
    uint32_t nmem = rd32(si + 48);
    if (cmdline)
        g_boot.cmdline = (const char *)cmdline;
    if (nmod && modlist) {
        g_boot.initrd_addr = rd64(modlist);
        g_boot.initrd_size = rd64(modlist + 8);
    }
    for (uint32_t i = 0; i < nmem && i < GUEST_MAX_MEMMAP; i++) {
        uint64_t e = memmap + 24ull * i;
        g_boot.mem[i] = (struct guest_memmap_entry){ rd64(e), rd64(e + 8), rd32(e + 16) };
        g_boot.nmem++;
    }
}

static void from_zero_page(uint64_t zp)
{
    uint64_t cmd = rd32(zp + 0x228) | (uint64_t)rd32(zp + 0xc8) << 32;
    if (cmd)
        g_boot.cmdline = (const char *)cmd;
    g_boot.initrd_addr = rd32(zp + 0x218) | (uint64_t)rd32(zp + 0xc0) << 32;
    g_boot.initrd_size = rd32(zp + 0x21c) | (uint64_t)rd32(zp + 0xc4) << 32;
    uint8_t n = *(const uint8_t *)(zp + 0x1e8);
    for (uint32_t i = 0; i < n && i < GUEST_MAX_MEMMAP; i++) {
        uint64_t e = zp + 0x2d0 + 20ull * i;
        g_boot.mem[i] = (struct guest_memmap_entry){ rd64(e), rd64(e + 8), rd32(e + 16) };
        g_boot.nmem++;
    }
}

extern uint64_t pdpt[512];
static uint64_t high_pd[8][512] __attribute__((aligned(4096)));
static int high_pds_used;

bool map_identity_gib(uint64_t phys)
{
    uint64_t idx = phys >> 30;
    if (idx >= 512)
        return false;
    if (pdpt[idx] & 1)
        return true;
    if (high_pds_used == 8)
        return false;
    uint64_t *pd = high_pd[high_pds_used++];
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (idx << 30) | (i << 21) | 0x83;
    pdpt[idx] = (uint64_t)pd | 3;
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3)::"memory");
    return true;
}

void guest_start(uint64_t kind, uint64_t info);
void guest_start(uint64_t kind, uint64_t info)
{
    g_boot.kind = (int)kind;
    g_boot.cmdline = "";
    if (kind == BOOT_KIND_PVH)
        from_start_info(info);
    else
        from_zero_page(info);
    /* Like an init marking boot complete, when asked to. */
    if (opt_get(&g_boot, "boot_timer", NULL, 0))
        mmio_write8(0xc0000000ull, 123);
    guest_main(&g_boot);
    tap_done();
}

bool opt_get(const struct boot_info *bi, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = bi->cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *tok = p;
        while (*p && *p != ' ')
            p++;
        size_t tlen = (size_t)(p - tok);
        if (tlen >= klen && strncmp(tok, key, klen) == 0 && (tlen == klen || tok[klen] == '=')) {
            size_t vlen = tlen == klen ? 0 : tlen - klen - 1;
            if (outlen) {
                if (vlen >= outlen)
                    vlen = outlen - 1;
                memcpy(out, tok + klen + 1, vlen);
                out[vlen] = 0;
            }
            return true;
        }
    }
    return false;
}

uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (s += 2; *s; s++) {
            int d = (*s >= '0' && *s <= '9')   ? *s - '0'
                    : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
                    : (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10
                                               : -1;
            if (d < 0)
                break;
            v = v * 16 + (uint64_t)d;
        }
        return v;
    }
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v;
}

uint64_t opt_u64(const struct boot_info *bi, const char *key, uint64_t dflt)
{
    char buf[32];
    return opt_get(bi, key, buf, sizeof(buf)) && buf[0] ? parse_u64(buf) : dflt;
}

bool tap_ok(bool cond, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    g_tap_n++;
    if (!cond)
        g_tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", g_tap_n, name);
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    printf("# %s\n", line);
}

void tap_done(void)
{
    printf("1..%d\n# guest: %d passed, %d failed\n", g_tap_n, g_tap_n - g_tap_failed, g_tap_failed);
    guest_exit(g_tap_failed ? 1 : 0);
}

void guest_exit(int code)
{
    outb(0x64, 0xfe);          /* i8042 reset: hearth and Firecracker stop here */
    outb(0xf4, (uint8_t)code); /* QEMU isa-debug-exit */
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* COM1 output: wait for an empty transmitter, then fill its 16-byte FIFO. */
void serial_write(const char *s, size_t n)
{
    while (n) {
        while (!(inb(COM1 + 5) & 0x20))
            ;
        size_t chunk = n < 16 ? n : 16;
        for (size_t i = 0; i < chunk; i++)
            outb(COM1, (uint8_t)s[i]);
        s += chunk;
        n -= chunk;
    }
}

int serial_getc(uint32_t polls)
{
    for (uint32_t i = 0; i < polls; i++)
        if (inb(COM1 + 5) & 0x01)
            return inb(COM1);
    return -1;
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t tsc_reader(void *ctx)
{
    (void)ctx;
    return rdtsc();
}

/* PIT channel 0's count, latched (1.193182 MHz). */
static uint16_t pit_reader(void *ctx)
{
    (void)ctx;
    outb(0x43, 0x00);
    uint8_t lo = inb(0x40);
    uint8_t hi = inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

/* TSC ticks per millisecond, measured once against the PIT (channel 0
 * counting down from 0xffff, mode 0; interrupts stay off); see tsc_rate.h
 * for why it cannot come out low. Without a PIT that counts, 3 GHz is
 * assumed. */
static uint64_t tsc_per_ms(void)
{
    static uint64_t per_ms;
    if (per_ms)
        return per_ms;
    outb(0x43, 0x30);
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    struct tsc_clocks clocks = { tsc_reader, pit_reader, 0 };
    per_ms = tsc_rate_per_ms(&clocks);
    if (per_ms == 0)
        per_ms = 3000000;
    return per_ms;
}

uint64_t deadline_ms(uint64_t ms) { return rdtsc() + ms * tsc_per_ms(); }

bool expired(uint64_t deadline) { return (int64_t)(rdtsc() - deadline) > 0; }
