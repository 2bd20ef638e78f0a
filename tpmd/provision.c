/* The TPM 2.0 commands that provision a vTPM (EK, certificates in NV, PCR
 * banks) and read it back for verification, over its swtpm data channel. */
#include "provision.h"

#include <stdio.h>
#include <string.h>

#define NV_CHUNK 512

/* The TCG EK credential profile's policy: PolicySecret(TPM_RH_ENDORSEMENT). */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* Runs c on swtpm's data channel (manufacture: no TPM thread yet). */
static int swtpm_xfer(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    return swtpm_command(ctx, cmd, len, rsp, rsp_len);
}

/* One command and its answer: a command buffer, a response buffer, the
 * cursors over them. Static storage would be shared between manufacturing
 * threads, so each caller has one on its stack. */
struct exchange {
    uint8_t cmd[TPM_BUFFER_MAX], rsp[TPM_BUFFER_MAX];
    struct tpm2w_writer c;
    struct tpm2w_reader r;
};

static void begin(struct exchange *x, uint16_t tag, uint32_t cc)
{
    tpm2w_command(&x->c, x->cmd, sizeof(x->cmd), tag, cc);
}

static int run(struct swtpm *s, struct exchange *x)
{
    const struct tpm2_conn t = { swtpm_xfer, s };
    return tpm2_run(&t, &x->c, x->rsp, &x->r);
}

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s failed (TPM rc 0x%x)", what, rc);
    return -1;
}

/* TPM2B_PUBLIC of the TCG default EK templates (RSA-2048 / ECC NIST P-256). */
static void ek_template(struct tpm2w_writer *c, bool ecc)
{
    size_t size = tpm2w_sized_begin(c);
    tpm2w_put16(c, ecc ? TPM_ALG_ECC : TPM_ALG_RSA);
    tpm2w_put16(c, TPM_ALG_SHA256); /* nameAlg */
    /* fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy restricted decrypt */
    tpm2w_put32(c, 0x000300b2);
    tpm2w_put_sized(c, ek_policy, sizeof(ek_policy));
    tpm2w_put16(c, TPM_ALG_AES); /* symmetric: AES-128-CFB */
    tpm2w_put16(c, 128);
    tpm2w_put16(c, TPM_ALG_CFB);
    if (ecc) {
        tpm2w_put16(c, TPM_ALG_NULL); /* scheme */
        tpm2w_put16(c, TPM_ECC_NIST_P256);
        tpm2w_put16(c, TPM_ALG_NULL); /* kdf */
        tpm2w_put16(c, 32);           /* unique: x, y zero-filled */
        tpm2w_put_zeros(c, 32);
        tpm2w_put16(c, 32);
        tpm2w_put_zeros(c, 32);
    } else {
        tpm2w_put16(c, TPM_ALG_NULL); /* scheme */
        tpm2w_put16(c, 2048);
        tpm2w_put32(c, 0);   /* default exponent */
        tpm2w_put16(c, 256); /* unique: zero-filled modulus */
        tpm2w_put_zeros(c, 256);
    }
    tpm2w_sized_end(c, size);
}

/* Extracts the key from the TPM2B_PUBLIC at r's cursor. */
static int parse_public(struct tpm2w_reader *r, struct ek_public *out)
{
    uint16_t size = tpm2w_get16(r);
    const uint8_t *area = tpm2w_get_span(r, size);
    if (!area)
        return -1;
    struct tpm2w_reader p; /* the public area alone: nothing is read past it */
    tpm2w_reader_init(&p, area, size);
    uint16_t type = tpm2w_get16(&p);
    tpm2w_skip(&p, 2 + 4);           /* nameAlg, objectAttributes */
    tpm2w_skip(&p, tpm2w_get16(&p)); /* authPolicy */
    tpm2w_skip(&p, 6);               /* symmetric */
    if (type == TPM_ALG_RSA) {
        tpm2w_skip(&p, 2 + 2 + 4); /* scheme, keyBits, exponent */
        uint16_t n = tpm2w_get16(&p);
        if (n > sizeof(out->key))
            return -1;
        tpm2w_get_bytes(&p, out->key, n);
        out->len = n;
        out->ecc = false;
        return p.overflow ? -1 : 0;
    }
    if (type == TPM_ALG_ECC) {
        tpm2w_skip(&p, 2 + 2 + 2); /* scheme, curve, kdf */
        if (tpm2w_get16(&p) != 32)
            return -1;
        tpm2w_get_bytes(&p, out->key, 32);
        if (tpm2w_get16(&p) != 32)
            return -1;
        tpm2w_get_bytes(&p, out->key + 32, 32);
        out->len = 64;
        out->ecc = true;
        return p.overflow ? -1 : 0;
    }
    return -1;
}

