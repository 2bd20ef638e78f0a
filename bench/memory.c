/* hearth-bench memory: the monitors' own memory (guest RAM excluded) while
 * an idle guest runs, across guest sizes: hearth with and without a vTPM,
 * QEMU microvm, and the vTPM's swtpm. Both the thesis's method (sizes of
 * writable private mappings) and resident private memory. */
#include "bench.h"
#include "proc.h"

#include "http_client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SIZES 16

/* Allocates a vTPM and finds its swtpm's pid in GET /vtpms. */
static int alloc_with_pid(const struct tpmd_daemon *d, char *sock, size_t len, int *pid, char *id)
{
    char err[300];
    if (bench_vtpm_alloc(d, id, sock, len, err, sizeof(err)) < 0)
        return -1;
    int status;
    char *head = NULL, *body = NULL;
    if (http_client_request(d->sock, "GET", "/vtpms", &status, &head, &body, err, sizeof(err)) < 0)
        return -1;
    json_t *list = json_loads(body, 0, NULL);
    size_t k;
    json_t *e;
    *pid = 0;
    json_array_foreach(list, k, e)
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            *pid = (int)json_integer_value(json_object_get(e, "pid"));
    json_decref(list);
    free(head);
    free(body);
    return *pid > 0 ? 0 : -1;
}

int cmd_memory(struct bench_ctx *c, int argc, char **argv)
{
    int sizes[MAX_SIZES], n = 0;
    const char *list = "128,256,512,1024,2048,3072,4096,6144,8192", *out = ".";
    static const struct option opts[] = { { "mem-sizes", required_argument, NULL, 'm' },
                                          { "out", required_argument, NULL, 'o' },
                                          { NULL, 0, NULL, 0 } };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'm')
            list = optarg;
        else if (o == 'o')
            out = optarg;
        else
            return 2;
    }
    for (const char *p = list; *p && n < MAX_SIZES;
         p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        sizes[n] = atoi(p);
        if (sizes[n] < 16) {
            fprintf(stderr, "hearth-bench memory: --mem-sizes: sizes in MiB, at least 16\n");
            return 2;
        }
        n++;
    }
    struct tpmd_daemon d;
    if (bench_tpmd_start(c, &d, "memory", "--pool-min 1 --pool-max 2 --manufacture fast") < 0)
        return 1;
    char hearth[1100], cfg[1200], path[1200];
    snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
    snprintf(cfg, sizeof(cfg), "%s/idle.json", c->tmp);
    mkdir(out, 0755);
    snprintf(path, sizeof(path), "%s/memory.dat", out);
    FILE *dat = fopen(path, "w");
    if (!dat) {
        perror(path);
        bench_tpmd_stop(c, &d);
        return 1;
    }
    char host[160];
    bench_host_desc(host, sizeof(host));
    printf("# hearth-bench memory: idle guest, 1 vCPU; KiB excluding guest RAM; host %s\n\n", host);
    printf(
        "| guest MiB | hearth writable | hearth private | hearth+TPM writable | hearth+TPM private "
        "| swtpm writable | swtpm private | qemu writable | qemu private |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    int bad = 0;
    for (int i = 0; i < n; i++) {
        struct smaps_total h = { 0 }, ht = { 0 }, sw = { 0 }, q = { 0 };
        uint64_t guest_min =
            (uint64_t)sizes[i] * 1024 * 3 / 4; /* the largest such mapping is RAM */
        char *argv_h[] = { hearth, "--config-file", cfg, "--no-api", NULL };
        bench_write_config(c, cfg, "idle", (unsigned)sizes[i], "", NULL, NULL);
        bad |= proc_measure_when_ready(argv_h, "# idle: ready", guest_min, 20000, &h) < 0;
        char sock[512], id[64];
        int pid;
        if (alloc_with_pid(&d, sock, sizeof(sock), &pid, id) == 0) {
            bench_write_config(c, cfg, "idle", (unsigned)sizes[i], "", sock, "crb");
            bad |= proc_measure_when_ready(argv_h, "# idle: ready", guest_min, 20000, &ht) < 0;
            bad |= smaps_measure(pid, UINT64_MAX, &sw) < 0;
            bench_vtpm_free(&d, id);
        } else {
            bad = 1;
        }
        if (c->qemu) {
            char mem[16], kernel[1200];
            snprintf(mem, sizeof(mem), "%d", sizes[i]);
            snprintf(kernel, sizeof(kernel), "%s/guest/idle.elf", c->build);
            char *argv_q[] = { (char *)c->qemu,
                               "-M",
                               "microvm,x-option-roms=off,rtc=off",
                               "-enable-kvm",
                               "-smp",
                               "1",
                               "-m",
                               mem,
                               "-nodefaults",
                               "-no-user-config",
                               "-nographic",
                               "-serial",
                               "stdio",
                               "-kernel",
                               kernel,
                               NULL };
            bad |= proc_measure_when_ready(argv_q, "# idle: ready", guest_min, 20000, &q) < 0;
        }
        printf("| %d | %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu |\n", sizes[i],
               (unsigned long long)h.writable_kib, (unsigned long long)h.private_kib,
               (unsigned long long)ht.writable_kib, (unsigned long long)ht.private_kib,
               (unsigned long long)sw.writable_kib, (unsigned long long)sw.private_kib,
               (unsigned long long)q.writable_kib, (unsigned long long)q.private_kib);
        fprintf(dat, "%d %llu %llu %llu %llu %llu %llu\n", sizes[i],
                (unsigned long long)h.writable_kib, (unsigned long long)h.private_kib,
                (unsigned long long)ht.private_kib, (unsigned long long)sw.private_kib,
                (unsigned long long)q.writable_kib, (unsigned long long)q.private_kib);
    }
    fclose(dat);
    bench_tpmd_stop(c, &d);
    snprintf(path, sizeof(path), "%s/memory.gp", out);
    FILE *g = fopen(path, "w");
    if (g) {
        fprintf(g,
                "set terminal pngcairo size 900,560\nset output '%s/memory.png'\n"
                "set title 'Monitor memory excluding guest RAM (idle guest)'\n"
                "set xlabel 'guest RAM (MiB)'\nset ylabel 'KiB'\nset logscale y\nset grid\n"
                "set key below\nset xtics 1024\n"
                "plot '%s/memory.dat' u 1:2 w lp t 'hearth writable (thesis method)', "
                "'' u 1:3 w lp t 'hearth private', '' u 1:4 w lp t 'hearth+TPM private', "
                "'' u 1:5 w lp t 'swtpm private', '' u 1:6 w lp t 'qemu writable', "
                "'' u 1:7 w lp t 'qemu private'\n",
                out, out);
        fclose(g);
        char cmd[1400];
        snprintf(cmd, sizeof(cmd),
                 "gnuplot '%s/memory.gp' 2>/dev/null || (sed -i 's/pngcairo/png/' "
                 "'%s/memory.gp' && gnuplot '%s/memory.gp')",
                 out, out, out);
        bad |= system(cmd) != 0;
    }
    printf("\nwrote %s/memory.dat and %s/memory.png\n", out, out);
    printf("Target (issue 5): hearth excluding guest RAM <= 1024 KiB at every size, flat.\n");
    return bad;
}
