/* hearth-bench exits: what a TPM costs in VM exits. Boots the Linux guest
 * and payloads with no TPM and with each transport under hearth (and an
 * earlier hearth, --before), and QEMU microvm, in interleaved rounds, and
 * reports KVM's own exit counters per boot and per TPM command. */
#include "bench.h"
#include "core/clock.h"
#include "core/exits.h"
#include "proc.h"
#include "qmp.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SETUPS 48
#define MAX_RUNS 50

enum monitor { MON_HEARTH, MON_BEFORE, MON_QEMU, NMON };
static const char *const monitor_names[NMON] = { "hearth", "hearth (before)", "qemu microvm" };

struct sample {
    double wall_ms;
    double kvm[KVM_STAT_N];
    double to_monitor;                     /* exits that reached hearth (hearth only) */
    double tpm_exits;                      /* of those, the TPM device's */
    double commands, cmd_bytes, rsp_bytes; /* what swtpm saw */
};

struct setup {
    const char *guest; /* "linux" or a payload */
    const char *model; /* none, crb, tis, virtio */
    enum monitor mon;
    int n, failed;
    struct sample s[MAX_RUNS];
    struct sample med; /* medians, field by field */
};

struct exits_run {
    struct bench_ctx *c;
    const char *kernel, *initrd, *before, *out;
    char payloads[256];
    const char *qemu_models;
    int runs, tpm_timeout_ms, nsetups;
    struct setup setups[MAX_SETUPS];
};

static double now_ms(void) { return (double)mono_ns() / 1e6; }

static bool is_linux(const struct setup *s) { return strcmp(s->guest, "linux") == 0; }
static bool has_tpm(const struct setup *s) { return strcmp(s->model, "none") != 0; }

/* Adds every integer of `line` into `acc` (metrics lines hold deltas). */
static void accumulate(json_t *acc, json_t *line)
{
    const char *k;
    json_t *v;
    json_object_foreach(line, k, v) {
        json_t *a = json_object_get(acc, k);
        if (json_is_object(v)) {
            if (!json_is_object(a))
                json_object_set_new(acc, k, a = json_object());
            accumulate(a, v);
        } else if (json_is_integer(v)) {
            json_int_t prev = json_is_integer(a) ? json_integer_value(a) : 0;
            json_object_set_new(acc, k, json_integer(prev + json_integer_value(v)));
        }
    }
}

static double get(json_t *acc, const char *group, const char *key)
{
    return (double)json_integer_value(json_object_get(json_object_get(acc, group), key));
}

/* hearth's counts: its metrics lines, summed. */
static int read_metrics(const char *path, struct sample *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    json_t *acc = json_object();
    char line[16 * 1024];
    int lines = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *l = json_loads(line, 0, NULL);
        if (l) {
            accumulate(acc, l);
            lines++;
        }
        json_decref(l);
    }
    fclose(f);
    for (int k = 0; k < KVM_STAT_N; k++)
        s->kvm[k] = get(acc, "kvm_exits", kvm_exit_stat_names[k]);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(acc, "vcpu"), key, v)
        s->to_monitor += (double)json_integer_value(v);
    json_object_foreach(json_object_get(acc, "exits_by_device"), key, v)
        if (strncmp(key, "tpm-", 4) == 0 || strcmp(key, "virtio-tpm") == 0)
            s->tpm_exits += (double)json_integer_value(json_object_get(v, "exits"));
    int ok = lines > 0 && json_object_get(json_object_get(acc, "kvm_exits"), "exits");
    json_decref(acc);
    return ok ? 0 : -1;
}

/* What swtpm saw: its level-2 log has a line per command and response. */
static void read_swtpm_log(const char *path, struct sample *s)
{
    FILE *f = fopen(path, "r");
    char line[512];
    unsigned n;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, " SWTPM_IO_Read: length %u", &n) == 1) {
            s->commands++;
            s->cmd_bytes += n;
        } else if (sscanf(line, " SWTPM_IO_Write: length %u", &n) == 1) {
            s->rsp_bytes += n;
        }
    }
    if (f)
        fclose(f);
}