int provision_create_ek(struct swtpm *s, bool ecc, struct ek_public *out, char *err, size_t errlen)
{
    struct exchange x;
    begin(&x, TPM_ST_SESSIONS, TPM_CC_CREATE_PRIMARY);
    tpm2w_put32(&x.c, TPM_RH_ENDORSEMENT);
    tpm2w_put_pw_session(&x.c);
    tpm2w_put16(&x.c, 4); /* inSensitive: empty auth and data */
    tpm2w_put32(&x.c, 0);
    ek_template(&x.c, ecc);
    tpm2w_put16(&x.c, 0); /* outsideInfo */
    tpm2w_put32(&x.c, 0); /* creationPCR */
    int rc = run(s, &x);
    if (rc != 0)
        return fail(err, errlen, "CreatePrimary(EK)", rc);
    /* handle, parameterSize, then outPublic */
    uint32_t handle = tpm2w_get32(&x.r);
    tpm2w_skip(&x.r, 4);
    if (parse_public(&x.r, out) < 0) {
        snprintf(err, errlen, "CreatePrimary(EK): malformed response");
        return -1;
    }
    begin(&x, TPM_ST_SESSIONS, TPM_CC_EVICT_CONTROL);
    tpm2w_put32(&x.c, TPM_RH_OWNER);
    tpm2w_put32(&x.c, handle);
    tpm2w_put_pw_session(&x.c);
    tpm2w_put32(&x.c, ecc ? TPM2_EK_ECC_HANDLE : TPM2_EK_RSA_HANDLE);
    rc = run(s, &x);
    /* The transient copy goes either way; its answer does not matter. */
    begin(&x, TPM_ST_NO_SESSIONS, TPM_CC_FLUSH_CONTEXT);
    tpm2w_put32(&x.c, handle);
    run(s, &x);
    return rc == 0 ? 0 : fail(err, errlen, "EvictControl(EK)", rc);
}

int provision_nv_store_locked(struct swtpm *s, uint32_t index, const uint8_t *data, size_t len,
                              char *err, size_t errlen)
{
    struct exchange x;
    begin(&x, TPM_ST_SESSIONS, TPM_CC_NV_DEFINE_SPACE);
    tpm2w_put32(&x.c, TPM_RH_PLATFORM);
    tpm2w_put_pw_session(&x.c);
    tpm2w_put16(&x.c, 0);                 /* no auth value */
    size_t pub = tpm2w_sized_begin(&x.c); /* TPM2B_NV_PUBLIC */
    tpm2w_put32(&x.c, index);
    tpm2w_put16(&x.c, TPM_ALG_SHA256);
    /* PPWRITE, WRITEDEFINE, PPREAD, OWNERREAD, AUTHREAD, NO_DA, PLATFORMCREATE */
    tpm2w_put32(&x.c, 0x42072001u);
    tpm2w_put16(&x.c, 0); /* no policy */
    tpm2w_put16(&x.c, (uint16_t)len);
    tpm2w_sized_end(&x.c, pub);
    int rc = run(s, &x);
    if (rc != 0)
        return fail(err, errlen, "NV_DefineSpace", rc);
    for (size_t off = 0; off < len; off += NV_CHUNK) {
        size_t chunk = len - off < NV_CHUNK ? len - off : NV_CHUNK;
        begin(&x, TPM_ST_SESSIONS, TPM_CC_NV_WRITE);
        tpm2w_put32(&x.c, TPM_RH_PLATFORM);
        tpm2w_put32(&x.c, index);
        tpm2w_put_pw_session(&x.c);
        tpm2w_put_sized(&x.c, data + off, chunk);
        tpm2w_put16(&x.c, (uint16_t)off);
        if ((rc = run(s, &x)) != 0)
            return fail(err, errlen, "NV_Write", rc);
    }
    begin(&x, TPM_ST_SESSIONS, TPM_CC_NV_WRITE_LOCK);
    tpm2w_put32(&x.c, TPM_RH_PLATFORM);
    tpm2w_put32(&x.c, index);
    tpm2w_put_pw_session(&x.c);
    rc = run(s, &x);
    return rc == 0 ? 0 : fail(err, errlen, "NV_WriteLock", rc);
}

