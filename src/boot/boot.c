/* Boot information: kernel format detection, initrd, command line, e820,
 * the Linux zero page and the PVH start_info. */
#include "arch/x86_64/layout.h"
#include "boot/loader.h"
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PVH_START_MAGIC 0x336ec578u
#define PAGE_SIZE 4096ULL

struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

/* The whole file, read once into a malloc'd buffer: its length, or -errno. */
static ssize_t read_whole(int fd, size_t size, uint8_t **out)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO; /* shorter than fstat said: it changed */
            free(buf);
            return -e;
        }
        got += (size_t)n;
    }
    *out = buf;
    return (ssize_t)size;
}

int kernel_load(struct guest_mem *mem, const char *path, struct loaded_kernel *k, char *err,
                size_t errlen)
{
    memset(k, 0, sizeof(*k));
    int fd = path_open_checked(path, O_RDONLY, 0, PATH_REG, "boot-source.kernel_image_path", err,
                               errlen);
    if (fd < 0)
        return fd;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    char why[200] = "";
    if (r == 0 && (uint64_t)st.st_size > KERNEL_FILE_MAX) {
        snprintf(why, sizeof(why), "%lld bytes, over the %llu MiB a kernel may have",
                 (long long)st.st_size, KERNEL_FILE_MAX >> 20);
        r = -EFBIG;
    } else if (r == 0) {
        ssize_t n = read_whole(fd, (size_t)st.st_size, &k->image);
        r = n < 0 ? (int)n : 0;
        k->image_len = n < 0 ? 0 : (size_t)n;
    }
    close(fd);
    if (r < 0 && !why[0])
        snprintf(why, sizeof(why), "reading it: %s", strerror(-r));
    if (r == 0) {
        const uint8_t *img = k->image;
        size_t len = k->image_len;
        if (len >= 4 && memcmp(img, "\177ELF", 4) == 0)
            r = elf_load(mem, img, len, k, why, sizeof(why));
        else if (bzimage_detect(img, len))
            r = bzimage_load(mem, img, len, k, why, sizeof(why));
        else {
            snprintf(why, sizeof(why), "not an ELF vmlinux, PVH ELF or bzImage");
            r = -EINVAL;
        }
    }
    if (r < 0) {
        snprintf(err, errlen, "kernel %s: %s", path, why);
        kernel_release(k);
    }
    return r;
}

void kernel_release(struct loaded_kernel *k)
{
    free(k->image);
    k->image = NULL;
    k->image_len = 0;
}

static int e820_add(struct e820_entry *out, int n, int max, uint64_t addr, uint64_t size,
                    uint32_t type)
{
    if (n < max && size)
        out[n++] = (struct e820_entry){ addr, size, type };
    return n;
}

int e820_build(const struct guest_mem *mem, struct e820_entry *out, int max)
{
    uint64_t low_end = guest_mem_low_end(mem);
    int n = 0;
    n = e820_add(out, n, max, 0, LAYOUT_EBDA_START, E820_RAM);
    n = e820_add(out, n, max, LAYOUT_EBDA_START, LAYOUT_HIMEM_START - LAYOUT_EBDA_START,
                 E820_RESERVED);
    if (low_end > LAYOUT_HIMEM_START)
        n = e820_add(out, n, max, LAYOUT_HIMEM_START, low_end - LAYOUT_HIMEM_START, E820_RAM);
    n = e820_add(out, n, max, LAYOUT_MMIO_GAP_START, LAYOUT_MMIO_GAP_END - LAYOUT_MMIO_GAP_START,
                 E820_RESERVED);
    if (mem->nregions > 1)
        n = e820_add(out, n, max, mem->regions[1].gpa, mem->regions[1].size, E820_RAM);
    return n;
}

/* Places the initrd at the top of low RAM, page aligned, above the kernel. */
static int load_initrd(struct guest_mem *mem, const struct loaded_kernel *k, const char *path,
                       struct loaded_initrd *out, char *err, size_t errlen)
{
    int fd = path_open_checked(path, O_RDONLY, 0, PATH_REG, "boot-source.initrd_path", err, errlen);
    if (fd < 0)
        return fd;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0 || st.st_size == 0) {
        snprintf(err, errlen, "initrd %s: is empty", path);
        r = -EINVAL;
        goto out;
    }
    uint64_t top = guest_mem_low_end(mem);
    if (k->initrd_addr_max && top > (uint64_t)k->initrd_addr_max + 1)
        top = (uint64_t)k->initrd_addr_max + 1;
    uint64_t size = (uint64_t)st.st_size;
    if (size > top || ((top - size) & ~(PAGE_SIZE - 1)) < k->load_end) {
        snprintf(err, errlen, "initrd %s (%llu bytes) does not fit between the kernel and 0x%llx",
                 path, (unsigned long long)size, (unsigned long long)top);
        r = -EINVAL;
        goto out;
    }
    uint64_t gpa = (top - size) & ~(PAGE_SIZE - 1);
    void *dst = gpa_to_hva(mem, gpa, size);
    if (!dst || pread(fd, dst, size, 0) != (ssize_t)size) {
        snprintf(err, errlen, "initrd %s: read failed", path);
        r = -EIO;
        goto out;
    }
    *out = (struct loaded_initrd){ gpa, size };
