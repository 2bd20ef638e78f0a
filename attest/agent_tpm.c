/* The agent's TPM commands through ESAPI. */
#include "agent_tpm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

static int tss_fail(char *err, size_t errlen, const char *what, TSS2_RC rc)
{
    snprintf(err, errlen, "%s: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
    return -1;
}

int agent_tpm_open(struct agent_tpm *t, const char *conf, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->ek = t->ak = ESYS_TR_NONE;
    static const char *const defaults[] = { "device:/dev/tpmrm0", "device:/dev/tpm0" };
    TSS2_RC rc = TSS2_TCTI_RC_IO_ERROR;
    for (size_t i = 0; i < (conf ? 1 : 2); i++) {
        const char *c = conf ? conf : defaults[i];
        rc = Tss2_TctiLdr_Initialize(c, &t->tcti);
        if (rc == TSS2_RC_SUCCESS) {
            snprintf(t->tcti_conf, sizeof(t->tcti_conf), "%s", c);
            break;
        }
    }
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen,
                        conf ? "opening the TPM" : "opening the TPM (/dev/tpmrm0, /dev/tpm0)", rc);
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&t->tcti);
        return tss_fail(err, errlen, "starting ESAPI", rc);
    }
    return 0;
}

static void forget_ak(struct agent_tpm *t)
{
    if (t->ak != ESYS_TR_NONE)
        Esys_FlushContext(t->esys, t->ak);
    t->ak = ESYS_TR_NONE;
    Esys_Free(t->ak_pub);
    t->ak_pub = NULL;
}

void agent_tpm_close(struct agent_tpm *t)
{
    if (t->esys) {
        forget_ak(t);
        if (t->ek != ESYS_TR_NONE)
            Esys_TR_Close(t->esys, &t->ek);
        Esys_Finalize(&t->esys);
    }
    if (t->tcti)
        Tss2_TctiLdr_Finalize(&t->tcti);
    Esys_Free(t->ek_pub);
    free(t->ek_cert);
    memset(t, 0, sizeof(*t));
}

/* A policy session satisfying the EK's PolicySecret(TPM_RH_ENDORSEMENT)
 * (empty endorsement authorization); flushed by the caller. */
static int ek_session(struct agent_tpm *t, ESYS_TR *s, char *err, size_t errlen)
{
    const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
    TSS2_RC rc =
        Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, s);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen, "starting a policy session for the EK", rc);
    rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *s, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_FlushContext(t->esys, *s);
        return tss_fail(err, errlen, "PolicySecret(TPM_RH_ENDORSEMENT) for the EK", rc);
    }
    return 0;
}

static int read_ek_cert(struct agent_tpm *t, char *err, size_t errlen)
{
    ESYS_TR nv;
    TPM2B_NV_PUBLIC *nvpub = NULL;
    TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, AGENT_EK_CERT_NV, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen, "no EK certificate in NV 0x01c00002", rc);
    rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_TR_Close(t->esys, &nv);
        return tss_fail(err, errlen, "reading NV 0x01c00002's public area", rc);
    }
    size_t size = nvpub->nvPublic.dataSize;
    Esys_Free(nvpub);
    TPMS_CAPABILITY_DATA *cap = NULL;
    size_t chunk = 512;
    if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, NULL,
                           &cap) == TSS2_RC_SUCCESS &&
        cap->data.tpmProperties.count == 1 &&
        cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
        cap->data.tpmProperties.tpmProperty[0].value >= 64)
        chunk = cap->data.tpmProperties.tpmProperty[0].value;
    Esys_Free(cap);
    if (chunk > sizeof(((TPM2B_MAX_NV_BUFFER *)0)->buffer))
        chunk = sizeof(((TPM2B_MAX_NV_BUFFER *)0)->buffer);
    free(t->ek_cert);
    t->ek_cert = malloc(size ? size : 1);
    t->ek_cert_len = 0;
    /* Readable by its own (empty) authorization, or the owner's. */
    ESYS_TR auth = nv;
    while (t->ek_cert && t->ek_cert_len < size) {
        TPM2B_MAX_NV_BUFFER *data = NULL;
        UINT16 n = (UINT16)(size - t->ek_cert_len < chunk ? size - t->ek_cert_len : chunk);
        rc = Esys_NV_Read(t->esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                          (UINT16)t->ek_cert_len, &data);
        if (rc != TSS2_RC_SUCCESS && auth == nv) {
            auth = ESYS_TR_RH_OWNER;
            continue;
        }
        if (rc != TSS2_RC_SUCCESS || data->size != n) {
            Esys_Free(data);
            Esys_TR_Close(t->esys, &nv);
            return tss_fail(err, errlen, "reading the EK certificate from NV 0x01c00002",
                            rc ? rc : TSS2_BASE_RC_MALFORMED_RESPONSE);
        }
        memcpy(t->ek_cert + t->ek_cert_len, data->buffer, n);
        t->ek_cert_len += n;
        Esys_Free(data);
    }
    Esys_TR_Close(t->esys, &nv);
    return t->ek_cert ? 0 : -1;
}

