/* hearth-bench tpmd: vTPM manufacture (fast path vs swtpm_setup, same
 * run), allocation latency from a ready pool, pool throughput, and swtpm's
 * memory per ready vTPM. */
#include "core/clock.h"
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include "http_client.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) { return (double)mono_ns() / 1e9; }

/* One request to the daemon; the parsed JSON body of a 2xx answer, or NULL. */
static json_t *call(const struct tpmd_daemon *d, const char *method, const char *path)
{
    int status;
    char *head = NULL, *body = NULL;
    char err[600];
    if (http_client_request(d->sock, method, path, &status, &head, &body, err, sizeof(err)) < 0)
        return NULL;
    json_t *j = status >= 200 && status < 300 ? json_loads(body, 0, NULL) : NULL;
    free(head);
    free(body);
    return j;
}

int bench_tpmd_start(const struct bench_ctx *c, struct tpmd_daemon *d, const char *name,
                     const char *args)
{
    snprintf(d->sock, sizeof(d->sock), "%s/%s.sock", c->tmp, name);
    snprintf(d->state, sizeof(d->state), "%s/%s", c->tmp, name);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "exec %s/hearth-tpmd --socket %s --state-dir %s %s >> %s/tpmd.log 2>&1", c->build,
             d->sock, d->state, args, c->tmp);
    d->pid = fork();
    if (d->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* A bound for a daemon that never comes up; its first start makes a CA
     * key, which takes seconds under emulation. */
    for (int i = 0; i < 1200; i++) {
        json_t *s = call(d, "GET", "/pool");
        if (s) {
            json_decref(s);
            return 0;
        }
        usleep(50000);
    }
    return -1;
}

void bench_tpmd_stop(const struct bench_ctx *c, struct tpmd_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        waitpid(d->pid, NULL, 0);
    }
    /* Ready vTPMs outlive their daemon (for re-adoption); end them and
     * remove their (then empty) cgroups. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "pkill -f '[s]wtpm socket.*%s/' 2>/dev/null; sleep 0.2; for d in %s/vtpms/*; do "
             "rmdir /sys/fs/cgroup/*/hearth-tpmd/${d##*/} /sys/fs/cgroup/hearth-tpmd/${d##*/} "
             "2>/dev/null; done; true",
             d->state, d->state);
    if (system(cmd) != 0)
        fprintf(stderr, "hearth-bench: cleaning up %s failed\n", d->state);
    (void)c;
}

int bench_vtpm_alloc(const struct tpmd_daemon *d, char id[64], char *sock, size_t socklen,
                     char *err, size_t errlen)
{
    int status;
    char *head = NULL, *body = NULL;
    if (http_client_request(d->sock, "POST", "/vtpms", &status, &head, &body, err, errlen) < 0)
        return -1;
    json_t *j = json_loads(body, 0, NULL);
    const char *i = j ? json_string_value(json_object_get(j, "id")) : NULL;
    const char *s = j ? json_string_value(json_object_get(j, "ctrl_socket")) : NULL;
    int r = status == 201 && i && s ? 0 : -1;
    if (r == 0) {
        snprintf(id, 64, "%s", i);
        snprintf(sock, socklen, "%s", s);
    } else {
        snprintf(err, errlen, "allocation failed: HTTP %d %.200s", status, body);
    }
    json_decref(j);
    free(head);
    free(body);
    return r;
}

void bench_vtpm_free(const struct tpmd_daemon *d, const char *id)
{
    char path[128], *head = NULL, *body = NULL;
    int status;
    snprintf(path, sizeof(path), "/vtpms/%s", id);
    char err[600];
    if (http_client_request(d->sock, "DELETE", path, &status, &head, &body, err, sizeof(err)) ==
        0) {
        free(head);
        free(body);
    }
}

int bench_tpmd_ready(const struct bench_ctx *c, const struct tpmd_daemon *d)
{
    (void)c;
    json_t *s = call(d, "GET", "/pool");
    int r = s ? (int)json_integer_value(json_object_get(s, "ready")) : -1;
    json_decref(s);
    return r;
}

/* Allocates and frees one vTPM; returns its manufacture or allocate ms. */
static double alloc_free(const struct bench_ctx *c, const struct tpmd_daemon *d, const char *field,
                         const char **source)
{
    (void)c;
    json_t *a = call(d, "POST", "/vtpms");
    if (!a)
        return -1;
    double v = json_real_value(json_object_get(a, field));
    if (source)
        *source = strcmp(json_string_value(json_object_get(a, "source")), "pool") == 0 ? "pool"
                                                                                       : "ondemand";
    bench_vtpm_free(d, json_string_value(json_object_get(a, "id")));
    json_decref(a);
    return v;
}

