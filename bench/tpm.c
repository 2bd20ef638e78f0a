/* hearth-bench tpm: the vTPM's command round trip, boot-to-exit with a TPM
 * (hearth vs QEMU microvm + tpm-tis) and the TPM device's memory cost. */
#include "core/clock.h"
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include "tpm/swtpm.h"
#include "tpm/wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const uint8_t get_random32[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

static double now_us(void) { return (double)mono_ns() / 1e3; }

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void backend_done(void *ctx, const uint8_t *rsp, size_t len)
{
    (void)rsp;
    (void)len;
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* (a) raw data-socket round trips and (b) the same through hearth's backend
 * thread, on one swtpm. Medians in us. */
static int host_round_trips(const struct bench_ctx *c, int n, double *raw_us, double *backend_us)
{
    char sock[1024], err[256];
    if (bench_swtpm_start(c, "rtt", NULL, sock, sizeof(sock)) < 0)
        return -1;
    static struct swtpm s;
    static double raw[10000], be[10000];
    int r = swtpm_open(&s, sock, -1, 2000, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "hearth-bench: %s\n", err);
        bench_swtpm_stop(c, "rtt");
        return -1;
    }
    uint8_t rsp[TPM_BUFFER_MAX];
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (send(s.data_fd, get_random32, sizeof(get_random32), 0) != sizeof(get_random32) ||
            recv(s.data_fd, rsp, sizeof(rsp), 0) < TPM_HEADER_SIZE)
            r = -1;
        raw[i] = now_us() - t0;
    }
    struct tpm_backend b;
    swtpm_start(&s, &b);
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
    for (int i = 0; i < n; i++) {
        w.done = false;
        double t0 = now_us();
        tpm_submit(&b, get_random32, sizeof(get_random32), 0, backend_done, &w);
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        be[i] = now_us() - t0;
    }
    swtpm_close(&s);
    bench_swtpm_stop(c, "rtt");
    struct stats a, bs;
    stats_compute(raw, (size_t)n, &a);
    stats_compute(be, (size_t)n, &bs);
    *raw_us = a.p50;
    *backend_us = bs.p50;
    return r;
}

/* Reads the two Guest-boot-time values (us) from a log. */
static int boot_timer_pair(const char *log, double *t1, double *t2)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f) && n < 2) {
        char *p = strstr(line, "Guest-boot-time = ");
        if (!p)
            continue;
        double v = strtod(p + 18, NULL);
        if (n++ == 0)
            *t1 = v;
        else
            *t2 = v;
    }
    fclose(f);
    return n == 2 ? 0 : -1;
}

struct guest_rtt {
    double us;         /* per command, as the guest sees it */
    double exits;      /* guest accesses to the TPM device per command */
    double backend_us; /* hearth's submit-to-response mean (includes swtpm) */
};

/* Pulls hearth's own accounting out of its log: the TPM device's exits from
 * the exit summary ("... reached hearth: serial 12, tpm-crb 345 (...)"). */
static void parse_stats(const char *log, int n, struct guest_rtt *g)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[2048];
    while (fgets(line, sizeof(line), f)) {
        char *p;
        unsigned long long v;
        if (strstr(line, "VM exits: ") &&
            ((p = strstr(line, " tpm-crb ")) || (p = strstr(line, " tpm-tis ")) ||
             (p = strstr(line, " virtio-tpm "))) &&
            sscanf(strchr(p + 1, ' '), " %llu", &v) == 1)
            g->exits = (double)v / n;
        if ((p = strstr(line, "submit to response mean ")))
            g->backend_us = strtod(p + 24, NULL);
    }
    fclose(f);
}

/* (c) the round trip as the guest sees it, through each transport. */
static int guest_round_trip(const struct bench_ctx *c, const char *model, int n,
                            struct guest_rtt *g)
{
    char sock[1024], cfg[1200], log[1200], hearth[1100], args[64];
    if (bench_swtpm_start(c, "guest", NULL, sock, sizeof(sock)) < 0)
        return -1;
    snprintf(cfg, sizeof(cfg), "%s/tpm-bench.json", c->tmp);
    snprintf(log, sizeof(log), "%s/tpm-bench.log", c->tmp);
    snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
    snprintf(args, sizeof(args), "tpm=%s count=%d", model, n);
    bench_write_config(c, cfg, "tpm_bench", 128, args, sock, model);
    unlink(log);
    char *argv[] = { hearth, "--config-file", cfg,     "--no-api", "--boot-timer", "--log-path",
                     log,    "--level",       "Debug", NULL };
    struct proc_result r;
    int rc = proc_run(argv, NULL, 60000, &r);
    bench_swtpm_stop(c, "guest");
    double t1 = 0, t2 = 0;
    if (rc < 0 || r.status != 0 || boot_timer_pair(log, &t1, &t2) < 0)
        return -1;
    g->us = (t2 - t1) / n;
    parse_stats(log, n, g);
    return 0;
}

