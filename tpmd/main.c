/* hearth-tpmd: manufactures vTPMs and keeps a pool of ready ones. */
#include "api.h"
#include "ca.h"
#include "pool.h"
#include "privdrop.h"
#include "provision.h"
#include "uids.h"

#include <jansson.h>
#include <stdbool.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Measured: an idle swtpm with a manufactured state holds about 1 MiB of
 * private memory; budget 2 MiB per vTPM for headroom. */
#define MIB_PER_VTPM 2

static const char usage[] =
    "Usage: hearth-tpmd --socket PATH --state-dir DIR [options]\n"
    "\n"
    "  --pool-min N            ready vTPMs to keep at least (default 2)\n"
    "  --pool-max N            ready vTPMs to keep at most; 0: every allocation is\n"
    "                          manufactured on demand (default 8)\n"
    "  --concurrency N         manufactures in parallel (default 2)\n"
    "  --manufacture METHOD    swtpm_setup (the reference path; default) or fast\n"
    "                          (one swtpm driven over its data channel, certificates\n"
    "                          signed in-process)\n"
    "  --ek rsa|ecc|both       fast path EKs: RSA-2048 (default), ECC P-256, or both\n"
    "                          (swtpm_setup always creates RSA-2048 and ECC P-384)\n"
    "  --allocate-wait-s S     an allocation with none ready and every manufacture slot\n"
    "                          busy waits S seconds before 503 (default 30)\n"
    "  --memory-budget-mib N   live vTPMs at most N / 2 (default 512)\n"
    "  --horizon-s S           keep enough ready vTPMs for S seconds of demand (default 3)\n"
    "  --ca-key PEM --ca-cert PEM   an operator CA instead of STATE/ca\n"
    "  --uid-base N            vTPM k's swtpm runs as uid and gid N + k, its own; 0 runs\n"
    "                          every swtpm as root. Default: the range this state dir\n"
    "                          had, else the first free one from 1900000000 (ranges are\n"
    "                          registered in /run/hearth-tpmd). Use uids no user or\n"
    "                          container has: wiping a vTPM kills its uid's processes\n"
    "  --uid-count N           uids in the range (default 65536)\n"
    "  --pcr-banks LIST        active PCR banks, e.g. sha256 (default) or sha1,sha256\n"
    "  --config FILE           the same options as a JSON object (\"pool_min\": 4, ...);\n"
    "                          command-line flags win\n";

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "hearth-tpmd: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return 2;
}

/* Run as the uid being checked (privdrop_call_as). */
static bool dir_searchable(void *dir) { return access(dir, X_OK) == 0; }

/* Whether uid (with gid uid, as every swtpm) can reach `dir` (every
 * ancestor searchable for it). */
static bool uid_can_reach(uid_t uid, const char *dir)
{
    return privdrop_call_as(uid, uid, dir_searchable, (void *)dir);
}

/* Takes STATE/lock (flock, exclusive) for the daemon's lifetime and writes
 * this pid into it: two daemons on one state directory would wipe each
 * other's vTPMs. The descriptor is close-on-exec and stays open until exit.
 * -1 with err naming the directory (and the holder's pid when the file has
 * it) when another daemon holds it. */