/* Linux reboots through the i8042 under hearth; QEMU microvm has none (the
 * kernel would spin on its status port, then jump into the firmware), so
 * there it triple-faults, which QEMU takes as a reset. */
/* A payload with a TPM must pass its own tests (without one it fails by
 * design); a Linux guest's verdict is its clean reboot. */
static bool guest_passed(const struct setup *st, const char *out)
{
    if (is_linux(st) || !has_tpm(st))
        return true;
    FILE *f = fopen(out, "r");
    char line[512];
    bool ok = false;
    while (f && fgets(line, sizeof(line), f))
        ok |= strstr(line, "# guest: ") && strstr(line, " passed, 0 failed");
    if (f)
        fclose(f);
    return ok;
}

static const char *guest_args(const struct setup *st, char *buf, size_t len)
{
    if (is_linux(st))
        snprintf(buf, len, "%s", bench_linux_args(st->mon == MON_QEMU, has_tpm(st)));
    else
        snprintf(buf, len, "tpm=%s", st->model);
    return buf;
}

static int run_hearth(struct exits_run *r, struct setup *st, const char *sock, struct sample *s)
{
    const struct bench_ctx *c = r->c;
    char cfg[1200], metrics[1200], log[1200], out[1200], kernel[1200], args[160], hearth[1200];
    snprintf(cfg, sizeof(cfg), "%s/exits.json", c->tmp);
    snprintf(metrics, sizeof(metrics), "%s/exits.metrics", c->tmp);
    snprintf(log, sizeof(log), "%s/exits.log", c->tmp);
    snprintf(out, sizeof(out), "%s/exits.out", c->tmp);
    /* The earlier build boots its own payloads: their drivers are part of
     * what changed. */
    const char *build = st->mon == MON_BEFORE ? r->before : c->build;
    snprintf(hearth, sizeof(hearth), "%s/hearth", build);
    if (is_linux(st))
        snprintf(kernel, sizeof(kernel), "%s", r->kernel);
    else
        snprintf(kernel, sizeof(kernel), "%s/guest/%s.elf", build, st->guest);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"", kernel,
            guest_args(st, args, sizeof(args)));
    if (is_linux(st) && r->initrd)
        fprintf(f, ", \"initrd_path\": \"%s\"", r->initrd);
    fprintf(f, "}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": %d}",
            is_linux(st) ? 256 : 128);
    /* No measured boot: its commands come from hearth before the guest runs
     * (no guest exits), and would blur the per-command count with QEMU's. */
    if (has_tpm(st))
        fprintf(f,
                ", \"tpm\": {\"socket\": \"%s\", \"model\": \"%s\", \"timeout_ms\": %d, "
                "\"measured_boot\": false}",
                sock, st->model, r->tpm_timeout_ms);
    fprintf(f, "}\n");
    fclose(f);
    unlink(metrics);
    unlink(log);
    char *argv[] = { hearth,  "--config-file", cfg, "--no-api", "--metrics-path",
                     metrics, "--log-path",    log, NULL };
    struct proc_result pr;
    if (proc_run(argv, out, 600000, &pr) < 0 || pr.timed_out || pr.status != 0 ||
        !guest_passed(st, out))
        return -1;
    s->wall_ms = (double)pr.wall_us / 1000.0;
    return read_metrics(metrics, s);
}

static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* QEMU ends a payload on isa-debug-exit, which would take its statistics
 * with it: without that device the payload halts instead, and is done once
 * its TAP summary is out and KVM's exit count stands still. Linux reboots;
 * -action turns that into a pause. Then query-stats, then quit. */
