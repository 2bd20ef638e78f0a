/* hearth-tpmd's vTPM instances: directories, swtpm_setup manufacture, the
 * hardened swtpm launch, health and wipe. */
#include "core/clock.h"
#include "instance.h"

#include "instance_cgroup.h"
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) { return (double)mono_ns() / 1e6; }

/* A line appended to one of our logs. */
static void log_append(const char *path, const char *msg)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
        close(fd);
    }
}

/* A line to the launch log from a forked child (async-signal-safe). */
static void child_say(const char *msg)
{
    ssize_t w = write(STDERR_FILENO, msg, strlen(msg));
    (void)w;
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

/* Every process of STATE/vtpms/ID's swtpm_setup carries VTPM_SETUP_MARKER=ID
 * in its environment (first, so it leads /proc/PID/environ). */
#define VTPM_SETUP_MARKER "HEARTH_TPMD_SETUP"

/* Whether process `pid` belongs to swtpm_setup session `sid` of vTPM `id`:
 * it is in that session and carries the vTPM's marker. The marker keeps a
 * session id that was reused after a crash from reaching anything else. */
static bool in_setup_session(int pid, pid_t sid, const char *id)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    const char *rp = strrchr(buf, ')'); /* the command name may hold anything */
    char st;
    int ppid, pgrp, session;
    if (!rp || sscanf(rp + 1, " %c %d %d %d", &st, &ppid, &pgrp, &session) != 4 || session != sid)
        return false;
    char want[80], env[16384];
    int wlen = snprintf(want, sizeof(want), "%s=%s", VTPM_SETUP_MARKER, id) + 1; /* with NUL */
    snprintf(path, sizeof(path), "/proc/%d/environ", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    while (fd >= 0 && len < sizeof(env) && (n = read(fd, env + len, sizeof(env) - len)) > 0)
        len += (size_t)n;
    if (fd >= 0)
        close(fd);
    for (size_t at = 0; at + (size_t)wlen <= len;) { /* NUL-separated entries */
        if (memcmp(env + at, want, (size_t)wlen) == 0)
            return true;
        const char *end = memchr(env + at, 0, len - at);
        if (!end)
            break;
        at = (size_t)(end - env) + 1;
    }
    return false; /* a zombie's environment reads empty: it is done */
}

/* SIGKILLs every process of vTPM id's swtpm_setup session sid (swtpm_setup,
 * the swtpm and swtpm_localca it starts, whatever their uid) until none is
 * left. Needs no cgroup. */
static void kill_setup_session(pid_t sid, const char *id)
{
    for (int round = 0; round < 100; round++) {
        DIR *d = opendir("/proc");
        if (!d)
            return;
        int killed = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid > 0 && in_setup_session(pid, sid, id) && kill(pid, SIGKILL) == 0)
                killed++;
        }
        closedir(d);
        if (!killed)
            return;
        usleep(5000); /* until they are gone (a killed process shows until it exits) */
    }
}

/* Runs argv to completion with output to log_path, at nice 10 (manufacture
 * must not delay allocations; an allocated vTPM gets normal priority back);
 * in new network, IPC, UTS and mount namespaces when `isolate` (falling back
 * quietly where refused), in cgroup cg (NULL: none), and as uid/gid `uid` with
 * no supplementary groups when uid is not 0.
 *
 * With `setup` (swtpm_setup, which runs as root): the child leads a session
 * of its own, carries setup's marker in its environment, and execs only
 * once that session's id is on disk as setup's pid (status
 * "manufacturing"): whatever a crash of the daemon leaves running, recovery
 * finds it there (vtpm_wipe), with or without cgroups. A child whose daemon
 * died before that exits without running anything. */
