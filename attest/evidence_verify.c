/* The verifier's checks: EK certificate and public area, AK binding,
 * quote, event log replay, and the policy on what hearth measured. */
#include "evidence_verify.h"
#include "credential.h"
#include "proto.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

void verdict_add(struct verdict *v, const char *name, enum check_status s, const char *fmt, ...)
{
    if (v->n == VERDICT_MAX_CHECKS)
        return;
    struct check *c = &v->checks[v->n++];
    c->name = name;
    c->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
}

bool verdict_ok(const struct verdict *v)
{
    if (v->error[0] || v->n == 0)
        return false;
    for (int i = 0; i < v->n; i++)
        if (v->checks[i].status != CHECK_PASS)
            return false;
    return true;
}

void verdict_failed_names(const struct verdict *v, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < v->n && n < len; i++)
        if (v->checks[i].status == CHECK_FAIL)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "", v->checks[i].name);
}

/* The first 8 bytes in hex and "...": enough to tell digests apart. */
static const char *short_hex(const uint8_t *p, size_t len, char out[20])
{
    attest_hex_str(p, len < 8 ? len : 8, out);
    if (len > 8)
        strcat(out, "...");
    return out;
}

/* Printable ASCII of untrusted bytes, at most max characters. */
static void printable(const uint8_t *p, size_t len, size_t step, char *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < max; i += step)
        out[n++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[n] = 0;
}

static void check_ek_cert(X509_STORE *ca, X509 *cert, struct verdict *v)
{
    if (!cert) {
        verdict_add(v, "ek_certificate", CHECK_FAIL, "not an X.509 certificate");
        return;
    }
    char subject[200];
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx && X509_STORE_CTX_init(ctx, ca, cert, NULL) == 1 && X509_verify_cert(ctx) == 1;
    int e = ctx ? X509_STORE_CTX_get_error(ctx) : X509_V_ERR_OUT_OF_MEM;
    X509_STORE_CTX_free(ctx);
    if (ok)
        verdict_add(v, "ek_certificate", CHECK_PASS, "%s, issued by the given CA", subject);
    else
        verdict_add(v, "ek_certificate", CHECK_FAIL, "%s: %s%s", subject,
                    X509_verify_cert_error_string(e),
                    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                            e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
                        ? " (not issued by the given CA)"
                        : "");
}

bool verify_identity(const struct attest_policy *p, X509_STORE *ca, const struct evidence *e,
                     TPM2B_PUBLIC *ek, TPM2B_PUBLIC *ak, struct verdict *v)
{
    const unsigned char *q = e->ek_cert;
    X509 *cert = d2i_X509(NULL, &q, (long)e->ek_cert_len);
    check_ek_cert(ca, cert, v);

    bool ek_ok = cred_public_parse(e->ek_pub, e->ek_pub_len, ek) == 0;
    const char *why = ek_ok ? cred_ek_template_mismatch(&ek->publicArea) : "not a TPM2B_PUBLIC";
    EVP_PKEY *key = ek_ok ? cred_rsa_key(&ek->publicArea) : NULL;
    if (why)
        verdict_add(v, "ek_public", CHECK_FAIL, "the EK public area: %s", why);
    else if (!cert || !key || EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
        verdict_add(v, "ek_public", CHECK_FAIL, "the TPM's EK is not the key in the certificate");
    else
        verdict_add(v, "ek_public", CHECK_PASS,
                    "the TPM's EK (RSA-2048, TCG default template) is the certificate's key");
    EVP_PKEY_free(key);

    if (p->pin_ek) {
        unsigned char *der = NULL;
        uint8_t fp[32];
        unsigned int n = 0;
        int len = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &der) : -1;
        bool same = len > 0 && EVP_Digest(der, (size_t)len, fp, &n, EVP_sha256(), NULL) == 1 &&
                    memcmp(fp, p->ek_spki_sha256, 32) == 0;
        OPENSSL_free(der);
        char hex[20];
        verdict_add(v, "ek_pinned", same ? CHECK_PASS : CHECK_FAIL,
                    same ? "the EK is the policy's (%s)"
                         : "the EK is not the policy's (%s): another vTPM answered",
                    short_hex(p->ek_spki_sha256, 32, hex));
    }
    X509_free(cert);

    bool ak_ok = cred_public_parse(e->ak_pub, e->ak_pub_len, ak) == 0;
    why = ak_ok ? cred_ak_mismatch(&ak->publicArea) : "not a TPM2B_PUBLIC";
    if (why) {
        verdict_add(v, "ak_binding", CHECK_FAIL, "the AK: %s", why);
        return false;
    }
    return ek_ok && ek->publicArea.type == TPM2_ALG_RSA;
}

