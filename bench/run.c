/* hearth-bench run: the thesis's experiment. Each VM of each setup is
 * timed from just before its TPM is allocated to its monitor's exit;
 * setups are interleaved so machine noise hits all of them alike. */
#include "core/clock.h"
#include "bench.h"
#include "proc.h"
#include "store.h"

#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

enum setup { BASELINE, ONDEMAND, POOL, QEMU, QEMU_TPM, NSETUPS };
static const char *const setup_names[NSETUPS] = { "baseline", "ondemand", "pool", "qemu",
                                                  "qemu-tpm" };

struct run {
    struct bench_ctx *c;
    enum setup setups[NSETUPS];
    int nsetups, total, parallelism, mem_mib, tpm_timeout_ms;
    bool measured_boot; /* hearth's, with a TPM (QEMU measures nothing) */
    const char *payload, *kernel, *initrd, *label, *manufacture;
    sqlite3 *db;
    int64_t run_ids[NSETUPS];
    unsigned seed; /* 0: setups in the given order every round */
    int *order;    /* job -> index into setups, shuffled per round with a seed */
    struct tpmd_daemon ondemand, pool;
    double t0;
    atomic_int next, done, failed;
    pthread_mutex_t db_lock;
};

static double now_us(void) { return (double)mono_ns() / 1e3; }

static bool uses_tpm(enum setup s) { return s == ONDEMAND || s == POOL || s == QEMU_TPM; }

/* The guest's verdict: false when its TAP output has a failure or no
 * summary (a VM whose TPM failed must not count as a success). */
static bool guest_passed(const char *out)
{
    FILE *f = fopen(out, "r");
    char line[512];
    bool summary = false, failed = false;
    while (f && fgets(line, sizeof(line), f)) {
        failed |= strncmp(line, "not ok", 6) == 0;
        summary |= strstr(line, "# guest: ") && strstr(line, " passed, 0 failed");
    }
    if (f)
        fclose(f);
    return summary && !failed;
}

/* The first ERROR line of hearth's log, for the error column. */
static void log_error_line(const char *log, char *out, size_t len)
{
    FILE *f = fopen(log, "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, ":ERROR] ");
        if (p) {
            snprintf(out, len, "%s", p + 8);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
}

static int64_t boot_timer_from(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[512];
    int64_t v = -1;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "Guest-boot-time = ");
        if (p && v < 0)
            v = strtoll(p + 18, NULL, 10);
    }
    if (f)
        fclose(f);
    return v;
}

/* Every round (VM i of each setup) runs its setups in an order drawn from
 * the seed (Fisher-Yates), so no setup always goes first; the same seed
 * gives the same schedule. */
static int make_order(struct run *r)
{
    int jobs = r->total * r->nsetups;
    r->order = malloc(sizeof(int) * (size_t)jobs);
    if (!r->order)
        return -1;
    unsigned state = r->seed;
    for (int round = 0; round < r->total; round++) {
        int *o = r->order + round * r->nsetups;
        for (int k = 0; k < r->nsetups; k++)
            o[k] = k;
        for (int k = r->nsetups - 1; r->seed && k > 0; k--) {
            int j = (int)((unsigned)rand_r(&state) % (unsigned)(k + 1));
            int t = o[k];
            o[k] = o[j];
            o[j] = t;
        }
    }
    return 0;
}

