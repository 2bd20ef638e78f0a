/* vTPM directories, swtpm_setup manufacture and the hardened swtpm launch. */
#include "core/clock.h"
#include "vtpm.h"

#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    return (double)mono_ns() / 1e6;
}

static int random_id(char out[33])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof(b)) != sizeof(b)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* Runs argv to completion with output to log_path, at nice 10 (manufacture
 * must not delay allocations; an allocated vTPM gets normal priority back);
 * in new network, IPC and UTS namespaces when `isolate` (falling back
 * quietly where refused). */
static int run(char *const argv[], const char *log_path, bool isolate, const char *cgroup_id)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Between fork and exec of a multi-threaded daemon: async-signal-
         * safe calls only. The daemon blocks SIGINT/SIGTERM and ignores
         * SIGPIPE; children start clean. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(null, STDIN_FILENO);
        dup2(log >= 0 ? log : null, STDOUT_FILENO);
        dup2(log >= 0 ? log : null, STDERR_FILENO);
        if (nice(10) < 0) {
            static const char msg[] = "hearth-tpmd: nice failed\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
            (void)w;
        }
        if (cgroup_id)
            cgroup_enter(cgroup_id);
        if (isolate) {
            if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0) {
                static const char msg[] = "hearth-tpmd: no new namespaces for swtpm\n";
                ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
                (void)w;
            } else { /* its mounts stay its own */
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
            }
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The last line of a log, for error messages about a directory that is
 * about to be wiped. */
static void last_line(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (line[0] != '\n')
            snprintf(out, len, "%.255s", line);
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void chown_tree(const char *dir, const char *user)
{
    struct passwd *pw = user ? getpwnam(user) : NULL;
    if (!pw)
        return;
    char cmd[900];
    snprintf(cmd, sizeof(cmd), "chown -R %u:%u '%s'", pw->pw_uid, pw->pw_gid, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "hearth-tpmd: chown of %s failed\n", dir);
}

int vtpm_start_swtpm(const struct vtpm_opts *o, struct vtpm *v, char *err, size_t errlen)
{
    char state[800], ctrl[900], pidf[800], logf[800], logopt[900], outf[800];
    snprintf(state, sizeof(state), "dir=%s/state,mode=0600", v->dir);
    snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s,mode=0600", v->sock);
    snprintf(pidf, sizeof(pidf), "file=%s/swtpm.pid", v->dir);
    snprintf(logf, sizeof(logf), "%s/swtpm.log", v->dir);
    snprintf(logopt, sizeof(logopt), "file=%s,level=1", logf);
    snprintf(outf, sizeof(outf), "%s/launch.log", v->dir); /* ours; swtpm may run as another user */
    unlink(v->sock);
    char *argv[20];
    int n = 0;
    argv[n++] = "swtpm";
    argv[n++] = "socket";
    argv[n++] = "--tpm2";
    argv[n++] = "--tpmstate";
    argv[n++] = state;
    argv[n++] = "--ctrl";
    argv[n++] = ctrl;
    argv[n++] = "--pid";
    argv[n++] = pidf;
    argv[n++] = "--log";
    argv[n++] = logopt;
    argv[n++] = "--seccomp";
    argv[n++] = "action=kill";
    if (o->user) {
        argv[n++] = "--runas";
        argv[n++] = (char *)o->user;
    }
    argv[n++] = "--daemon"; /* returns once the control socket exists */
    argv[n] = NULL;
    bool confined = cgroup_create(v->id);
    if (!confined) {
        static bool warned;
        if (!warned)
            fprintf(stderr, "hearth-tpmd: warning: cgroups are not writable here; swtpm runs "
                            "without memory/pids limits\n");
        warned = true;
    }
    if (run(argv, outf, true, confined ? v->id : NULL) < 0) {
        char why[300], why2[300];
        last_line(outf, why, sizeof(why));
        last_line(logf, why2, sizeof(why2));
        snprintf(err, errlen, "swtpm did not start: %s %s", why, why2);
        return -1;
    }
    char path[800];
    snprintf(path, sizeof(path), "%s/swtpm.pid", v->dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
        if (f)
            fclose(f);
        snprintf(err, errlen, "swtpm left no pid file in %s", v->dir);
        return -1;
    }
    fclose(f);
    v->pid = pid;
    return 0;
}

int vtpm_create(const struct vtpm_opts *o, const struct ca *ca, struct vtpm *v, char *err,
                size_t errlen)
{
    memset(v, 0, sizeof(*v));
    double t0 = now_ms();
    char base[600];
    snprintf(base, sizeof(base), "%s/vtpms", o->state_dir);
    mkdir(base, 0711);
    for (int tries = 0;; tries++) {
        if (random_id(v->id) < 0 || tries == 5) {
            snprintf(err, errlen, "no fresh vTPM id");
            return -1;
        }
        snprintf(v->dir, sizeof(v->dir), "%s/%s", base, v->id);
        if (mkdir(v->dir, 0700) == 0)
            break; /* a new directory: this id was never used */
    }
    snprintf(v->sock, sizeof(v->sock), "%s/ctrl.sock", v->dir);
    char state[800], conf[800], logf[800], certs[800];
    snprintf(state, sizeof(state), "%s/state", v->dir);
    snprintf(conf, sizeof(conf), "%s/swtpm_setup.conf", ca->dir);
    snprintf(logf, sizeof(logf), "%s/setup.log", v->dir);
    snprintf(certs, sizeof(certs), "%s/certs", v->dir);
    mkdir(state, 0700);
    mkdir(certs, 0700);
    if (o->fast) {
        chown_tree(v->dir, o->user);
        if (vtpm_manufacture_fast(o, ca, v, err, errlen) < 0)
            goto fail;
    } else {
        char *argv[] = { "swtpm_setup", "--tpm2", "--tpmstate", state, "--config", conf,
                         "--createek", "--create-ek-cert", "--create-platform-cert",
                         "--lock-nvram", "--overwrite", "--write-ek-cert-files", certs,
                         "--pcr-banks", (char *)o->pcr_banks, NULL };
        if (run(argv, logf, false, NULL) < 0) {
            char why[300];
            last_line(logf, why, sizeof(why));
            snprintf(err, errlen, "swtpm_setup failed: %s", why);
            goto fail;
        }
        chown_tree(v->dir, o->user);
        if (vtpm_start_swtpm(o, v, err, errlen) < 0)
            goto fail;
    }
    v->state = VTPM_READY;
    v->manufacture_ms = now_ms() - t0;
    if (vtpm_save_status(v) < 0) {
        snprintf(err, errlen, "writing %s/status failed", v->dir);
        goto fail;
    }
    return 0;
fail:
    vtpm_wipe(v);
    return -1;
}

bool vtpm_alive(const struct vtpm *v)
{
    if (v->pid <= 0 || kill(v->pid, 0) < 0)
        return false;
    char path[64], cmd[4096];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)v->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (!cmd[i])
            cmd[i] = ' ';
    cmd[n] = 0;
    /* A zombie has an empty command line; a recycled pid another one. */
    return strstr(cmd, v->dir) != NULL;
}