static void check_binding(const struct challenge *c, const TPM2B_PUBLIC *ak,
                          const struct evidence *e, struct verdict *v)
{
    TPM2B_NAME name;
    if (cred_name(&ak->publicArea, &name) < 0 || name.size != c->ak_name.size ||
        memcmp(name.name, c->ak_name.name, name.size) != 0)
        verdict_add(v, "ak_binding", CHECK_FAIL,
                    "the AK is not the one the credential was made for");
    else if (e->activate_error)
        verdict_add(v, "ak_binding", CHECK_FAIL,
                    "the TPM refused to activate the credential (the AK is not in the TPM that "
                    "holds this EK): %.300s",
                    e->activate_error);
    else if (e->credential_len != sizeof(c->secret) ||
             memcmp(e->credential, c->secret, sizeof(c->secret)) != 0)
        verdict_add(v, "ak_binding", CHECK_FAIL,
                    "ActivateCredential did not release the verifier's secret: the AK is not "
                    "in the TPM that holds this EK");
    else
        verdict_add(v, "ak_binding", CHECK_PASS,
                    "ActivateCredential released the verifier's secret: the AK (restricted "
                    "signing key) lives in the EK's TPM");
}

/* The quote: signature by the AK, then its contents. Fills *info and
 * returns the hash of the signing scheme (for pcrDigest), or NULL when
 * the quote cannot be read at all or its hash is refused. */
static const EVP_MD *check_quote(const struct attest_policy *p, const struct challenge *c,
                                 const TPM2B_PUBLIC *ak, const struct evidence *e,
                                 TPMS_ATTEST *info, struct verdict *v)
{
    TPM2B_ATTEST quoted = { 0 };
    TPMT_SIGNATURE sig = { 0 };
    size_t o1 = 0, o2 = 0;
    if (Tss2_MU_TPM2B_ATTEST_Unmarshal(e->quote, e->quote_len, &o1, &quoted) != TSS2_RC_SUCCESS ||
        o1 != e->quote_len ||
        Tss2_MU_TPMT_SIGNATURE_Unmarshal(e->signature, e->signature_len, &o2, &sig) !=
            TSS2_RC_SUCCESS ||
        o2 != e->signature_len) {
        verdict_add(v, "quote_signature", CHECK_FAIL, "the quote or its signature is malformed");
        return NULL;
    }
    const struct evlog_alg *h =
        sig.sigAlg == TPM2_ALG_RSASSA ? evlog_alg_by_id(sig.signature.rsassa.hash) : NULL;
    /* The scheme's hash signs the quote and makes its pcrDigest: one weaker
     * than the policy's bank (an AK with an RSASSA-SHA1 scheme) would let
     * a collision stand in for the PCRs. */
    if (h && h->size < p->bank->size) {
        verdict_add(v, "quote_signature", CHECK_FAIL,
                    "signed with %s, weaker than the policy's %s PCR bank: refused", h->name,
                    p->bank->name);
        return NULL;
    }
    const EVP_MD *md = h ? EVP_get_digestbyname(h->name) : NULL;
    EVP_PKEY *key = cred_rsa_key(&ak->publicArea);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = md && key && ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.size,
                               quoted.attestationData, quoted.size) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    verdict_add(v, "quote_signature", ok ? CHECK_PASS : CHECK_FAIL,
                ok ? "signed by the AK"
                   : "not signed by this VM's AK (a quote from another TPM, or altered)");
    size_t off = 0;
    memset(info, 0, sizeof(*info));
    if (Tss2_MU_TPMS_ATTEST_Unmarshal(quoted.attestationData, quoted.size, &off, info) !=
            TSS2_RC_SUCCESS ||
        off != quoted.size || info->magic != TPM2_GENERATED_VALUE ||
        info->type != TPM2_ST_ATTEST_QUOTE || !md) {
        verdict_add(v, "quote_nonce", CHECK_FAIL, "not a TPM-generated quote");
        return NULL;
    }
    bool fresh = info->extraData.size == sizeof(c->nonce) &&
                 memcmp(info->extraData.buffer, c->nonce, sizeof(c->nonce)) == 0;
    verdict_add(v, "quote_nonce", fresh ? CHECK_PASS : CHECK_FAIL,
                fresh ? "carries this attestation's nonce"
                      : "carries another nonce: a replayed or stale quote");
    const TPML_PCR_SELECTION *sel = &info->attested.quote.pcrSelect;
    uint32_t mask = 0;
    for (int i = 0; i < 24 && sel->count == 1 && sel->pcrSelections[0].sizeofSelect >= 3; i++)
        if (sel->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8)))
            mask |= 1u << i;
    if (sel->count != 1 || sel->pcrSelections[0].hash != p->bank->alg || mask != p->pcrs) {
        verdict_add(v, "quote_pcrs", CHECK_FAIL,
                    "the quote covers other PCRs than the %s PCRs asked for", p->bank->name);
        return NULL;
    }
    return md;
}

