/* Child-process launch, timing and /proc/PID/smaps accounting. */
#include "core/clock.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void) { return (int64_t)(mono_ns() / 1000); }

static pid_t spawn(char *const argv[], int out_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int proc_run(char *const argv[], const char *out_path, int timeout_ms, struct proc_result *r)
{
    memset(r, 0, sizeof(*r));
    int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    int64_t t0 = now_us();
    pid_t pid = spawn(argv, out);
    if (out >= 0)
        close(out);
    if (pid < 0)
        return -errno;
    int status = 0;
    struct rusage ru;
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (now_us() - t0 > (int64_t)timeout_ms * 1000 && !r->timed_out) {
            r->timed_out = true;
            kill(pid, SIGKILL);
        }
        usleep(100);
    }
    r->wall_us = now_us() - t0;
    r->maxrss_kib = ru.ru_maxrss;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

int smaps_measure(pid_t pid, uint64_t guest_min_kib, struct smaps_total *t)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    memset(t, 0, sizeof(*t));
    /* Per mapping: size, private, writable+private, anonymous. */
    struct {
        uint64_t size, priv;
        bool wp, anon;
    } cur = { 0, 0, false, false }, guest = { 0, 0, false, false };
    uint64_t total_priv = 0, total_wp = 0;
    bool have = false;
    for (;;) {
        char *ok = fgets(line, sizeof(line), f);
        unsigned long lo, hi;
        char perms[8];
        /* Mapping headers start with a lowercase hex address; the
         * per-mapping fields ("Rss:", "VmFlags:") with an uppercase key. */
        bool header = ok && strchr("0123456789abcdef", line[0]) &&
                      sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3;
        if (!ok || header) {
            if (have) {
                if (cur.anon && cur.size >= guest_min_kib && cur.size > guest.size)
                    guest = cur;
                total_priv += cur.priv;
                total_wp += cur.wp ? cur.size : 0;
            }
            if (!ok)
                break;
            /* An anonymous mapping has no path after the inode column. */
            int fields = 0;
            for (char *p = line; *p && *p != '\n';) {
                while (*p == ' ')
                    p++;
                if (*p && *p != '\n')
                    fields++;
                while (*p && *p != ' ' && *p != '\n')
                    p++;
            }
            cur = (typeof(cur)){ (hi - lo) / 1024, 0, perms[1] == 'w' && perms[3] == 'p',
                                 fields == 5 };
            have = true;
            continue;
        }
        /* Of a file mapping only the pages this process copied on write
         * ("Anonymous") are its own: the rest is page cache, shared with
         * every other process mapping that file (every hearth on the host
         * maps its one static binary), and dirty only while a fresh build
         * is still being written back. An anonymous mapping's private
         * pages are all its own. */
        unsigned long v;
        if (cur.anon ? sscanf(line, "Private_Clean: %lu kB", &v) == 1 ||
                           sscanf(line, "Private_Dirty: %lu kB", &v) == 1
                     : sscanf(line, "Anonymous: %lu kB", &v) == 1)
            cur.priv += v;
    }
    fclose(f);
    t->private_kib = total_priv - guest.priv;
    t->writable_kib = total_wp - (guest.wp ? guest.size : 0);
    t->guest_kib = guest.size;
    return 0;
}

int proc_measure_when_ready(char *const argv[], const char *ready, uint64_t guest_min_kib,
                            int timeout_ms, struct smaps_total *t)
{
    return proc_measure_capture(argv, ready, guest_min_kib, timeout_ms, t, NULL);
}

int proc_measure_capture(char *const argv[], const char *ready, uint64_t guest_min_kib,
                         int timeout_ms, struct smaps_total *t, const char *capture)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    FILE *cap = capture ? fopen(capture, "w") : NULL;
    pid_t pid = spawn(argv, p[1]);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        if (cap)
            fclose(cap);
        return -errno;
    }
    char buf[4096];
    size_t len = 0;
    int r = -ETIMEDOUT;
    int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
    while (now_us() < deadline) {
        struct pollfd pfd = { p[0], POLLIN, 0 };
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        if (cap)
            fwrite(buf + len, 1, (size_t)n, cap);
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, ready)) {
            usleep(20000); /* let start-up allocations settle */
            r = smaps_measure(pid, guest_min_kib, t);
            break;
        }
        if (len > sizeof(buf) / 2) { /* keep a tail: `ready` may straddle reads */
            memmove(buf, buf + len - 256, 256);
            len = 256;
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    if (cap)
        fclose(cap);
    return r;
}

void bench_host_desc(char *out, size_t len)
{
    struct utsname u;
    uname(&u);
    const char *mode = getenv("HEARTH_TESTHOST_MODE");
    snprintf(out, len, "%s, KVM: %s", u.nodename,
             mode && strcmp(mode, "emulated") == 0 ? "emulated test host (QEMU TCG, nested SVM)"
                                                   : "/dev/kvm");
}