int provision_read_ek(struct swtpm *s, uint32_t handle, struct ek_public *out)
{
    struct exchange x;
    begin(&x, TPM_ST_NO_SESSIONS, TPM_CC_READ_PUBLIC);
    tpm2w_put32(&x.c, handle);
    if (run(s, &x) != 0)
        return -1;
    return parse_public(&x.r, out);
}

int provision_nv_read(struct swtpm *s, uint32_t index, uint32_t *attributes, uint8_t *data,
                      size_t max, size_t *len)
{
    struct exchange x;
    begin(&x, TPM_ST_NO_SESSIONS, TPM_CC_NV_READ_PUBLIC);
    tpm2w_put32(&x.c, index);
    if (run(s, &x) != 0)
        return -1;
    /* TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy, dataSize */
    tpm2w_skip(&x.r, 2 + 4 + 2);
    *attributes = tpm2w_get32(&x.r);
    tpm2w_skip(&x.r, tpm2w_get16(&x.r));
    size_t size = tpm2w_get16(&x.r);
    if (x.r.overflow || size > max)
        return -1;
    for (size_t done = 0; done < size; done += NV_CHUNK) {
        size_t chunk = size - done < NV_CHUNK ? size - done : NV_CHUNK;
        begin(&x, TPM_ST_SESSIONS, TPM_CC_NV_READ);
        tpm2w_put32(&x.c, index); /* authorized by the index's own (empty) auth value */
        tpm2w_put32(&x.c, index);
        tpm2w_put_pw_session(&x.c);
        tpm2w_put16(&x.c, (uint16_t)chunk);
        tpm2w_put16(&x.c, (uint16_t)done);
        if (run(s, &x) != 0)
            return -1;
        /* parameterSize, TPM2B data */
        tpm2w_skip(&x.r, 4);
        if (tpm2w_get16(&x.r) != chunk)
            return -1;
        tpm2w_get_bytes(&x.r, data + done, chunk);
        if (x.r.overflow)
            return -1;
    }
    *len = size;
    return 0;
}

int provision_shutdown(struct swtpm *s)
{
    struct exchange x;
    begin(&x, TPM_ST_NO_SESSIONS, TPM_CC_SHUTDOWN);
    tpm2w_put16(&x.c, TPM_SU_CLEAR);
    return run(s, &x) == 0 ? 0 : -1;
}

int provision_pcr_allocate(struct swtpm *s, int mask, char *err, size_t errlen)
{
    struct exchange x;
    begin(&x, TPM_ST_SESSIONS, TPM_CC_PCR_ALLOCATE);
    tpm2w_put32(&x.c, TPM_RH_PLATFORM);
    tpm2w_put_pw_session(&x.c);
    tpm2w_put32(&x.c, TPM2_NBANKS); /* every bank named: selected ones on, the rest off */
    for (size_t i = 0; i < TPM2_NBANKS; i++) {
        uint8_t on = (mask & tpm2_banks[i].bit) ? 0xff : 0x00;
        tpm2w_put16(&x.c, tpm2_banks[i].alg);
        tpm2w_put8(&x.c, 3);
        tpm2w_put8(&x.c, on);
        tpm2w_put8(&x.c, on);
        tpm2w_put8(&x.c, on);
    }
    int rc = run(s, &x);
    /* parameterSize, allocationSuccess, ... */
    tpm2w_skip(&x.r, 4);
    if (rc != 0 || tpm2w_get8(&x.r) != 1)
        return fail(err, errlen, "PCR_Allocate", rc);
    return 0;
}

int provision_active_banks(struct swtpm *s)
{
    const struct tpm2_conn t = { swtpm_xfer, s };
    return tpm2_pcr_banks(&t);
}