static bool pcr_digest(const EVP_MD *md, uint32_t mask, size_t size,
                       uint8_t pcrs[EVLOG_NPCRS][EVLOG_MAX_DIGEST], const TPM2B_DIGEST *want)
{
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestInit_ex(c, md, NULL) == 1;
    for (int i = 0; ok && i < EVLOG_NPCRS; i++)
        if (mask & (1u << i))
            ok = EVP_DigestUpdate(c, pcrs[i], size) == 1;
    ok = ok && EVP_DigestFinal_ex(c, out, &n) == 1;
    EVP_MD_CTX_free(c);
    return ok && n == want->size && memcmp(out, want->buffer, n) == 0;
}

/* Which PCRs the log replays to as quoted; names the others. */
static uint32_t check_replay(const struct attest_policy *p, const EVP_MD *md,
                             const TPMS_ATTEST *info, const struct evlog *l,
                             const struct evidence *e, struct verdict *v)
{
    uint8_t replay[EVLOG_NPCRS][EVLOG_MAX_DIGEST];
    uint8_t reported[EVLOG_NPCRS][EVLOG_MAX_DIGEST];
    evlog_replay(l, replay);
    const TPM2B_DIGEST *want = &info->attested.quote.pcrDigest;
    size_t size = p->bank->size;
    if (pcr_digest(md, p->pcrs, size, replay, want)) {
        verdict_add(v, "event_log", CHECK_PASS, "%d events replay to the quoted PCRs", l->nevents);
        return p->pcrs;
    }
    memcpy(reported, e->pcr_values, sizeof(reported));
    if ((e->pcr_values_mask & p->pcrs) != p->pcrs ||
        !pcr_digest(md, p->pcrs, size, reported, want)) {
        verdict_add(v, "event_log", CHECK_FAIL,
                    "does not replay to the quoted PCRs (and the agent's PCR values do not "
                    "match the quote either, so which PCR differs is unknown)");
        return 0;
    }
    /* The reported values are the quoted ones: compare PCR by PCR. */
    uint32_t ok = 0;
    char detail[400] = "";
    size_t n = 0;
    for (int i = 0; i < EVLOG_NPCRS; i++) {
        if (!(p->pcrs & (1u << i)))
            continue;
        if (memcmp(replay[i], reported[i], size) == 0) {
            ok |= 1u << i;
            continue;
        }
        char a[20], b[20];
        if (n < sizeof(detail))
            n += (size_t)snprintf(detail + n, sizeof(detail) - n, "%sPCR %d (log %s, TPM %s)",
                                  n ? ", " : "", i, short_hex(replay[i], size, a),
                                  short_hex(reported[i], size, b));
    }
    verdict_add(v, "event_log", CHECK_FAIL, "does not replay to the quoted PCRs: %s", detail);
    return ok;
}

