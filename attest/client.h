/* The verifier's conversation with one agent: connect (a Unix socket, or
 * a VM's vsock Unix socket with Firecracker's "CONNECT <port>" handshake),
 * identity, MakeCredential, activate + quote, then the checks of
 * evidence_verify.h. Every failure to get that far is an error in the verdict
 * that says what was unreachable or missing. */
#ifndef ATTEST_CLIENT_H
#define ATTEST_CLIENT_H

#include "policy.h"
#include "evidence_verify.h"

#include <openssl/x509.h>
#include <stdbool.h>

struct attest_target {
    bool vsock; /* the VM's vsock Unix socket: CONNECT first */
    char path[108];
    unsigned port;
};

struct attest_opts {
    X509_STORE *ca;
    const struct attest_policy *policy;
    int timeout_ms; /* per step */
};

/* A connected stream to the agent, or -1 with the reason. */
int attest_connect(const struct attest_target *t, int timeout_ms, char *err, size_t errlen);

void attest_run(const struct attest_target *t, const struct attest_opts *o, struct verdict *v);

/* A store trusting every certificate in a PEM file (chains may end at an
 * intermediate), or from hearth-tpmd's GET /ca on its socket. */
X509_STORE *attest_ca_from_pem(const char *pem, size_t len, char *err, size_t errlen);
X509_STORE *attest_ca_load(const char *path, char *err, size_t errlen);
X509_STORE *attest_ca_from_tpmd(const char *socket, char *err, size_t errlen);

#endif
