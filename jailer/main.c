/* hearth-jailer: starts hearth confined, in the order of Firecracker's
 * jailer: clean fds and environment, a chroot of its own with the binary
 * copied in, a network namespace, resource limits, cgroups, a mount
 * namespace with pivot_root, device nodes, optionally a daemon in a new
 * pid namespace, and the exec as an unprivileged uid/gid. */
#include "core/ids.h"
#include "jail/cgroup.h"
#include "jail/chroot.h"
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_JAIL 1
#define EXIT_ARGS 153
#define TPM_FD 3 /* where the vTPM's connected control channel is handed over */

static const char usage[] =
    "Usage: hearth-jailer --id ID --exec-file PATH --uid UID --gid GID [options] [-- ARGS...]\n"
    "\n"
    "  --id ID                 [A-Za-z0-9-], at most 64 characters\n"
    "  --exec-file PATH        the binary to jail (absolute), linked or copied into the chroot\n"
    "  --uid UID, --gid GID    who it runs as\n"
    "  --chroot-base-dir DIR   default /srv/jailer; the root is DIR/<exec name>/<id>/root\n"
    "                          (each of these directories root's, writable by no one else)\n"
    "  --netns PATH            join this network namespace (e.g. /var/run/netns/vm1)\n"
    "  --cgroup FILE=VALUE     a cgroup limit, written before the process enters (repeatable)\n"
    "  --cgroup-version 1|2    default: what the host mounts\n"
    "  --parent-cgroup NAME    default: the exec file's name\n"
    "  --resource-limit fsize=N|no-file=N   (repeatable; no-file defaults to 2048)\n"
    "  --tpm-socket PATH       connect to this vTPM control socket now and hand the\n"
    "                          connection over as fd 3 (the VM's tpm.socket: \"fd:3\")\n"
    "  --daemonize             detach: new session, stdio to /dev/null\n"
    "  --new-pid-ns            run in a new pid namespace (it is pid 1 there)\n"
    "ARGS go to the binary after --id ID --start-time-us T --start-time-cpu-us C.\n";

struct jail {
    const char *id, *exec_file, *base, *netns, *parent_cgroup, *tpm_socket;
    uid_t uid;
    gid_t gid;
    bool has_uid, has_gid, daemonize, new_pid_ns;
    enum cgroup_version cg_version;
    struct cgroup_setting cg[CGROUP_MAX_SETTINGS];
    int ncg;
    long long fsize, nofile;
    char **args;
    int nargs;
};

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hearth-jailer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static long long number(const char *what, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        die(EXIT_ARGS, "%s: not a number: %s", what, s);
    return v;
}