static void one_vm(struct run *r, int job, int worker)
{
    int which = r->order[job];
    enum setup s = r->setups[which];
    struct vm_row v = { .idx = job / r->nsetups, .boot_timer_us = -1, .exit_status = -1 };
    char id[64] = "", sock[512] = "", err[300] = "", cfg[1400], log[1400], out[1400], kernel[1200],
         args[256];
    const struct tpmd_daemon *d = s == ONDEMAND ? &r->ondemand : &r->pool;
    snprintf(cfg, sizeof(cfg), "%s/vm-%d.json", r->c->tmp, worker);
    snprintf(log, sizeof(log), "%s/vm-%d.log", r->c->tmp, worker);
    snprintf(out, sizeof(out), "%s/vm-%d.out", r->c->tmp, worker);
    if (r->kernel)
        snprintf(kernel, sizeof(kernel), "%s", r->kernel);
    else
        snprintf(kernel, sizeof(kernel), "%s/guest/%s.elf", r->c->build, r->payload);
    bool qemu = s == QEMU || s == QEMU_TPM;
    const char *model = s == QEMU_TPM ? "tis" : uses_tpm(s) ? "crb" : "none";
    if (r->kernel)
        snprintf(args, sizeof(args), "%s", bench_linux_args(qemu, s == QEMU_TPM));
    else
        snprintf(args, sizeof(args), "tpm=%s", model);

    v.start_us = (int64_t)(now_us() - r->t0);
    int ok = !uses_tpm(s) || bench_vtpm_alloc(d, id, sock, sizeof(sock), err, sizeof(err)) == 0;
    v.tpm_ready_us = (int64_t)(now_us() - r->t0);
    struct proc_result pr = { 0 };
    if (ok) {
        char hearth[1100], chardev[700], mem[16];
        char *argv[40];
        int n = 0;
        snprintf(mem, sizeof(mem), "%d", r->mem_mib);
        if (qemu) {
            static const char *fixed[] = { "-enable-kvm",
                                           "-smp",
                                           "1",
                                           "-nodefaults",
                                           "-no-user-config",
                                           "-nographic",
                                           "-serial",
                                           "stdio",
                                           "-device",
                                           "isa-debug-exit,iobase=0xf4,iosize=1" };
            argv[n++] = (char *)r->c->qemu;
            argv[n++] = "-M";
            argv[n++] = (char *)bench_qemu_machine(r->kernel != NULL);
            for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                argv[n++] = (char *)fixed[i];
            argv[n++] = "-m";
            argv[n++] = mem;
            if (s == QEMU_TPM) {
                snprintf(chardev, sizeof(chardev), "socket,id=chrtpm,path=%s", sock);
                argv[n++] = "-chardev";
                argv[n++] = chardev;
                argv[n++] = "-tpmdev";
                argv[n++] = "emulator,id=tpm0,chardev=chrtpm";
                argv[n++] = "-device";
                argv[n++] = "tpm-tis,tpmdev=tpm0";
            }
            argv[n++] = "-kernel";
            argv[n++] = kernel;
            if (r->initrd) {
                argv[n++] = "-initrd";
                argv[n++] = (char *)r->initrd;
            }
            argv[n++] = "-append";
            argv[n++] = args;
            if (r->kernel)
                argv[n++] = "-no-reboot"; /* Linux's reboot ends QEMU with status 0 */
        } else {
            FILE *f = fopen(cfg, "w");
            if (f) {
                fprintf(f,
                        "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"",
                        kernel, args);
                if (r->initrd)
                    fprintf(f, ", \"initrd_path\": \"%s\"", r->initrd);
                fprintf(f, "}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": %d}",
                        r->mem_mib);
                if (uses_tpm(s))
                    fprintf(
                        f,
                        ", \"tpm\": {\"socket\": \"%s\", \"model\": \"%s\", \"timeout_ms\": %d, "
                        "\"measured_boot\": %s}",
                        sock, model, r->tpm_timeout_ms, r->measured_boot ? "true" : "false");
                fprintf(f, "}\n");
                fclose(f);
            }
            unlink(log);
            snprintf(hearth, sizeof(hearth), "%s/hearth", r->c->build);
            argv[n++] = hearth;
            argv[n++] = "--config-file";
            argv[n++] = cfg;
            argv[n++] = "--no-api";
            argv[n++] = "--boot-timer";
            argv[n++] = "--log-path";
            argv[n++] = log;
        }
        argv[n] = NULL;
        v.exec_us = (int64_t)(now_us() - r->t0);
        if (proc_run(argv, r->kernel ? NULL : out, 60000, &pr) < 0) {
            snprintf(err, sizeof(err), "could not start the monitor");
            ok = 0;
        }
        v.end_us = v.exec_us + pr.wall_us;
        v.exit_status = pr.status;
        if (ok && pr.timed_out)
            snprintf(err, sizeof(err), "timed out after 60 s"), ok = 0;
        else if (ok && pr.status != (qemu && !r->kernel ? 1 : 0))
            snprintf(err, sizeof(err), "exit status %d", pr.status), ok = 0;
        else if (ok && !r->kernel && !guest_passed(out))
            snprintf(err, sizeof(err), "the guest reported failures"), ok = 0;
        if (!ok && !qemu) {
            char why[256] = "";
            log_error_line(log, why, sizeof(why));
            if (why[0]) {
                size_t used = strlen(err);
                snprintf(err + used, sizeof(err) - used, ": %s", why);
            }
        }
        if (!qemu)
            v.boot_timer_us = boot_timer_from(log);
    } else {
        v.exec_us = v.end_us = v.tpm_ready_us;
    }
    if (id[0])
        bench_vtpm_free(d, id);
    v.error = ok ? NULL : err;
    pthread_mutex_lock(&r->db_lock);
    store_add_vm(r->db, r->run_ids[which], setup_names[s], &v);
    pthread_mutex_unlock(&r->db_lock);
    if (!ok)
        atomic_fetch_add(&r->failed, 1);
}

