/* libFuzzer target: everything a guest's agent sends the verifier.
 * The first byte picks what the rest is:
 *   0: an event log, judged behind a quote made to match its replay (so
 *      every check after the quote runs on it);
 *   1: the agent's whole evidence, fields cut by 16-bit lengths (EK
 *      certificate, EK and AK public areas, credential, quote, signature,
 *      event log), through verify_identity and verify_attestation;
 *   2: a protocol line, read by attest_recv and its fields decoded. */
#include "../../attest/evidence_verify.h"
#include "../../attest/proto.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

static struct attest_policy policy;
static X509_STORE *store;
static uint8_t ak_wire[sizeof(TPM2B_PUBLIC)];
static size_t ak_wire_len;

static void init(void)
{
    policy.bank = evlog_alg_by_name("sha256");
    policy.pcrs = POLICY_DEFAULT_PCRS;
    policy.cmdline = "console=ttyS0";
    policy.vcpus = 2;
    policy.mem_mib = 256;
    policy.has_initrd = true;
    strcpy(policy.kernel_file, "vmlinux");
    strcpy(policy.initrd_file, "initrd");
    store = X509_STORE_new();
    TPM2B_PUBLIC ak = { .publicArea = {
                            .type = TPM2_ALG_RSA,
                            .nameAlg = TPM2_ALG_SHA256,
                            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                                TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                        } };
    ak.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    ak.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    ak.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    ak.publicArea.parameters.rsaDetail.keyBits = 2048;
    ak.publicArea.unique.rsa.size = 256;
    memset(ak.publicArea.unique.rsa.buffer, 0xc5, 256);
    Tss2_MU_TPM2B_PUBLIC_Marshal(&ak, ak_wire, sizeof(ak_wire), &ak_wire_len);
}

/* A quote over the log's replay (when it parses), signed by nobody. */
static void judge_log(const uint8_t *log, size_t len)
{
    static struct evlog l;
    char err[300];
    struct challenge c = { 0 };
    TPMS_ATTEST info = { .magic = TPM2_GENERATED_VALUE, .type = TPM2_ST_ATTEST_QUOTE };
    info.extraData.size = sizeof(c.nonce);
    info.attested.quote.pcrSelect.count = 1;
    info.attested.quote.pcrSelect.pcrSelections[0] = (TPMS_PCR_SELECTION){
        .hash = TPM2_ALG_SHA256, .sizeofSelect = 3, .pcrSelect = { 0xff, 0x03, 0 }
    };
    struct evidence e = {
        .ak_pub = ak_wire, .ak_pub_len = ak_wire_len, .event_log = log, .event_log_len = len
    };
    if (evlog_parse(&l, log, len, policy.bank, err, sizeof(err)) == 0) {
        uint8_t pcrs[EVLOG_NPCRS][EVLOG_MAX_DIGEST];
        evlog_replay(&l, pcrs);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        for (int i = 0; i < 10; i++)
            EVP_DigestUpdate(ctx, pcrs[i], 32);
        EVP_DigestFinal_ex(ctx, info.attested.quote.pcrDigest.buffer, NULL);
        EVP_MD_CTX_free(ctx);
        info.attested.quote.pcrDigest.size = 32;
        memcpy(e.pcr_values, pcrs, sizeof(e.pcr_values));
        e.pcr_values_mask = 0x3ff;
    }
    static uint8_t quote[sizeof(TPM2B_ATTEST)], sig[sizeof(TPMT_SIGNATURE)];
    TPM2B_ATTEST q = { 0 };
    size_t n = 0;
    Tss2_MU_TPMS_ATTEST_Marshal(&info, q.attestationData, sizeof(q.attestationData), &n);
    q.size = (UINT16)n;
    n = 0;
    Tss2_MU_TPM2B_ATTEST_Marshal(&q, quote, sizeof(quote), &n);
    e.quote = quote;
    e.quote_len = n;
    TPMT_SIGNATURE s = { .sigAlg = TPM2_ALG_RSASSA };
    s.signature.rsassa.hash = TPM2_ALG_SHA256;
    s.signature.rsassa.sig.size = 256;
    n = 0;
    Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &n);
    e.signature = sig;
    e.signature_len = n;
    TPM2B_PUBLIC ak;
    size_t off = 0;
    Tss2_MU_TPM2B_PUBLIC_Unmarshal(ak_wire, ak_wire_len, &off, &ak);
    struct verdict v = { 0 };
    verify_attestation(&policy, &c, &ak, &e, &v);
}

static void judge_evidence(const uint8_t *p, size_t len)
{
    const uint8_t *f[7] = { 0 };
    size_t n[7] = { 0 };
    for (int i = 0; i < 7 && len >= 2; i++) {
        size_t want = (size_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
        n[i] = want < len ? want : len;
        f[i] = p;
        p += n[i];
        len -= n[i];
    }
    struct evidence e = { .ek_cert = f[0],
                          .ek_pub = f[1],
                          .ak_pub = f[2],
                          .credential = f[3],
                          .quote = f[4],
                          .signature = f[5],
                          .event_log = f[6],
                          .ek_cert_len = n[0],
                          .ek_pub_len = n[1],
                          .ak_pub_len = n[2],
                          .credential_len = n[3],
                          .quote_len = n[4],
                          .signature_len = n[5],
                          .event_log_len = n[6] };
    struct verdict v = { 0 };
    struct challenge c = { 0 };
    TPM2B_PUBLIC ek, ak;
    if (verify_identity(&policy, store, &e, &ek, &ak, &v))
        verify_attestation(&policy, &c, &ak, &e, &v);
}

static void read_line(const uint8_t *p, size_t len)
{
    int fds[2];
    if (len > 60000 || pipe(fds) < 0)
        return;
    if (write(fds[1], p, len) != (ssize_t)len || write(fds[1], "\n", 1) != 1) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    close(fds[1]);
    struct attest_stream s;
    attest_stream_init(&s, fds[0], -1, 1000);
    json_t *m;
    char err[300];
    while (attest_recv(&s, &m, err, sizeof(err)) == 0) {
        uint8_t *b, hex[ATTEST_NONCE_MAX];
        size_t blen;
        if (attest_get_b64(m, "quote", &b, &blen, 4096, err, sizeof(err)) == 0)
            free(b);
        attest_get_hex(m, "nonce", hex, &blen, ATTEST_NONCE_MIN, ATTEST_NONCE_MAX, err,
                       sizeof(err));
        json_decref(m);
    }
    attest_stream_free(&s);
    close(fds[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        init();
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: judge_log(data + 1, size - 1); break;
    case 1: judge_evidence(data + 1, size - 1); break;
    default: read_line(data + 1, size - 1); break;
    }
    return 0;
}
