/* Object names, keys from public areas, template checks and
 * MakeCredential, in software. */
#include "credential.h"

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>
#include <tss2/tss2_mu.h>

/* PolicySecret(TPM_RH_ENDORSEMENT): the TCG EK credential profile's. */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

int cred_public_parse(const uint8_t *buf, size_t len, TPM2B_PUBLIC *pub)
{
    size_t off = 0;
    memset(pub, 0, sizeof(*pub));
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, pub) != TSS2_RC_SUCCESS || off != len)
        return -1;
    return 0;
}

static const EVP_MD *md_of(TPMI_ALG_HASH alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1: return EVP_sha1();
    case TPM2_ALG_SHA256: return EVP_sha256();
    case TPM2_ALG_SHA384: return EVP_sha384();
    case TPM2_ALG_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

int cred_name(const TPMT_PUBLIC *pub, TPM2B_NAME *name)
{
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    size_t len = 0, off = 0;
    const EVP_MD *md = md_of(pub->nameAlg);
    unsigned int dlen = 0;
    if (!md || Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &len) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPMI_ALG_HASH_Marshal(pub->nameAlg, name->name, sizeof(name->name), &off) !=
            TSS2_RC_SUCCESS ||
        EVP_Digest(buf, len, name->name + off, &dlen, md, NULL) != 1)
        return -1;
    name->size = (UINT16)(off + dlen);
    return 0;
}

EVP_PKEY *cred_rsa_key(const TPMT_PUBLIC *pub)
{
    if (pub->type != TPM2_ALG_RSA || pub->unique.rsa.size == 0 ||
        pub->unique.rsa.size * 8 != pub->parameters.rsaDetail.keyBits)
        return NULL;
    uint32_t e = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;
    BIGNUM *n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
    BIGNUM *be = BN_new();
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (n && be && b && ctx && BN_set_word(be, e) &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(be);
    return key;
}

#define EK_ATTRS                                                                                   \
    (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |            \
     TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)

const char *cred_ek_template_mismatch(const TPMT_PUBLIC *pub)
{
    const TPMS_RSA_PARMS *r = &pub->parameters.rsaDetail;
    if (pub->type != TPM2_ALG_RSA)
        return "not an RSA key";
    if (pub->nameAlg != TPM2_ALG_SHA256)
        return "name algorithm is not SHA-256";
    if (pub->objectAttributes != EK_ATTRS)
        return "attributes are not the EK template's (restricted decryption key made in the TPM)";
    if (pub->authPolicy.size != sizeof(ek_policy) ||
        memcmp(pub->authPolicy.buffer, ek_policy, sizeof(ek_policy)) != 0)
        return "policy is not PolicySecret(TPM_RH_ENDORSEMENT)";
    if (r->symmetric.algorithm != TPM2_ALG_AES || r->symmetric.keyBits.aes != 128 ||
        r->symmetric.mode.aes != TPM2_ALG_CFB)
        return "symmetric algorithm is not AES-128-CFB";
    if (r->scheme.scheme != TPM2_ALG_NULL || r->keyBits != 2048 ||
        (r->exponent != 0 && r->exponent != 65537) || pub->unique.rsa.size != 256)
        return "not an RSA-2048 key with exponent 65537 and no scheme";
    return NULL;
}

const char *cred_ak_mismatch(const TPMT_PUBLIC *pub)
{
    const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
                             TPMA_OBJECT_SIGN_ENCRYPT;
    if (pub->type != TPM2_ALG_RSA)
        return "not an RSA key";
    if ((pub->objectAttributes & need) != need)
        return "not a restricted signing key generated in and bound to its TPM";
    if (pub->objectAttributes & TPMA_OBJECT_DECRYPT)
        return "is also a decryption key";
    if (pub->parameters.rsaDetail.scheme.scheme != TPM2_ALG_RSASSA)
        return "scheme is not RSASSA";
    if (pub->parameters.rsaDetail.keyBits < 2048 || !md_of(pub->nameAlg))
        return "key under 2048 bits or unknown name algorithm";
    return NULL;
}

int cred_kdfa(const EVP_MD *md, const uint8_t *key, size_t key_len, const char *label,
              const uint8_t *u, size_t u_len, const uint8_t *v, size_t v_len, uint32_t bits,
              uint8_t *out)
{
    size_t want = bits / 8, done = 0, dsize = (size_t)EVP_MD_get_size(md);
    uint8_t be_bits[4] = { (uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                           (uint8_t)bits };
    size_t llen = strlen(label) + 1; /* the label is hashed with its NUL */
    uint8_t msg[4 + 64 + 2 * sizeof(TPMU_NAME) + 4];
    if (llen > 64 || u_len > sizeof(TPMU_NAME) || v_len > sizeof(TPMU_NAME))
        return -1;
    memcpy(msg + 4, label, llen);
    memcpy(msg + 4 + llen, u, u_len);
    memcpy(msg + 4 + llen + u_len, v, v_len);
    memcpy(msg + 4 + llen + u_len + v_len, be_bits, 4);
    size_t mlen = 4 + llen + u_len + v_len + 4;
    for (uint32_t i = 1; done < want; i++) {
        uint8_t block[EVP_MAX_MD_SIZE];
        unsigned int blen = 0;
        msg[0] = (uint8_t)(i >> 24);
        msg[1] = (uint8_t)(i >> 16);
        msg[2] = (uint8_t)(i >> 8);
        msg[3] = (uint8_t)i;
        if (!HMAC(md, key, (int)key_len, msg, mlen, block, &blen) || blen != dsize)
            return -1;
        size_t n = want - done < dsize ? want - done : dsize;
        memcpy(out + done, block, n);
        done += n;
    }
    return 0;
}

/* The seed, encrypted to the EK with RSA-OAEP(nameAlg), label "IDENTITY". */
static int seal_seed(const TPMT_PUBLIC *ek, const uint8_t *seed, size_t len,
                     TPM2B_ENCRYPTED_SECRET *out)
{
    static const char label[] = "IDENTITY"; /* with its NUL */
    EVP_PKEY *key = cred_rsa_key(ek);
    EVP_PKEY_CTX *ctx = key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
    void *l = OPENSSL_memdup(label, sizeof(label));
    size_t outlen = sizeof(out->secret);
    int ok = ctx && l && EVP_PKEY_encrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md_of(ek->nameAlg)) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(ek->nameAlg)) == 1 &&
             EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, sizeof(label)) == 1;
    if (ok)
        l = NULL; /* owned by ctx now */
    ok = ok && EVP_PKEY_encrypt(ctx, out->secret, &outlen, seed, len) == 1;
    OPENSSL_free(l);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    out->size = ok ? (UINT16)outlen : 0;
    return ok ? 0 : -1;
}