static void progress(struct run *r, bool last)
{
    if (!isatty(STDERR_FILENO))
        return;
    int done = atomic_load(&r->done), all = r->total * r->nsetups;
    double secs = (now_us() - r->t0) / 1e6, rate = done / (secs > 0 ? secs : 1);
    fprintf(stderr, "\r%d/%d VMs, %d failed, %.1f VMs/s, ETA %.0f s   %s", done, all,
            atomic_load(&r->failed), rate, rate > 0 ? (all - done) / rate : 0, last ? "\n" : "");
}

static void *worker(void *arg)
{
    struct run *r = ((void **)arg)[0];
    int w = (int)(intptr_t)((void **)arg)[1];
    for (;;) {
        int job = atomic_fetch_add(&r->next, 1);
        if (job >= r->total * r->nsetups)
            return NULL;
        one_vm(r, job, w);
        atomic_fetch_add(&r->done, 1);
        progress(r, false);
    }
}

int cmd_run(struct bench_ctx *c, int argc, char **argv)
{
    static struct run r;
    r = (struct run){ .c = c,
                      .total = 500,
                      .parallelism = 1,
                      .mem_mib = 128,
                      .tpm_timeout_ms = 2000,
                      .payload = "tpm_probe",
                      .label = "",
                      .manufacture = "fast",
                      .measured_boot = true };
    const char *db_path = "build/bench.db";
    static const struct option opts[] = {
        { "setup", required_argument, NULL, 's' },
        { "total-vms", required_argument, NULL, 'n' },
        { "parallelism", required_argument, NULL, 'p' },
        { "payload", required_argument, NULL, 'P' },
        { "kernel", required_argument, NULL, 'k' },
        { "initrd", required_argument, NULL, 'i' },
        { "mem-mib", required_argument, NULL, 'm' },
        { "db", required_argument, NULL, 'd' },
        { "label", required_argument, NULL, 'l' },
        { "seed", required_argument, NULL, 'S' },
        { "manufacture", required_argument, NULL, 'f' },
        { "tpm-timeout-ms", required_argument, NULL, 't' },
        { "no-measured-boot", no_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': {
            int k = 0;
            while (k < NSETUPS && strcmp(setup_names[k], optarg))
                k++;
            if (k == NSETUPS || r.nsetups == NSETUPS) {
                fprintf(stderr,
                        "hearth-bench run: --setup must be baseline, ondemand, pool, qemu "
                        "or qemu-tpm: %s\n",
                        optarg);
                return 2;
            }
            r.setups[r.nsetups++] = (enum setup)k;
            break;
        }
        case 'n': r.total = atoi(optarg); break;
        case 'p': r.parallelism = atoi(optarg); break;
        case 'P': r.payload = optarg; break;
        case 'k': r.kernel = optarg; break;
        case 'i': r.initrd = optarg; break;
        case 'm': r.mem_mib = atoi(optarg); break;
        case 't': r.tpm_timeout_ms = atoi(optarg); break;
        case 'd': db_path = optarg; break;
        case 'l': r.label = optarg; break;
        case 'S': r.seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': r.manufacture = optarg; break;
        case 'M': r.measured_boot = false; break;
        default: return 2;
        }
    }
    if (r.nsetups == 0)
        r.setups[r.nsetups++] = BASELINE;
    if (r.total < 1 || r.parallelism < 1 || r.parallelism > 256 || r.mem_mib < 2 ||
        r.tpm_timeout_ms < 1) {
        fprintf(stderr, "hearth-bench run: --total-vms >= 1, --parallelism 1..256, --mem-mib >= 2, "
                        "--tpm-timeout-ms >= 1\n");
        return 2;
    }
    bool want_ondemand = false, want_pool = false;
    for (int i = 0; i < r.nsetups; i++) {
        want_ondemand |= r.setups[i] == ONDEMAND;
        want_pool |= r.setups[i] == POOL || r.setups[i] == QEMU_TPM;
        if ((r.setups[i] == QEMU || r.setups[i] == QEMU_TPM) && !c->qemu) {
            fprintf(stderr, "hearth-bench run: QEMU setups need qemu-system-x86_64\n");
            return 2;
        }
    }
    if (store_open(db_path, &r.db) < 0)
        return 1;
    char args[256];
    int bad = 0;
    if (want_ondemand) {
        snprintf(args, sizeof(args),
                 "--pool-max 0 --pool-min 0 --manufacture %s --memory-budget-mib %d", r.manufacture,
                 4 * (r.parallelism + 8));
        bad |= bench_tpmd_start(c, &r.ondemand, "ondemand", args) < 0;
    }
    if (want_pool) {
        int min = 2 * r.parallelism < 4 ? 4 : 2 * r.parallelism;
        snprintf(args, sizeof(args),
                 "--pool-min %d --pool-max %d --manufacture %s "
                 "--concurrency 2 --memory-budget-mib %d",
                 min, 2 * min, r.manufacture, 8 * min + 64);
        bad |= bench_tpmd_start(c, &r.pool, "pool", args) < 0;
        for (int t = 0; !bad && t < 1200 && bench_tpmd_ready(c, &r.pool) < min; t++)
            usleep(100000); /* the pool is filled before the clock starts, as in the thesis */
    }
    if (bad) {
        fprintf(stderr, "hearth-bench run: hearth-tpmd did not start (see %s/tpmd.log)\n", c->tmp);
        return 1;
    }
    char host[160];
    bench_host_desc(host, sizeof(host));
    char cmdline[2048] = "hearth-bench";
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(cmdline);
        snprintf(cmdline + used, sizeof(cmdline) - used, " %s", argv[i]);
    }
    const char *payload = r.kernel ? r.kernel : r.payload;
    for (int i = 0; i < r.nsetups; i++) {
        r.run_ids[i] = store_add_run(r.db, r.label, setup_names[r.setups[i]], r.total,
                                     r.parallelism, payload, host, cmdline);
        printf("run %lld: %s\n", (long long)r.run_ids[i], setup_names[r.setups[i]]);
    }
    if (make_order(&r) < 0)
        return 1;
    pthread_mutex_init(&r.db_lock, NULL);
    r.t0 = now_us();
    pthread_t threads[256];
    void *targs[256][2];
    for (int i = 0; i < r.parallelism; i++) {
        targs[i][0] = &r;
        targs[i][1] = (void *)(intptr_t)i;
        pthread_create(&threads[i], NULL, worker, targs[i]);
    }
    for (int i = 0; i < r.parallelism; i++)
        pthread_join(threads[i], NULL);
    progress(&r, true);
    if (want_ondemand)
        bench_tpmd_stop(c, &r.ondemand);
    if (want_pool)
        bench_tpmd_stop(c, &r.pool);
    sqlite3_close(r.db);
    free(r.order);
    printf("%d VMs, %d failed; stored in %s\n", r.total * r.nsetups, atomic_load(&r.failed),
           db_path);
    return 0;
}