struct boot_series {
    double ms[1000];
    int n, failed;
};

/* Series: hearth CRB, hearth TIS, QEMU tpm-tis, and hearth TIS without its
 * measured boot (QEMU measures nothing before the guest runs). */
static void boot_sample(const struct bench_ctx *c, int which, struct boot_series *s)
{
    static const char *models[] = { "crb", "tis", "tis", "tis" };
    char sock[1024], cfg[1200], hearth[1100], kernel[1100], chardev[1100];
    if (bench_swtpm_start(c, "boot", NULL, sock, sizeof(sock)) < 0) {
        s->failed++;
        return;
    }
    struct proc_result r;
    int rc;
    if (which != 2) {
        char args[64];
        snprintf(cfg, sizeof(cfg), "%s/tpm-boot.json", c->tmp);
        snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
        snprintf(args, sizeof(args), "tpm=%s", models[which]);
        bench_write_config(c, cfg, "tpm_basic", 128, args, sock, models[which]);
        FILE *f = which == 3 ? fopen(cfg, "w") : NULL;
        if (f) {
            fprintf(f,
                    "{\"boot-source\": {\"kernel_image_path\": \"%s/guest/tpm_basic.elf\", "
                    "\"boot_args\": \"tpm=tis\"}, \"machine-config\": {\"vcpu_count\": 1, "
                    "\"mem_size_mib\": 128}, \"tpm\": {\"socket\": \"%s\", \"model\": \"tis\", "
                    "\"measured_boot\": false}}\n",
                    c->build, sock);
            fclose(f);
        }
        char *argv[] = { hearth, "--config-file", cfg, "--no-api", "--level", "Error", NULL };
        rc = proc_run(argv, NULL, 20000, &r);
        rc = rc == 0 && r.status == 0 ? 0 : -1;
    } else {
        snprintf(kernel, sizeof(kernel), "%s/guest/tpm_basic.elf", c->build);
        snprintf(chardev, sizeof(chardev), "socket,id=chrtpm,path=%s", sock);
        char *argv[] = { (char *)c->qemu,
                         "-M",
                         "microvm,x-option-roms=off,rtc=off",
                         "-enable-kvm",
                         "-smp",
                         "1",
                         "-m",
                         "128",
                         "-nodefaults",
                         "-no-user-config",
                         "-nographic",
                         "-serial",
                         "stdio",
                         "-device",
                         "isa-debug-exit,iobase=0xf4,iosize=1",
                         "-chardev",
                         chardev,
                         "-tpmdev",
                         "emulator,id=tpm0,chardev=chrtpm",
                         "-device",
                         "tpm-tis,tpmdev=tpm0",
                         "-kernel",
                         kernel,
                         "-append",
                         "tpm=tis",
                         NULL };
        rc = proc_run(argv, NULL, 20000, &r);
        rc = rc == 0 && r.status == 1 ? 0 : -1;
    }
    bench_swtpm_stop(c, "boot");
    if (rc == 0)
        s->ms[s->n++] = (double)r.wall_us / 1000.0;
    else
        s->failed++;
}