static void parse(int argc, char **argv, struct jail *j)
{
    enum {
        ID = 1,
        EXEC,
        UID,
        GID,
        BASE,
        NETNS,
        CGROUP,
        CGVER,
        PARENT,
        RLIMIT,
        TPM,
        DAEMON,
        PIDNS,
        HELP
    };
    static const struct option opts[] = {
        { "id", required_argument, NULL, ID },
        { "exec-file", required_argument, NULL, EXEC },
        { "uid", required_argument, NULL, UID },
        { "gid", required_argument, NULL, GID },
        { "chroot-base-dir", required_argument, NULL, BASE },
        { "netns", required_argument, NULL, NETNS },
        { "cgroup", required_argument, NULL, CGROUP },
        { "cgroup-version", required_argument, NULL, CGVER },
        { "parent-cgroup", required_argument, NULL, PARENT },
        { "resource-limit", required_argument, NULL, RLIMIT },
        { "tpm-socket", required_argument, NULL, TPM },
        { "daemonize", no_argument, NULL, DAEMON },
        { "new-pid-ns", no_argument, NULL, PIDNS },
        { "help", no_argument, NULL, HELP },
        { NULL, 0, NULL, 0 },
    };
    j->base = "/srv/jailer";
    j->nofile = 2048;
    j->fsize = -1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case ID: j->id = optarg; break;
        case EXEC: j->exec_file = optarg; break;
        case UID: j->uid = (uid_t)number("--uid", optarg), j->has_uid = true; break;
        case GID: j->gid = (gid_t)number("--gid", optarg), j->has_gid = true; break;
        case BASE: j->base = optarg; break;
        case NETNS: j->netns = optarg; break;
        case PARENT: j->parent_cgroup = optarg; break;
        case TPM: j->tpm_socket = optarg; break;
        case DAEMON: j->daemonize = true; break;
        case PIDNS: j->new_pid_ns = true; break;
        case CGVER:
            if (strcmp(optarg, "1") && strcmp(optarg, "2"))
                die(EXIT_ARGS, "--cgroup-version must be 1 or 2, not %s", optarg);
            j->cg_version = optarg[0] == '1' ? CGROUP_V1 : CGROUP_V2;
            break;
        case CGROUP: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || j->ncg == CGROUP_MAX_SETTINGS)
                die(EXIT_ARGS, "--cgroup must be FILE=VALUE (at most %d): %s", CGROUP_MAX_SETTINGS,
                    optarg);
            *eq = 0;
            j->cg[j->ncg++] = (struct cgroup_setting){ optarg, eq + 1 };
            break;
        }
        case RLIMIT:
            if (strncmp(optarg, "fsize=", 6) == 0)
                j->fsize = number("--resource-limit fsize", optarg + 6);
            else if (strncmp(optarg, "no-file=", 8) == 0)
                j->nofile = number("--resource-limit no-file", optarg + 8);
            else
                die(EXIT_ARGS, "--resource-limit must be fsize=N or no-file=N: %s", optarg);
            break;
        case HELP: fputs(usage, stdout); exit(0);
        default: die(EXIT_ARGS, "unknown or incomplete option %s (see --help)", argv[optind - 1]);
        }
    }
    j->args = argv + optind;
    j->nargs = argc - optind;
    if (!j->id || !j->exec_file || !j->has_uid || !j->has_gid)
        die(EXIT_ARGS, "--id, --exec-file, --uid and --gid are required");
    if (!id_valid(j->id))
        die(EXIT_ARGS, "--id must be 1-64 characters of [A-Za-z0-9-]: %s", j->id);
    if (j->exec_file[0] != '/')
        die(EXIT_ARGS, "--exec-file must be an absolute path: %s", j->exec_file);
    if (j->base[0] != '/')
        die(EXIT_ARGS, "--chroot-base-dir must be an absolute path: %s", j->base);
    struct stat st;
    if (stat(j->exec_file, &st) < 0 || !S_ISREG(st.st_mode))
        die(EXIT_ARGS, "--exec-file %s: %s", j->exec_file,
            errno ? strerror(errno) : "not a regular file");
}

/* Step 1: nothing inherited reaches the jailed process. */
static void sanitize(void)
{
    if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
        for (int fd = 3; fd < 65536; fd++)
            close(fd);
    clearenv();
}

/* The vTPM's control channel, connected now while its path is reachable. */
static void connect_tpm(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        die(EXIT_ARGS, "--tpm-socket %s: path too long", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die(EXIT_JAIL, "--tpm-socket %s: %s", path, strerror(errno));
    if (fd != TPM_FD && (dup2(fd, TPM_FD) < 0 || close(fd) < 0))
        die(EXIT_JAIL, "--tpm-socket: %s", strerror(errno));
}

/* Step 8, first half: a mount namespace of its own, entered before the
 * chroot is walked, so that the directory fds below are of its mounts. */
static void private_mounts(void)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        die(EXIT_JAIL, "mount namespace: %s", strerror(errno));
}

static int jail_dir(int at, const char *name, const char *path)
{
    char err[4400];
    int fd = chroot_dir(at, name, path, err, sizeof(err));
    if (fd < 0)
        die(EXIT_JAIL, "%s", err);
    return fd;
}

