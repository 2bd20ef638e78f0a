/* EK and platform certificates for a vTPM, signed in-process by the CA. */
#ifndef TPMD_CERTS_H
#define TPMD_CERTS_H

#include "ca.h"
#include "provision.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

/* Adds the extension nid = value (OpenSSL config syntax) to cert, with
 * issuer for authority references (cert itself when self-signed). */
int cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/* The EK's public key as an OpenSSL key (RSA n/65537, or P-256 point). */
EVP_PKEY *ek_to_pkey(const struct ek_public *ek);

/* A DER certificate for the EK (platform == false) or the platform
 * (platform == true), subject CN naming the vTPM, signed by the CA.
 * Returns the DER length with *der malloc'd, or -1. */
int cert_make(const struct ca *ca, const struct ek_public *ek, const char *vtpm_id, bool platform,
              unsigned char **der);

#endif