/* hearth's events whose digest is of their own data (tpm/measure.h). */
static bool data_hashed(const struct evlog_event *ev)
{
    return ev->type == EVLOG_EV_S_CRTM_VERSION || ev->type == EVLOG_EV_PLATFORM_CONFIG_FLAGS ||
           ev->type == EVLOG_EV_SEPARATOR || (ev->type == EVLOG_EV_IPL && ev->pcr == 8);
}

static bool data_matches(const struct evlog *l, const struct evlog_event *ev)
{
    uint8_t d[EVLOG_MAX_DIGEST];
    return evlog_hash(l->bank, ev->data, ev->data_len, d) == 0 &&
           memcmp(d, ev->digest, l->bank->size) == 0;
}

static void check_event_data(const struct attest_policy *p, const struct evlog *l,
                             struct verdict *v)
{
    char bad[400] = "";
    size_t n = 0;
    int checked = 0;
    for (int i = 0; i < l->nevents; i++) {
        const struct evlog_event *ev = &l->events[i];
        if (!(p->pcrs & (1u << ev->pcr)) || !data_hashed(ev))
            continue;
        checked++;
        if (!data_matches(l, ev) && n < sizeof(bad))
            n += (size_t)snprintf(bad + n, sizeof(bad) - n, "%sevent %d (PCR %u %s)", n ? ", " : "",
                                  i + 1, ev->pcr, evlog_type_name(ev->type));
    }
    if (n)
        verdict_add(v, "event_data", CHECK_FAIL,
                    "data that does not hash to its digest (edited): %s", bad);
    else
        verdict_add(v, "event_data", CHECK_PASS, "%d events' data match their digests", checked);
}

/* What hearth extends into PCRs 0-9, in order (tpm/measure.c). */
static int expected_events(int pcr, uint32_t out[2])
{
    switch (pcr) {
    case 0:
        out[0] = EVLOG_EV_S_CRTM_VERSION;
        out[1] = EVLOG_EV_SEPARATOR;
        return 2;
    case 1:
        out[0] = EVLOG_EV_PLATFORM_CONFIG_FLAGS;
        out[1] = EVLOG_EV_SEPARATOR;
        return 2;
    case 4:
        out[0] = EVLOG_EV_SEPARATOR;
        out[1] = EVLOG_EV_IPL;
        return 2;
    case 8: out[0] = EVLOG_EV_IPL; return 1;
    case 9: out[0] = EVLOG_EV_IPL; return 1; /* or none: the initrd check says which */
    default: out[0] = EVLOG_EV_SEPARATOR; return pcr < 8 ? 1 : -1;
    }
}

static void check_sequence(const struct attest_policy *p, const struct evlog *l, struct verdict *v)
{
    char bad[400] = "";
    size_t n = 0;
    for (int pcr = 0; pcr < 10; pcr++) {
        uint32_t want[2];
        int nwant = expected_events(pcr, want), k = 0;
        bool same = true;
        if (!(p->pcrs & (1u << pcr)) || nwant < 0)
            continue;
        for (int i = 0; i < l->nevents; i++) {
            const struct evlog_event *ev = &l->events[i];
            if (ev->pcr != (uint32_t)pcr || ev->type == EVLOG_EV_NO_ACTION)
                continue;
            same &= k < nwant && ev->type == want[k];
            k++;
        }
        if (pcr == 9 && k == 0)
            continue;
        if ((!same || k != nwant) && n < sizeof(bad))
            n += (size_t)snprintf(bad + n, sizeof(bad) - n,
                                  "%sPCR %d has %d events, hearth makes %d%s", n ? "; " : "", pcr,
                                  k, nwant, k == nwant ? " of other types" : "");
    }
    if (n)
        verdict_add(v, "event_sequence", CHECK_FAIL, "not what hearth measures: %s", bad);
    else
        verdict_add(v, "event_sequence", CHECK_PASS, "exactly the events hearth measures");
}