/* Step 8: the jail (the verified directory ROOT_FD, "root" under ID_FD)
 * becomes the root. The bind mount is made on the fd (mount after fchdir)
 * and re-entered through ID_FD, never by path: a path swapped since the
 * walk redirects nothing. Returns the new root's fd. */
static int pivot(int id_fd, int root_fd, const char *root)
{
    struct stat was, is;
    if (fchdir(root_fd) < 0 || mount(".", ".", NULL, MS_BIND | MS_REC, NULL) < 0)
        die(EXIT_JAIL, "bind mount of %s: %s", root, strerror(errno));
    int top = openat(id_fd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0 || fstat(top, &is) < 0 || fstat(root_fd, &was) < 0 || fchdir(top) < 0)
        die(EXIT_JAIL, "entering %s: %s", root, strerror(errno));
    if (is.st_dev != was.st_dev || is.st_ino != was.st_ino)
        die(EXIT_JAIL, "%s changed while the jail was built", root);
    char old[4200];
    snprintf(old, sizeof(old), "%s/old_root", root);
    close(jail_dir(top, "old_root", old));
    if (syscall(SYS_pivot_root, ".", "old_root") < 0 || chdir("/") < 0 ||
        umount2("/old_root", MNT_DETACH) < 0 || unlinkat(top, "old_root", AT_REMOVEDIR) < 0)
        die(EXIT_JAIL, "pivot_root into %s: %s", root, strerror(errno));
    return top;
}

/* Step 9: the only devices hearth needs, owned by its uid, made in the
 * verified dev and dev/net of the jail whose root is ROOT_FD (ROOT names
 * it in messages). Returns the fd of dev. */
