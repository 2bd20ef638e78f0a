/* The verifier's side of one attestation. */
#include "client.h"
#include "credential.h"
#include "proto.h"
#include "http_client.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Firecracker's host-initiated vsock: "CONNECT <port>\n", then
 * "OK <host-side port>\n" once the guest accepted; the guest refusing
 * (nothing listens) closes the connection. Read byte by byte so nothing
 * of the stream after the line is taken. */
static int vsock_handshake(int fd, unsigned port, int timeout_ms, char *err, size_t errlen)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
    if (write(fd, line, (size_t)n) != n) {
        snprintf(err, errlen, "sending CONNECT %u: %s", port, strerror(errno));
        return -1;
    }
    size_t len = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long left = timeout_ms -
                    ((ts.tv_sec - start.tv_sec) * 1000 + (ts.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            snprintf(err, errlen, "no answer to CONNECT %u within %d ms (is the guest running?)",
                     port, timeout_ms);
            return -1;
        }
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen,
                     "the VM's vsock refused CONNECT %u: no hearth-attest-agent listens on "
                     "port %u in the guest (started with hearth.attest on its command line?)",
                     port, port);
            return -1;
        }
        if (c == '\n')
            break;
        if (len + 1 >= sizeof(line)) {
            snprintf(err, errlen, "the VM's vsock answered CONNECT %u with a line too long", port);
            return -1;
        }
        line[len++] = c;
    }
    line[len] = 0;
    char *end;
    if (strncmp(line, "OK ", 3) != 0 || strtoul(line + 3, &end, 10) == 0 || *end) {
        snprintf(err, errlen,
                 "the VM's vsock answered CONNECT %u with \"%.40s\", not \"OK <port>\"", port,
                 line);
        return -1;
    }
    return 0;
}