static int lock_state_dir(const char *state, char *err, size_t errlen)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/lock", state);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "--state-dir %.400s: opening its lock: %s", state, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char buf[24] = "", who[48] = "pid unknown";
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0 && atoi(buf) > 0)
            snprintf(who, sizeof(who), "pid %d", atoi(buf));
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "--state-dir %.400s is in use by another hearth-tpmd (%s); one "
                     "daemon per state directory",
                     state, who);
        else
            snprintf(err, errlen, "--state-dir %.400s: locking: %s", state, strerror(e));
        close(fd);
        return -1;
    }
    char line[24];
    int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        snprintf(err, errlen, "--state-dir %.400s: writing its lock: %s", state, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

struct settings {
    const char *sock, *state, *ca_key, *ca_cert;
    struct pool_opts po;
    struct vtpm_opts vo;
    int budget, horizon, uid_base;
};

static const struct option opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "state-dir", required_argument, NULL, 'd' },
    { "pool-min", required_argument, NULL, 'm' },
    { "pool-max", required_argument, NULL, 'M' },
    { "concurrency", required_argument, NULL, 'c' },
    { "manufacture", required_argument, NULL, 'f' },
    { "ek", required_argument, NULL, 'e' },
    { "memory-budget-mib", required_argument, NULL, 'b' },
    { "horizon-s", required_argument, NULL, 'H' },
    { "ca-key", required_argument, NULL, 'k' },
    { "ca-cert", required_argument, NULL, 'C' },
    { "uid-base", required_argument, NULL, 'u' },
    { "uid-count", required_argument, NULL, 'U' },
    { "allocate-wait-s", required_argument, NULL, 'w' },
    { "pcr-banks", required_argument, NULL, 'p' },
    { "config", required_argument, NULL, 'F' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Applies options from argv; returns -1 to continue, else an exit status. */
static int apply(struct settings *st, int argc, char **argv)
{
    optind = 0; /* GNU: start over (parsed twice: config file, command line) */
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': st->sock = optarg; break;
        case 'd': st->state = optarg; break;
        case 'm':
            if (!parse_int(optarg, 0, 1000, &st->po.min))
                return bad("--pool-min must be 0..1000", optarg);
            break;
        case 'M':
            if (!parse_int(optarg, 0, 1000, &st->po.max))
                return bad("--pool-max must be 0..1000", optarg);
            break;
        case 'c':
            if (!parse_int(optarg, 1, 16, &st->po.concurrency))
                return bad("--concurrency must be 1..16", optarg);
            break;
        case 'b':
            if (!parse_int(optarg, 2, 1 << 20, &st->budget))
                return bad("--memory-budget-mib must be >= 2", optarg);
            break;
        case 'H':
            if (!parse_int(optarg, 1, 3600, &st->horizon))
                return bad("--horizon-s must be 1..3600", optarg);
            break;
        case 'f':
            if (strcmp(optarg, "swtpm_setup") && strcmp(optarg, "fast"))
                return bad("--manufacture must be swtpm_setup or fast", optarg);
            st->vo.fast = strcmp(optarg, "fast") == 0;
            break;
        case 'e':
            if (strcmp(optarg, "rsa") && strcmp(optarg, "ecc") && strcmp(optarg, "both"))
                return bad("--ek must be rsa, ecc or both", optarg);
            st->vo.ek_rsa = strcmp(optarg, "ecc") != 0;
            st->vo.ek_ecc = strcmp(optarg, "rsa") != 0;
            break;
        case 'p':
            if (tpm2_banks_parse(optarg) < 0)
                return bad("--pcr-banks must list sha1, sha256, sha384, sha512", optarg);
            st->vo.pcr_banks = optarg;
            break;
        case 'k': st->ca_key = optarg; break;
        case 'C': st->ca_cert = optarg; break;
        case 'u':
            if (!parse_int(optarg, 0, INT_MAX, &st->uid_base))
                return bad("--uid-base must be 0..2147483647", optarg);
            break; /* -1: not given */
        case 'w':
            if (!parse_int(optarg, 0, 3600, &st->po.allocate_wait_s))
                return bad("--allocate-wait-s must be 0..3600", optarg);
            break;
        case 'U':
            if (!parse_int(optarg, 1, 1 << 24, &st->po.uid_count))
                return bad("--uid-count must be 1..16777216", optarg);
            break;
        case 'F': break; /* loaded before */
        case 'h': fputs(usage, stdout); return 0;
        default: return bad("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad("unexpected argument", argv[optind]);
    return -1;
}

/* --config FILE: a JSON object whose keys are the long options with
 * underscores ("pool_min": 4, "manufacture": "fast"), turned into an
 * argument list so the same checks apply. The command line wins. */
static int apply_config(struct settings *st, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "hearth-tpmd: --config %s: %s\n", path,
                root ? "must be a JSON object" : jerr.text);
        json_decref(root);
        return 2;
    }
    static char *args[64];
    static char values[32][512];
    int n = 0, nv = 0;
    args[n++] = "hearth-tpmd";
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        char opt[64];
        snprintf(opt, sizeof(opt), "--%s", key);
        for (char *c = opt + 2; *c; c++)
            if (*c == '_')
                *c = '-';
        bool known = false;
        for (const struct option *o = opts; o->name && !known; o++)
            known = strcmp(o->name, opt + 2) == 0 && strcmp(o->name, "config") &&
                    strcmp(o->name, "help");
        if (!known || nv == 32) {
            fprintf(stderr, "hearth-tpmd: --config %s: unknown key \"%s\"\n", path, key);
            json_decref(root);
            return 2;
        }
        if (json_is_string(v))
            snprintf(values[nv], sizeof(values[nv]), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(values[nv], sizeof(values[nv]), "%lld", (long long)json_integer_value(v));
        else {
            fprintf(stderr, "hearth-tpmd: --config %s: %s must be a string or an integer\n", path,
                    key);
            json_decref(root);
            return 2;
        }
        args[n++] = strdup(opt);
        args[n++] = values[nv++];
    }
    json_decref(root);
    args[n] = NULL;
    return apply(st, n, args);
}

