/* hearth-attest-agent: the guest side of attestation. Serves the protocol
 * of attest/proto.h on vsock (in the guest), a Unix socket or stdin/stdout
 * (host-side tests): one connection at a time, requests answered in
 * order, each bounded by a time-out so a stalled verifier cannot hold it.
 *   hearth-attest-agent [--vsock PORT | --listen PATH | --stdio]
 *                       [--tcti CONF] [--event-log FILE] [--timeout-ms N] */
#include "agent_tpm.h"
#include "eventlog.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_LOG "/sys/kernel/security/tpm0/binary_bios_measurements"

struct agent {
    struct agent_tpm tpm;
    bool tpm_open;
    const char *tcti, *log_path;
    int timeout_ms;
};

static json_t *fail_msg(const char *fmt, const char *detail)
{
    char buf[600];
    snprintf(buf, sizeof(buf), fmt, detail);
    return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static int read_file(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "event log %s: %s", path, strerror(errno));
        return -1;
    }
    /* securityfs files have no size: read until the end. */
    uint8_t *b = malloc(ATTEST_EVENT_LOG_MAX + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (b && n <= ATTEST_EVENT_LOG_MAX &&
           ((r = read(fd, b + n, ATTEST_EVENT_LOG_MAX + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    int e = errno;
    close(fd);
    if (!b || r < 0 || n > ATTEST_EVENT_LOG_MAX) {
        snprintf(err, errlen, "event log %s: %s", path,
                 !b      ? "out of memory"
                 : r < 0 ? strerror(e)
                         : "larger than 256 KiB");
        free(b);
        return -1;
    }
    *out = b;
    *len = n;
    return 0;
}

static bool ensure_tpm(struct agent *a, char *err, size_t errlen)
{
    if (!a->tpm_open)
        a->tpm_open = agent_tpm_open(&a->tpm, a->tcti, err, errlen) == 0;
    return a->tpm_open;
}

static json_t *do_identity(struct agent *a)
{
    char err[512];
    const uint8_t *cert;
    size_t cert_len, ek_len, ak_len;
    static uint8_t ek[sizeof(TPM2B_PUBLIC)], ak[sizeof(TPM2B_PUBLIC)];
    if (!ensure_tpm(a, err, sizeof(err)) ||
        agent_tpm_identity(&a->tpm, &cert, &cert_len, ek, &ek_len, ak, &ak_len, err, sizeof(err)) <
            0)
        return fail_msg("identity: %s", err);
    return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "ek_certificate", attest_b64(cert, cert_len),
                     "ek_public", attest_b64(ek, ek_len), "ak_public", attest_b64(ak, ak_len));
}

static json_t *do_activate(struct agent *a, json_t *req)
{
    char err[512];
    uint8_t *blob = NULL, *secret = NULL, cred[sizeof(TPMU_HA)];
    size_t blob_len, secret_len, cred_len;
    json_t *res;
    if (attest_get_b64(req, "credential_blob", &blob, &blob_len, sizeof(TPM2B_ID_OBJECT), err,
                       sizeof(err)) < 0 ||
        attest_get_b64(req, "encrypted_secret", &secret, &secret_len,
                       sizeof(TPM2B_ENCRYPTED_SECRET), err, sizeof(err)) < 0)
        res = fail_msg("activate: %s", err);
    else if (!ensure_tpm(a, err, sizeof(err)) ||
             agent_tpm_activate(&a->tpm, blob, blob_len, secret, secret_len, cred, &cred_len, err,
                                sizeof(err)) < 0)
        res = fail_msg("activate: %s", err);
    else
        res = json_pack("{s:b, s:o}", "ok", 1, "credential", attest_b64(cred, cred_len));
    free(blob);
    free(secret);
    return res;
}

/* "pcrs": [0, 1, ...] as a mask; -1 when not a list of PCR numbers. */
static long pcr_mask(json_t *list)
{
    size_t i;
    json_t *v;
    long mask = 0;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return -1;
    json_array_foreach(list, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 23)
            return -1;
        mask |= 1L << json_integer_value(v);
    }
    return mask;
}

static json_t *do_quote(struct agent *a, json_t *req)
{
    char err[512];
    uint8_t nonce[ATTEST_NONCE_MAX], pcrs[24][64];
    static uint8_t attest[sizeof(TPM2B_ATTEST)], sig[sizeof(TPMT_SIGNATURE)];
    size_t nonce_len, attest_len, sig_len, log_len = 0;
    json_t *bank = json_object_get(req, "bank");
    const struct evlog_alg *alg =
        json_is_string(bank) ? evlog_alg_by_name(json_string_value(bank)) : NULL;
    long mask = pcr_mask(json_object_get(req, "pcrs"));
    if (attest_get_hex(req, "nonce", nonce, &nonce_len, ATTEST_NONCE_MIN, ATTEST_NONCE_MAX, err,
                       sizeof(err)) < 0)
        return fail_msg("quote: %s", err);
    if (!alg)
        return fail_msg("quote: bank: %s", "must be sha1, sha256, sha384 or sha512");
    if (mask < 0)
        return fail_msg("quote: pcrs: %s", "must be a non-empty list of PCR numbers 0-23");
    uint8_t *log = NULL;
    if (!ensure_tpm(a, err, sizeof(err)) ||
        agent_tpm_quote(&a->tpm, alg->alg, (uint32_t)mask, nonce, nonce_len, attest, &attest_len,
                        sig, &sig_len, pcrs, err, sizeof(err)) < 0 ||
        read_file(a->log_path, &log, &log_len, err, sizeof(err)) < 0)
        return fail_msg("quote: %s", err);
    json_t *values = json_object();
    for (int i = 0; i < 24; i++) {
        if (mask & (1L << i)) {
            char k[4];
            snprintf(k, sizeof(k), "%d", i);
            json_object_set_new(values, k, attest_hex(pcrs[i], alg->size));
        }
    }
    json_t *res = json_pack("{s:b, s:o, s:o, s:o, s:o}", "ok", 1, "quote",
                            attest_b64(attest, attest_len), "signature", attest_b64(sig, sig_len),
                            "pcr_values", values, "event_log", attest_b64(log, log_len));
    free(log);
    return res;
}

/* Serves one connection until its end, a broken message or a time-out. */
static void serve(struct agent *a, int in_fd, int out_fd)
{
    struct attest_stream s;
    attest_stream_init(&s, in_fd, out_fd, a->timeout_ms);
    for (;;) {
        json_t *req, *res;
        char err[512];
        int r = attest_recv(&s, &req, err, sizeof(err));
        if (r > 0)
            break;
        if (r < 0) {
            /* Say why before hanging up: the verifier names it. */
            res = fail_msg("%s", err);
            attest_send(&s, res, err, sizeof(err));
            json_decref(res);
            break;
        }
        json_t *op = json_object_get(req, "op");
        const char *name = json_is_string(op) ? json_string_value(op) : "";
        if (strcmp(name, "identity") == 0)
            res = do_identity(a);
        else if (strcmp(name, "activate") == 0)
            res = do_activate(a, req);
        else if (strcmp(name, "quote") == 0)
            res = do_quote(a, req);
        else
            res = fail_msg("op: %s", "must be identity, activate or quote");
        json_decref(req);
        r = res ? attest_send(&s, res, err, sizeof(err)) : -1;
        json_decref(res);
        if (r < 0)
            break;
    }
    attest_stream_free(&s);
}

static int listen_on(const char *unix_path, long vsock_port)
{
    int fd;
    if (unix_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(unix_path) >= sizeof(sa.sun_path)) {
            fprintf(stderr, "hearth-attest-agent: --listen %s: path too long\n", unix_path);
            return -1;
        }
        strcpy(sa.sun_path, unix_path);
        unlink(unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
            fprintf(stderr, "hearth-attest-agent: --listen %s: %s\n", unix_path, strerror(errno));
            return -1;
        }
        return fd;
    }
    struct sockaddr_vm sv = { .svm_family = AF_VSOCK,
                              .svm_cid = VMADDR_CID_ANY,
                              .svm_port = (unsigned)vsock_port };
    fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sv, sizeof(sv)) < 0 || listen(fd, 16) < 0) {
        fprintf(stderr, "hearth-attest-agent: vsock port %ld: %s%s\n", vsock_port, strerror(errno),
                errno == EAFNOSUPPORT ? " (no vsock transport loaded?)" : "");
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: hearth-attest-agent [--vsock PORT | --listen PATH | --stdio] "
                    "[--tcti CONF] [--event-log FILE] [--timeout-ms N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "vsock", required_argument, 0, 'v' },
        { "listen", required_argument, 0, 'l' },
        { "stdio", no_argument, 0, 's' },
        { "tcti", required_argument, 0, 't' },
        { "event-log", required_argument, 0, 'e' },
        { "timeout-ms", required_argument, 0, 'T' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    struct agent a = { .log_path = DEFAULT_LOG, .timeout_ms = 30000 };
    const char *unix_path = NULL;
    long port = ATTEST_DEFAULT_PORT;
    bool stdio = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            port = strtol(optarg, &end, 10);
            if (*end || port < 1 || port > 0x7fffffff)
                usage();
            break;
        case 'l': unix_path = optarg; break;
        case 's': stdio = true; break;
        case 't': a.tcti = optarg; break;
        case 'e': a.log_path = optarg; break;
        case 'T':
            a.timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end || a.timeout_ms < 1)
                usage();
            break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    signal(SIGPIPE, SIG_IGN);
    /* tpm2-tss logs its errors to stderr; ours name them already. */
    setenv("TSS2_LOG", "all+none", 0);
    if (stdio) {
        serve(&a, 0, 1);
    } else {
        int lfd = listen_on(unix_path, port);
        if (lfd < 0)
            return 1;
        for (;;) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (cfd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                fprintf(stderr, "hearth-attest-agent: accept: %s\n", strerror(errno));
                return 1;
            }
            serve(&a, cfd, cfd);
            close(cfd);
        }
    }
    if (a.tpm_open)
        agent_tpm_close(&a.tpm);
    return 0;
}