int attest_connect(const struct attest_target *t, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    const char *kind = t->vsock ? "the VM's vsock socket" : "the agent's socket";
    if (strlen(t->path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s %s: path too long", kind, t->path);
        return -1;
    }
    strcpy(sa.sun_path, t->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s %s: %s", kind, t->path,
                 e == ENOENT         ? "does not exist (is the VM running, with a vsock device?)"
                 : e == ECONNREFUSED ? "nobody listens (the VM or agent has exited?)"
                                     : strerror(e));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (t->vsock && vsock_handshake(fd, t->port, timeout_ms, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request and its answer; NULL with v->error set when there is none
 * or the agent says it failed (unless soft: then the answer is kept). */
static json_t *ask(struct attest_stream *s, json_t *req, const char *what, struct verdict *v)
{
    char err[400];
    json_t *res = NULL;
    if (req && attest_send(s, req, err, sizeof(err)) < 0) {
        snprintf(v->error, sizeof(v->error), "%s: %s", what, err);
        json_decref(req);
        return NULL;
    }
    json_decref(req);
    int r = attest_recv(s, &res, err, sizeof(err));
    if (r != 0) {
        snprintf(v->error, sizeof(v->error), "%s: %s", what,
                 r > 0 ? "the agent closed the connection without answering" : err);
        return NULL;
    }
    return res;
}

static bool answer_ok(json_t *res) { return json_is_true(json_object_get(res, "ok")); }

static const char *answer_error(json_t *res)
{
    json_t *e = json_object_get(res, "error");
    return json_is_string(e) ? json_string_value(e) : "no reason given";
}

/* "pcr_values": {"0": hex, ...} in the policy's bank. */
static void read_pcr_values(json_t *res, const struct attest_policy *p, struct evidence *e)
{
    json_t *vals = json_object_get(res, "pcr_values");
    for (int i = 0; i < 24; i++) {
        char k[4], err[100];
        size_t n;
        snprintf(k, sizeof(k), "%d", i);
        if (json_object_get(vals, k) && attest_get_hex(vals, k, e->pcr_values[i], &n, p->bank->size,
                                                       p->bank->size, err, sizeof(err)) == 0)
            e->pcr_values_mask |= 1u << i;
    }
}

static void converse(struct attest_stream *s, const struct attest_opts *o, struct verdict *v)
{
    const struct attest_policy *p = o->policy;
    struct challenge c;
    struct evidence e = { 0 };
    uint8_t *bufs[7] = { 0 };
    char err[400] = "out of memory", act_err[200];
    json_t *id = NULL, *act = NULL, *quote = NULL;
    TPM2B_PUBLIC ek, ak;
    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET seed;
    uint8_t blob_wire[sizeof(blob)], seed_wire[sizeof(seed)];
    size_t blob_len = 0, seed_len = 0;

    if (RAND_bytes(c.nonce, sizeof(c.nonce)) != 1 || RAND_bytes(c.secret, sizeof(c.secret)) != 1) {
        snprintf(v->error, sizeof(v->error), "no randomness for the nonce");
        return;
    }
    if (!(id = ask(s, json_pack("{s:s}", "op", "identity"), "asking for the identity", v)))
        goto out;
    if (!answer_ok(id)) {
        snprintf(v->error, sizeof(v->error), "the agent could not give its identity: %.400s",
                 answer_error(id));
        goto out;
    }
    if (attest_get_b64(id, "ek_certificate", &bufs[0], &e.ek_cert_len, 16384, err, sizeof(err)) ||
        attest_get_b64(id, "ek_public", &bufs[1], &e.ek_pub_len, sizeof(TPM2B_PUBLIC), err,
                       sizeof(err)) ||
        attest_get_b64(id, "ak_public", &bufs[2], &e.ak_pub_len, sizeof(TPM2B_PUBLIC), err,
                       sizeof(err))) {
        snprintf(v->error, sizeof(v->error), "the agent's identity: %s", err);
        goto out;
    }
    e.ek_cert = bufs[0];
    e.ek_pub = bufs[1];
    e.ak_pub = bufs[2];
    if (!verify_identity(p, o->ca, &e, &ek, &ak, v))
        goto out;
    if (cred_name(&ak.publicArea, &c.ak_name) < 0 ||
        cred_make(&ek.publicArea, &c.ak_name, c.secret, sizeof(c.secret), &blob, &seed, err,
                  sizeof(err)) < 0 ||
        Tss2_MU_TPM2B_ID_OBJECT_Marshal(&blob, blob_wire, sizeof(blob_wire), &blob_len) ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&seed, seed_wire, sizeof(seed_wire), &seed_len)) {
        snprintf(v->error, sizeof(v->error), "%s", err);
        goto out;
    }
    json_t *pcrs = json_array();
    for (int i = 0; i < 24; i++)
        if (p->pcrs & (1u << i))
            json_array_append_new(pcrs, json_integer(i));
    /* Both requests at once: the agent answers in order. */
    json_t *areq = json_pack("{s:s, s:o, s:o}", "op", "activate", "credential_blob",
                             attest_b64(blob_wire, blob_len), "encrypted_secret",
                             attest_b64(seed_wire, seed_len));
    json_t *qreq =
        json_pack("{s:s, s:o, s:s, s:o}", "op", "quote", "nonce",
                  attest_hex(c.nonce, sizeof(c.nonce)), "bank", p->bank->name, "pcrs", pcrs);
    if (!areq || !qreq || attest_send(s, areq, err, sizeof(err)) < 0 ||
        attest_send(s, qreq, err, sizeof(err)) < 0) {
        snprintf(v->error, sizeof(v->error), "sending the challenge: %s", err);
        json_decref(areq);
        json_decref(qreq);
        goto out;
    }
    json_decref(areq);
    json_decref(qreq);
    if (!(act = ask(s, NULL, "activating the credential", v)) ||
        !(quote = ask(s, NULL, "asking for the quote", v)))
        goto out;
    if (!answer_ok(act))
        e.activate_error = answer_error(act);
    else if (attest_get_b64(act, "credential", &bufs[3], &e.credential_len, 64, act_err,
                            sizeof(act_err)))
        e.activate_error = act_err;
    e.credential = bufs[3];
    if (!answer_ok(quote)) {
        snprintf(v->error, sizeof(v->error), "the agent could not quote: %.400s",
                 answer_error(quote));
        goto out;
    }
    if (attest_get_b64(quote, "quote", &bufs[4], &e.quote_len, sizeof(TPM2B_ATTEST), err,
                       sizeof(err)) ||
        attest_get_b64(quote, "signature", &bufs[5], &e.signature_len, sizeof(TPMT_SIGNATURE), err,
                       sizeof(err)) ||
        attest_get_b64(quote, "event_log", &bufs[6], &e.event_log_len, ATTEST_EVENT_LOG_MAX, err,
                       sizeof(err))) {
        snprintf(v->error, sizeof(v->error), "the agent's quote: %s", err);
        goto out;
    }
    e.quote = bufs[4];
    e.signature = bufs[5];
    e.event_log = bufs[6];
    read_pcr_values(quote, p, &e);
    verify_attestation(p, &c, &ak, &e, v);
out:
    for (int i = 0; i < 7; i++)
        free(bufs[i]);
    json_decref(id);
    json_decref(act);
    json_decref(quote);
}

void attest_run(const struct attest_target *t, const struct attest_opts *o, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    uint64_t t0 = now_us();
    int fd = attest_connect(t, o->timeout_ms, v->error, sizeof(v->error));
    if (fd >= 0) {
        struct attest_stream s;
        attest_stream_init(&s, fd, fd, o->timeout_ms);
        converse(&s, o, v);
        attest_stream_free(&s);
        close(fd);
    }
    v->us = now_us() - t0;
}

X509_STORE *attest_ca_from_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509_STORE *st = X509_STORE_new();
    X509 *c;
    int n = 0;
    while (b && st && (c = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        n += X509_STORE_add_cert(st, c) == 1;
        X509_free(c);
    }
    BIO_free(b);
    if (!n) {
        snprintf(err, errlen, "no PEM certificate in it");
        X509_STORE_free(st);
        return NULL;
    }
    /* The tenant trusts exactly these: an intermediate may end the chain. */
    X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
    return st;
}

X509_STORE *attest_ca_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char buf[65536], sub[200];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (!f) {
        snprintf(err, errlen, "--ca %s: %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);
    X509_STORE *st = attest_ca_from_pem(buf, n, sub, sizeof(sub));
    if (!st)
        snprintf(err, errlen, "--ca %s: %s", path, sub);
    return st;
}

X509_STORE *attest_ca_from_tpmd(const char *socket, char *err, size_t errlen)
{
    int status = 0;
    char *head = NULL, *body = NULL, sub[300];
    X509_STORE *st = NULL;
    if (http_client_request(socket, "GET", "/ca", &status, &head, &body, sub, sizeof(sub)) < 0)
        snprintf(err, errlen, "--tpmd-socket %s: %s", socket, sub);
    else if (status != 200)
        snprintf(err, errlen, "--tpmd-socket %s: GET /ca answered %d", socket, status);
    else if (!(st = attest_ca_from_pem(body, strlen(body), sub, sizeof(sub))))
        snprintf(err, errlen, "--tpmd-socket %s: GET /ca: %s", socket, sub);
    free(head);
    free(body);
    return st;
}
