/* hearth-bench's shared context and helpers. */
#ifndef BENCH_H
#define BENCH_H

#define BENCH_DIR_MAX 1024 /* keeps every derived path well within PATH_MAX */

struct bench_ctx {
    char build[BENCH_DIR_MAX];
    char tmp[64];
    const char *qemu; /* NULL: no peer */
    int runs;
};

/* Writes a hearth config booting build/guest/PAYLOAD.elf with `args`; with
 * tpm_sock, a "tpm" section of that model. Exits on I/O errors. */
void bench_write_config(const struct bench_ctx *c, const char *path, const char *payload,
                        unsigned mem_mib, const char *args, const char *tpm_sock,
                        const char *tpm_model);

int cmd_boot(struct bench_ctx *c);
int cmd_tpm(struct bench_ctx *c);
int cmd_tpmd(struct bench_ctx *c);

#endif