int cred_make(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const uint8_t *secret,
              size_t secret_len, TPM2B_ID_OBJECT *blob, TPM2B_ENCRYPTED_SECRET *seed_enc, char *err,
              size_t errlen)
{
    const EVP_MD *md = md_of(ek->nameAlg);
    const TPMT_SYM_DEF_OBJECT *sym = &ek->parameters.rsaDetail.symmetric;
    if (!md || ek->type != TPM2_ALG_RSA || sym->algorithm != TPM2_ALG_AES ||
        sym->mode.aes != TPM2_ALG_CFB || (sym->keyBits.aes != 128 && sym->keyBits.aes != 256) ||
        secret_len > sizeof(((TPM2B_DIGEST *)0)->buffer)) {
        snprintf(err, errlen, "MakeCredential: the EK is not an RSA key with AES-CFB");
        return -1;
    }
    size_t dsize = (size_t)EVP_MD_get_size(md);
    uint8_t seed[EVP_MAX_MD_SIZE], sym_key[32], hmac_key[EVP_MAX_MD_SIZE];
    uint8_t plain[2 + sizeof(((TPM2B_DIGEST *)0)->buffer)], iv[16] = { 0 };
    /* encIdentity: the credential as a TPM2B_DIGEST, AES-CFB, zero IV. */
    TPM2B_DIGEST cred = { .size = (UINT16)secret_len };
    memcpy(cred.buffer, secret, secret_len);
    size_t plain_len = 0;
    if (RAND_bytes(seed, (int)dsize) != 1 || seal_seed(ek, seed, dsize, seed_enc) < 0 ||
        cred_kdfa(md, seed, dsize, "STORAGE", name->name, name->size, NULL, 0, sym->keyBits.aes,
                  sym_key) < 0 ||
        cred_kdfa(md, seed, dsize, "INTEGRITY", NULL, 0, NULL, 0, (uint32_t)dsize * 8, hmac_key) <
            0 ||
        Tss2_MU_TPM2B_DIGEST_Marshal(&cred, plain, sizeof(plain), &plain_len) != TSS2_RC_SUCCESS) {
        snprintf(err, errlen, "MakeCredential: sealing the seed to the EK failed");
        return -1;
    }
    /* TPM2B_ID_OBJECT.credential = TPM2B(outerHMAC) || encIdentity */
    uint8_t *p = blob->credential;
    uint8_t *enc = p + 2 + dsize;
    int outl = 0, fin = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok =
        c &&
        EVP_EncryptInit_ex(c, sym->keyBits.aes == 128 ? EVP_aes_128_cfb128() : EVP_aes_256_cfb128(),
                           NULL, sym_key, iv) == 1 &&
        EVP_EncryptUpdate(c, enc, &outl, plain, (int)plain_len) == 1 &&
        EVP_EncryptFinal_ex(c, enc + outl, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    size_t enc_len = (size_t)(outl + fin);
    /* outerHMAC = HMAC(INTEGRITY key, encIdentity || name) */
    uint8_t mac_in[sizeof(plain) + 16 + sizeof(TPMU_NAME)];
    unsigned int hlen = 0;
    if (ok && enc_len + name->size <= sizeof(mac_in)) {
        memcpy(mac_in, enc, enc_len);
        memcpy(mac_in + enc_len, name->name, name->size);
        ok = HMAC(md, hmac_key, (int)dsize, mac_in, enc_len + name->size, p + 2, &hlen) &&
             hlen == dsize;
    } else {
        ok = 0;
    }
    if (!ok) {
        snprintf(err, errlen, "MakeCredential: encrypting the credential failed");
        return -1;
    }
    p[0] = (uint8_t)(dsize >> 8);
    p[1] = (uint8_t)dsize;
    blob->size = (UINT16)(2 + dsize + enc_len);
    return 0;
}
