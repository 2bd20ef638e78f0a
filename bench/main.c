/* hearth-bench: measures hearth side by side with QEMU microvm. */
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

const char *bench_linux_args(bool qemu, bool qemu_tis)
{
    if (!qemu)
        return "console=ttyS0 reboot=k panic=-1 quiet";
    return qemu_tis ? "console=ttyS0 reboot=t panic=-1 quiet tpm_tis.force=1"
                    : "console=ttyS0 reboot=t panic=-1 quiet";
}

const char *bench_qemu_machine(bool linux_guest)
{
    return linux_guest ? "microvm,x-option-roms=off" : "microvm,x-option-roms=off,rtc=off";
}

void bench_write_config(const struct bench_ctx *c, const char *path, const char *payload,
                        unsigned mem_mib, const char *args, const char *tpm_sock,
                        const char *tpm_model)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(
        f,
        "{\"boot-source\": {\"kernel_image_path\": \"%s/guest/%s.elf\", \"boot_args\": \"%s\"},\n"
        " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": %u}",
        c->build, payload, args, mem_mib);
    if (tpm_sock)
        fprintf(f, ",\n \"tpm\": {\"socket\": \"%s\", \"model\": \"%s\"}", tpm_sock, tpm_model);
    fprintf(f, "}\n");
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* argv for one monitor booting `payload`; storage lives in `buf`. */
static char **monitor_argv(const struct bench_ctx *c, bool qemu, const char *payload,
                           unsigned mem_mib, char buf[][PATH_MAX], char **argv)
{
    int n = 0;
    if (qemu) {
        static const char *fixed[] = { "-M",
                                       "microvm,x-option-roms=off,rtc=off",
                                       "-enable-kvm",
                                       "-smp",
                                       "1",
                                       "-nodefaults",
                                       "-no-user-config",
                                       "-nographic",
                                       "-serial",
                                       "stdio",
                                       "-device",
                                       "isa-debug-exit,iobase=0xf4,iosize=1" };
        argv[n++] = (char *)c->qemu;
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            argv[n++] = (char *)fixed[i];
        snprintf(buf[0], PATH_MAX, "%u", mem_mib);
        argv[n++] = "-m";
        argv[n++] = buf[0];
        snprintf(buf[1], PATH_MAX, "%s/guest/%s.elf", c->build, payload);
        argv[n++] = "-kernel";
        argv[n++] = buf[1];
    } else {
        snprintf(buf[0], PATH_MAX, "%s/hearth", c->build);
        snprintf(buf[1], PATH_MAX, "%s/%s-%u.json", c->tmp, payload, mem_mib);
        bench_write_config(c, buf[1], payload, mem_mib, "", NULL, NULL);
        argv[n++] = buf[0];
        argv[n++] = "--config-file";
        argv[n++] = buf[1];
        argv[n++] = "--no-api";
        argv[n++] = "--level";
        argv[n++] = "Error";
    }
    argv[n] = NULL;
    return argv;
}

struct series {
    double wall_ms[1000];
    double rss_mib[1000];
    int n, failed;
};

static void sample(const struct bench_ctx *c, bool qemu, const char *payload, unsigned mem,
                   struct series *s)
{
    char buf[2][PATH_MAX], *argv[32];
    struct proc_result r;
    monitor_argv(c, qemu, payload, mem, buf, argv);
    /* hearth exits 0 on the guest's reset; QEMU 1 on isa-debug-exit(0). */
    if (proc_run(argv, NULL, 10000, &r) == 0 && !r.timed_out && r.status == (qemu ? 1 : 0)) {
        s->wall_ms[s->n] = (double)r.wall_us / 1000.0;
        s->rss_mib[s->n] = (double)r.maxrss_kib / 1024.0;
        s->n++;
    } else {
        s->failed++;
    }
}

