/* hearth-bench attest: the attestation round trip (nonce to verdict) of
 * one VM, N times in a row, and VMs attested per second when every
 * target is attested at once by one verifier, for R rounds. The targets
 * are running agents (a VM's vsock socket, or a Unix socket).
 *   hearth-bench attest (--vsock UDS [--port N] | --unix PATH)...
 *                       (--ca PEM | --tpmd-socket SOCK) --policy FILE
 *                       [--runs N] [--rounds R] */
#include "bench.h"
#include "stats.h"
#include "../attest/client.h"
#include "../attest/proto.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TARGETS 256

struct target_run {
    const struct attest_target *t;
    const struct attest_opts *o;
    struct verdict v;
    pthread_t thread;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *attest_one(void *arg)
{
    struct target_run *r = arg;
    attest_run(r->t, r->o, &r->v);
    return NULL;
}

/* Names the first failed verdicts; returns 1 for a failure. */
static int failed(const struct attest_target *t, const char *phase, const struct verdict *v,
                  int *shown)
{
    if (verdict_ok(v))
        return 0;
    if ((*shown)++ < 5) {
        char names[300];
        verdict_failed_names(v, names, sizeof(names));
        fprintf(stderr, "hearth-bench attest: %s: %s: not a match: %s\n", phase, t->path,
                v->error[0] ? v->error : names);
    }
    return 1;
}

int cmd_attest(struct bench_ctx *c, int argc, char **argv)
{
    enum { O_VSOCK = 256, O_PORT, O_UNIX, O_CA, O_TPMD, O_POLICY, O_RUNS, O_ROUNDS };
    static const struct option opts[] = {
        { "vsock", 1, 0, O_VSOCK }, { "port", 1, 0, O_PORT },        { "unix", 1, 0, O_UNIX },
        { "ca", 1, 0, O_CA },       { "tpmd-socket", 1, 0, O_TPMD }, { "policy", 1, 0, O_POLICY },
        { "runs", 1, 0, O_RUNS },   { "rounds", 1, 0, O_ROUNDS },    { 0, 0, 0, 0 },
    };
    static struct attest_target targets[MAX_TARGETS];
    int n = 0, runs = 100, rounds = 5, o;
    const char *ca_path = NULL, *tpmd = NULL, *policy_path = NULL;
    (void)c;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_VSOCK:
        case O_UNIX:
            if (n == MAX_TARGETS || strlen(optarg) >= sizeof(targets[0].path))
                return 2;
            targets[n] =
                (struct attest_target){ .vsock = o == O_VSOCK, .port = ATTEST_DEFAULT_PORT };
            strcpy(targets[n++].path, optarg);
            break;
        case O_PORT:
            if (n)
                targets[n - 1].port = (unsigned)atoi(optarg);
            break;
        case O_CA: ca_path = optarg; break;
        case O_TPMD: tpmd = optarg; break;
        case O_POLICY: policy_path = optarg; break;
        case O_RUNS: runs = atoi(optarg); break;
        case O_ROUNDS: rounds = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!n || !policy_path || !ca_path == !tpmd || runs < 1 || runs > 100000 || rounds < 1) {
        fprintf(stderr, "hearth-bench attest: give targets, --policy and one of --ca or "
                        "--tpmd-socket\n");
        return 2;
    }
    char err[700];
    struct attest_policy policy;
    X509_STORE *ca = NULL;
    if (policy_load(&policy, policy_path, err, sizeof(err)) < 0 ||
        !(ca = ca_path ? attest_ca_load(ca_path, err, sizeof(err))
                       : attest_ca_from_tpmd(tpmd, err, sizeof(err)))) {
        fprintf(stderr, "hearth-bench attest: %s\n", err);
        return 2;
    }
    /* Each step's deadline, stretched on an emulated host like the tests'. */
    const char *scale = getenv("HEARTH_TIME_SCALE");
    int timeout_ms = 30000 * (scale && atoi(scale) > 0 ? atoi(scale) : 1);
    struct attest_opts opt = { ca, &policy, timeout_ms };
    int bad = 0, shown = 0;

    /* Warm-up, one at a time: each agent makes its AK (an RSA key
     * generation in its vTPM) at its first request. */
    static struct target_run r[MAX_TARGETS];
    for (int i = 0; i < n; i++) {
        struct verdict v;
        attest_run(&targets[i], &opt, &v);
        bad += failed(&targets[i], "warm-up", &v, &shown);
    }

    double *ms = malloc(sizeof(double) * (size_t)runs);
    for (int i = 0; i < runs; i++) {
        struct verdict v;
        attest_run(&targets[0], &opt, &v);
        ms[i] = (double)v.us / 1000.0;
        bad += failed(&targets[0], "in a row", &v, &shown);
    }
    struct stats s;
    stats_compute(ms, (size_t)runs, &s);
    double p99 = stats_percentile(ms, (size_t)runs, 99);
    printf("attestation round trip, one VM, %d in a row: p50 %.2f ms, p99 %.2f ms "
           "(min %.2f, max %.2f)\n",
           runs, s.p50, p99, s.min, s.max);

    double total = 0;
    for (int k = 0; k < rounds; k++) {
        double t0 = now_ms();
        for (int i = 0; i < n; i++) {
            r[i] = (struct target_run){ .t = &targets[i], .o = &opt };
            pthread_create(&r[i].thread, NULL, attest_one, &r[i]);
        }
        for (int i = 0; i < n; i++) {
            pthread_join(r[i].thread, NULL);
            bad += failed(&targets[i], "all at once", &r[i].v, &shown);
        }
        total += now_ms() - t0;
    }
    printf("%d VMs attested at once by one verifier, %d rounds: %.1f VMs/s (%.1f ms a round)\n", n,
           rounds, (double)n * rounds / (total / 1000.0), total / rounds);
    printf("verdicts that were not a match: %d\n", bad);
    free(ms);
    X509_STORE_free(ca);
    policy_free(&policy);
    return bad ? 1 : 0;
}
