/* TPM keys on the verifier's side, in software with OpenSSL: object
 * names, public areas as OpenSSL keys, the TCG default EK template, and
 * MakeCredential (TPM 2.0 Part 1 §24: a seed sealed to the EK with
 * RSA-OAEP and label "IDENTITY", KDFa for the keys, AES-CFB and an outer
 * HMAC binding the credential to the AK's name). Structures are
 * (un)marshalled by tpm2-tss's MU. */
#ifndef ATTEST_CREDENTIAL_H
#define ATTEST_CREDENTIAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* Unmarshals a TPM2B_PUBLIC that must fill buf exactly. */
int cred_public_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *pub);

/* The object's name: nameAlg || H_nameAlg(TPMT_PUBLIC). 0 or -1. */
int cred_name(const TPMT_PUBLIC *pub, TPM2B_NAME *name);

/* An RSA public area as an OpenSSL key (NULL if not RSA or malformed). */
EVP_PKEY *cred_rsa_key(const TPMT_PUBLIC *pub);

/* NULL when pub is an RSA-2048 EK of the TCG EK credential profile's
 * default template (attributes, PolicySecret(endorsement) policy, AES-128
 * CFB, SHA-256); else what differs. */
const char *cred_ek_template_mismatch(const TPMT_PUBLIC *pub);

/* NULL when pub is a restricted RSA signing key made in a TPM (fixedTPM,
 * fixedParent, sensitiveDataOrigin, restricted, sign, not decrypt) with an
 * RSASSA scheme; else what differs. */
const char *cred_ak_mismatch(const TPMT_PUBLIC *pub);

/* TPM2_MakeCredential: protects `secret` for the TPM holding `ek`, to be
 * released only by ActivateCredential of the object named `name`. */
int cred_make(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const uint8_t *secret,
              size_t secret_len, TPM2B_ID_OBJECT *blob, TPM2B_ENCRYPTED_SECRET *seed_enc, char *err,
              size_t errlen);

/* KDFa (Part 1 §11.4.10.2) with HMAC-`md`: bits/8 bytes into out. */
int cred_kdfa(const EVP_MD *md, const uint8_t *key, size_t key_len, const char *label,
              const uint8_t *u, size_t u_len, const uint8_t *v, size_t v_len, uint32_t bits,
              uint8_t *out);

#endif
