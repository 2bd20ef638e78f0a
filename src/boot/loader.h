/* Kernel loaders (ELF vmlinux, ELF with a PVH note, bzImage) and the boot
 * information handed to the guest (cmdline, initrd, e820, zero page or PVH
 * start_info). */
#ifndef HEARTH_LOADER_H
#define HEARTH_LOADER_H

#include "boot/cpu.h"
#include "core/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum kernel_format { KERNEL_ELF, KERNEL_BZIMAGE };

/* Offsets within struct boot_params (Linux's zero page) that we touch. */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_SETUP_HEADER 0x1f1
#define ZP_SETUP_HEADER_END 0x290
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_MAX 128

struct loaded_kernel {
    enum kernel_format format;
    uint64_t entry64;    /* 64-bit boot protocol entry */
    uint64_t pvh_entry;  /* 0 when the image has no PVH note */
    uint64_t load_start; /* lowest guest address the kernel occupies */
    uint64_t load_end;   /* first guest address above the kernel (incl. bss / init_size) */
    uint32_t initrd_addr_max;
    size_t setup_header_len; /* bzImage only */
    uint8_t setup_header[ZP_SETUP_HEADER_END - ZP_SETUP_HEADER];
    /* The whole file as read, once: what the guest got was parsed and
     * copied from these bytes, so they are what measured boot hashes (the
     * path, opened again, may name another file by then). Malloc'd; NULL
     * once kernel_release ran. */
    uint8_t *image;
    size_t image_len;
};

/* The largest kernel file read: the whole file is held in memory while it
 * loads and is measured, and a vmlinux with debug information is a few
 * hundred MiB. */
#define KERNEL_FILE_MAX (1ULL << 30)

/* Reads the kernel at `path` (boot-source.kernel_image_path) into k->image
 * and loads it from there into guest memory. Rejects, with a message in
 * err, a path that is not a regular file (without waiting on a FIFO), a
 * file over KERNEL_FILE_MAX, images that are none of the supported
 * formats, truncated, or that would overlap reserved low memory or leave
 * guest RAM. On success the caller owns k->image (kernel_release); on
 * failure nothing is held. */
int kernel_load(struct guest_mem *mem, const char *path, struct loaded_kernel *k, char *err,
                size_t errlen);
/* Frees k->image. */
void kernel_release(struct loaded_kernel *k);

/* Format back-ends used by kernel_load, exposed for tests and fuzzing:
 * the image is the whole file, len bytes. */
int elf_load(struct guest_mem *mem, const uint8_t *img, size_t len, struct loaded_kernel *k,
             char *err, size_t errlen);
bool bzimage_detect(const uint8_t *head, size_t len);
int bzimage_load(struct guest_mem *mem, const uint8_t *img, size_t len, struct loaded_kernel *k,
                 char *err, size_t errlen);

struct e820_entry {
    uint64_t addr, size;
    uint32_t type;
};
#define E820_RAM 1
#define E820_RESERVED 2

/* Fills `out` (room for `max`) with the guest's memory map; returns the count. */
int e820_build(const struct guest_mem *mem, struct e820_entry *out, int max);

/* Where the initrd went in guest memory; size 0: none. */
struct loaded_initrd {
    uint64_t gpa, size;
};

/* Loads the initrd (optional; boot-source.initrd_path, a regular file,
 * read once into guest memory: `rd` says where, for measured boot to hash
 * those bytes), writes the command line, and the zero page (64-bit entry)
 * or PVH start_info (when the kernel has a PVH note), and the GDT/page
 * tables. Fills `entry` for cpu_setup_vcpu. */
int boot_prepare(struct guest_mem *mem, const struct loaded_kernel *k, const char *cmdline,
                 const char *initrd_path, struct boot_entry *entry, struct loaded_initrd *rd,
                 char *err, size_t errlen);

#endif