void vtpm_set_serving(const struct vtpm *v)
{
    if (v->pid > 0)
        setpriority(PRIO_PROCESS, (id_t)v->pid, 0);
}

int vtpm_save_status(const struct vtpm *v)
{
    char tmp[800], path[800];
    snprintf(tmp, sizeof(tmp), "%s/status.tmp", v->dir);
    snprintf(path, sizeof(path), "%s/status", v->dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s %d %.3f %d\n", v->state == VTPM_ALLOCATED ? "allocated" : "ready", (int)v->pid,
            v->manufacture_ms, v->ondemand);
    /* No fsync, on purpose: a daemon crash (kill -9) never loses a finished
     * write + rename, and a machine crash kills every swtpm, after which
     * recovery wipes "ready" vTPMs whose swtpm is gone instead of adopting
     * them. Either way no vTPM is handed out twice, and allocation stays
     * off the disk's flush latency. */
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

void vtpm_wipe(struct vtpm *v)
{
    if (vtpm_alive(v)) {
        kill(v->pid, SIGTERM);
        for (int i = 0; i < 50 && vtpm_alive(v); i++)
            usleep(10000);
        if (vtpm_alive(v))
            kill(v->pid, SIGKILL);
    }
    if (v->dir[0])
        nftw(v->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (v->id[0])
        cgroup_remove(v->id);
}

int vtpm_load(const char *state_dir, const char *id, struct vtpm *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", id);
    snprintf(v->dir, sizeof(v->dir), "%s/vtpms/%s", state_dir, id);
    snprintf(v->sock, sizeof(v->sock), "%s/ctrl.sock", v->dir);
    char path[800], state[16];
    snprintf(path, sizeof(path), "%s/status", v->dir);
    FILE *f = fopen(path, "r");
    int pid = 0, ondemand = 0;
    if (!f)
        return -1;
    int n = fscanf(f, "%15s %d %lf %d", state, &pid, &v->manufacture_ms, &ondemand);
    fclose(f);
    if (n != 4)
        return -1;
    v->pid = pid;
    v->ondemand = ondemand;
    v->state = strcmp(state, "allocated") == 0 ? VTPM_ALLOCATED : VTPM_READY;
    return 0;
}