static int create_ak(struct agent_tpm *t, char *err, size_t errlen)
{
    const TPM2B_SENSITIVE_CREATE sens = { 0 };
    const TPM2B_PUBLIC tmpl = {
        .publicArea =
            {
                .type = TPM2_ALG_RSA,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                    /* empty authorization: dictionary-attack lockout
                                     * (after unorderly restarts) would only stop
                                     * attestation */
                                    TPMA_OBJECT_NODA,
                .parameters.rsaDetail =
                    {
                        .symmetric = {.algorithm = TPM2_ALG_NULL},
                        .scheme = {.scheme = TPM2_ALG_RSASSA,
                                   .details.rsassa.hashAlg = TPM2_ALG_SHA256},
                        .keyBits = 2048,
                    },
            },
    };
    const TPM2B_DATA outside = { 0 };
    const TPML_PCR_SELECTION none = { 0 };
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR s;
    if (ek_session(t, &s, err, errlen) < 0)
        return -1;
    TSS2_RC rc = Esys_Create(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                             &none, &priv, &pub, NULL, NULL, NULL);
    Esys_FlushContext(t->esys, s);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen, "creating the AK under the EK", rc);
    if (ek_session(t, &s, err, errlen) < 0) {
        Esys_Free(priv);
        Esys_Free(pub);
        return -1;
    }
    rc = Esys_Load(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &t->ak);
    Esys_FlushContext(t->esys, s);
    Esys_Free(priv);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_Free(pub);
        t->ak = ESYS_TR_NONE;
        return tss_fail(err, errlen, "loading the AK under the EK", rc);
    }
    t->ak_pub = pub;
    return 0;
}

static int marshal_public(const TPM2B_PUBLIC *p, uint8_t *out, size_t *len)
{
    size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(p, out, sizeof(TPM2B_PUBLIC), &off) != TSS2_RC_SUCCESS)
        return -1;
    *len = off;
    return 0;
}

/* The EK, its certificate and an AK: read or made once. */
static int ensure_keys(struct agent_tpm *t, char *err, size_t errlen)
{
    TSS2_RC rc;
    if (t->ek == ESYS_TR_NONE) {
        rc = Esys_TR_FromTPMPublic(t->esys, AGENT_EK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &t->ek);
        if (rc != TSS2_RC_SUCCESS) {
            t->ek = ESYS_TR_NONE;
            return tss_fail(err, errlen, "no EK persisted at 0x81010001", rc);
        }
        rc = Esys_ReadPublic(t->esys, t->ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &t->ek_pub,
                             NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
            Esys_TR_Close(t->esys, &t->ek);
            t->ek = ESYS_TR_NONE;
            return tss_fail(err, errlen, "reading the EK's public area", rc);
        }
    }
    if (!t->ek_cert && read_ek_cert(t, err, errlen) < 0)
        return -1;
    if (t->ak == ESYS_TR_NONE && create_ak(t, err, errlen) < 0)
        return -1;
    return 0;
}

int agent_tpm_identity(struct agent_tpm *t, const uint8_t **ek_cert, size_t *ek_cert_len,
                       uint8_t *ek_pub, size_t *ek_pub_len, uint8_t *ak_pub, size_t *ak_pub_len,
                       char *err, size_t errlen)
{
    if (ensure_keys(t, err, errlen) < 0)
        return -1;
    if (marshal_public(t->ek_pub, ek_pub, ek_pub_len) < 0 ||
        marshal_public(t->ak_pub, ak_pub, ak_pub_len) < 0) {
        snprintf(err, errlen, "marshalling the public areas failed");
        return -1;
    }
    *ek_cert = t->ek_cert;
    *ek_cert_len = t->ek_cert_len;
    return 0;
}

