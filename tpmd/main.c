/* hearth-tpmd: manufactures vTPMs and keeps a pool of ready ones. */
#include "api.h"
#include "ca.h"
#include "pool.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    "  --memory-budget-mib N   live vTPMs at most N / 2 (default 512)\n"
    "  --horizon-s S           keep enough ready vTPMs for S seconds of demand (default 3)\n"
    "  --ca-key PEM --ca-cert PEM   an operator CA instead of STATE/ca\n"
    "  --user NAME             run swtpm as NAME (default: tss when it exists)\n";

static int bad(const char *msg, const char *arg)
{
    fprintf(stderr, "hearth-tpmd: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return 2;
}

/* Whether `user` can reach `dir` (every ancestor searchable for it). */
static bool user_can_reach(const char *user, const char *dir)
{
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
            _exit(1);
        _exit(access(dir, X_OK) == 0 ? 0 : 1);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
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

int main(int argc, char **argv)
{
    const char *sock = NULL, *state = NULL, *ca_key = NULL, *ca_cert = NULL, *user = NULL;
    struct pool_opts po = { .min = 2, .max = 8, .concurrency = 2, .horizon_s = 3 };
    struct vtpm_opts vo = { .ek_rsa = true };
    int budget = 512, horizon = 3;
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },   { "state-dir", required_argument, NULL, 'd' },
        { "pool-min", required_argument, NULL, 'm' }, { "pool-max", required_argument, NULL, 'M' },
        { "concurrency", required_argument, NULL, 'c' },
        { "manufacture", required_argument, NULL, 'f' }, { "ek", required_argument, NULL, 'e' },
        { "memory-budget-mib", required_argument, NULL, 'b' },
        { "horizon-s", required_argument, NULL, 'H' }, { "ca-key", required_argument, NULL, 'k' },
        { "ca-cert", required_argument, NULL, 'C' },  { "user", required_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': sock = optarg; break;
        case 'd': state = optarg; break;
        case 'm': if (!parse_int(optarg, 0, 1000, &po.min)) return bad("--pool-min must be 0..1000", optarg); break;
        case 'M': if (!parse_int(optarg, 0, 1000, &po.max)) return bad("--pool-max must be 0..1000", optarg); break;
        case 'c': if (!parse_int(optarg, 1, 16, &po.concurrency)) return bad("--concurrency must be 1..16", optarg); break;
        case 'b': if (!parse_int(optarg, 2, 1 << 20, &budget)) return bad("--memory-budget-mib must be >= 2", optarg); break;
        case 'H': if (!parse_int(optarg, 1, 3600, &horizon)) return bad("--horizon-s must be 1..3600", optarg); break;
        case 'f':
            if (strcmp(optarg, "swtpm_setup") && strcmp(optarg, "fast"))
                return bad("--manufacture must be swtpm_setup or fast", optarg);
            vo.fast = strcmp(optarg, "fast") == 0;
            break;
        case 'e':
            if (strcmp(optarg, "rsa") && strcmp(optarg, "ecc") && strcmp(optarg, "both"))
                return bad("--ek must be rsa, ecc or both", optarg);
            vo.ek_rsa = strcmp(optarg, "ecc") != 0;
            vo.ek_ecc = strcmp(optarg, "rsa") != 0;
            break;
        case 'k': ca_key = optarg; break;
        case 'C': ca_cert = optarg; break;
        case 'u': user = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return bad("unknown option", argv[optind - 1]);
        }
    }
    if (!sock || !state)
        return bad("--socket and --state-dir are required", NULL);
    if (po.min > po.max)
        return bad("--pool-min exceeds --pool-max", NULL);
    po.horizon_s = horizon;
    po.max_vtpms = budget / MIB_PER_VTPM;
    if (!user && getpwnam("tss"))
        user = "tss";
    else if (!user)
        fprintf(stderr, "hearth-tpmd: warning: no 'tss' user; swtpm runs as root\n");
    else if (!getpwnam(user))
        return bad("--user: no such user", user);
    /* 0711: swtpm, running as its own user, must reach its vTPM directory
     * (0700, its own) without being able to list anything. */
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
    if (user && !user_can_reach(user, real)) {
        fprintf(stderr, "hearth-tpmd: warning: user %s cannot reach %s (a parent directory is not "
                        "searchable); swtpm runs as root\n", user, real);
        user = NULL;
    }
    vo.user = user;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this */
    signal(SIGPIPE, SIG_IGN);

    static struct ca ca;
    static struct pool pool;
    static struct api api;
    char err[512];
    if (ca_init(&ca, real, ca_key, ca_cert, err, sizeof(err)) < 0 ||
        pool_start(&pool, &po, &vo, &ca, err, sizeof(err)) < 0 ||
        api_start(&api, sock, &pool, &ca, err, sizeof(err)) < 0) {
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