static void row(const char *name, struct series *s)
{
    struct stats w, m;
    stats_compute(s->wall_ms, (size_t)s->n, &w);
    stats_compute(s->rss_mib, (size_t)s->n, &m);
    printf("| %-26s | %3d | %6d | %8.2f | %8.2f | %8.2f | %9.1f |\n", name, s->n, s->failed, w.p50,
           w.p95, w.min, m.p50);
}

int cmd_boot(struct bench_ctx *c)
{
    static struct series h128, q128, h8g;
    for (int i = 0; i < c->runs; i++) {
        /* Interleaved, so machine noise hits every series alike. */
        sample(c, false, "hello", 128, &h128);
        if (c->qemu)
            sample(c, true, "hello", 128, &q128);
        sample(c, false, "hello", 8192, &h8g);
    }
    struct smaps_total hm = { 0 }, qm = { 0 };
    char buf[2][PATH_MAX], *argv[32];
    int hr = proc_measure_when_ready(monitor_argv(c, false, "idle", 128, buf, argv),
                                     "# idle: ready", 64 * 1024, 10000, &hm);
    int qr = c->qemu ? proc_measure_when_ready(monitor_argv(c, true, "idle", 128, buf, argv),
                                               "# idle: ready", 64 * 1024, 10000, &qm)
                     : -ENOENT;

    struct utsname u;
    uname(&u);
    char host[160];
    bench_host_desc(host, sizeof(host));
    printf("# hearth-bench boot: %d runs per series, interleaved; host %s, kernel %s, %ld CPUs\n\n",
           c->runs, host, u.release, sysconf(_SC_NPROCESSORS_ONLN));
    printf("| %-26s | %3s | %6s | %8s | %8s | %8s | %9s |\n", "series (hello payload)", "n",
           "failed", "p50 ms", "p95 ms", "min ms", "RSS MiB");
    printf(
        "|----------------------------|-----|--------|----------|----------|----------|-----------|\n");
    row("hearth 1 vCPU 128 MiB", &h128);
    row("hearth 1 vCPU 8192 MiB", &h8g);
    if (c->qemu)
        row("qemu microvm 1 vCPU 128 MiB", &q128);
    printf("\nMemory while an idle guest runs (1 vCPU, 128 MiB), excluding guest RAM:\n\n");
    printf("| monitor | private (Rss) KiB | writable private mappings KiB |\n|---|---|---|\n");
    if (hr == 0)
        printf("| hearth | %llu | %llu |\n", (unsigned long long)hm.private_kib,
               (unsigned long long)hm.writable_kib);
    else
        printf("| hearth | failed: %s | |\n", strerror(-hr));
    if (qr == 0)
        printf("| qemu microvm | %llu | %llu |\n", (unsigned long long)qm.private_kib,
               (unsigned long long)qm.writable_kib);

    struct stats a, b, g;
    stats_compute(h128.wall_ms, (size_t)h128.n, &a);
    stats_compute(h8g.wall_ms, (size_t)h8g.n, &g);
    printf("\nTargets (issue 2):\n");
    if (c->qemu) {
        stats_compute(q128.wall_ms, (size_t)q128.n, &b);
        struct stats ra, rb;
        stats_compute(h128.rss_mib, (size_t)h128.n, &ra);
        stats_compute(q128.rss_mib, (size_t)q128.n, &rb);
        printf("- hello wall time hearth/qemu: %.3f (target <= 0.2)\n", a.p50 / b.p50);
        printf("- peak RSS hearth/qemu: %.3f (target <= 0.125)\n", ra.p50 / rb.p50);
    }
    printf("- hearth private memory excluding guest RAM: %llu KiB (target <= 1024)\n",
           (unsigned long long)hm.private_kib);
    printf("- 8192 MiB vs 128 MiB start, p50: %+.1f%% (target within 10%%)\n",
           (g.p50 / a.p50 - 1) * 100);
    return h128.failed || h8g.failed || q128.failed || hr ? 1 : 0;
}

