/* jail_probe: what a process inside hearth-jailer's jail sees, one line
 * each (uid, pid, open fds, environment, arguments, its root, device
 * nodes, limits), then it waits for a line on stdin so the test can look
 * at it from outside. With alloc=N it first touches N MiB of memory (the
 * cgroup's memory limit then shows). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    printf("uid %u gid %u pid %d\n", (unsigned)getuid(), (unsigned)getgid(), (int)getpid());
    printf("fds");
    for (int fd = 0; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0)
            printf(" %d%s", fd, S_ISSOCK(st.st_mode) ? "(socket)" : "");
    }
    printf("\nenv %d\nargs", environ && environ[0] ? 1 : 0);
    for (int i = 1; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\nroot");
    DIR *d = opendir("/");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            printf(" %s", e->d_name);
    printf("\n");
    static const char *const devs[] = { "/dev/kvm", "/dev/net/tun", "/dev/urandom" };
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (stat(devs[i], &st) == 0)
            printf("dev %s %u:%u owner %u:%u mode %o\n", devs[i], major(st.st_rdev),
                   minor(st.st_rdev), (unsigned)st.st_uid, (unsigned)st.st_gid,
                   (unsigned)(st.st_mode & 07777));
        else
            printf("dev %s missing\n", devs[i]);
    }
    struct rlimit nofile, fsize;
    getrlimit(RLIMIT_NOFILE, &nofile);
    getrlimit(RLIMIT_FSIZE, &fsize);
    printf("rlimit nofile %llu fsize %lld\n", (unsigned long long)nofile.rlim_cur,
           fsize.rlim_cur == RLIM_INFINITY ? -1LL : (long long)fsize.rlim_cur);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "alloc=", 6) == 0) {
            size_t mib = strtoul(argv[i] + 6, NULL, 10);
            char *p = malloc(mib << 20);
            for (size_t k = 0; p && k < mib << 20; k += 4096)
                p[k] = 1;
            printf("touched %zu MiB\n", mib);
        }
    }
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 3;
    return 0;
}
