/* Unit tests: kernel loaders, initrd placement, e820 and boot structures,
 * fed with crafted images. */
#include "arch/x86_64/layout.h"
#include "boot/loader.h"

#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/hearth-loader-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

struct elf_spec {
    uint64_t paddr, filesz, memsz, entry;
    bool pvh_note;
    uint16_t machine;
    uint8_t class;
};

/* One PT_LOAD (+ an optional PVH PT_NOTE), the segment data at 0x1000. */
static size_t make_elf(uint8_t *buf, const struct elf_spec *s)
{
    memset(buf, 0, 0x3000);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = s->class ? s->class : ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_type = ET_EXEC;
    eh->e_machine = s->machine ? s->machine : EM_X86_64;
    eh->e_entry = s->entry;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = s->pvh_note ? 2 : 1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
    ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
                          .p_offset = 0x1000,
                          .p_paddr = s->paddr,
                          .p_vaddr = s->paddr,
                          .p_filesz = s->filesz,
                          .p_memsz = s->memsz };
    memset(buf + 0x1000, 0x5a, 0x1000);
    if (s->pvh_note) {
        uint8_t *n = buf + 0x800;
        uint32_t hdr[3] = { 4, 4, 18 };
        uint32_t entry = (uint32_t)s->paddr + 0x10;
        memcpy(n, hdr, 12);
        memcpy(n + 12, "Xen", 4);
        memcpy(n + 16, &entry, 4);
        ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x800, .p_filesz = 20 };
    }
    return 0x1000 + s->filesz;
}

static int load(struct guest_mem *m, const uint8_t *img, size_t len, struct loaded_kernel *k,
                char *err)
{
    const char *p = write_file("kernel", img, len);
    int r = kernel_load(m, p, k, err, 256);
    if (r == 0) {
        assert_int_equal(k->image_len, len);
        assert_memory_equal(k->image, img, len);
    }
    kernel_release(k);
    return r;
}

static void elf_vmlinux_loads(void **state)
{
    (void)state;
    static uint8_t img[0x3000];
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 32 << 20, false), 0);
    struct elf_spec s = { .paddr = 0x200000, .filesz = 0x800, .memsz = 0x2000, .entry = 0x200100 };
    size_t n = make_elf(img, &s);
    uint8_t *dst = gpa_to_hva(&m, 0x200000, 0x2000);
    memset(dst, 0xee, 0x2000); /* bss must be zeroed by the loader */
    struct loaded_kernel k;
    char err[256];
    assert_int_equal(load(&m, img, n, &k, err), 0);
    assert_int_equal(k.format, KERNEL_ELF);
    assert_int_equal(k.entry64, 0x200100);
    assert_int_equal(k.pvh_entry, 0);
    assert_int_equal(k.load_end, 0x202000);
    assert_int_equal(dst[0], 0x5a);
    assert_int_equal(dst[0x7ff], 0x5a);
    assert_int_equal(dst[0x800], 0);
    assert_int_equal(dst[0x1fff], 0);

    s.pvh_note = true;
    n = make_elf(img, &s);
    assert_int_equal(load(&m, img, n, &k, err), 0);
    assert_int_equal(k.pvh_entry, 0x200010);
    guest_mem_free(&m);
}

static void bad_elves_are_rejected(void **state)
{
    (void)state;
    static const struct {
        struct elf_spec s;
        long cut;
        const char *msg;
    } cases[] = {
        { { .paddr = 0x9000, .filesz = 0x100, .memsz = 0x100, .entry = 0x9000 },
          0,
          "overlaps reserved memory below 0x100000" },
        { { .paddr = 0x1f00000, .filesz = 0x100, .memsz = 0x200000, .entry = 0x1f00000 },
          0,
          "does not fit in guest RAM" },
        { { .paddr = 0x200000, .filesz = 0x1000, .memsz = 0x1000, .entry = 0x200000 },
          0x1800,
          "segment 0 truncated" },
        { { .paddr = 0x200000, .filesz = 0x200, .memsz = 0x100, .entry = 0x200000 },
          0,
          "file size exceeds memory size" },
        { { .paddr = 0x200000, .filesz = 0x100, .memsz = 0x100, .entry = 0x900000 },
          0,
          "entry point 0x900000 is outside the loaded image" },
        { { .paddr = 0x200000,
            .filesz = 0x100,
            .memsz = 0x100,
            .entry = 0x200000,
            .machine = EM_AARCH64 },
          0,
          "not a 64-bit little-endian x86_64 ELF" },
        { { .paddr = 0x200000,
            .filesz = 0x100,
            .memsz = 0x100,
            .entry = 0x200000,
            .class = ELFCLASS32 },
          0,
          "not a 64-bit little-endian x86_64 ELF" },
        { { .paddr = 0x200000, .filesz = 0x100, .memsz = 0x100, .entry = 0x200000 },
          0x50,
          "program headers truncated" },
    };
    static uint8_t img[0x3000];
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 32 << 20, false), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = make_elf(img, &cases[i].s);
        if (cases[i].cut)
            n = (size_t)cases[i].cut;
        struct loaded_kernel k;
        char err[256] = "";
        assert_true(load(&m, img, n, &k, err) < 0);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
    }
    guest_mem_free(&m);
}

