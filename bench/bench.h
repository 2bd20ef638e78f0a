/* hearth-bench's shared context and helpers. */
#ifndef BENCH_H
#define BENCH_H

#define BENCH_DIR_MAX 1024 /* keeps every derived path well within PATH_MAX */

struct bench_ctx {
    char build[BENCH_DIR_MAX];
    char tmp[64];     /* short: Unix socket paths are made under it */
    const char *qemu; /* NULL: no peer */
    int runs;
};

/* Writes a hearth config booting build/guest/PAYLOAD.elf with `args`; with
 * tpm_sock, a "tpm" section of that model. Exits on I/O errors. */
void bench_write_config(const struct bench_ctx *c, const char *path, const char *payload,
                        unsigned mem_mib, const char *args, const char *tpm_sock,
                        const char *tpm_model);

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* swtpm for measurements: bench_swtpm_manufacture makes one vTPM state
 * (EK and certificates) under tmp/base; bench_swtpm_start runs swtpm on a
 * fresh copy of it under tmp/NAME (sock: its control socket), logging
 * every command to `log` when not NULL; bench_swtpm_stop kills it and
 * removes the copy. -1 on failure. */
int bench_swtpm_manufacture(const struct bench_ctx *c);
int bench_swtpm_start(const struct bench_ctx *c, const char *name, const char *log, char *sock,
                      size_t len);
void bench_swtpm_stop(const struct bench_ctx *c, const char *name);

/* A hearth-tpmd started for a measurement. */
struct tpmd_daemon {
    pid_t pid;
    char sock[256], state[256];
};
/* Starts hearth-tpmd with `args` under tmp/NAME; returns once it answers. */
int bench_tpmd_start(const struct bench_ctx *c, struct tpmd_daemon *d, const char *name,
                     const char *args);
/* Stops it and the swtpms it left running, removing their cgroups. */
void bench_tpmd_stop(const struct bench_ctx *c, struct tpmd_daemon *d);
int bench_tpmd_ready(const struct bench_ctx *c, const struct tpmd_daemon *d);
/* POST /vtpms: fills id and the control socket; -1 with the reason. */
int bench_vtpm_alloc(const struct tpmd_daemon *d, char id[64], char *sock, size_t socklen,
                     char *err, size_t errlen);
/* DELETE /vtpms/{id}. */
void bench_vtpm_free(const struct tpmd_daemon *d, const char *id);

/* A Debian Linux guest of a measurement: its kernel command line and, under
 * QEMU, the microvm machine. Under hearth it reboots through the i8042;
 * QEMU's microvm has none (Linux would spin on its status port: reboot=t,
 * a triple fault, ends it), needs its RTC (without one Linux spins on the
 * CMOS ports), and names its TIS in the DSDT with no TPM2 table, without
 * which Linux's ACPI probe gives up: the TIS is probed by force. */
const char *bench_linux_args(bool qemu, bool qemu_tis);
const char *bench_qemu_machine(bool linux_guest);

int cmd_boot(struct bench_ctx *c);
int cmd_api(struct bench_ctx *c);
int cmd_jailer(struct bench_ctx *c);
int cmd_tpm(struct bench_ctx *c);
int cmd_tpmd(struct bench_ctx *c);
int cmd_run(struct bench_ctx *c, int argc, char **argv);
int cmd_report(struct bench_ctx *c, int argc, char **argv);
int cmd_export(struct bench_ctx *c, int argc, char **argv);
int cmd_memory(struct bench_ctx *c, int argc, char **argv);
int cmd_surface(struct bench_ctx *c, int argc, char **argv);
int cmd_exits(struct bench_ctx *c, int argc, char **argv);
int cmd_attest(struct bench_ctx *c, int argc, char **argv);
int cmd_measure(struct bench_ctx *c);
int cmd_devices(struct bench_ctx *c, int argc, char **argv);

#endif
