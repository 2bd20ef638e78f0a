/* The guest payload library: port/MMIO access, COM1 output and input,
 * printf, boot information, command-line options, TAP results and exit. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_KIND_PVH 1
#define BOOT_KIND_LINUX64 2
#define GUEST_MAX_MEMMAP 32

struct guest_memmap_entry {
    uint64_t addr, size;
    uint32_t type;
};

struct boot_info {
    int kind;            /* BOOT_KIND_PVH or BOOT_KIND_LINUX64 */
    const char *cmdline; /* never NULL */
    int nmem;
    struct guest_memmap_entry mem[GUEST_MAX_MEMMAP];
    uint64_t initrd_addr, initrd_size; /* 0 when none */
    uint64_t rsdp;                     /* from PVH start_info; 0 when not given */
};

/* Each payload defines this; returning ends the run with the TAP summary. */
void guest_main(const struct boot_info *bi);

/* Port and MMIO access. */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

/* Identity-maps the 1 GiB region holding `phys` (which may be above the
 * 4 GiB the boot code maps) so it can be dereferenced; false past 512 GiB. */
bool map_identity_gib(uint64_t phys);

/* Time for waits that do not exit (device memory, virtqueues): a
 * deadline ms milliseconds ahead on the TSC, calibrated once against the
 * PIT, and whether it has passed. */
uint64_t deadline_ms(uint64_t ms);
bool expired(uint64_t deadline);

/* COM1. */
void serial_write(const char *s, size_t n);
/* Returns the next received byte, or -1 after `polls` empty status reads. */
int serial_getc(uint32_t polls);

/* Formatting: %d %i %u %x %X %c %s %p %%, with l/ll/z, width, '0', '-' and
 * precision for strings (%.4s). */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Freestanding string helpers. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Command-line options "key=value": copies the value (or "" for a bare
 * key) into out; false when the key is absent. */
bool opt_get(const struct boot_info *bi, const char *key, char *out, size_t outlen);
uint64_t opt_u64(const struct boot_info *bi, const char *key, uint64_t dflt);
uint64_t parse_u64(const char *s); /* decimal, or hex with 0x */

/* TAP results on COM1: "ok N - name" / "not ok N - name". */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "# guest: N passed, M failed" and exits. */
__attribute__((noreturn)) void tap_done(void);

/* Ends the VM: i8042 reset (hearth, Firecracker), then isa-debug-exit
 * (QEMU: status (code << 1) | 1). */
__attribute__((noreturn)) void guest_exit(int code);

#endif
