/* The guest agent's TPM work, through tpm2-tss's ESAPI: the EK at
 * 0x81010001 and its certificate in NV 0x01c00002, an attestation key
 * created under the EK (RSA-2048 restricted signing key; the EK's
 * PolicySecret(TPM_RH_ENDORSEMENT) satisfied by a policy session),
 * ActivateCredential and TPM2_Quote. The AK lives as long as the agent:
 * created at the first request, loaded until a TPM error or exit. */
#ifndef ATTEST_AGENT_TPM_H
#define ATTEST_AGENT_TPM_H

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_esys.h>

#define AGENT_EK_HANDLE 0x81010001u
#define AGENT_EK_CERT_NV 0x01c00002u

struct agent_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    char tcti_conf[256];
    ESYS_TR ek, ak;
    TPM2B_PUBLIC *ek_pub, *ak_pub;
    uint8_t *ek_cert;
    size_t ek_cert_len;
};

/* Opens the TPM through the TCTI loader: `conf` ("device:/dev/tpmrm0",
 * "cmd:...", "swtpm:host=...,port=..."), or NULL for /dev/tpmrm0, then
 * /dev/tpm0. 0, or -1 with a message. */
int agent_tpm_open(struct agent_tpm *t, const char *conf, char *err, size_t errlen);
void agent_tpm_close(struct agent_tpm *t);

/* The EK certificate (DER), EK and AK public areas (TPM2B_PUBLIC, wire
 * format); creates the AK when there is none. Pointers stay valid until
 * the next call. */
int agent_tpm_identity(struct agent_tpm *t, const uint8_t **ek_cert, size_t *ek_cert_len,
                       uint8_t *ek_pub, size_t *ek_pub_len, uint8_t *ak_pub, size_t *ak_pub_len,
                       char *err, size_t errlen);

/* ActivateCredential of the AK with the EK: blob is a TPM2B_ID_OBJECT,
 * secret a TPM2B_ENCRYPTED_SECRET, both in wire format. */
int agent_tpm_activate(struct agent_tpm *t, const uint8_t *blob, size_t blob_len,
                       const uint8_t *secret, size_t secret_len, uint8_t *cred, size_t *cred_len,
                       char *err, size_t errlen);

/* TPM2_Quote by the AK over PCRs `mask` of bank `alg` with `nonce`; the
 * TPM2B_ATTEST and TPMT_SIGNATURE in wire format, and the PCR values
 * (digest size bytes each, ascending PCR order) as the TPM reads them. */
int agent_tpm_quote(struct agent_tpm *t, uint16_t alg, uint32_t mask, const uint8_t *nonce,
                    size_t nonce_len, uint8_t *attest, size_t *attest_len, uint8_t *sig,
                    size_t *sig_len, uint8_t pcrs[24][64], char *err, size_t errlen);

#endif