static int run_qemu(struct exits_run *r, struct setup *st, const char *sock, struct sample *s)
{
    const struct bench_ctx *c = r->c;
    char kernel[1200], args[160], serial[1300], qmp_path[1200], qmp_opt[1300], chardev[1200],
        tpmdev[64], mem[16];
    if (is_linux(st))
        snprintf(kernel, sizeof(kernel), "%s", r->kernel);
    else
        snprintf(kernel, sizeof(kernel), "%s/guest/%s.elf", c->build, st->guest);
    snprintf(serial, sizeof(serial), "file:%s/exits.out", c->tmp);
    snprintf(qmp_path, sizeof(qmp_path), "%s/qmp.sock", c->tmp);
    snprintf(qmp_opt, sizeof(qmp_opt), "unix:%s,server=on,wait=off", qmp_path);
    snprintf(chardev, sizeof(chardev), "socket,id=chrtpm,path=%s", sock);
    snprintf(tpmdev, sizeof(tpmdev), "tpm-%s,tpmdev=tpm0", st->model);
    snprintf(mem, sizeof(mem), "%d", is_linux(st) ? 256 : 128);
    char *argv[48];
    int n = 0;
    const char *machine = bench_qemu_machine(is_linux(st));
    const char *fixed[] = {
        c->qemu,    "-M",      machine,   "-enable-kvm", "-smp",
        "1",        "-m",      mem,       "-nodefaults", "-no-user-config",
        "-display", "none",    "-serial", serial,        "-qmp",
        qmp_opt,    "-kernel", kernel,    "-append",     guest_args(st, args, sizeof(args))
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        argv[n++] = (char *)fixed[i];
    if (is_linux(st)) {
        if (r->initrd) {
            argv[n++] = "-initrd";
            argv[n++] = (char *)r->initrd;
        }
        argv[n++] = "-action";
        argv[n++] = "reboot=shutdown,shutdown=pause";
    }
    if (has_tpm(st)) {
        char *tpm[] = { "-chardev", chardev, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                        "-device",  tpmdev };
        for (int i = 0; i < 6; i++)
            argv[n++] = tpm[i];
    }
    argv[n] = NULL;
    unlink(qmp_path);
    char out_path[1200];
    snprintf(out_path, sizeof(out_path), "%s/exits.out", c->tmp);
    unlink(out_path);
    double t0 = now_ms();
    char err_path[1200];
    snprintf(err_path, sizeof(err_path), "%s/qemu.err", c->tmp);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(err >= 0 ? err : null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    struct qmp q;
    int rc = -1;
    if (qmp_open(&q, qmp_path, 10000) == 0) {
        const char *names[] = { kvm_exit_stat_names[KVM_STAT_EXITS] };
        unsigned long long last = ~0ULL, cur;
        char status[32] = "running";
        while (now_ms() - t0 < 600000 && qmp_status(&q, status, sizeof(status)) == 0 &&
               strcmp(status, "running") == 0) {
            if (!is_linux(st) && file_has(out_path, "# guest: ") &&
                qmp_vcpu_stats(&q, names, 1, &cur) == 0) {
                if (cur == last)
                    break;
                last = cur;
                usleep(200000);
                continue;
            }
            usleep(20000);
        }
        s->wall_ms = now_ms() - t0;
        unsigned long long v[KVM_STAT_N];
        bool done = is_linux(st) ? strcmp(status, "running") != 0 : last != ~0ULL;
        if (done && qmp_vcpu_stats(&q, kvm_exit_stat_names, KVM_STAT_N, v) == 0) {
            for (int k = 0; k < KVM_STAT_N; k++)
                s->kvm[k] = (double)v[k];
            rc = s->kvm[KVM_STAT_EXITS] > 0 && guest_passed(st, out_path) ? 0 : -1;
        }
        json_decref(qmp_call(&q, "quit", NULL, 5000));
        qmp_close(&q);
    }
    for (int i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++)
        usleep(50000);
    if (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (rc < 0) {
        /* What went wrong, for the run's log: QEMU's complaint, the console's end. */
        char cmd[4000];
        snprintf(cmd, sizeof(cmd),
                 "echo '--- qemu %s %s failed:' >&2; tail -n 5 '%s' >&2; "
                 "tail -c 600 '%s' >&2",
                 st->guest, st->model, err_path, out_path);
        if (system(cmd) != 0)
            fprintf(stderr, "hearth-bench: qemu %s %s failed\n", st->guest, st->model);
    }
    return rc;
}

static void run_one(struct exits_run *r, struct setup *st)
{
    struct sample s;
    memset(&s, 0, sizeof(s));
    char sock[1024] = "", log[1200];
    snprintf(log, sizeof(log), "%s/swtpm.log", r->c->tmp);
    unlink(log);
    if (has_tpm(st) && bench_swtpm_start(r->c, "exits", log, sock, sizeof(sock)) < 0) {
        st->failed++;
        return;
    }
    int rc = st->mon == MON_QEMU ? run_qemu(r, st, sock, &s) : run_hearth(r, st, sock, &s);
    if (has_tpm(st)) {
        bench_swtpm_stop(r->c, "exits");
        read_swtpm_log(log, &s);
    }
    /* A Linux that did not find its TPM sends it next to nothing. */
    if (rc == 0 && has_tpm(st) && is_linux(st) && s.commands < 5) {
        fprintf(stderr,
                "\nhearth-bench exits: %s, linux, %s: swtpm saw %.0f commands; its TPM "
                "lines:\n",
                monitor_names[st->mon], st->model, s.commands);
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "tr -d '\\r' < '%s/exits.out' | grep -i -e tpm -e ima >&2",
                 r->c->tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "(none)\n");
        rc = -1;
    }
    if (rc < 0 || st->n == MAX_RUNS)
        st->failed++;
    else
        st->s[st->n++] = s;
}

/* Medians of every field (a struct sample is an array of doubles). */
static void medians(struct setup *st)
{
    const size_t fields = sizeof(struct sample) / sizeof(double);
    double *m = (double *)&st->med;
    for (size_t f = 0; f < fields; f++) {
        double v[MAX_RUNS];
        for (int i = 0; i < st->n; i++)
            v[i] = ((const double *)&st->s[i])[f];
        struct stats x;
        stats_compute(v, (size_t)st->n, &x);
        m[f] = st->n ? x.p50 : 0;
    }
}

static struct setup *find(struct exits_run *r, const char *guest, enum monitor mon,
                          const char *model)
{
    for (int i = 0; i < r->nsetups; i++)
        if (!strcmp(r->setups[i].guest, guest) && r->setups[i].mon == mon &&
            !strcmp(r->setups[i].model, model))
            return &r->setups[i];
    return NULL;
}

static void add(struct exits_run *r, const char *guest, enum monitor mon, const char *model)
{
    if (r->nsetups < MAX_SETUPS)
        r->setups[r->nsetups++] = (struct setup){ .guest = guest, .model = model, .mon = mon };
}

static bool qemu_runs(const struct exits_run *r, const char *model)
{
    char list[128];
    snprintf(list, sizeof(list), ",%s,", r->qemu_models);
    char item[32];
    snprintf(item, sizeof(item), ",%s,", model);
    return strstr(list, item) != NULL;
}

static void plan(struct exits_run *r)
{
    static const char *models[] = { "none", "crb", "tis", "virtio" };
    const char *guests[16];
    int ng = 0;
    if (r->kernel)
        guests[ng++] = "linux";
    for (char *p = strtok(r->payloads, ","); p && ng < 16; p = strtok(NULL, ","))
        guests[ng++] = p;
    for (int g = 0; g < ng; g++)
        for (int mon = 0; mon < NMON; mon++)
            for (int m = 0; m < 4; m++) {
                /* Debian's kernel has no virtio-tpm driver; QEMU has no virtio-tpm. */
                if (!strcmp(models[m], "virtio") &&
                    (!strcmp(guests[g], "linux") || mon == MON_QEMU))
                    continue;
                /* QEMU's microvm has no TPM2 table, which Linux's tpm_crb
                 * needs: its Linux gets no CRB (its TIS it probes by force). */
                if ((mon == MON_BEFORE && !r->before) ||
                    (mon == MON_QEMU && (!r->c->qemu || !qemu_runs(r, models[m]))) ||
                    (mon == MON_QEMU && !strcmp(models[m], "crb") && !strcmp(guests[g], "linux")))
                    continue;
                add(r, guests[g], (enum monitor)mon, models[m]);
            }
}

/* Exits under none of KVM's named reasons (MSR, CPUID, ...). */
static double other_exits(const struct sample *m)
{
    double other = m->kvm[KVM_STAT_EXITS] - m->kvm[KVM_STAT_PF_FIXED];
    for (int k = KVM_STAT_IO; k <= KVM_STAT_NMI_WINDOW; k++)
        other -= m->kvm[k];
    return other > 0 ? other : 0;
}

static void print_row(FILE *f, struct exits_run *r, struct setup *st)
{
    struct sample *m = &st->med;
    if (st->n == 0) {
        fprintf(f, "| %s | %s | 0/%d | failed (see the run's log) |||||||||||||\n",
                monitor_names[st->mon], st->model, st->failed);
        return;
    }
    struct setup *base = find(r, st->guest, st->mon, "none");
    double extra =
        base && base->n && has_tpm(st) ? m->kvm[KVM_STAT_EXITS] - base->med.kvm[KVM_STAT_EXITS] : 0;
    fprintf(f, "| %s | %s | %d/%d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | ",
            monitor_names[st->mon], st->model, st->n, st->n + st->failed, m->kvm[KVM_STAT_EXITS],
            m->kvm[KVM_STAT_IO], m->kvm[KVM_STAT_MMIO], m->kvm[KVM_STAT_HALT], m->kvm[KVM_STAT_IRQ],
            m->kvm[KVM_STAT_IRQ_WINDOW], m->kvm[KVM_STAT_PF_FIXED], other_exits(m));
    if (st->mon == MON_QEMU)
        fprintf(f, "- | - | ");
    else
        fprintf(f, "%.0f | %.0f | ", m->to_monitor, m->tpm_exits);
    if (has_tpm(st))
        fprintf(f, "%.0f (%.0f B / %.0f B) | %+.0f | %.1f |", m->commands, m->cmd_bytes,
                m->rsp_bytes, extra, m->commands ? extra / m->commands : 0);
    else
        fprintf(f, "- | - | - |");
    fprintf(f, " %.0f |\n", m->wall_ms);
}

static void print_tables(FILE *f, struct exits_run *r)
{
    const char *last = "";
    for (int i = 0; i < r->nsetups; i++) {
        struct setup *st = &r->setups[i];
        if (strcmp(st->guest, last)) {
            last = st->guest;
            fprintf(f, "\n### %s\n\n",
                    is_linux(st) ? "Linux (Debian cloud kernel, busybox init)" : st->guest);
            fprintf(f, "| monitor | TPM | boots | VM exits | io | mmio | halt | irq | irq window | "
                       "page faults | other | to hearth | to its TPM | TPM commands (bytes in / "
                       "out) | exits vs no TPM | per command | wall ms |\n"
                       "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        }
        print_row(f, r, st);
    }
}

/* A setup's exits by reason, in the charts' column order. */
static void reasons(const struct sample *m, double v[7])
{
    v[0] = m->kvm[KVM_STAT_IO];
    v[1] = m->kvm[KVM_STAT_MMIO];
    v[2] = m->kvm[KVM_STAT_HALT];
    v[3] = m->kvm[KVM_STAT_IRQ];
    v[4] = m->kvm[KVM_STAT_IRQ_WINDOW] + m->kvm[KVM_STAT_NMI_WINDOW];
    v[5] = m->kvm[KVM_STAT_PF_FIXED];
    v[6] = other_exits(m);
}

/* One stacked bar per setup of `guest`: its exits by reason, or (extra) what
 * its TPM adds to the same monitor's boot without one (a reason that went
 * down counts 0). */
static int chart(struct exits_run *r, const char *guest, bool extra)
{
    char path[1200], name[300];
    snprintf(name, sizeof(name), "exits-%s%s", guest, extra ? "-tpm" : "");
    snprintf(path, sizeof(path), "%s/%s.dat", r->out, name);
    FILE *d = fopen(path, "w");
    if (!d)
        return 1;
    fprintf(d, "setup io mmio halt irq irq_window page_faults other\n");
    for (int j = 0; j < r->nsetups; j++) {
        struct setup *st = &r->setups[j];
        struct setup *base = find(r, guest, st->mon, "none");
        if (strcmp(st->guest, guest) || !st->n || (extra && (!has_tpm(st) || !base || !base->n)))
            continue;
        double v[7], b[7] = { 0 };
        reasons(&st->med, v);
        if (extra)
            reasons(&base->med, b);
        fprintf(d, "\"%s\\n%s\"",
                st->mon == MON_QEMU     ? "qemu"
                : st->mon == MON_BEFORE ? "hearth before"
                                        : "hearth",
                st->model);
        for (int k = 0; k < 7; k++)
            fprintf(d, " %.0f", v[k] > b[k] ? v[k] - b[k] : 0);
        fprintf(d, "\n");
    }
    fclose(d);
    snprintf(path, sizeof(path), "%s/%s.gp", r->out, name);
    FILE *p = fopen(path, "w");
    if (!p)
        return 1;
    fprintf(p,
            "set terminal pngcairo size 1100,600\nset output '%s/%s.png'\n"
            "set title '%s (KVM statistics, medians): %s'\n"
            "set termoption noenhanced\nset style data histograms\n"
            "set style histogram rowstacked\nset style fill solid 0.8 border -1\n"
            "set boxwidth 0.7\nset key outside right\nset ylabel 'VM exits'\n"
            "set grid ytics\nset xtics font ',9'\n"
            "plot for [k=2:8] '%s/%s.dat' using k:xtic(1) title columnheader(k)\n",
            r->out, name,
            extra ? "VM exits the TPM adds to a boot, by reason" : "VM exits per boot by reason",
            strcmp(guest, "linux") ? guest : "Linux", r->out, name);
    fclose(p);
    char cmd[4000];
    snprintf(cmd, sizeof(cmd),
             "gnuplot '%s' 2>/dev/null || (sed -i 's/pngcairo/png/' '%s' && gnuplot '%s')", path,
             path, path);
    return system(cmd) != 0;
}

static int plot(struct exits_run *r)
{
    int bad = 0;
    const char *last = "";
    for (int i = 0; i < r->nsetups; i++) {
        const char *g = r->setups[i].guest;
        if (!strcmp(g, last))
            continue;
        last = g;
        bad |= chart(r, g, false) | chart(r, g, true);
    }
    return bad;
}

static void targets(FILE *f, struct exits_run *r)
{
    if (!r->kernel)
        return;
    fprintf(f, "\nTargets (issue 13), Linux boots (medians):\n");
    static const char *models[] = { "crb", "tis" };
    for (int i = 0; i < 2; i++) {
        struct setup *h = find(r, "linux", MON_HEARTH, models[i]);
        struct setup *hn = find(r, "linux", MON_HEARTH, "none");
        /* microvm gives Linux no CRB: hearth's CRB is held against QEMU's TIS. */
        struct setup *q = find(r, "linux", MON_QEMU, "tis");
        if (h && q && h->n && q->n)
            fprintf(f,
                    "- %s: VM exits per boot, hearth %.0f vs QEMU microvm (its TIS) %.0f "
                    "(target: hearth <= QEMU): %s\n",
                    models[i], h->med.kvm[KVM_STAT_EXITS], q->med.kvm[KVM_STAT_EXITS],
                    h->med.kvm[KVM_STAT_EXITS] <= q->med.kvm[KVM_STAT_EXITS] ? "met" : "NOT met");
        if (!h || !hn || !h->n || !hn->n)
            continue;
        double after = h->med.kvm[KVM_STAT_EXITS] - hn->med.kvm[KVM_STAT_EXITS];
        fprintf(f, "- %s: VM exits a TPM adds to a boot, hearth %+.0f", models[i], after);
        struct setup *b = find(r, "linux", MON_BEFORE, models[i]);
        struct setup *bn = find(r, "linux", MON_BEFORE, "none");
        if (b && bn && b->n && bn->n) {
            double before = b->med.kvm[KVM_STAT_EXITS] - bn->med.kvm[KVM_STAT_EXITS];
            fprintf(f, ", before the cuts %+.0f (%.2f of it)", before, before ? after / before : 0);
        }
        struct setup *qn = find(r, "linux", MON_QEMU, "none");
        if (!strcmp(models[i], "tis") && q && qn && q->n && qn->n)
            fprintf(f, ", QEMU microvm %+.0f",
                    q->med.kvm[KVM_STAT_EXITS] - qn->med.kvm[KVM_STAT_EXITS]);
        fprintf(f, "\n");
    }
}

int cmd_exits(struct bench_ctx *c, int argc, char **argv)
{
    static struct exits_run r;
    r = (struct exits_run){
        .c = c, .runs = 3, .tpm_timeout_ms = 2000, .qemu_models = "none,crb,tis"
    };
    snprintf(r.payloads, sizeof(r.payloads), "tpm_basic");
    static const struct option opts[] = {
        { "runs", required_argument, NULL, 'n' },
        { "kernel", required_argument, NULL, 'k' },
        { "initrd", required_argument, NULL, 'i' },
        { "payloads", required_argument, NULL, 'p' },
        { "before", required_argument, NULL, 'b' },
        { "out", required_argument, NULL, 'o' },
        { "qemu-models", required_argument, NULL, 'm' },
        { "tpm-timeout-ms", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n': r.runs = atoi(optarg); break;
        case 'k': r.kernel = optarg; break;
        case 'i': r.initrd = optarg; break;
        case 'p': snprintf(r.payloads, sizeof(r.payloads), "%s", optarg); break;
        case 'b': r.before = optarg; break;
        case 'o': r.out = optarg; break;
        case 'm': r.qemu_models = optarg; break;
        case 't': r.tpm_timeout_ms = atoi(optarg); break;
        default: return 2;
        }
    }
    if (r.runs < 1 || r.runs > MAX_RUNS || r.tpm_timeout_ms < 1) {
        fprintf(stderr, "hearth-bench exits: --runs must be 1..%d, --tpm-timeout-ms >= 1\n",
                MAX_RUNS);
        return 2;
    }
    char hb[1200];
    snprintf(hb, sizeof(hb), "%s/hearth", r.before ? r.before : "");
    if (r.before && access(hb, X_OK) != 0) {
        fprintf(stderr, "hearth-bench exits: --before %s has no hearth binary\n", r.before);
        return 2;
    }
    if (bench_swtpm_manufacture(c) < 0) {
        fprintf(stderr, "hearth-bench: swtpm_setup failed (see %s/base/setup.log)\n", c->tmp);
        return 1;
    }
    plan(&r);
    for (int round = 0; round < r.runs; round++)
        for (int i = 0; i < r.nsetups; i++) {
            run_one(&r, &r.setups[i]);
            fprintf(stderr, "\rround %d/%d, setup %d/%d   ", round + 1, r.runs, i + 1, r.nsetups);
        }
    fprintf(stderr, "\n");
    int failed = 0;
    for (int i = 0; i < r.nsetups; i++) {
        medians(&r.setups[i]);
        failed += r.setups[i].failed;
    }
    char host[160];
    bench_host_desc(host, sizeof(host));
    printf("# hearth-bench exits: host %s; %d boots per setup, interleaved; medians\n", host,
           r.runs);
    print_tables(stdout, &r);
    targets(stdout, &r);
    int bad = failed != 0;
    if (r.out) {
        mkdir(r.out, 0755);
        char path[1200];
        snprintf(path, sizeof(path), "%s/exits.md", r.out);
        FILE *f = fopen(path, "w");
        if (f) {
            print_tables(f, &r);
            targets(f, &r);
            fclose(f);
        }
        bad |= plot(&r);
    }
    return bad;
}
