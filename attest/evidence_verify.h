/* The verifier's judgement: given what the agent sent (all of it from the
 * guest, so hostile), the challenge it was given, the CA and a policy,
 * a list of named checks that each pass, fail or could not be made.
 * Pure: no I/O, so the fuzzer drives it. */
#ifndef ATTEST_EVIDENCE_VERIFY_H
#define ATTEST_EVIDENCE_VERIFY_H

#include "policy.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

enum check_status { CHECK_PASS, CHECK_FAIL, CHECK_SKIP };

struct check {
    const char *name; /* stable: ek_certificate, kernel, ... (docs/attestation.md) */
    enum check_status status;
    char detail[480];
};

#define VERDICT_MAX_CHECKS 24

struct verdict {
    int n;
    struct check checks[VERDICT_MAX_CHECKS];
    char error[600]; /* attestation could not run: unreachable, no agent, ... */
    uint64_t us;     /* nonce to verdict */
};

/* What the verifier sent. */
struct challenge {
    uint8_t nonce[32];
    uint8_t secret[32]; /* the credential MakeCredential protected */
    TPM2B_NAME ak_name; /* the AK it was made for */
};

/* What the agent answered (buffers owned by the caller). */
struct evidence {
    const uint8_t *ek_cert, *ek_pub, *ak_pub, *credential, *quote, *signature, *event_log;
    const char *activate_error; /* the agent's, when ActivateCredential failed */
    size_t ek_cert_len, ek_pub_len, ak_pub_len, credential_len, quote_len, signature_len,
        event_log_len;
    uint8_t pcr_values[24][64]; /* as the agent read them, policy bank */
    uint32_t pcr_values_mask;
};

/* True when every check passed (and there was no error). */
bool verdict_ok(const struct verdict *v);
/* A comma-separated list of the failed checks' names. */
void verdict_failed_names(const struct verdict *v, char *out, size_t len);

/* The first step: the EK certificate against the CA store, the EK public
 * area against it (and the policy's pin), the AK's attributes. Parses
 * ek/ak for the credential; false when no credential can be made. */
bool verify_identity(const struct attest_policy *p, X509_STORE *ca, const struct evidence *e,
                     TPM2B_PUBLIC *ek, TPM2B_PUBLIC *ak, struct verdict *v);

/* Everything after: AK binding, quote, event log, policy. */
void verify_attestation(const struct attest_policy *p, const struct challenge *c,
                        const TPM2B_PUBLIC *ak, const struct evidence *e, struct verdict *v);

void verdict_add(struct verdict *v, const char *name, enum check_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