static void bzimage_header_is_checked(void **state)
{
    (void)state;
    static uint8_t img[8192];
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 32 << 20, false), 0);
    memset(img, 0, sizeof(img));
    img[0x1f1] = 1;
    img[0x1fe] = 0x55;
    img[0x1ff] = 0xaa;
    img[0x201] = 0x66;
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = 0x0f;
    img[0x207] = 0x02;
    img[0x211] = 1;
    img[0x236] = 1;
    uint32_t init_size = 0x10000;
    memcpy(img + 0x260, &init_size, 4);
    img[1024] = 0xc3;
    struct loaded_kernel k;
    char err[256];
    assert_int_equal(load(&m, img, sizeof(img), &k, err), 0);
    assert_int_equal(k.format, KERNEL_BZIMAGE);
    assert_int_equal(k.entry64, 0x100200);
    assert_int_equal(k.load_end, 0x110000);
    assert_int_equal(*(uint8_t *)gpa_to_hva(&m, 0x100000, 1), 0xc3);
    assert_int_equal(k.setup_header_len, 0x202 + 0x66 - 0x1f1);

    init_size = 64 << 20; /* more than the guest has */
    memcpy(img + 0x260, &init_size, 4);
    assert_true(load(&m, img, sizeof(img), &k, err) < 0);
    assert_non_null(strstr(err, "guest RAM too small"));
    guest_mem_free(&m);
}

static void boot_structures_match_the_layout(void **state)
{
    (void)state;
    static uint8_t img[0x3000];
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 4096ULL << 20, false), 0);
    struct elf_spec s = { .paddr = 0x100000, .filesz = 0x100, .memsz = 0x100, .entry = 0x100000 };
    size_t n = make_elf(img, &s);
    struct loaded_kernel k;
    char err[256];
    assert_int_equal(load(&m, img, n, &k, err), 0);
    static uint8_t rd[10000];
    memset(rd, 0x77, sizeof(rd));
    char rdpath[256];
    snprintf(rdpath, sizeof(rdpath), "%s", write_file("initrd", rd, sizeof(rd)));
    struct boot_entry e;
    struct loaded_initrd lrd;
    assert_int_equal(boot_prepare(&m, &k, "console=ttyS0", rdpath, &e, &lrd, err, sizeof(err)), 0);
    assert_int_equal(lrd.gpa, (LAYOUT_MMIO_GAP_START - sizeof(rd)) & ~0xfffULL);
    assert_int_equal(lrd.size, sizeof(rd));
    assert_int_equal(e.mode, BOOT_LINUX64);
    assert_int_equal(e.info_gpa, LAYOUT_ZERO_PAGE);
    uint8_t *zp = gpa_to_hva(&m, LAYOUT_ZERO_PAGE, 4096);
    uint32_t v;
    memcpy(&v, zp + 0x228, 4);
    assert_int_equal(v, LAYOUT_CMDLINE);
    assert_string_equal((char *)gpa_to_hva(&m, LAYOUT_CMDLINE, 14), "console=ttyS0");
    memcpy(&v, zp + 0x218, 4);
    assert_int_equal(v, (LAYOUT_MMIO_GAP_START - sizeof(rd)) & ~0xfffULL);
    memcpy(&v, zp + 0x21c, 4);
    assert_int_equal(v, sizeof(rd));
    assert_int_equal(zp[0x210], 0xff);
    assert_int_equal(zp[0x1e8], 5); /* RAM, EBDA, RAM, gap, high RAM */

    struct e820_entry map[8];
    assert_int_equal(e820_build(&m, map, 8), 5);
    assert_int_equal(map[4].addr, LAYOUT_MMIO_GAP_END);
    assert_int_equal(map[4].size, 1ULL << 30);
    assert_int_equal(map[3].type, E820_RESERVED);

    char longline[3000];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = 0;
    assert_true(boot_prepare(&m, &k, longline, NULL, &e, &lrd, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "boot_args is 2999 bytes"));
    guest_mem_free(&m);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elf_vmlinux_loads),
        cmocka_unit_test(bad_elves_are_rejected),
        cmocka_unit_test(bzimage_header_is_checked),
        cmocka_unit_test(boot_structures_match_the_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