int cmd_tpmd(struct bench_ctx *c)
{
    int n = c->runs;
    static const char *names[3] = { "swtpm_setup (RSA-2048 + ECC P-384)", "fast, RSA-2048",
                                    "fast, ECC P-256" };
    static const char *args[3] = { "--pool-max 0 --pool-min 0 --manufacture swtpm_setup",
                                   "--pool-max 0 --pool-min 0 --manufacture fast --ek rsa",
                                   "--pool-max 0 --pool-min 0 --manufacture fast --ek ecc" };
    struct tpmd_daemon d[3];
    double ms[3][1000];
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof(name), "m%d", k);
        bad |= bench_tpmd_start(c, &d[k], name, args[k]) < 0;
    }
    for (int i = 0; i < n && !bad; i++)
        for (int k = 0; k < 3; k++) /* interleaved */
            ms[k][i] = alloc_free(c, &d[k], "manufacture_ms", NULL);
    for (int k = 0; k < 3; k++)
        bench_tpmd_stop(c, &d[k]);
    struct stats m[3];
    for (int k = 0; k < 3; k++)
        stats_compute(ms[k], (size_t)n, &m[k]);

    /* Allocation from a ready pool (fast path refills it). */
    struct tpmd_daemon p;
    double alloc[1000];
    int from_pool = 0;
    bad |= bench_tpmd_start(c, &p, "pool",
                            "--pool-min 8 --pool-max 8 --manufacture fast --concurrency 2") < 0;
    for (int t = 0; t < 300 && bench_tpmd_ready(c, &p) < 8; t++)
        usleep(50000);
    for (int i = 0; i < 200 && !bad; i++) {
        const char *src = "";
        double v = alloc_free(c, &p, "allocate_ms", &src);
        if (strcmp(src, "pool") == 0)
            alloc[from_pool++] = v;
        usleep(20000);
    }
    /* Memory of the ready swtpms. */
    double mem[64];
    int nmem = 0;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "pgrep -f 'swtpm socket --tpm2 --tpmstate dir=%s/'", p.state);
    FILE *pg = popen(cmd, "r");
    int pid;
    while (pg && nmem < 64 && fscanf(pg, "%d", &pid) == 1) {
        struct smaps_total t;
        if (smaps_measure(pid, ~0ULL, &t) == 0)
            mem[nmem++] = (double)t.private_kib;
    }
    if (pg)
        pclose(pg);
    bench_tpmd_stop(c, &p);
    struct stats a, mm;
    stats_compute(alloc, (size_t)from_pool, &a);
    stats_compute(mem, (size_t)nmem, &mm);

    /* Throughput: an empty pool filling to 32, per method. */
    double rate[2] = { 0, 0 };
    static const char *fill[2] = { "--pool-min 32 --pool-max 32 --manufacture swtpm_setup",
                                   "--pool-min 32 --pool-max 32 --manufacture fast" };
    for (int k = 0; k < 2 && !bad; k++) {
        struct tpmd_daemon f;
        char name[16];
        snprintf(name, sizeof(name), "fill%d", k);
        double t0 = now_s();
        bad |= bench_tpmd_start(c, &f, name, fill[k]) < 0;
        int r = 0;
        while (!bad && (r = bench_tpmd_ready(c, &f)) < 32 && now_s() - t0 < 120)
            usleep(100000);
        rate[k] = r / (now_s() - t0);
        bench_tpmd_stop(c, &f);
    }

    char host[160];
    bench_host_desc(host, sizeof(host));
    printf(
        "# hearth-bench tpmd: %d manufactures per method (interleaved), 200 allocations; host %s\n\n",
        n, host);
    printf("| manufacture | n | p50 ms | p95 ms | min ms |\n|---|---|---|---|---|\n");
    for (int k = 0; k < 3; k++)
        printf("| %s | %zu | %.1f | %.1f | %.1f |\n", names[k], m[k].n, m[k].p50, m[k].p95,
               m[k].min);
    printf("\n| pool | value |\n|---|---|\n");
    printf("| allocations served from the ready pool | %d of 200 |\n", from_pool);
    printf("| allocation p50 / p99 (server side) | %.2f / %.2f ms |\n", a.p50,
           stats_percentile(alloc, (size_t)from_pool, 99));
    printf("| pool throughput, swtpm_setup (2 workers) | %.2f vTPMs/s |\n", rate[0]);
    printf("| pool throughput, fast (2 workers) | %.2f vTPMs/s |\n", rate[1]);
    printf("| swtpm private memory per ready vTPM (median of %d) | %.0f KiB |\n", nmem, mm.p50);
    printf("\nTargets (issue 4):\n");
    printf("- allocation from a ready pool, p99: %.2f ms (target <= 2 ms)\n",
           stats_percentile(alloc, (size_t)from_pool, 99));
    printf("- fast RSA / swtpm_setup, median: %.3f (target <= 0.2)\n", m[1].p50 / m[0].p50);
    printf("- fast ECC / swtpm_setup, median: %.3f (target <= 0.05)\n", m[2].p50 / m[0].p50);
    return bad;
}
