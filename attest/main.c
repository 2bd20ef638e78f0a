/* hearth-attest: proves what a hearth microVM booted.
 *   hearth-attest policy --kernel K [--initrd I] --cmdline C [--vcpus N] [--mem-mib M]
 *                        [--bank sha256] [--pcrs 0-9] [--ek-cert PEM] [--output FILE]
 *   hearth-attest (--vsock UDS [--port N] | --unix PATH)...
 *                 (--ca PEM | --tpmd-socket SOCK)
 *                 (--policy FILE | --kernel K [--initrd I] --cmdline C [--vcpus N] ...)
 *                 [--json] [--timeout-ms N]
 * Several targets are attested concurrently. Exit status: 0 when every
 * target matched, 1 when any did not, 2 when any could not be attested
 * (or the command line is wrong). */
#include "client.h"
#include "proto.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 256

struct job {
    struct attest_target target;
    const struct attest_opts *opts;
    struct verdict verdict;
    pthread_t thread;
};

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: hearth-attest policy --kernel K [--initrd I] --cmdline C [--vcpus N] "
            "[--mem-mib M]\n"
            "                            [--bank sha256] [--pcrs 0-9] [--ek-cert PEM] "
            "[--output FILE]\n"
            "       hearth-attest (--vsock UDS [--port N] | --unix PATH)... "
            "(--ca PEM | --tpmd-socket SOCK)\n"
            "                     (--policy FILE | --kernel K [--initrd I] --cmdline C ...) "
            "[--json] [--timeout-ms N]\n");
    exit(status);
}

static const char *status_name(enum check_status s)
{
    return s == CHECK_PASS ? "pass" : s == CHECK_FAIL ? "FAIL" : "skip";
}

static const char *verdict_name(const struct verdict *v)
{
    return v->error[0] ? "error" : verdict_ok(v) ? "match" : "mismatch";
}

static void target_name(const struct attest_target *t, char *out, size_t len)
{
    if (t->vsock)
        snprintf(out, len, "%s port %u", t->path, t->port);
    else
        snprintf(out, len, "%s", t->path);
}

static json_t *verdict_json(const struct job *j)
{
    const struct verdict *v = &j->verdict;
    char name[160];
    target_name(&j->target, name, sizeof(name));
    json_t *checks = json_array();
    for (int i = 0; i < v->n; i++)
        json_array_append_new(checks,
                              json_pack("{s:s, s:s, s:s}", "name", v->checks[i].name, "status",
                                        v->checks[i].status == CHECK_PASS   ? "pass"
                                        : v->checks[i].status == CHECK_FAIL ? "fail"
                                                                            : "skip",
                                        "detail", v->checks[i].detail));
    json_t *o = json_pack("{s:s, s:s, s:o, s:I}", "target", name, "verdict", verdict_name(v),
                          "checks", checks, "round_trip_us", (json_int_t)v->us);
    if (v->error[0])
        json_object_set_new(o, "error", json_string(v->error));
    return o;
}

static void print_human(const struct job *j)
{
    const struct verdict *v = &j->verdict;
    char name[160], failed[300];
    target_name(&j->target, name, sizeof(name));
    verdict_failed_names(v, failed, sizeof(failed));
    if (v->error[0])
        printf("hearth-attest: %s: ERROR: %s\n", name, v->error);
    else
        printf("hearth-attest: %s: %s%s%s%s, %.1f ms\n", name, verdict_ok(v) ? "MATCH" : "MISMATCH",
               failed[0] ? " (" : "", failed, failed[0] ? ")" : "", (double)v->us / 1000.0);
    for (int i = 0; i < v->n; i++)
        printf("  %s  %-15s %s\n", status_name(v->checks[i].status), v->checks[i].name,
               v->checks[i].detail);
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    attest_run(&j->target, j->opts, &j->verdict);
    return NULL;
}

