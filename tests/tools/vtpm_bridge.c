/* vtpm_bridge: hearth's measured boot without a VM, for host-only
 * attestation tests (no KVM needed).
 *   vtpm_bridge measure CTRL_SOCKET VM_JSON LOG_OUT [DEVICES]
 *       does what hearth does before a VM's first instruction, with
 *       hearth's own code: INIT + TPM2_Startup on the vTPM, then
 *       measure_boot() of VM_JSON's kernel, initrd, command line (plus
 *       DEVICES, the entries hearth would append) and machine
 *       configuration; writes the TCG event log to LOG_OUT, prints the
 *       measuring time, and leaves the vTPM running with those PCRs.
 *   vtpm_bridge relay CTRL_SOCKET
 *       relays TPM commands from stdin to the (already started) vTPM and
 *       responses to stdout, for tpm2-tss's "cmd:" TCTI: the agent talks
 *       to a vTPM that only has a control socket, as hearth-tpmd's do. */
#include "config/config.h"
#include "tpm/measure.h"
#include "tpm/swtpm.h"
#include "tpm/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CMD_SET_DATAFD 0x10
#define LOG_CAP 0x10000

static int die(const char *fmt, const char *a)
{
    fprintf(stderr, "vtpm_bridge: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 1;
}

/* The whole file at path, malloc'd (what hearth's loaders read), or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = path ? fopen(path, "rbe") : NULL;
    uint8_t *buf = NULL;
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

static int measure(const char *ctrl, const char *vm_json, const char *log_out, const char *devices)
{
    static struct swtpm s;
    static uint8_t log[LOG_CAP];
    struct vm_config cfg;
    struct tpm_backend b;
    struct measure_log m;
    char err[512];
    config_init(&cfg);
    if (config_parse_file(vm_json, &cfg, err, sizeof(err)) < 0)
        return die("%s", err);
    char cmdline[4096];
    snprintf(cmdline, sizeof(cmdline), "%s%s%s", config_boot_args(&cfg), *devices ? " " : "",
             devices);
    char *machine = measure_machine_json(&cfg, devices);
    size_t klen, rdlen;
    uint8_t *kernel = slurp(cfg.boot.kernel_image_path, &klen);
    uint8_t *initrd = slurp(cfg.boot.initrd_path, &rdlen);
    if (!kernel || (cfg.boot.initrd_path && !initrd))
        return die("%s: cannot read the kernel or initrd", vm_json);
    const struct measure_inputs in = { .kernel_path = cfg.boot.kernel_image_path,
                                       .initrd_path = cfg.boot.initrd_path,
                                       .kernel = kernel,
                                       .kernel_len = klen,
                                       .initrd = initrd,
                                       .initrd_len = rdlen,
                                       .cmdline = cmdline,
                                       .config_json = machine };
    if (swtpm_open(&s, ctrl, -1, 10000, err, sizeof(err)) < 0 || swtpm_start(&s, &b) < 0)
        return die("%s", err);
    int r = measure_boot(&m, &b, &in, log, sizeof(log), err, sizeof(err));
    swtpm_release(&s); /* no SHUTDOWN: the vTPM keeps its PCRs */
    free(machine);
    free(kernel);
    free(initrd);
    config_free(&cfg);
    if (r < 0)
        return die("%s", err);
    FILE *f = fopen(log_out, "we");
    if (!f || fwrite(log, 1, m.log_len, f) != m.log_len || fclose(f) != 0)
        return die("%s: cannot write", log_out);
    printf("measured %d events in %llu us\n", m.nevents, (unsigned long long)m.took_us);
    return 0;
}

static int full_io(int fd, uint8_t *p, size_t n, bool out)
{
    while (n) {
        ssize_t r = out ? write(fd, p, n) : read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* SET_DATAFD only: no INIT, so the PCRs measure left stay. */
static int relay(const char *ctrl)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctrl);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), pair[2];
    if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return die("%s: cannot connect", ctrl);
    uint8_t req[4], res[4];
    tpm_put_be32(req, CMD_SET_DATAFD);
    char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
    struct iovec iov = { req, sizeof(req) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)
    };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pair[1], sizeof(int));
    if (sendmsg(c, &mh, 0) != sizeof(req) || full_io(c, res, 4, false) < 0 || tpm_be32(res))
        return die("%s: SET_DATAFD refused", ctrl);
    close(pair[1]);
    static uint8_t buf[TPM_BUFFER_MAX];
    for (;;) {
        if (full_io(0, buf, TPM_HEADER_SIZE, false) < 0)
            return 0; /* the TCTI closed: done */
        uint32_t n = tpm_be32(buf + 2);
        if (n < TPM_HEADER_SIZE || n > sizeof(buf) ||
            full_io(0, buf + TPM_HEADER_SIZE, n - TPM_HEADER_SIZE, false) < 0 ||
            full_io(pair[0], buf, n, true) < 0 || full_io(pair[0], buf, TPM_HEADER_SIZE, false) < 0)
            return die("%s: a command failed", ctrl);
        n = tpm_be32(buf + 2);
        if (n < TPM_HEADER_SIZE || n > sizeof(buf) ||
            full_io(pair[0], buf + TPM_HEADER_SIZE, n - TPM_HEADER_SIZE, false) < 0 ||
            full_io(1, buf, n, true) < 0)
            return die("%s: a response failed", ctrl);
    }
}

int main(int argc, char **argv)
{
    if (argc >= 5 && argc <= 6 && strcmp(argv[1], "measure") == 0)
        return measure(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : "");
    if (argc == 3 && strcmp(argv[1], "relay") == 0)
        return relay(argv[2]);
    fprintf(stderr, "usage: vtpm_bridge measure CTRL_SOCKET VM_JSON LOG_OUT [DEVICES]\n"
                    "       vtpm_bridge relay CTRL_SOCKET\n");
    return 2;
}
