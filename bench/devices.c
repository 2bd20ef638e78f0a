/* hearth-bench devices: virtio-blk and virtio-net under Debian's Linux,
 * hearth vs QEMU microvm with the same devices (a raw disk, a TAP in a
 * network namespace of the benchmark's, an entropy device; vsock where
 * the host has vhost-vsock for QEMU), interleaved: 4 KiB random-read IOPS
 * (16 in flight), sequential MiB/s (1 MiB reads), TCP MiB/s guest to host,
 * and each monitor's private memory after that work. Then hearth's memory
 * per device, set up but unused (the idle payload with one device each). */
#include "bench.h"
#include "proc.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NS "hearth-bench-dev"
#define DISK_MIB 256
#define MAX_RUNS 50

struct result {
    double iops[MAX_RUNS], seq_mibs[MAX_RUNS], tcp_mibs[MAX_RUNS], priv_kib[MAX_RUNS];
    int n, failed;
};

/* The host's end of the TCP test: accepts in the namespace, discards. */
static void *receiver(void *arg)
{
    (void)arg;
    int ns = open("/var/run/netns/" NS, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) /* this thread only */
        return NULL;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons(5000),
                             .sin_addr.s_addr = htonl(0xac100001) };
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0)
        return NULL;
    static char buf[1 << 16];
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        while (read(c, buf, sizeof(buf)) > 0)
            ;
        close(c);
    }
    return NULL;
}

static int sh(const char *cmd) { return system(cmd) == 0 ? 0 : -1; }

/* "bench: WHAT A B" in the captured output: A and B. */
static bool field(const char *path, const char *what, double *a, double *b)
{
    FILE *f = fopen(path, "r");
    char line[256], key[64];
    bool found = false;
    snprintf(key, sizeof(key), "bench: %s ", what);
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)) && sscanf(line + strlen(key), "%lf %lf", a, b) == 2)
            found = true;
    if (f)
        fclose(f);
    return found;
}

static void one_run(const struct bench_ctx *c, bool qemu, const char *kernel, const char *initrd,
                    bool vhost_vsock, struct result *r)
{
    char out[200], cfg[200], disk[200], uds[200], mac[] = "06:00:ac:10:00:02";
    const char *args = bench_linux_args(qemu, false);
    snprintf(out, sizeof(out), "%s/run.out", c->tmp);
    snprintf(disk, sizeof(disk), "%s/disk.img", c->tmp);
    snprintf(uds, sizeof(uds), "%s/v.sock", c->tmp);
    unlink(uds);
    char hearth[1100], drive[300], rng[] = "virtio-rng-device";
    char *argv[48];
    int n = 0;
    argv[n++] = "/usr/sbin/ip", argv[n++] = "netns", argv[n++] = "exec", argv[n++] = NS;
    if (qemu) {
        static const char *fixed[] = { "-enable-kvm",
                                       "-cpu",
                                       "host",
                                       "-smp",
                                       "1",
                                       "-m",
                                       "256",
                                       "-nodefaults",
                                       "-no-user-config",
                                       "-nographic",
                                       "-serial",
                                       "stdio",
                                       "-no-reboot",
                                       "-netdev",
                                       "tap,id=n0,ifname=tap0,script=no,downscript=no",
                                       "-device",
                                       "virtio-net-device,netdev=n0",
                                       "-device" };
        argv[n++] = (char *)c->qemu;
        argv[n++] = "-M";
        argv[n++] = (char *)bench_qemu_machine(true);
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            argv[n++] = (char *)fixed[i];
        argv[n++] = rng;
        snprintf(drive, sizeof(drive), "id=d0,file=%s,format=raw,if=none", disk);
        argv[n++] = "-drive", argv[n++] = drive;
        argv[n++] = "-device", argv[n++] = "virtio-blk-device,drive=d0";
        if (vhost_vsock)
            argv[n++] = "-device", argv[n++] = "vhost-vsock-device,guest-cid=3";
        argv[n++] = "-kernel", argv[n++] = (char *)kernel;
        argv[n++] = "-initrd", argv[n++] = (char *)initrd;
        argv[n++] = "-append", argv[n++] = (char *)args;
    } else {
        snprintf(cfg, sizeof(cfg), "%s/vm.json", c->tmp);
        FILE *f = fopen(cfg, "w");
        if (!f) {
            r->failed++;
            return;
        }
        fprintf(f,
                "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\","
                " \"boot_args\": \"%s\"},\n \"machine-config\": {\"vcpu_count\": 1,"
                " \"mem_size_mib\": 256},\n \"drives\": [{\"drive_id\": \"d0\", \"path_on_host\":"
                " \"%s\", \"is_root_device\": false}],\n \"network-interfaces\": [{\"iface_id\":"
                " \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"%s\"}],\n \"vsock\":"
                " {\"guest_cid\": 3, \"uds_path\": \"%s\"}, \"entropy\": {}}\n",
                kernel, initrd, args, disk, mac, uds);
        fclose(f);
        snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
        argv[n++] = hearth, argv[n++] = "--config-file", argv[n++] = cfg;
        argv[n++] = "--no-api", argv[n++] = "--level", argv[n++] = "Error";
    }
    argv[n] = NULL;
    struct smaps_total m = { 0 };
    double a, b;
    int i = r->n;
    if (proc_measure_capture(argv, "# idle: ready", 200 * 1024, 600000, &m, out) == 0 &&
        field(out, "randread", &a, &b) && b > 0) {
        r->iops[i] = a * 1e9 / b;
        r->seq_mibs[i] = field(out, "seqread", &a, &b) && b > 0 ? a / b * 1e9 / (1 << 20) : 0;
        r->tcp_mibs[i] = field(out, "tcp-send", &a, &b) && b > 0 ? a / b * 1e9 / (1 << 20) : 0;
        r->priv_kib[i] = (double)m.private_kib;
        r->n++;
    } else {
        r->failed++;
    }
}