static long number(const char *opt, const char *s, long max)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*end || n < 1 || n > max) {
        fprintf(stderr, "hearth-attest: %s %s: must be a number from 1 to %ld\n", opt, s, max);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    enum {
        O_KERNEL = 256,
        O_INITRD,
        O_CMDLINE,
        O_VCPUS,
        O_MEM,
        O_BANK,
        O_PCRS,
        O_EKCERT,
        O_OUTPUT,
        O_VSOCK,
        O_PORT,
        O_UNIX,
        O_CA,
        O_TPMD,
        O_POLICY,
        O_JSON,
        O_TIMEOUT
    };
    static const struct option opts[] = {
        { "kernel", 1, 0, O_KERNEL },
        { "initrd", 1, 0, O_INITRD },
        { "cmdline", 1, 0, O_CMDLINE },
        { "vcpus", 1, 0, O_VCPUS },
        { "mem-mib", 1, 0, O_MEM },
        { "bank", 1, 0, O_BANK },
        { "pcrs", 1, 0, O_PCRS },
        { "ek-cert", 1, 0, O_EKCERT },
        { "output", 1, 0, O_OUTPUT },
        { "vsock", 1, 0, O_VSOCK },
        { "port", 1, 0, O_PORT },
        { "unix", 1, 0, O_UNIX },
        { "ca", 1, 0, O_CA },
        { "tpmd-socket", 1, 0, O_TPMD },
        { "policy", 1, 0, O_POLICY },
        { "json", 0, 0, O_JSON },
        { "timeout-ms", 1, 0, O_TIMEOUT },
        { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    bool make_policy = argc > 1 && strcmp(argv[1], "policy") == 0;
    const char *kernel = NULL, *initrd = NULL, *cmdline = NULL, *bank = "sha256", *pcrs = NULL,
               *ek_cert = NULL, *output = NULL, *ca_path = NULL, *tpmd = NULL, *policy_path = NULL;
    long vcpus = -1, mem = -1, timeout_ms = 10000;
    bool json = false;
    static struct job jobs[MAX_TARGETS];
    int njobs = 0, c;
    char err[700];
    optind = make_policy ? 2 : 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_KERNEL: kernel = optarg; break;
        case O_INITRD: initrd = optarg; break;
        case O_CMDLINE: cmdline = optarg; break;
        case O_VCPUS: vcpus = number("--vcpus", optarg, 32); break;
        case O_MEM: mem = number("--mem-mib", optarg, 1 << 24); break;
        case O_BANK: bank = optarg; break;
        case O_PCRS: pcrs = optarg; break;
        case O_EKCERT: ek_cert = optarg; break;
        case O_OUTPUT: output = optarg; break;
        case O_VSOCK:
        case O_UNIX:
            if (njobs == MAX_TARGETS || strlen(optarg) >= sizeof(jobs[0].target.path)) {
                fprintf(stderr, "hearth-attest: %s: too many targets or path too long\n", optarg);
                return 2;
            }
            jobs[njobs].target.vsock = c == O_VSOCK;
            jobs[njobs].target.port = ATTEST_DEFAULT_PORT;
            strcpy(jobs[njobs++].target.path, optarg);
            break;
        case O_PORT:
            if (!njobs || !jobs[njobs - 1].target.vsock)
                usage(2);
            jobs[njobs - 1].target.port = (unsigned)number("--port", optarg, 0x7fffffff);
            break;
        case O_CA: ca_path = optarg; break;
        case O_TPMD: tpmd = optarg; break;
        case O_POLICY: policy_path = optarg; break;
        case O_JSON: json = true; break;
        case O_TIMEOUT: timeout_ms = number("--timeout-ms", optarg, 3600000); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (optind != argc)
        usage(2);

    struct attest_policy policy;
    if (policy_path) {
        if (kernel || initrd || cmdline || ek_cert) {
            fprintf(stderr, "hearth-attest: --policy or the policy's options, not both\n");
            return 2;
        }
        if (policy_load(&policy, policy_path, err, sizeof(err)) < 0) {
            fprintf(stderr, "hearth-attest: %s\n", err);
            return 2;
        }
    } else {
        if (!kernel || !cmdline) {
            fprintf(stderr, "hearth-attest: --kernel and --cmdline are needed (or --policy)\n");
            return 2;
        }
        if (policy_make(&policy, bank, kernel, initrd, cmdline, vcpus, mem, ek_cert, err,
                        sizeof(err)) < 0) {
            fprintf(stderr, "hearth-attest: %s\n", err);
            return 2;
        }
    }
    if (pcrs) {
        long mask = policy_parse_pcrs(pcrs);
        if (mask < 0) {
            fprintf(stderr, "hearth-attest: --pcrs %s: a list like 0-9 or 0,4,8-9\n", pcrs);
            return 2;
        }
        policy.pcrs = (uint32_t)mask;
    }
    if (make_policy) {
        json_t *j = policy_to_json(&policy);
        int r = output ? json_dump_file(j, output, JSON_INDENT(2))
                       : json_dumpf(j, stdout, JSON_INDENT(2));
        if (!output)
            putchar('\n');
        json_decref(j);
        policy_free(&policy);
        if (r < 0)
            fprintf(stderr, "hearth-attest: --output %s: cannot write\n", output);
        return r < 0 ? 2 : 0;
    }

    if (!njobs || (!ca_path == !tpmd)) {
        fprintf(stderr, "hearth-attest: give a target (--vsock or --unix) and one of --ca or "
                        "--tpmd-socket\n");
        return 2;
    }
    X509_STORE *ca = ca_path ? attest_ca_load(ca_path, err, sizeof(err))
                             : attest_ca_from_tpmd(tpmd, err, sizeof(err));
    if (!ca) {
        fprintf(stderr, "hearth-attest: %s\n", err);
        return 2;
    }
    struct attest_opts o = { ca, &policy, (int)timeout_ms };
    for (int i = 0; i < njobs; i++) {
        jobs[i].opts = &o;
        if (njobs == 1 || pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]) != 0) {
            jobs[i].thread = 0;
            run_job(&jobs[i]);
        }
    }
    int status = 0;
    json_t *all = json_array();
    for (int i = 0; i < njobs; i++) {
        if (jobs[i].thread)
            pthread_join(jobs[i].thread, NULL);
        const struct verdict *v = &jobs[i].verdict;
        int s = v->error[0] ? 2 : verdict_ok(v) ? 0 : 1;
        status = s > status ? s : status;
        if (json)
            json_array_append_new(all, verdict_json(&jobs[i]));
        else
            print_human(&jobs[i]);
    }
    if (json) {
        json_dumpf(njobs == 1 ? json_array_get(all, 0) : all, stdout, JSON_COMPACT);
        putchar('\n');
    }
    json_decref(all);
    X509_STORE_free(ca);
    policy_free(&policy);
    return status;
}