/* The one event of `type` in `pcr`; NULL (with why) when none or more. */
static const struct evlog_event *find_one(const struct evlog *l, uint32_t pcr, uint32_t type,
                                          int *count)
{
    const struct evlog_event *found = NULL;
    *count = 0;
    for (int i = 0; i < l->nevents; i++)
        if (l->events[i].pcr == pcr && l->events[i].type == type && ++*count == 1)
            found = &l->events[i];
    return *count == 1 ? found : NULL;
}

/* A check on one PCR's event: skipped unless that PCR replays. */
static const struct evlog_event *policy_event(const struct evlog *l, uint32_t ok, uint32_t pcr,
                                              uint32_t type, const char *name, struct verdict *v)
{
    int count;
    if (!(l->quoted & (1u << pcr))) {
        verdict_add(v, name, CHECK_SKIP, "PCR %u is not among the quoted PCRs (the policy's pcrs)",
                    pcr);
        return NULL;
    }
    if (!(ok & (1u << pcr))) {
        verdict_add(v, name, CHECK_SKIP, "PCR %u does not replay from the log", pcr);
        return NULL;
    }
    const struct evlog_event *ev = find_one(l, pcr, type, &count);
    if (!ev)
        verdict_add(v, name, CHECK_FAIL, "%d %s events in PCR %u, expected one", count,
                    evlog_type_name(type), pcr);
    return ev;
}

static void check_digest(const char *name, const struct evlog *l, const struct evlog_event *ev,
                         const uint8_t *want, const char *file, struct verdict *v)
{
    char got_hex[20], want_hex[20], data[100];
    if (!ev)
        return;
    printable(ev->data, ev->data_len, 1, data, sizeof(data));
    short_hex(ev->digest, l->bank->size, got_hex);
    if (memcmp(ev->digest, want, l->bank->size) == 0)
        verdict_add(v, name, CHECK_PASS, "%s %s is %s's (\"%s\")", l->bank->name, got_hex, file,
                    data);
    else
        verdict_add(v, name, CHECK_FAIL, "%s %s (\"%s\") is not %s's %s", l->bank->name, got_hex,
                    data, file, short_hex(want, l->bank->size, want_hex));
}

/* PCR 1's machine configuration (JSON), when its data is what was
 * extended; NULL otherwise. */
static json_t *machine_config(const struct evlog *l, uint32_t ok, const struct attest_policy *p,
                              struct verdict *v)
{
    const struct evlog_event *ev = NULL;
    json_t *cfg = NULL;
    bool want = p->vcpus >= 0 || p->mem_mib >= 0;
    if (want)
        ev = policy_event(l, ok, 1, EVLOG_EV_PLATFORM_CONFIG_FLAGS, "machine", v);
    else if (ok & 2) {
        int count;
        ev = find_one(l, 1, EVLOG_EV_PLATFORM_CONFIG_FLAGS, &count);
    }
    if (ev && data_matches(l, ev))
        cfg = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        if (ev && want)
            verdict_add(v, "machine", CHECK_FAIL, "PCR 1's configuration is not hearth's JSON");
        return NULL;
    }
    return cfg;
}

static void check_count(json_t *cfg, const char *key, long want, const char *name, const char *unit,
                        struct verdict *v)
{
    json_t *got = json_object_get(cfg, key);
    if (want < 0 || !cfg)
        return;
    if (!json_is_integer(got))
        verdict_add(v, name, CHECK_FAIL, "PCR 1's configuration has no %s", key);
    else if (json_integer_value(got) == want)
        verdict_add(v, name, CHECK_PASS, "%ld %s", want, unit);
    else
        verdict_add(v, name, CHECK_FAIL, "%lld %s, expected %ld",
                    (long long)json_integer_value(got), unit, want);
}