static void usage(void)
{
    fputs(
        "Usage: hearth-bench boot|api|jailer|tpm|tpmd|measure [--build DIR] [--runs N] [--qemu PATH|--no-qemu]\n"
        "       hearth-bench run [--setup baseline|ondemand|pool|qemu|qemu-tpm]... [--total-vms N]\n"
        "             [--parallelism P] [--payload NAME | --kernel PATH [--initrd PATH]]\n"
        "             [--mem-mib M] [--db PATH] [--label L] [--seed N] [--manufacture fast|swtpm_setup]\n"
        "             [--tpm-timeout-ms MS (hearth's per-command vTPM deadline, 2000)] [--no-measured-boot]\n"
        "       hearth-bench report [--db PATH] [--out DIR] RUN_ID...\n"
        "       hearth-bench export --csv [--db PATH] RUN_ID\n"
        "       hearth-bench memory [--mem-sizes 128,256,...] [--out DIR]\n"
        "       hearth-bench surface [--src DIR]\n"
        "       hearth-bench exits [--runs N] [--kernel PATH --initrd PATH] [--payloads a,b]\n"
        "             [--before BUILD_DIR] [--qemu-models none,crb,tis] [--out DIR] [--tpm-timeout-ms MS]\n"
        "       hearth-bench attest (--vsock UDS [--port N] | --unix PATH)... (--ca PEM |\n"
        "             --tpmd-socket SOCK) --policy FILE [--runs N (100)] [--rounds R (5)]\n"
        "       hearth-bench devices [--runs N] [--kernel VMLINUX] [--src DIR]\n"
        "  boot: boots the hello payload N times (default 20) with hearth (128 MiB\n"
        "        and 8192 MiB) and QEMU microvm, interleaved; prints median wall time\n"
        "        from exec to exit, peak RSS, and each monitor's private memory\n"
        "        excluding guest RAM (idle payload, /proc/PID/smaps).\n"
        "  api:  the REST API: exec to a socket that accepts (10*N starts, wall and\n"
        "        hearth's CPU), 10000 PUT round trips on one connection, VMM memory\n"
        "        with the API thread while an idle guest runs.\n"
        "  jailer: the hello payload from exec to exit, directly and through\n"
        "        hearth-jailer (chroot, pid namespace, cgroup, uid), interleaved.\n"
        "  tpm:  TPM2_GetRandom round trips (raw swtpm socket, hearth's backend, the\n"
        "        guest over CRB/TIS/virtio), tpm_basic boot to exit N times with\n"
        "        hearth (CRB, TIS) and QEMU microvm + tpm-tis, and the TPM's memory.\n"
        "  tpmd: hearth-tpmd: N manufactures per method (fast RSA, fast ECC,\n"
        "        swtpm_setup), allocation latency from a ready pool, pool throughput,\n"
        "        swtpm memory per ready vTPM.\n"
        "  exits: VM exits (KVM's statistics) per boot and per TPM command: the Linux\n"
        "        guest and payloads with no TPM and each transport, hearth (and the\n"
        "        hearth in --before) vs QEMU microvm; tables, and charts with --out.\n"
        "  measure: tpm_basic padded to a 10 MiB kernel with a 20 MiB initrd,\n"
        "        measured_boot on and off interleaved: hearth's measuring time\n"
        "        (BANKS=sha256 by default) and exec to exit.\n"
        "  attest: hearth-attest's round trip (nonce to verdict) against the first\n"
        "        target N times in a row (p50, p99), then every target at once for R\n"
        "        rounds (VMs attested per second).\n"
        "  devices: Debian's Linux with virtio-blk, -net, -vsock and -rng, hearth and\n"
        "        QEMU microvm interleaved: 4 KiB random-read IOPS, sequential MiB/s,\n"
        "        TCP guest->host MiB/s, private memory; hearth's memory per device.\n"
        "        Needs build/kernel (scripts/fetch-kernel.sh) and a KVM that runs Linux.\n",
        stderr);
}

