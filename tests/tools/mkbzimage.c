/* mkbzimage: wraps a flat 64-bit payload (linked at 1 MiB, entry at +0x200)
 * in a Linux bzImage setup header, optionally malformed for negative tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkbzimage IN.bin OUT [version=0xHEX] [no64] [truncate=N]\n");
        return 2;
    }
    unsigned version = 0x020f;
    int no64 = 0;
    long truncate = -1;
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "version=", 8) == 0)
            version = (unsigned)strtoul(argv[i] + 8, NULL, 0);
        else if (strcmp(argv[i], "no64") == 0)
            no64 = 1;
        else if (strncmp(argv[i], "truncate=", 9) == 0)
            truncate = strtol(argv[i] + 9, NULL, 0);
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    static uint8_t body[16 << 20];
    size_t n = fread(body, 1, sizeof(body), in);
    fclose(in);

    enum { SETUP_SECTS = 4 };
    uint8_t setup[(SETUP_SECTS + 1) * 512] = { 0 };
    setup[0x1f1] = SETUP_SECTS;
    put16(setup + 0x1fe, 0xaa55);
    setup[0x200] = 0xeb; /* jmp over the header; its target marks the header's end */
    setup[0x201] = 0x66;
    memcpy(setup + 0x202, "HdrS", 4);
    put16(setup + 0x206, (uint16_t)version);
    setup[0x211] = 0x01;                                         /* LOADED_HIGH */
    put32(setup + 0x214, 0x100000);                              /* code32_start */
    put32(setup + 0x22c, 0x7fffffff);                            /* initrd_addr_max */
    put32(setup + 0x230, 0x200000);                              /* kernel_alignment */
    setup[0x234] = 1;                                            /* relocatable */
    put16(setup + 0x236, no64 ? 0 : 1);                          /* XLF_KERNEL_64 */
    put32(setup + 0x238, 2047);                                  /* cmdline_size */
    put32(setup + 0x260, (uint32_t)((n + (1 << 20)) & ~0xfffu)); /* init_size: image + bss */

    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    size_t total = sizeof(setup) + n;
    if (truncate >= 0 && (size_t)truncate < total)
        total = (size_t)truncate;
    size_t a = total < sizeof(setup) ? total : sizeof(setup);
    fwrite(setup, 1, a, out);
    if (total > a)
        fwrite(body, 1, total - a, out);
    return fclose(out) ? 1 : 0;
}