static void check_policy(const struct attest_policy *p, const struct evlog *l, uint32_t ok,
                         struct verdict *v)
{
    int count;
    const struct evlog_event *ev;
    if ((ev = policy_event(l, ok, 0, EVLOG_EV_S_CRTM_VERSION, "hearth", v))) {
        char ver[80];
        uint32_t len = ev->data_len;
        while (len >= 2 && !ev->data[len - 2] && !ev->data[len - 1])
            len -= 2;                                  /* the terminating NUL */
        printable(ev->data, len, 2, ver, sizeof(ver)); /* UTF-16LE */
        bool good = data_matches(l, ev) && strncmp(ver, "hearth ", 7) == 0;
        verdict_add(v, "hearth", good ? CHECK_PASS : CHECK_FAIL,
                    good ? "measured by %s" : "PCR 0's version event is not hearth's (\"%s\")",
                    ver);
    }
    json_t *cfg = machine_config(l, ok, p, v);
    check_count(cfg, "vcpu_count", p->vcpus, "vcpus", "vCPUs", v);
    check_count(cfg, "mem_size_mib", p->mem_mib, "memory", "MiB", v);
    check_digest("kernel", l, policy_event(l, ok, 4, EVLOG_EV_IPL, "kernel", v), p->kernel,
                 p->kernel_file, v);

    /* hearth appends its device entries (PCR 1's "devices") to boot_args. */
    json_t *devices = json_object_get(cfg, "devices");
    if ((ev = policy_event(l, ok, 8, EVLOG_EV_IPL, "cmdline", v))) {
        if (!cfg) {
            verdict_add(v, "cmdline", CHECK_SKIP,
                        "PCR 1 (which names hearth's device entries) does not replay");
        } else {
            const char *dev = json_is_string(devices) ? json_string_value(devices) : "";
            char *want = NULL;
            uint8_t d[EVLOG_MAX_DIGEST];
            bool same = asprintf(&want, "%s%s%s", p->cmdline, *dev ? " " : "", dev) >= 0 &&
                        evlog_hash(l->bank, want, strlen(want), d) == 0 &&
                        memcmp(d, ev->digest, l->bank->size) == 0;
            char got[200];
            printable(ev->data, ev->data_len, 1, got, sizeof(got));
            verdict_add(v, "cmdline", same ? CHECK_PASS : CHECK_FAIL,
                        same ? "\"%s\"" : "the guest got \"%s\"%s, expected \"%.150s\"", got,
                        data_matches(l, ev) ? "" : " (data edited)", same ? "" : want);
            free(want);
        }
    }
    if (p->has_initrd) {
        check_digest("initrd", l, policy_event(l, ok, 9, EVLOG_EV_IPL, "initrd", v), p->initrd,
                     p->initrd_file, v);
    } else if (!(ok & (1u << 9))) {
        verdict_add(v, "initrd", CHECK_SKIP, "PCR 9 does not replay from the log");
    } else {
        find_one(l, 9, EVLOG_EV_IPL, &count);
        verdict_add(v, "initrd", count ? CHECK_FAIL : CHECK_PASS,
                    count ? "an initrd was booted; the policy has none"
                          : "none, as the policy says");
    }
    json_decref(cfg);
}

void verify_attestation(const struct attest_policy *p, const struct challenge *c,
                        const TPM2B_PUBLIC *ak, const struct evidence *e, struct verdict *v)
{
    check_binding(c, ak, e, v);
    TPMS_ATTEST info;
    const EVP_MD *md = check_quote(p, c, ak, e, &info, v);
    struct evlog *l = malloc(sizeof(*l)); /* ~40 KiB: not on a verifier thread's stack */
    char err[300];
    if (!md || !l) {
        verdict_add(v, "event_log", CHECK_SKIP, "%s",
                    l ? "no quote to replay it against" : "out of memory");
    } else if (evlog_parse(l, e->event_log, e->event_log_len, p->bank, err, sizeof(err)) < 0) {
        verdict_add(v, "event_log", CHECK_FAIL, "%s", err);
    } else {
        l->quoted = p->pcrs;
        uint32_t ok = check_replay(p, md, &info, l, e, v);
        check_event_data(p, l, v);
        check_sequence(p, l, v);
        check_policy(p, l, ok, v);
    }
    free(l);
}
