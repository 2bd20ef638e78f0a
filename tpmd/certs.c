/* X.509 certificates for EKs and platforms, signed with the local CA. */
#include "certs.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

EVP_PKEY *ek_to_pkey(const struct ek_public *ek)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, ek->ecc ? "EC" : "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM *params = NULL;
    unsigned char point[65];
    if (!bld || !ctx)
        goto out;
    if (ek->ecc) {
        point[0] = 0x04; /* uncompressed x || y */
        memcpy(point + 1, ek->key, 64);
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
            goto out;
    } else {
        n = BN_bin2bn(ek->key, (int)ek->len, NULL);
        e = BN_new();
        if (!n || !e || !BN_set_word(e, 65537) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
out:
    OSSL_PARAM_free(params);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

int cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return -1;
    int r = X509_add_ext(cert, ext, -1) ? 0 : -1;
    X509_EXTENSION_free(ext);
    return r;
}

int cert_make(const struct ca *ca, const struct ek_public *ek, const char *vtpm_id, bool platform,
              unsigned char **der)
{
    int len = -1;
    FILE *kf = fopen(ca->key_path, "re"), *cf = fopen(ca->cert_path, "re");
    EVP_PKEY *ca_key = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    X509 *ca_cert = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = ek_to_pkey(ek);
    X509 *cert = X509_new();
    if (kf)
        fclose(kf);
    if (cf)
        fclose(cf);
    if (!ca_key || !ca_cert || !key || !cert)
        goto out;
    unsigned char serial[8];
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
        BN_free(bn);
        goto out;
    }
    BN_free(bn);
    char cn[96];
    snprintf(cn, sizeof(cn), "hearth vTPM %s %s", vtpm_id, platform ? "platform" : "EK");
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 20L * 365 * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
    const char *usage = platform  ? "critical,digitalSignature"
                        : ek->ecc ? "critical,keyAgreement"
                                  : "critical,keyEncipherment";
    if (cert_add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
        cert_add_ext(cert, ca_cert, NID_key_usage, usage) ||
        cert_add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid") ||
        !X509_sign(cert, ca_key, EVP_sha256()))
        goto out;
    *der = NULL;
    len = i2d_X509(cert, der);
out:
    X509_free(cert);
    X509_free(ca_cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return len;
}