int agent_tpm_activate(struct agent_tpm *t, const uint8_t *blob, size_t blob_len,
                       const uint8_t *secret, size_t secret_len, uint8_t *cred, size_t *cred_len,
                       char *err, size_t errlen)
{
    TPM2B_ID_OBJECT id = { 0 };
    TPM2B_ENCRYPTED_SECRET enc = { 0 };
    size_t o1 = 0, o2 = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_len, &o1, &id) != TSS2_RC_SUCCESS ||
        o1 != blob_len ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_len, &o2, &enc) !=
            TSS2_RC_SUCCESS ||
        o2 != secret_len) {
        snprintf(err, errlen,
                 "credential_blob or encrypted_secret: not a TPM2B_ID_OBJECT / "
                 "TPM2B_ENCRYPTED_SECRET");
        return -1;
    }
    if (ensure_keys(t, err, errlen) < 0)
        return -1;
    ESYS_TR s;
    if (ek_session(t, &s, err, errlen) < 0)
        return -1;
    TPM2B_DIGEST *out = NULL;
    TSS2_RC rc = Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, s, ESYS_TR_NONE,
                                         &id, &enc, &out);
    Esys_FlushContext(t->esys, s);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen, "ActivateCredential", rc);
    memcpy(cred, out->buffer, out->size);
    *cred_len = out->size;
    Esys_Free(out);
    return 0;
}

static void select_pcrs(TPML_PCR_SELECTION *sel, uint16_t alg, uint32_t mask)
{
    memset(sel, 0, sizeof(*sel));
    sel->count = 1;
    sel->pcrSelections[0].hash = alg;
    sel->pcrSelections[0].sizeofSelect = 3;
    for (int i = 0; i < 24; i++)
        if (mask & (1u << i))
            sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* PCR_Read answers at most 8 digests at a time and says which. */
static int read_pcrs(struct agent_tpm *t, uint16_t alg, uint32_t mask, uint8_t pcrs[24][64],
                     char *err, size_t errlen)
{
    while (mask) {
        TPML_PCR_SELECTION sel, *got = NULL;
        TPML_DIGEST *vals = NULL;
        select_pcrs(&sel, alg, mask);
        TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL,
                                   &got, &vals);
        if (rc != TSS2_RC_SUCCESS)
            return tss_fail(err, errlen, "PCR_Read", rc);
        uint32_t read = 0;
        UINT32 k = 0;
        for (int i = 0; i < 24 && got->count == 1; i++) {
            if (!(got->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))) || k >= vals->count)
                continue;
            memcpy(pcrs[i], vals->digests[k].buffer,
                   vals->digests[k].size > 64 ? 64 : vals->digests[k].size);
            read |= 1u << i;
            k++;
        }
        Esys_Free(got);
        Esys_Free(vals);
        if (!(read & mask)) {
            snprintf(err, errlen, "PCR_Read returned none of the PCRs asked for (bank 0x%x)", alg);
            return -1;
        }
        mask &= ~read;
    }
    return 0;
}

int agent_tpm_quote(struct agent_tpm *t, uint16_t alg, uint32_t mask, const uint8_t *nonce,
                    size_t nonce_len, uint8_t *attest, size_t *attest_len, uint8_t *sig,
                    size_t *sig_len, uint8_t pcrs[24][64], char *err, size_t errlen)
{
    if (ensure_keys(t, err, errlen) < 0)
        return -1;
    TPM2B_DATA qual = { .size = (UINT16)nonce_len };
    memcpy(qual.buffer, nonce, nonce_len);
    const TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
    TPML_PCR_SELECTION sel;
    select_pcrs(&sel, alg, mask);
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *signature = NULL;
    TSS2_RC rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qual,
                            &scheme, &sel, &quoted, &signature);
    if (rc != TSS2_RC_SUCCESS) {
        forget_ak(t); /* recreated at the next identity request */
        return tss_fail(err, errlen, "Quote", rc);
    }
    size_t o1 = 0, o2 = 0;
    rc = Tss2_MU_TPM2B_ATTEST_Marshal(quoted, attest, sizeof(TPM2B_ATTEST), &o1);
    if (rc == TSS2_RC_SUCCESS)
        rc = Tss2_MU_TPMT_SIGNATURE_Marshal(signature, sig, sizeof(TPMT_SIGNATURE), &o2);
    Esys_Free(quoted);
    Esys_Free(signature);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, errlen, "marshalling the quote", rc);
    *attest_len = o1;
    *sig_len = o2;
    return read_pcrs(t, alg, mask, pcrs, err, errlen);
}
