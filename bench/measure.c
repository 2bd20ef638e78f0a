/* hearth-bench measure: what measured boot adds to a boot. The tpm_basic
 * payload padded to a 10 MiB kernel file, with a 20 MiB initrd, on a
 * fresh swtpm per boot, measured_boot on and off interleaved: hearth's
 * own "measured boot: ... N us" (hashing every active bank plus the
 * extends) and the wall time from exec to exit of both series. */
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make_file(const char *path, const char *from, size_t size)
{
    char cmd[3000];
    snprintf(cmd, sizeof(cmd), "{ %s%s%s head -c %zu /dev/urandom; } | head -c %zu > %s",
             from ? "cat " : "", from ? from : "", from ? ";" : "", size, size, path);
    return system(cmd) == 0 ? 0 : -1;
}

/* One boot; its wall time and, when measuring, hearth's measuring time. */
static int boot(const struct bench_ctx *c, bool measured, double *wall_ms, double *measure_us)
{
    char sock[256], cfg[256], log[256], hearth[1100], cmd[2048];
    snprintf(sock, sizeof(sock), "%s/m/ctrl.sock", c->tmp);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s/m && mkdir -p %s/m && cp -a %s/base %s/m/state && "
             "swtpm socket --tpm2 --tpmstate dir=%s/m/state "
             "--ctrl type=unixio,path=%s --pid file=%s/m/pid --daemon",
             c->tmp, c->tmp, c->tmp, c->tmp, c->tmp, sock, c->tmp);
    if (system(cmd) != 0)
        return -1;
    snprintf(cfg, sizeof(cfg), "%s/measure.json", c->tmp);
    snprintf(log, sizeof(log), "%s/measure.log", c->tmp);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"boot-source\": {\"kernel_image_path\": \"%s/kernel\", \"initrd_path\": "
            "\"%s/initrd\", \"boot_args\": \"tpm=crb\"},\n"
            " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128},\n"
            " \"tpm\": {\"socket\": \"%s\", \"model\": \"crb\", \"measured_boot\": %s}}\n",
            c->tmp, c->tmp, sock, measured ? "true" : "false");
    fclose(f);
    snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
    char *argv[] = { hearth, "--config-file", cfg, "--no-api", "--log-path", log, NULL };
    struct proc_result r;
    remove(log);
    int rc = proc_run(argv, NULL, 60000, &r);
    snprintf(cmd, sizeof(cmd), "kill $(cat %s/m/pid 2>/dev/null) 2>/dev/null", c->tmp);
    if (system(cmd) != 0) { /* swtpm exits on hearth's SHUTDOWN already */
    }
    if (rc != 0 || r.status != 0)
        return -1;
    *wall_ms = (double)r.wall_us / 1000.0;
    *measure_us = 0;
    char line[512];
    f = fopen(log, "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "measured boot: ");
        char *us = p ? strstr(p, "event log, ") : NULL;
        if (us)
            *measure_us = atof(us + strlen("event log, "));
    }
    if (f)
        fclose(f);
    return measured && *measure_us <= 0 ? -1 : 0;
}

int cmd_measure(struct bench_ctx *c)
{
    char kernel[1100], initrd[100], payload[1100];
    snprintf(payload, sizeof(payload), "%s/guest/tpm_basic.elf", c->build);
    snprintf(kernel, sizeof(kernel), "%s/kernel", c->tmp);
    snprintf(initrd, sizeof(initrd), "%s/initrd", c->tmp);
    /* Bytes past an ELF's segments are never loaded, but they are hashed.
     * The vTPM has hearth-tpmd's default bank, SHA-256 (BANKS to change). */
    char cmd[1400];
    const char *banks = getenv("BANKS") ? getenv("BANKS") : "sha256";
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/base && swtpm_setup --tpm2 --tpmstate %s/base --pcr-banks %s "
             "--overwrite > %s/setup.log 2>&1",
             c->tmp, c->tmp, banks, c->tmp);
    if (make_file(kernel, payload, 10u << 20) < 0 || make_file(initrd, NULL, 20u << 20) < 0 ||
        system(cmd) != 0) {
        fprintf(stderr, "hearth-bench measure: cannot write the kernel, initrd or vTPM state\n");
        return 1;
    }
    double *on = calloc((size_t)c->runs, sizeof(double)),
           *off = calloc((size_t)c->runs, sizeof(double));
    double *us = calloc((size_t)c->runs, sizeof(double));
    int n_on = 0, n_off = 0, failed = 0;
    for (int i = 0; i < c->runs; i++) {
        double wall, m;
        if (boot(c, true, &wall, &m) == 0) {
            on[n_on] = wall;
            us[n_on++] = m;
        } else {
            failed++;
        }
        if (boot(c, false, &wall, &m) == 0)
            off[n_off++] = wall;
        else
            failed++;
    }
    if (!n_on || !n_off) {
        fprintf(stderr, "hearth-bench measure: no boot succeeded\n");
        return 1;
    }
    struct stats s_on, s_off, s_us;
    stats_compute(on, (size_t)n_on, &s_on);
    stats_compute(off, (size_t)n_off, &s_off);
    stats_compute(us, (size_t)n_on, &s_us);
    printf("measured boot of a 10 MiB kernel + 20 MiB initrd, PCR banks %s, %d boots each "
           "(%d failed):\n",
           banks, c->runs, failed);
    printf("- hearth's measuring (hash every bank + extends): p50 %.0f us, min %.0f, max %.0f "
           "(goal <= 5000 us native)\n",
           s_us.p50, s_us.min, s_us.max);
    printf("- exec to exit, tpm_basic: p50 %.1f ms measured, %.1f ms not: +%.1f ms\n", s_on.p50,
           s_off.p50, s_on.p50 - s_off.p50);
    printf("- measuring / whole measured boot: %.3f\n", s_us.p50 / 1000.0 / s_on.p50);
    free(on);
    free(off);
    free(us);
    return failed ? 1 : 0;
}