/* The API's backend: the pool, and the CA the pool signs with. */
static int allocate(void *ctx, struct vtpm *out, double *ms, char *err, size_t errlen)
{
    return pool_allocate(ctx, out, ms, err, errlen);
}
static int release(void *ctx, const char *id) { return pool_free(ctx, id); }
static json_t *get(void *ctx, const char *id) { return pool_get_json(ctx, id); }
static json_t *list(void *ctx) { return pool_list_json(ctx); }
static json_t *status(void *ctx) { return pool_status_json(ctx); }
static char *ca_pem(void *ctx) { return ca_cert_pem(((struct pool *)ctx)->ca); }

int main(int argc, char **argv)
{
    struct settings st = {
        .po = { .min = 2,
                .max = 8,
                .concurrency = 2,
                .horizon_s = 3,
                .uid_count = 65536,
                .allocate_wait_s = 30 },
        .vo = { .ek_rsa = true, .pcr_banks = "sha256" },
        .budget = 512,
        .horizon = 3,
        .uid_base = -1,
    };
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            int r = apply_config(&st, argv[i + 1]);
            if (r >= 0)
                return r;
        }
    }
    int r = apply(&st, argc, argv);
    if (r >= 0)
        return r;
    const char *sock = st.sock, *state = st.state, *ca_key = st.ca_key, *ca_cert = st.ca_cert;
    struct pool_opts po = st.po;
    struct vtpm_opts vo = st.vo;
    int budget = st.budget, horizon = st.horizon;
    if (!sock || !state)
        return bad("--socket and --state-dir are required", NULL);
    if (po.min > po.max)
        return bad("--pool-min exceeds --pool-max", NULL);
    po.horizon_s = horizon;
    po.max_vtpms = budget / MIB_PER_VTPM;
    bool own_uids = st.uid_base != 0;
    if (own_uids && geteuid() != 0) {
        fprintf(stderr, "hearth-tpmd: warning: not root; every swtpm runs as this user\n");
        own_uids = false;
    }
    if (own_uids && po.uid_count < po.max_vtpms + po.concurrency)
        return bad("--uid-count must cover the live vTPMs (memory budget / 2) and the "
                   "concurrent manufactures",
                   NULL);
    if (st.uid_base > 0 && (uint64_t)st.uid_base + (uint64_t)po.uid_count > 0xfffffffeULL)
        return bad("--uid-base + --uid-count is past the last uid", NULL);
    /* 0711: each swtpm, running as its own uid, must reach its vTPM's tpm/
     * directory without being able to list anything. */
    if ((mkdir(state, 0711) < 0 && errno != EEXIST) || chmod(state, 0711) < 0) {
        fprintf(stderr, "hearth-tpmd: --state-dir %s: %s\n", state, strerror(errno));
        return 1;
    }
    char real[512];
    if (!realpath(state, real)) {
        fprintf(stderr, "hearth-tpmd: --state-dir %s: %s\n", state, strerror(errno));
        return 1;
    }
    vo.state_dir = real;
    char err[512];
    /* Before anything in the directory is read or changed. */
    if (lock_state_dir(real, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth-tpmd: %s\n", err);
        return 1;
    }
    po.uid_base = st.uid_base > 0 ? (uid_t)st.uid_base : UIDS_DEFAULT_BASE;
    if (own_uids &&
        uids_claim(real, &po.uid_base, po.uid_count, st.uid_base > 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth-tpmd: %s\n", err);
        return 1;
    }
    if (!own_uids)
        po.uid_base = 0;
    if (po.uid_base && !uid_can_reach(po.uid_base, real)) {
        fprintf(stderr,
                "hearth-tpmd: warning: uid %u cannot reach %s (a parent directory is not "
                "searchable); every swtpm runs as root\n",
                (unsigned)po.uid_base, real);
        po.uid_base = 0;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this */
    signal(SIGPIPE, SIG_IGN);

    static struct ca ca;
    static struct pool pool;
    static struct api api;
    const struct api_backend backend = {
        .ctx = &pool,
        .allocate = allocate,
        .release = release,
        .get = get,
        .list = list,
        .status = status,
        .ca_pem = ca_pem,
    };
    if (ca_init(&ca, real, ca_key, ca_cert, err, sizeof(err)) < 0 ||
        pool_start(&pool, &po, &vo, &ca, err, sizeof(err)) < 0 ||
        api_start(&api, sock, &backend, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth-tpmd: %s\n", err);
        return 1;
    }
    fprintf(stderr, "hearth-tpmd: serving on %s, state in %s\n", sock, real);
    int sig;
    sigwait(&set, &sig);
    api_stop(&api);
    pool_stop(&pool);
    unlink(sock);
    return 0;
}
