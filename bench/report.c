/* hearth-bench report and export: statistics, Markdown tables and CDF
 * plots (gnuplot) from the SQLite store. A VM's time is end_us - start_us
 * (TPM allocation to monitor exit, the thesis's boot time). */
#include "bench.h"
#include "stats.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_RUNS 16

struct series {
    long long id;
    char setup[32];
    double *ms;
    int n, failed;
    struct stats st;
};

static int load(sqlite3 *db, long long id, struct series *s)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT setup FROM runs WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        snprintf(s->setup, sizeof(s->setup), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!found) {
        fprintf(stderr, "hearth-bench: no run %lld\n", id);
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT end_us - start_us, error FROM vms WHERE run_id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int cap = 1024;
    s->ms = malloc(sizeof(double) * (size_t)cap);
    while (s->ms && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            s->failed++;
            continue;
        }
        if (s->n == cap)
            s->ms = realloc(s->ms, sizeof(double) * (size_t)(cap *= 2));
        if (s->ms)
            s->ms[s->n++] = (double)sqlite3_column_int64(st, 0) / 1000.0;
    }
    sqlite3_finalize(st);
    stats_compute(s->ms, (size_t)s->n, &s->st); /* also sorts, for the CDF */
    return s->ms ? 0 : -1;
}

static void table(FILE *f, struct series *s, int n)
{
    const struct series *base = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].setup, "baseline") == 0)
            base = &s[i];
    fprintf(
        f,
        "| run | setup | n | failures | min | max | average | p50 | p95 | p95 vs baseline | std dev |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const struct stats *t = &s[i].st;
        char change[32] = "";
        if (base && &s[i] != base && base->st.n && t->n)
            snprintf(change, sizeof(change), "%+.1f%%", (t->p95 / base->st.p95 - 1) * 100);
        fprintf(f, "| %lld | %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %.2f |\n",
                s[i].id, s[i].setup, s[i].n, s[i].failed, t->min, t->max, t->mean, t->p50, t->p95,
                change, t->stddev);
    }
    fprintf(f, "\nTimes in ms, from just before TPM allocation to the monitor's exit.\n");
}

static int plot(const char *out, struct series *s, int n)
{
    char path[1200];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/cdf-%lld.dat", out, s[i].id);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        for (int k = 0; k < s[i].n; k++)
            fprintf(f, "%.3f %.5f\n", s[i].ms[k], (double)(k + 1) / s[i].n);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/cdf.gp", out);
    FILE *g = fopen(path, "w");
    if (!g)
        return -1;
    for (int term = 0; term < 2; term++) {
        fprintf(g, "set terminal %s size 900,560\nset output '%s/cdf.%s'\n",
                term ? "svg" : "pngcairo", out, term ? "svg" : "png");
        fprintf(g, "set title 'VM boot time (TPM allocation to monitor exit)'\n"
                   "set xlabel 'ms'\nset ylabel 'fraction of VMs'\nset yrange [0:1]\n"
                   "set grid\nset key bottom right\nplot ");
        for (int i = 0; i < n; i++)
            fprintf(g, "%s'%s/cdf-%lld.dat' using 1:2 with steps lw 2 title '%s (run %lld)'",
                    i ? ", " : "", out, s[i].id, s[i].setup, s[i].id);
        fprintf(g, "\n");
    }
    fclose(g);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "gnuplot '%s/cdf.gp' 2>'%s/gnuplot.log'", out, out);
    if (system(cmd) != 0) {
        /* pngcairo may be missing: fall back to the plain png terminal */
        snprintf(cmd, sizeof(cmd), "sed -i 's/pngcairo/png/' '%s/cdf.gp' && gnuplot '%s/cdf.gp'",
                 out, out);
        return system(cmd) == 0 ? 0 : -1;
    }
    return 0;
}

int cmd_report(struct bench_ctx *c, int argc, char **argv)
{
    (void)c;
    const char *db_path = "build/bench.db", *out = ".";
    static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
                                          { "out", required_argument, NULL, 'o' },
                                          { NULL, 0, NULL, 0 } };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'd')
            db_path = optarg;
        else if (o == 'o')
            out = optarg;
        else
            return 2;
    }
    int n = argc - optind;
    if (n < 1 || n > MAX_RUNS) {
        fprintf(stderr,
                "usage: hearth-bench report [--db PATH] [--out DIR] RUN_ID... (1-%d runs)\n",
                MAX_RUNS);
        return 2;
    }
    sqlite3 *db;
    if (store_open(db_path, &db) < 0)
        return 1;
    static struct series s[MAX_RUNS];
    for (int i = 0; i < n; i++)
        if (load(db, atoll(argv[optind + i]), &s[i]) < 0)
            return 1;
    sqlite3_close(db);
    mkdir(out, 0755);
    char path[1200];
    snprintf(path, sizeof(path), "%s/report.md", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    table(f, s, n);
    fclose(f);
    table(stdout, s, n);
    int r = plot(out, s, n);
    printf("\nwrote %s/report.md, %s/cdf.png, %s/cdf.svg\n", out, out, out);
    for (int i = 0; i < n; i++)
        free(s[i].ms);
    return r < 0 ? 1 : 0;
}

int cmd_export(struct bench_ctx *c, int argc, char **argv)
{
    (void)c;
    const char *db_path = "build/bench.db";
    int csv = 0;
    static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
                                          { "csv", no_argument, NULL, 'c' },
                                          { NULL, 0, NULL, 0 } };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'd')
            db_path = optarg;
        else if (o == 'c')
            csv = 1;
        else
            return 2;
    }
    if (!csv || optind + 1 != argc) {
        fprintf(stderr, "usage: hearth-bench export --csv [--db PATH] RUN_ID\n");
        return 2;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    if (store_open(db_path, &db) < 0 ||
        sqlite3_prepare_v2(
            db,
            "SELECT idx, start_us, exec_us, end_us, setup, tpm_ready_us, boot_timer_us,"
            " exit_status, error FROM vms WHERE run_id = ? ORDER BY idx",
            -1, &st, NULL) != SQLITE_OK)
        return 1;
    sqlite3_bind_int64(st, 1, atoll(argv[optind]));
    /* The thesis's columns first (microseconds since the run started). */
    printf(
        "idx,Start Time,Exec Time,End Time,setup,tpm_ready_us,boot_timer_us,exit_status,error\n");
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < 9; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            printf("%s%s%s%s", i ? "," : "", i == 8 && v ? "\"" : "", v ? (const char *)v : "",
                   i == 8 && v ? "\"" : "");
        }
        printf("\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}