static int device_nodes(int root_fd, const char *root, uid_t uid, gid_t gid)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/dev", root);
    int dev = jail_dir(root_fd, "dev", path);
    snprintf(path, sizeof(path), "%s/dev/net", root);
    int net = jail_dir(dev, "net", path);
    static const struct {
        bool net;
        const char *name, *path;
        unsigned major, minor;
    } nodes[] = {
        { false, "kvm", "/dev/kvm", 10, 232 },
        { true, "tun", "/dev/net/tun", 10, 200 },
        { false, "urandom", "/dev/urandom", 1, 9 },
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        int at = nodes[i].net ? net : dev;
        unlinkat(at, nodes[i].name, 0);
        if (mknodat(at, nodes[i].name, S_IFCHR | 0600, makedev(nodes[i].major, nodes[i].minor)) <
                0 ||
            fchownat(at, nodes[i].name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            die(EXIT_JAIL, "creating %s: %s", nodes[i].path, strerror(errno));
    }
    close(net);
    return dev;
}

static unsigned long long now_us(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    unsigned long long start_us = now_us(CLOCK_MONOTONIC);
    unsigned long long start_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
    sanitize();
    struct jail j = { 0 };
    parse(argc, argv, &j);
    if (geteuid() != 0)
        die(EXIT_JAIL, "must run as root");

    /* First: fd 3 is the vTPM's from here on (nothing else may land there). */
    if (j.tpm_socket)
        connect_tpm(j.tpm_socket);
    const char *exec_name = strrchr(j.exec_file, '/') + 1;
    private_mounts();
    char root[4096], path[4300], err[4400];
    snprintf(root, sizeof(root), "%s/%s/%s/root", j.base, exec_name, j.id);
    int base_fd = chroot_base(j.base, err, sizeof(err));
    if (base_fd < 0)
        die(EXIT_JAIL, "%s", err);
    snprintf(path, sizeof(path), "%s/%s", j.base, exec_name);
    int exec_fd = jail_dir(base_fd, exec_name, path);
    snprintf(path, sizeof(path), "%s/%s/%s", j.base, exec_name, j.id);
    int id_fd = jail_dir(exec_fd, j.id, path);
    int root_fd = jail_dir(id_fd, "root", root);
    close(base_fd);
    close(exec_fd);
    snprintf(path, sizeof(path), "%s/%s", root, exec_name);
    if (chroot_binary(root_fd, exec_name, j.exec_file, path, err, sizeof(err)) < 0)
        die(EXIT_JAIL, "%s", err);

    if (j.netns) {
        int fd = open(j.netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            die(EXIT_JAIL, "--netns %s: %s", j.netns, strerror(errno));
        close(fd);
    }
    struct rlimit rl = { (rlim_t)j.nofile, (rlim_t)j.nofile };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die(EXIT_JAIL, "--resource-limit no-file=%lld: %s", j.nofile, strerror(errno));
    if (j.fsize >= 0) {
        rl = (struct rlimit){ (rlim_t)j.fsize, (rlim_t)j.fsize };
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            die(EXIT_JAIL, "--resource-limit fsize=%lld: %s", j.fsize, strerror(errno));
    }
    /* With a new pid namespace on cgroup v2, the child is born in its
     * group (clone3 CLONE_INTO_CGROUP); otherwise the jailer moves in. */
    int cg_dir = -1;
    if (j.ncg) {
        struct cgroup cg;
        if (cgroup_create(&cg, j.cg_version, j.parent_cgroup ? j.parent_cgroup : exec_name, j.id,
                          j.cg, j.ncg, err, sizeof(err)) < 0)
            die(EXIT_JAIL, "%s", err);
        if (j.new_pid_ns)
            cg_dir = cgroup_open_dir(&cg);
        if (cg_dir < 0 && cgroup_enter(&cg) < 0)
            die(EXIT_JAIL, "entering cgroup %s/%s: %s", cg.parent, cg.id, strerror(errno));
    }
    int top = pivot(id_fd, root_fd, root);
    close(id_fd);
    close(root_fd);
    int dev_fd = device_nodes(top, root, j.uid, j.gid);
    close(top);

    if (j.daemonize) {
        if (setsid() < 0)
            die(EXIT_JAIL, "setsid: %s", strerror(errno));
        int null = openat(dev_fd, "null", O_RDWR | O_NOFOLLOW);
        if (null < 0) /* no /dev/null in the jail: make one, as Firecracker's jailer does */
            null = (mknodat(dev_fd, "null", S_IFCHR | 0666, makedev(1, 3)) == 0)
                       ? openat(dev_fd, "null", O_RDWR | O_NOFOLLOW)
                       : -1;
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            die(EXIT_JAIL, "daemonize: %s", strerror(errno));
        if (null > 2)
            close(null);
    }
    close(dev_fd);
    if (j.new_pid_ns) {
        /* The child is pid 1 of a new namespace and goes on to exec; the
         * jailer waits for it (or, daemonized, leaves it running). */
        struct clone_args ca = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };
        if (cg_dir >= 0) {
            ca.flags |= CLONE_INTO_CGROUP;
            ca.cgroup = (uint64_t)cg_dir;
        }
        pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0)
            die(EXIT_JAIL, "new pid namespace: %s", strerror(errno));
        if (pid > 0) {
            if (j.daemonize)
                return 0;
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    if (privdrop_to(j.uid, j.gid, err, sizeof(err)) < 0)
        die(EXIT_JAIL, "dropping to uid %u gid %u: %s", (unsigned)j.uid, (unsigned)j.gid, err);

    char exe[300], st[32], stc[32];
    snprintf(exe, sizeof(exe), "/%s", exec_name);
    snprintf(st, sizeof(st), "%llu", start_us);
    snprintf(stc, sizeof(stc), "%llu", start_cpu_us);
    char **av = calloc((size_t)j.nargs + 8, sizeof(char *));
    int n = 0;
    av[n++] = exe;
    av[n++] = "--id";
    av[n++] = (char *)j.id;
    av[n++] = "--start-time-us";
    av[n++] = st;
    av[n++] = "--start-time-cpu-us";
    av[n++] = stc;
    for (int i = 0; i < j.nargs; i++)
        av[n++] = j.args[i];
    av[n] = NULL;
    char *envp[] = { NULL };
    execve(exe, av, envp);
    die(EXIT_JAIL, "exec %s: %s", exe, strerror(errno));
}