int cmd_tpm(struct bench_ctx *c)
{
    if (bench_swtpm_manufacture(c) < 0) {
        fprintf(stderr, "hearth-bench: swtpm_setup failed (see %s/base/setup.log)\n", c->tmp);
        return 1;
    }
    int n = 1000;
    double raw = 0, backend = 0;
    struct guest_rtt g[3] = { { 0, 0, 0 } };
    static const char *transports[3] = { "crb", "tis", "virtio" };
    int bad = host_round_trips(c, n, &raw, &backend) < 0;
    for (int i = 0; i < 3; i++)
        bad |= guest_round_trip(c, transports[i], 200, &g[i]) < 0;

    static struct boot_series boots[4];
    int nseries = c->qemu ? 4 : 2;
    for (int i = 0; i < c->runs; i++)
        for (int k = 0; k < nseries; k++)
            boot_sample(c, k, &boots[k]);

    /* Memory: the idle payload with and without a CRB TPM, medians of 5. */
    char sock[1024], cfg[1200], hearth[1100];
    double with_kib[5], without_kib[5];
    int m1 = 0, m2 = 0;
    snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
    snprintf(cfg, sizeof(cfg), "%s/idle.json", c->tmp);
    char *argv[] = { hearth, "--config-file", cfg, "--no-api", NULL };
    for (int i = 0; i < 5; i++) {
        struct smaps_total t = { 0 };
        bench_write_config(c, cfg, "idle", 128, "", NULL, NULL);
        m1 |= proc_measure_when_ready(argv, "# idle: ready", 64 * 1024, 10000, &t);
        without_kib[i] = (double)t.private_kib;
        bench_swtpm_start(c, "idle", NULL, sock, sizeof(sock));
        bench_write_config(c, cfg, "idle", 128, "", sock, "crb");
        m2 |= proc_measure_when_ready(argv, "# idle: ready", 64 * 1024, 10000, &t);
        with_kib[i] = (double)t.private_kib;
        bench_swtpm_stop(c, "idle");
    }
    struct stats mw, mo;
    stats_compute(with_kib, 5, &mw);
    stats_compute(without_kib, 5, &mo);

    char host[160];
    bench_host_desc(host, sizeof(host));
    printf("# hearth-bench tpm: host %s\n", host);
    printf("# hearth-bench tpm: TPM2_GetRandom(32) round trips (medians), %d boots per series\n\n",
           c->runs);
    printf("| path | us per command | device exits per command | hearth backend mean us |\n"
           "|---|---|---|---|\n");
    printf("| swtpm data socket, raw (%d, median) | %.1f | | |\n", n, raw);
    printf("| hearth's TPM backend thread (%d, median) | %.1f | | |\n", n, backend);
    for (int i = 0; i < 3; i++)
        printf("| guest over %s (200) | %.1f | %.1f | %.1f |\n", transports[i], g[i].us, g[i].exits,
               g[i].backend_us);
    printf("\nBoot to exit of tpm_basic (fresh copy of one manufactured state per boot):\n\n");
    printf("| monitor | n | failed | p50 ms | p95 ms |\n|---|---|---|---|---|\n");
    static const char *names[] = { "hearth, CRB", "hearth, TIS", "qemu microvm, tpm-tis",
                                   "hearth, TIS, no measured boot" };
    struct stats st[4];
    for (int k = 0; k < nseries; k++) {
        stats_compute(boots[k].ms, (size_t)boots[k].n, &st[k]);
        printf("| %s | %d | %d | %.2f | %.2f |\n", names[k], boots[k].n, boots[k].failed, st[k].p50,
               st[k].p95);
        bad |= boots[k].failed != 0;
    }
    printf("\nMemory (idle guest, 1 vCPU, 128 MiB), private excluding guest RAM:\n\n");
    printf("| hearth | private KiB (median of 5) |\n|---|---|\n");
    if (m1 == 0 && m2 == 0) {
        printf("| without TPM | %.0f |\n", mo.p50);
        printf("| with CRB TPM | %.0f |\n", mw.p50);
    }
    printf("\nTargets (issue 3):\n");
    printf("- swtpm itself: %.1f us per command; hearth's thread hand-off adds %.1f us\n", raw,
           backend - raw);
    printf("- a guest command over CRB: %.1f us, of which %.1f device exits; the rest is the\n"
           "  guest's own code (emulated one instruction at a time on a host without vmx/svm)\n",
           g[0].us, g[0].exits);
    if (nseries == 4) {
        printf("- tpm_basic boot to exit, hearth CRB / qemu tpm-tis: %.3f (target <= 0.25)\n",
               st[0].p50 / st[2].p50);
        printf("- tpm_basic boot to exit, hearth TIS / qemu tpm-tis: %.3f (issue 13: <= 0.40);\n"
               "  without hearth's measured boot, which QEMU does not do: %.3f\n",
               st[1].p50 / st[2].p50, st[3].p50 / st[2].p50);
    }
    if (m1 == 0 && m2 == 0)
        printf("- private memory with TPM - without: %+.0f KiB (target <= +16 KiB)\n",
               mw.p50 - mo.p50);
    return bad || m1 || m2;
}
