/* Unit tests of the verifier's judgement of a quote (attest/verify.c):
 * quotes signed by a software AK, with the scheme's hash the agent chose.
 * Apart from test_attest: tpm2-tss's types clash with hearth's tpm2.h. */
#include "../../attest/evidence_verify.h"
#include "../../attest/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

static char kernel_path[] = "/tmp/test_attest_verify_kernel.XXXXXX";
static EVP_PKEY *key;
static TPM2B_PUBLIC ak;

/* A kernel file for the policy, and the AK: an RSA-2048 key in software. */
static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(kernel_path);
    assert_int_equal(write(fd, "kernel", 6), 6);
    close(fd);
    key = EVP_RSA_gen(2048);
    assert_non_null(key);
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    ak.publicArea.type = TPM2_ALG_RSA;
    ak.publicArea.nameAlg = TPM2_ALG_SHA256;
    ak.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    ak.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    ak.publicArea.parameters.rsaDetail.keyBits = 2048;
    ak.publicArea.unique.rsa.size = 256;
    assert_int_equal(BN_bn2binpad(n, ak.publicArea.unique.rsa.buffer, 256), 256);
    BN_free(n);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    unlink(kernel_path);
    return 0;
}

static const struct check *find_check(const struct verdict *v, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->checks[i].name, name) == 0)
            return &v->checks[i];
    return NULL;
}

/* A quote of PCRs 0-9 in the sha256 bank, carrying the challenge's nonce,
 * signed by the AK with `hash`, judged against a sha256 policy. */
static void judge_quote(TPMI_ALG_HASH hash, struct verdict *v)
{
    struct attest_policy p;
    char err[400];
    assert_int_equal(policy_make(&p, "sha256", kernel_path, NULL, "console=ttyS0", -1, -1, NULL,
                                 err, sizeof(err)),
                     0);
    const EVP_MD *md = hash == TPM2_ALG_SHA1 ? EVP_sha1() : EVP_sha256();
    struct challenge c = { 0 };
    memset(c.nonce, 0x5a, sizeof(c.nonce));
    TPMS_ATTEST info = { .magic = TPM2_GENERATED_VALUE, .type = TPM2_ST_ATTEST_QUOTE };
    info.extraData.size = sizeof(c.nonce);
    memcpy(info.extraData.buffer, c.nonce, sizeof(c.nonce));
    info.attested.quote.pcrSelect.count = 1;
    info.attested.quote.pcrSelect.pcrSelections[0] = (TPMS_PCR_SELECTION){
        .hash = TPM2_ALG_SHA256, .sizeofSelect = 3, .pcrSelect = { 0xff, 0x03, 0 }
    };
    info.attested.quote.pcrDigest.size = (UINT16)EVP_MD_get_size(md);
    static uint8_t quote[sizeof(TPM2B_ATTEST)], sig[sizeof(TPMT_SIGNATURE)];
    TPM2B_ATTEST q = { 0 };
    size_t n = 0, qlen = 0, slen = 0;
    assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&info, q.attestationData,
                                                 sizeof(q.attestationData), &n),
                     0);
    q.size = (UINT16)n;
    assert_int_equal(Tss2_MU_TPM2B_ATTEST_Marshal(&q, quote, sizeof(quote), &qlen), 0);
    TPMT_SIGNATURE s = { .sigAlg = TPM2_ALG_RSASSA };
    s.signature.rsassa.hash = hash;
    size_t siglen = sizeof(s.signature.rsassa.sig.buffer);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, s.signature.rsassa.sig.buffer, &siglen, q.attestationData,
                                    q.size),
                     1);
    EVP_MD_CTX_free(ctx);
    s.signature.rsassa.sig.size = (UINT16)siglen;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &slen), 0);
    const struct evidence e = {
        .quote = quote, .quote_len = qlen, .signature = sig, .signature_len = slen
    };
    memset(v, 0, sizeof(*v));
    verify_attestation(&p, &c, &ak, &e, v);
    policy_free(&p);
}

static void a_sha256_signature_is_accepted(void **state)
{
    (void)state;
    struct verdict v;
    judge_quote(TPM2_ALG_SHA256, &v);
    assert_non_null(find_check(&v, "quote_signature"));
    assert_int_equal(find_check(&v, "quote_signature")->status, CHECK_PASS);
    assert_int_equal(find_check(&v, "quote_nonce")->status, CHECK_PASS);
    assert_int_equal(find_check(&v, "quote_pcrs"), NULL); /* the right selection */
}

/* An AK whose scheme is RSASSA-SHA1 signs a good quote all the same: the
 * verifier refuses the hash by name and replays nothing against it. */
static void a_sha1_signature_is_refused_by_name(void **state)
{
    (void)state;
    struct verdict v;
    judge_quote(TPM2_ALG_SHA1, &v);
    const struct check *sc = find_check(&v, "quote_signature");
    assert_non_null(sc);
    assert_int_equal(sc->status, CHECK_FAIL);
    assert_string_equal(sc->detail,
                        "signed with sha1, weaker than the policy's sha256 PCR bank: refused");
    assert_int_equal(find_check(&v, "quote_nonce"), NULL);
    assert_int_equal(find_check(&v, "event_log")->status, CHECK_SKIP);
    assert_false(verdict_ok(&v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_sha256_signature_is_accepted),
        cmocka_unit_test(a_sha1_signature_is_refused_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