/* The subcommands: those with their own options get argc/argv. */
static const struct {
    const char *name;
    int (*plain)(struct bench_ctx *c);
    int (*with_args)(struct bench_ctx *c, int argc, char **argv);
} commands[] = {
    { "boot", cmd_boot, NULL },       { "api", cmd_api, NULL },
    { "jailer", cmd_jailer, NULL },   { "tpm", cmd_tpm, NULL },
    { "tpmd", cmd_tpmd, NULL },       { "run", NULL, cmd_run },
    { "report", NULL, cmd_report },   { "export", NULL, cmd_export },
    { "memory", NULL, cmd_memory },   { "surface", NULL, cmd_surface },
    { "exits", NULL, cmd_exits },     { "attest", NULL, cmd_attest },
    { "measure", cmd_measure, NULL }, { "devices", NULL, cmd_devices },
};

int main(int argc, char **argv)
{
    struct bench_ctx c = { .runs = 20, .qemu = "/usr/bin/qemu-system-x86_64" };
    const char *build = "build";
    int cmd = -1;
    for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = (int)i;
    if (cmd < 0) {
        usage();
        return 2;
    }
    const char *what = argv[1];
    bool own_args = commands[cmd].with_args != NULL;
    if (own_args) {
        /* Take the common options out; the subcommand parses the rest. */
        int kept = 1;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--build") && i + 1 < argc)
                build = argv[++i];
            else if (!strcmp(argv[i], "--qemu") && i + 1 < argc)
                c.qemu = argv[++i];
            else if (!strcmp(argv[i], "--no-qemu"))
                c.qemu = NULL;
            else
                argv[kept++] = argv[i];
        }
        argc = kept;
        argv[argc] = NULL;
        if (c.qemu && access(c.qemu, X_OK) != 0)
            c.qemu = NULL;
    }
    static const struct option opts[] = {
        { "build", required_argument, NULL, 'b' }, { "runs", required_argument, NULL, 'n' },
        { "qemu", required_argument, NULL, 'q' },  { "no-qemu", no_argument, NULL, 'Q' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 }
    };
    int o;
    optind = 2;
    while (!own_args && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'b': build = optarg; break;
        case 'n': c.runs = atoi(optarg); break;
        case 'q': c.qemu = optarg; break;
        case 'Q': c.qemu = NULL; break;
        default: usage(); return o == 'h' ? 0 : 2;
        }
    }
    bool needs_build = strcmp(what, "report") != 0 && strcmp(what, "export") != 0;
    char *abs = needs_build ? realpath(build, NULL) : strdup(".");
    if (c.runs < 1 || c.runs > 1000 || !abs || strlen(abs) >= BENCH_DIR_MAX) {
        fprintf(stderr, "hearth-bench: --runs must be 1..1000 and --build an existing directory\n");
        free(abs);
        return 2;
    }
    snprintf(c.build, sizeof(c.build), "%s", abs);
    free(abs);
    if (c.qemu && access(c.qemu, X_OK) != 0) {
        fprintf(stderr, "hearth-bench: %s not found; pass --no-qemu to skip the peer\n", c.qemu);
        return 2;
    }
    const char *tmpdir = getenv("TMPDIR");
    if ((size_t)snprintf(c.tmp, sizeof(c.tmp), "%s/hearth-bench.XXXXXX",
                         tmpdir && *tmpdir ? tmpdir : "/tmp") >= sizeof(c.tmp)) {
        fprintf(stderr, "hearth-bench: TMPDIR is longer than %zu bytes\n", sizeof(c.tmp) - 24);
        return 2;
    }
    /* 0711: hearth-tpmd's swtpms run as their own uids and must reach it,
     * as in production. */
    if (!mkdtemp(c.tmp) || chmod(c.tmp, 0711) < 0) {
        perror("mkdtemp");
        return 1;
    }
    int r = own_args ? commands[cmd].with_args(&c, argc - 1, argv + 1) : commands[cmd].plain(&c);
    char rm[96];
    snprintf(rm, sizeof(rm), "rm -rf %s", c.tmp);
    if (system(rm) != 0)
        fprintf(stderr, "hearth-bench: could not remove %s\n", c.tmp);
    return r;
}
