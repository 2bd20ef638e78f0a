/* hearth-bench jailer: what hearth-jailer adds to a boot: the hello
 * payload from exec to exit, directly and through the jailer (chroot,
 * new pid namespace, a cgroup, uid drop), interleaved. */
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cmd_jailer(struct bench_ctx *c)
{
    char cfg[PATH_MAX], exe[PATH_MAX], jailer[PATH_MAX], base[PATH_MAX], root[PATH_MAX + 64];
    static char cmd[PATH_MAX * 8];
    snprintf(exe, sizeof(exe), "%s/hearth", c->build);
    snprintf(jailer, sizeof(jailer), "%s/hearth-jailer", c->build);
    snprintf(cfg, sizeof(cfg), "%s/hello.json", c->tmp);
    bench_write_config(c, cfg, "hello", 128, "", NULL, NULL);
    snprintf(base, sizeof(base), "%s/jail", c->tmp);
    snprintf(root, sizeof(root), "%s/hearth/bench/root", base);
    /* The chroot as a user prepares it: the payload and a config there. */
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && cp %s/guest/hello.elf %s/hello.elf && printf '%%s' "
             "'{\"boot-source\": {\"kernel_image_path\": \"/hello.elf\"}}' > %s/vm.json",
             root, c->build, root, root);
    if (system(cmd) != 0) {
        fprintf(stderr, "hearth-bench jailer: preparing %s failed\n", root);
        return 1;
    }
    char *direct[] = { exe, "--config-file", cfg, "--no-api", "--level", "Error", NULL };
    char *jailed[] = {
        jailer,       "--id",        "bench",      "--exec-file",       exe,        "--uid",
        "1900099999", "--gid",       "1900099999", "--chroot-base-dir", base,       "--new-pid-ns",
        "--cgroup",   "pids.max=64", "--",         "--config-file",     "/vm.json", "--no-api",
        "--level",    "Error",       NULL
    };
    static double a[1000], b[1000];
    int na = 0, nb = 0, failed = 0;
    for (int i = 0; i < c->runs; i++) {
        struct proc_result r;
        if (proc_run(direct, NULL, 10000, &r) == 0 && r.status == 0)
            a[na++] = (double)r.wall_us / 1000.0;
        else
            failed++;
        if (proc_run(jailed, NULL, 10000, &r) == 0 && r.status == 0)
            b[nb++] = (double)r.wall_us / 1000.0;
        else
            failed++;
    }
    snprintf(cmd, sizeof(cmd),
             "for d in /sys/fs/cgroup/hearth /sys/fs/cgroup/*/hearth; do rmdir $d/bench $d "
             "2>/dev/null; done; true");
    if (system(cmd) != 0)
        fprintf(stderr, "hearth-bench jailer: cgroups left in /sys/fs/cgroup/*/hearth\n");
    char host[256];
    bench_host_desc(host, sizeof(host));
    struct stats sa, sb;
    stats_compute(a, (size_t)na, &sa);
    stats_compute(b, (size_t)nb, &sb);
    printf("# hearth-bench jailer: %d runs each, interleaved; host %s\n\n", c->runs, host);
    printf(
        "| series (hello, exec to exit) | n | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|\n");
    printf("| hearth | %zu | %.2f | %.2f | %.2f |\n", sa.n, sa.p50, sa.p95, sa.mean);
    printf("| hearth-jailer + hearth | %zu | %.2f | %.2f | %.2f |\n", sb.n, sb.p50, sb.p95,
           sb.mean);
    printf("\nJailer overhead, p50: %+.2f ms (target <= +2 ms); %d runs failed\n", sb.p50 - sa.p50,
           failed);
    return failed ? 1 : 0;
}