out:
    close(fd);
    return r;
}

static int write_zero_page(struct guest_mem *mem, const struct loaded_kernel *k, size_t cmdlen,
                           const struct loaded_initrd *rd)
{
    uint8_t *zp = gpa_to_hva(mem, LAYOUT_ZERO_PAGE, PAGE_SIZE);
    if (!zp)
        return -EFAULT;
    memset(zp, 0, PAGE_SIZE);
    if (k->format == KERNEL_BZIMAGE)
        memcpy(zp + ZP_SETUP_HEADER, k->setup_header, k->setup_header_len);
    uint16_t boot_flag = 0xaa55;
    uint32_t alignment = 0x1000000, cmd = (uint32_t)LAYOUT_CMDLINE, cmdsz = (uint32_t)cmdlen;
    uint32_t rd_lo = (uint32_t)rd->gpa, rd_sz = (uint32_t)rd->size;
    memcpy(zp + 0x1fe, &boot_flag, 2);
    memcpy(zp + 0x202, "HdrS", 4);
    zp[0x210] = 0xff; /* type_of_loader: undefined loader */
    if (k->format != KERNEL_BZIMAGE)
        memcpy(zp + 0x230, &alignment, 4);
    memcpy(zp + 0x228, &cmd, 4);
    memcpy(zp + 0x238, &cmdsz, 4);
    memcpy(zp + 0x218, &rd_lo, 4);
    memcpy(zp + 0x21c, &rd_sz, 4);
    uint32_t hi = (uint32_t)(rd->gpa >> 32), hisz = (uint32_t)(rd->size >> 32);
    memcpy(zp + ZP_EXT_RAMDISK_IMAGE, &hi, 4);
    memcpy(zp + ZP_EXT_RAMDISK_SIZE, &hisz, 4);

    struct e820_entry map[ZP_E820_MAX];
    int n = e820_build(mem, map, ZP_E820_MAX);
    zp[ZP_E820_ENTRIES] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        uint8_t *e = zp + ZP_E820_TABLE + i * 20;
        memcpy(e, &map[i].addr, 8);
        memcpy(e + 8, &map[i].size, 8);
        memcpy(e + 16, &map[i].type, 4);
    }
    return 0;
}

static int write_start_info(struct guest_mem *mem, const struct loaded_initrd *rd)
{
    struct e820_entry map[ZP_E820_MAX];
    int n = e820_build(mem, map, ZP_E820_MAX);
    struct hvm_memmap_entry mm[ZP_E820_MAX];
    for (int i = 0; i < n; i++)
        mm[i] = (struct hvm_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
    struct hvm_start_info si = {
        .magic = PVH_START_MAGIC,
        .version = 1,
        .cmdline_paddr = LAYOUT_CMDLINE,
        .rsdp_paddr = LAYOUT_RSDP,
        .memmap_paddr = LAYOUT_PVH_MEMMAP,
        .memmap_entries = (uint32_t)n,
    };
    if (rd->size) {
        struct hvm_modlist_entry mod = { .paddr = rd->gpa, .size = rd->size };
        if (guest_write(mem, LAYOUT_PVH_MODLIST, &mod, sizeof(mod)))
            return -EFAULT;
        si.nr_modules = 1;
        si.modlist_paddr = LAYOUT_PVH_MODLIST;
    }
    if (guest_write(mem, LAYOUT_PVH_MEMMAP, mm, (uint64_t)n * sizeof(mm[0])) ||
        guest_write(mem, LAYOUT_PVH_INFO_START, &si, sizeof(si)))
        return -EFAULT;
    return 0;
}

int boot_prepare(struct guest_mem *mem, const struct loaded_kernel *k, const char *cmdline,
                 const char *initrd_path, struct boot_entry *entry, struct loaded_initrd *rd,
                 char *err, size_t errlen)
{
    *rd = (struct loaded_initrd){ 0, 0 };
    size_t cmdlen = strlen(cmdline) + 1;
    if (cmdlen > LAYOUT_CMDLINE_MAX) {
        snprintf(err, errlen, "boot_args is %zu bytes; the limit is %llu", cmdlen - 1,
                 LAYOUT_CMDLINE_MAX - 1);
        return -E2BIG;
    }
    if (guest_write(mem, LAYOUT_CMDLINE, cmdline, cmdlen)) {
        snprintf(err, errlen, "guest RAM too small for the command line");
        return -EFAULT;
    }
    int r;
    if (initrd_path && (r = load_initrd(mem, k, initrd_path, rd, err, errlen)) < 0)
        return r;

    entry->mode = k->pvh_entry ? BOOT_PVH : BOOT_LINUX64;
    if (entry->mode == BOOT_PVH) {
        entry->rip = k->pvh_entry;
        entry->info_gpa = LAYOUT_PVH_INFO_START;
        r = write_start_info(mem, rd);
    } else {
        entry->rip = k->entry64;
        entry->info_gpa = LAYOUT_ZERO_PAGE;
        r = write_zero_page(mem, k, cmdlen - 1, rd);
    }
    if (r == 0)
        r = cpu_write_boot_tables(mem, entry->mode);
    if (r < 0)
        snprintf(err, errlen, "guest RAM too small for the boot structures");
    return r;
}