static double p50(double *v, int n)
{
    struct stats s;
    stats_compute(v, (size_t)n, &s);
    return s.p50;
}

/* hearth's private memory with the idle payload and `extra` config. */
static long idle_kib(const struct bench_ctx *c, const char *extra)
{
    char cfg[200], hearth[1100];
    snprintf(cfg, sizeof(cfg), "%s/idle.json", c->tmp);
    snprintf(hearth, sizeof(hearth), "%s/hearth", c->build);
    FILE *f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"boot-source\": {\"kernel_image_path\": \"%s/guest/idle.elf\"},"
            " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}%s%s}\n",
            c->build, *extra ? ", " : "", extra);
    fclose(f);
    char *argv[] = { "/usr/sbin/ip",  "netns", "exec",     NS,  hearth,
                     "--config-file", cfg,     "--no-api", NULL };
    struct smaps_total m;
    return proc_measure_when_ready(argv, "# idle: ready", 96 * 1024, 60000, &m) == 0
               ? (long)m.private_kib
               : -1;
}

int cmd_devices(struct bench_ctx *c, int argc, char **argv)
{
    char kernel[1200], initrd[1200], src[1200], cmd[8192];
    snprintf(kernel, sizeof(kernel), "%s/kernel/vmlinux", c->build);
    snprintf(src, sizeof(src), "%s/..", c->build);
    static const struct option opts[] = { { "kernel", required_argument, NULL, 'k' },
                                          { "src", required_argument, NULL, 's' },
                                          { "runs", required_argument, NULL, 'n' },
                                          { NULL, 0, NULL, 0 } };
    optind = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'k')
            snprintf(kernel, sizeof(kernel), "%s", optarg);
        else if (o == 's')
            snprintf(src, sizeof(src), "%s", optarg);
        else if (o == 'n')
            c->runs = atoi(optarg);
        else
            return 2;
    }
    if (c->runs > MAX_RUNS)
        c->runs = MAX_RUNS;
    snprintf(initrd, sizeof(initrd), "%s/initramfs", c->tmp);
    char kdir[1200];
    snprintf(kdir, sizeof(kdir), "%s", kernel);
    char *slash = strrchr(kdir, '/');
    if (slash)
        *slash = 0;
    /* The guest: the same modules and script for both monitors. */
    snprintf(cmd, sizeof(cmd),
             "MODULES='virtio_mmio virtio_blk virtio_net vmw_vsock_virtio_transport virtio-rng' "
             "MODULES_DIR=%s/modules BINS=%s/guest/guest_tool "
             "SCRIPT=%s/guest/linux/devices-bench.sh %s/scripts/mkinitramfs.sh %s BENCH "
             "&& dd if=/dev/urandom of=%s/disk.img bs=1M count=%d status=none",
             kdir, c->build, src, src, initrd, c->tmp, DISK_MIB);
    if (sh(cmd) < 0) {
        fprintf(stderr, "hearth-bench devices: could not build the guest (%s)\n", cmd);
        return 1;
    }
    sh("ip netns del " NS " 2> /dev/null");
    if (sh("ip netns add " NS " && ip netns exec " NS " ip link set lo up && "
           "ip netns exec " NS " ip tuntap add tap0 mode tap && "
           "ip netns exec " NS " ip addr add 172.16.0.1/24 dev tap0 && "
           "ip netns exec " NS " ip link set tap0 up") < 0) {
        fprintf(stderr, "hearth-bench devices: could not set up the network namespace\n");
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, receiver, NULL);
    bool vhost_vsock = access("/dev/vhost-vsock", R_OK | W_OK) == 0;
    static struct result h, q;
    for (int i = 0; i < c->runs; i++) {
        one_run(c, false, kernel, initrd, false, &h);
        if (c->qemu)
            one_run(c, true, kernel, initrd, vhost_vsock, &q);
    }
    /* Memory per device: set up, never used by the idle payload. */
    char drive[400], vsock[300], isock[200];
    snprintf(drive, sizeof(drive),
             "\"drives\": [{\"drive_id\": \"d0\", \"path_on_host\": "
             "\"%s/disk.img\", \"is_root_device\": false}]",
             c->tmp);
    snprintf(isock, sizeof(isock), "%s/i.sock", c->tmp);
    snprintf(vsock, sizeof(vsock), "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"%s\"}", isock);
    const char *net =
        "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}]";
    long base = idle_kib(c, ""), kb = idle_kib(c, drive), kn = idle_kib(c, net);
    long kv = idle_kib(c, vsock), ke = idle_kib(c, "\"entropy\": {}");
    sh("ip netns del " NS);

    char host[160];
    bench_host_desc(host, sizeof(host));
    printf("# hearth-bench devices: %d runs each, interleaved; Debian %s guest, 1 vCPU, 256 MiB;"
           " host %s\n\n",
           c->runs, "cloud kernel", host);
    printf("| monitor | n | failed | 4 KiB rand-read IOPS | seq read MiB/s | TCP guest->host MiB/s"
           " | private KiB after the work |\n|---|---|---|---|---|---|---|\n");
    printf("| hearth | %d | %d | %.0f | %.1f | %.1f | %.0f |\n", h.n, h.failed, p50(h.iops, h.n),
           p50(h.seq_mibs, h.n), p50(h.tcp_mibs, h.n), p50(h.priv_kib, h.n));
    if (c->qemu)
        printf("| qemu microvm%s | %d | %d | %.0f | %.1f | %.1f | %.0f |\n",
               vhost_vsock ? "" : " (no vsock: no /dev/vhost-vsock)", q.n, q.failed,
               p50(q.iops, q.n), p50(q.seq_mibs, q.n), p50(q.tcp_mibs, q.n), p50(q.priv_kib, q.n));
    printf("\nhearth's private memory per device, set up and unused (idle payload, 128 MiB):\n\n"
           "| none | + virtio-blk | + virtio-net | + virtio-vsock | + virtio-rng |\n"
           "|---|---|---|---|---|\n| %ld KiB | %+ld KiB | %+ld KiB | %+ld KiB | %+ld KiB |\n",
           base, kb - base, kn - base, kv - base, ke - base);
    if (c->qemu && q.n && h.n) {
        printf("\nTargets (issue 10): hearth/qemu >= 1.0; hearth <= 1024 KiB with all four\n"
               "- 4 KiB random-read IOPS: %.2f\n- sequential read: %.2f\n- TCP guest->host: %.2f\n",
               p50(h.iops, h.n) / p50(q.iops, q.n), p50(h.seq_mibs, h.n) / p50(q.seq_mibs, q.n),
               p50(h.tcp_mibs, h.n) / p50(q.tcp_mibs, q.n));
    }
    printf("- hearth private memory with all four devices, after the work: %.0f KiB\n",
           p50(h.priv_kib, h.n));
    return h.failed || q.failed || base < 0 || kb < 0 || kn < 0 || kv < 0 || ke < 0;
}