static int run(char *const argv[], const char *log_path, bool isolate, const struct cgroup *cg,
               uid_t uid, struct vtpm *setup)
{
    char marker[80];
    char **envp = environ;
    int go[2] = { -1, -1 };
    if (setup) {
        size_t n = 0;
        while (environ[n])
            n++;
        if (!(envp = malloc((n + 2) * sizeof(*envp))))
            return -1;
        snprintf(marker, sizeof(marker), "%s=%s", VTPM_SETUP_MARKER, setup->id);
        envp[0] = marker;
        memcpy(envp + 1, environ, (n + 1) * sizeof(*envp));
        if (pipe2(go, O_CLOEXEC) < 0) {
            free(envp);
            return -1;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (setup) {
            free(envp);
            close(go[0]);
            close(go[1]);
        }
        return -1;
    }
    if (pid == 0) {
        /* Between fork and exec of a multi-threaded daemon: async-signal-
         * safe calls only. The daemon blocks SIGINT/SIGTERM and ignores
         * SIGPIPE; children start clean. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(null, STDIN_FILENO);
        dup2(log >= 0 ? log : null, STDOUT_FILENO);
        dup2(log >= 0 ? log : null, STDERR_FILENO);
        /* The go-ahead pipe's read end as fd 3, the rest closed before
         * waiting on it: another worker's child must not hold this pipe's
         * write end open (nor this one its). */
        int keep = 3;
        if (setup) {
            if (dup2(go[0], 3) < 0)
                _exit(125);
            keep = 4;
        }
        /* Nothing else of the daemon's (a CA key another worker is reading,
         * cgroup files, API sockets) may reach swtpm. */
        if (syscall(SYS_close_range, (unsigned)keep, ~0U, 0U) < 0)
            for (int fd = keep; fd < 65536; fd++)
                close(fd);
        if (setup) {
            setsid();
            char c = 0;
            ssize_t r;
            while ((r = read(3, &c, 1)) < 0 && errno == EINTR)
                ;
            close(3);
            if (r != 1 || c != 'g')
                _exit(125); /* the daemon died before it recorded this session */
        }
        /* Absolute: a manufacturing thread already runs at nice 10, and
         * nice(10) there gave 19. */
        if (setpriority(PRIO_PROCESS, 0, 10) < 0)
            child_say("hearth-tpmd: setpriority failed\n");
        if (cg)
            cgroup_enter(cg);
        if (isolate) {
            if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0)
                child_say("hearth-tpmd: no new namespaces for swtpm\n");
            else /* its mounts stay its own */
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
        }
        char why[160];
        if (uid && privdrop_to(uid, uid, why, sizeof(why)) < 0) {
            child_say("hearth-tpmd: dropping to the vTPM's uid failed: ");
            child_say(why);
            child_say("\n");
            _exit(126);
        }
        execvpe(argv[0], argv, envp);
        _exit(127);
    }
    int status;
    if (setup) {
        close(go[0]);
        free(envp);
        setup->pid = pid; /* the session's id, for recovery */
        bool recorded = vtpm_save_status(setup) == 0 && write(go[1], "g", 1) == 1;
        close(go[1]); /* without the 'g', the child exits */
        if (!recorded) {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            log_append(log_path, "hearth-tpmd: recording swtpm_setup's session failed\n");
            return -1;
        }
    }
    /* A hung swtpm_setup or swtpm parent must not hold a manufacture slot
     * (or an API thread) forever. */
    for (double until = now_ms() + VTPM_RUN_TIMEOUT_MS;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() > until) {
            if (setup)
                kill_setup_session(pid, setup->id);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            log_append(log_path, "hearth-tpmd: killed after the time-out\n");
            return -1;
        }
        usleep(2000);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The last line of a log, for error messages about a directory that is
 * about to be wiped. */
static void last_line(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
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

static uid_t chown_to; /* for chown_entry: nftw passes no context */
static pthread_mutex_t chown_lock = PTHREAD_MUTEX_INITIALIZER;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return lchown(path, chown_to, chown_to);
}

/* Gives v's tpm/ tree to its uid. Only after swtpm_setup, before any process
 * of that uid exists, and without following links. */
static int chown_tpm_dir(const struct vtpm *v)
{
    if (!v->uid)
        return 0;
    pthread_mutex_lock(&chown_lock);
    chown_to = v->uid;
    int r = nftw(v->tpm_dir, chown_entry, 16, FTW_PHYS);
    pthread_mutex_unlock(&chown_lock);
    return r;
}

static pid_t read_pid(const char *path)
{
    /* The uid's file: no link, no FIFO to block on, a regular file only. */
    char buf[24] = "";
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    return n > 0 ? (pid_t)atoi(buf) : 0;
}

int vtpm_start_swtpm(const struct vtpm_opts *o, struct vtpm *v, char *err, size_t errlen)
{
    (void)o;
    char state[800], ctrl[900], pidf[800], logf[800], logopt[900], outf[800];
    snprintf(state, sizeof(state), "dir=%s,mode=0600", v->tpm_dir);
    snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s,mode=0600", v->sock);
    snprintf(pidf, sizeof(pidf), "file=%s/swtpm.pid", v->tpm_dir);
    snprintf(logf, sizeof(logf), "%s/swtpm.log", v->tpm_dir);
    snprintf(logopt, sizeof(logopt), "file=%s,level=1", logf);
    snprintf(outf, sizeof(outf), "%s/launch.log", v->dir);
    unlink(v->sock);
    unlink(pidf + 5); /* past "file=" */
    char *argv[] = { "swtpm",  "socket",    "--tpm2",      "--tpmstate", state,
                     "--ctrl", ctrl,        "--pid",       pidf,         "--log",
                     logopt,   "--seccomp", "action=kill", "--daemon", /* returns once the control
                                                                          socket exists */
                     NULL };
    struct cgroup cg;
    bool confined = vtpm_cgroup_create(v->id, &cg);
    if (!confined) {
        static bool warned;
        if (!warned)
            fprintf(stderr, "hearth-tpmd: warning: cgroups are not writable here; swtpm runs "
                            "without memory/pids limits\n");
        warned = true;
    }
    if (run(argv, outf, true, confined ? &cg : NULL, v->uid, NULL) < 0) {
        char why[300]; /* launch.log is ours; swtpm.log is the uid's, not read */
        last_line(outf, why, sizeof(why));
        snprintf(err, errlen, "swtpm did not start: %s (see %s)", why, logf);
        return -1;
    }
    /* swtpm --daemon writes its pid file after its parent returned: wait
     * for it (the old one was removed). The file is the uid's; vtpm_alive
     * checks what it names. */
    for (int64_t until = (int64_t)now_ms() + VTPM_COMMAND_TIMEOUT_MS;;) {
        v->pid = read_pid(pidf + 5);
        if (vtpm_alive(v))
            return 0;
        if ((int64_t)now_ms() > until)
            break;
        usleep(5000);
    }
    v->pid = 0;
    snprintf(err, errlen, "swtpm left no valid pid file in %s", v->tpm_dir);
    return -1;
}

static void set_paths(struct vtpm *v, const char *state_dir, const char *id)
{
    snprintf(v->id, sizeof(v->id), "%s", id);
    snprintf(v->dir, sizeof(v->dir), "%s/vtpms/%s", state_dir, id);
    snprintf(v->tpm_dir, sizeof(v->tpm_dir), "%s/tpm", v->dir);
    snprintf(v->sock, sizeof(v->sock), "%s/ctrl.sock", v->tpm_dir);
}

int vtpm_create(const struct vtpm_opts *o, const struct ca *ca, uid_t uid, struct vtpm *v,
                char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->uid = uid;
    double t0 = now_ms();
    char base[600], id[33];
    snprintf(base, sizeof(base), "%s/vtpms", o->state_dir);
    mkdir(base, 0711);
    for (int tries = 0;; tries++) {
        if (random_id(id) < 0 || tries == 5) {
            snprintf(err, errlen, "no fresh vTPM id");
            return -1;
        }
        set_paths(v, o->state_dir, id);
        if (mkdir(v->dir, 0700) == 0)
            break; /* a new directory: this id was never used */
    }
    /* The uid on disk first: a crash from here on leaves what recovery
     * needs to find and kill everything this vTPM started. */
    v->state = VTPM_MANUFACTURING;
    char conf[800], logf[800], certs[800];
    snprintf(conf, sizeof(conf), "%s/swtpm_setup.conf", ca->dir);
    snprintf(logf, sizeof(logf), "%s/setup.log", v->dir);
    snprintf(certs, sizeof(certs), "%s/certs", v->dir);
    if (vtpm_save_status(v) < 0 || chmod(v->dir, 0711) < 0 || mkdir(certs, 0700) < 0 ||
        mkdir(v->tpm_dir, 0700) < 0) {
        snprintf(err, errlen, "creating %s: %s", v->dir, strerror(errno));
        goto fail;
    }
    if (o->fast) {
        if (chown_tpm_dir(v) < 0) {
            snprintf(err, errlen, "giving %s to uid %u: %s", v->tpm_dir, (unsigned)uid,
                     strerror(errno));
            goto fail;
        }
        if (vtpm_manufacture_fast(o, ca, v, err, errlen) < 0)
            goto fail;
    } else {
        char *argv[] = { "swtpm_setup",
                         "--tpm2",
                         "--tpmstate",
                         v->tpm_dir,
                         "--config",
                         conf,
                         "--createek",
                         "--create-ek-cert",
                         "--create-platform-cert",
                         "--lock-nvram",
                         "--overwrite",
                         "--write-ek-cert-files",
                         certs,
                         "--pcr-banks",
                         (char *)o->pcr_banks,
                         NULL };
        /* As root (it needs a CA key), in a session of its own recorded on
         * disk first, and in the vTPM's cgroup where cgroups are writable:
         * a crash of the daemon leaves nothing it started for recovery to
         * miss (vtpm_wipe), though killing by uid does not reach root. */
        struct cgroup cg;
        bool confined = vtpm_cgroup_create(v->id, &cg);
        if (run(argv, logf, false, confined ? &cg : NULL, 0, v) < 0) {
            char why[300];
            last_line(logf, why, sizeof(why));
            snprintf(err, errlen, "swtpm_setup failed: %s", why);
            goto fail;
        }
        if (chown_tpm_dir(v) < 0) {
            snprintf(err, errlen, "giving %s to uid %u: %s", v->tpm_dir, (unsigned)uid,
                     strerror(errno));
            goto fail;
        }
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
    snprintf(path, sizeof(path), "/proc/%d", (int)v->pid);
    struct stat st;
    if (stat(path, &st) < 0 || st.st_uid != v->uid)
        return false; /* not the vTPM's uid: not its swtpm */
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)v->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (!cmd[i])
            cmd[i] = ' ';
    cmd[n] = 0;
    /* A zombie has an empty command line; a recycled pid another one. */
    return strstr(cmd, v->tpm_dir) != NULL;
}

void vtpm_set_serving(const struct vtpm *v)
{
    if (v->pid > 0)
        setpriority(PRIO_PROCESS, (id_t)v->pid, 0);
}

static const char *const state_names[] = {
    [VTPM_READY] = "ready",
    [VTPM_ALLOCATED] = "allocated",
    [VTPM_FAILED] = "failed",
    [VTPM_MANUFACTURING] = "manufacturing",
};

const char *vtpm_state_name(enum vtpm_state s) { return state_names[s]; }

int vtpm_save_status(const struct vtpm *v)
{
    char tmp[800], path[800], line[128];
    /* Per thread: the health thread and an allocation may both save. */
    snprintf(tmp, sizeof(tmp), "%s/status.%ld.tmp", v->dir, (long)syscall(SYS_gettid));
    snprintf(path, sizeof(path), "%s/status", v->dir);
    int len = snprintf(line, sizeof(line), "%s %d %.3f %d %u\n", vtpm_state_name(v->state),
                       (int)v->pid, v->manufacture_ms, v->ondemand, (unsigned)v->uid);
    /* The directory is root's, so nothing can be planted here; O_NOFOLLOW
     * and O_EXCL keep that true should it ever not be. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, line, (size_t)len) == len;
    /* No fsync, on purpose: a daemon crash (kill -9) never loses a finished
     * write + rename, and a machine crash kills every swtpm, after which
     * recovery wipes "ready" vTPMs whose swtpm is gone instead of adopting
     * them. Either way no vTPM is handed out twice, and allocation stays
     * off the disk's flush latency. */
    if (close(fd) != 0 || !ok)
        return -1;
    return rename(tmp, path);
}

/* Run as the uid (privdrop_call_as): signals everything it may; kill(-1)
 * spares only the caller. ESRCH: there was nothing. */
static bool kill_everything_reachable(void *unused)
{
    (void)unused;
    return kill(-1, SIGKILL) == 0 || errno == ESRCH;
}

/* Kills every process running as uid, from a child that takes the uid:
 * false when that could not be done. */
static bool kill_uid(uid_t uid)
{
    return privdrop_call_as(uid, uid, kill_everything_reachable, NULL);
}

void vtpm_kill(struct vtpm *v)
{
    if (v->uid)
        kill_uid(v->uid);
    if (v->id[0])
        vtpm_cgroup_kill(v->id);
}

int vtpm_wipe(struct vtpm *v)
{
    /* A process of the uid that survived could swap tpm/'s entries for
     * links while root removes them: then nothing is removed. */
    if (v->uid && !kill_uid(v->uid)) {
        fprintf(stderr,
                "hearth-tpmd: vTPM %s: killing uid %u's processes failed; its directory "
                "stays\n",
                v->id, (unsigned)v->uid);
        return -1;
    }
    if (v->id[0])
        vtpm_cgroup_kill(v->id);
    /* An interrupted manufacture's pid is swtpm_setup's session (root's
     * processes, out of the uid's reach; no cgroup on some hosts). */
    if (v->state == VTPM_MANUFACTURING && v->pid > 0)
        kill_setup_session(v->pid, v->id);
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
        vtpm_cgroup_remove(v->id);
    return 0;
}

int vtpm_load(const char *state_dir, const char *id, struct vtpm *v)
{
    memset(v, 0, sizeof(*v));
    set_paths(v, state_dir, id);
    char path[800], line[128] = "", state[16];
    snprintf(path, sizeof(path), "%s/status", v->dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
    if (fd >= 0)
        close(fd);
    int pid = 0, ondemand = 0;
    unsigned uid = 0;
    int n = len > 0 ? sscanf(line, "%15s %d %lf %d %u", state, &pid, &v->manufacture_ms, &ondemand,
                             &uid)
                    : 0;
    v->pid = pid; /* what could be read, for vtpm_wipe */
    v->uid = uid;
    v->ondemand = ondemand;
    if (n != 5)
        return -1;
    for (size_t s = 0; s < sizeof(state_names) / sizeof(state_names[0]); s++)
        if (strcmp(state, state_names[s]) == 0) {
            v->state = (enum vtpm_state)s;
            return v->state == VTPM_MANUFACTURING ? -1 : 0;
        }
    return -1;
}
