/* TPM 2.0 command marshalling for manufacture and verification. */
#include "tpm2.h"

#include "tpm/wire.h"

#include <stdio.h>
#include <string.h>

#define ST_NO_SESSIONS 0x8001
#define ST_SESSIONS 0x8002
#define RH_OWNER 0x40000001u
#define RH_ENDORSEMENT 0x4000000bu
#define RH_PLATFORM 0x4000000cu
#define RS_PW 0x40000009u
#define CC_NV_DEFINE_SPACE 0x12a
#define CC_EVICT_CONTROL 0x120
#define CC_NV_WRITE 0x137
#define CC_NV_WRITE_LOCK 0x138
#define CC_CREATE_PRIMARY 0x131
#define CC_SHUTDOWN 0x145
#define CC_FLUSH_CONTEXT 0x165
#define CC_NV_READ 0x14e
#define CC_NV_READ_PUBLIC 0x169
#define CC_READ_PUBLIC 0x173
#define NV_CHUNK 512

/* The TCG EK credential profile's policy: PolicySecret(TPM_RH_ENDORSEMENT). */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

struct cmd {
    uint8_t b[TPM_BUFFER_MAX];
    size_t len;
};

static void u8(struct cmd *c, uint8_t v) { if (c->len < sizeof(c->b)) c->b[c->len++] = v; }
static void u16(struct cmd *c, uint16_t v) { u8(c, (uint8_t)(v >> 8)); u8(c, (uint8_t)v); }
static void u32(struct cmd *c, uint32_t v) { u16(c, (uint16_t)(v >> 16)); u16(c, (uint16_t)v); }
static void bytes(struct cmd *c, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        u8(c, ((const uint8_t *)p)[i]);
}
static void begin(struct cmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    u16(c, tag);
    u32(c, 0);
    u32(c, cc);
}
static void pw_session(struct cmd *c)
{
    u32(c, 9);
    u32(c, RS_PW);
    u16(c, 0);
    u8(c, 0);
    u16(c, 0);
}

/* Sends c; returns the TPM response code (or -1 on transport failure). */
static int run(struct swtpm *s, struct cmd *c, uint8_t *rsp, size_t *rsp_len)
{
    tpm_put_be32(c->b + 2, (uint32_t)c->len);
    if (swtpm_command(s, c->b, c->len, rsp, rsp_len) < 0 || *rsp_len < TPM_HEADER_SIZE)
        return -1;
    return (int)tpm_response_code(rsp);
}

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s failed (TPM rc 0x%x)", what, rc);
    return -1;
}

/* TPMT_PUBLIC of the TCG default EK templates (RSA-2048 / ECC NIST P-256). */
static void ek_template(struct cmd *c, bool ecc)
{
    struct cmd t = { .len = 0 };
    u16(&t, ecc ? 0x0023 : 0x0001); /* ECC / RSA */
    u16(&t, 0x000b);                /* SHA-256 */
    u32(&t, 0x000300b2); /* fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy restricted decrypt */
    u16(&t, sizeof(ek_policy));
    bytes(&t, ek_policy, sizeof(ek_policy));
    u16(&t, 0x0006); /* AES-128-CFB */
    u16(&t, 128);
    u16(&t, 0x0043);
    if (ecc) {
        u16(&t, 0x0010); /* no scheme */
        u16(&t, 0x0003); /* NIST P-256 */
        u16(&t, 0x0010); /* no KDF */
        u16(&t, 32);     /* unique: x, y zero-filled */
        for (int i = 0; i < 32; i++)
            u8(&t, 0);
        u16(&t, 32);
        for (int i = 0; i < 32; i++)
            u8(&t, 0);
    } else {
        u16(&t, 0x0010); /* no scheme */
        u16(&t, 2048);
        u32(&t, 0);      /* default exponent */
        u16(&t, 256);    /* unique: zero-filled modulus */
        for (int i = 0; i < 256; i++)
            u8(&t, 0);
    }
    u16(c, (uint16_t)t.len);
    bytes(c, t.b, t.len);
}

/* Extracts the key from a TPM2B_PUBLIC at p (len bytes available). */
static int parse_public(const uint8_t *p, size_t len, struct ek_public *out)
{
    if (len < 2 + 10)
        return -1;
    size_t size = tpm_be16(p), off = 2;
    if (size + 2 > len)
        return -1;
    uint16_t type = tpm_be16(p + off);
    off += 2 + 2 + 4; /* type, nameAlg, attributes */
    uint16_t policy = tpm_be16(p + off);
    off += 2 + policy + 6; /* policy, symmetric */
    if (type == 0x0001) {
        off += 2 + 2 + 4; /* scheme, keyBits, exponent */
        uint16_t n = tpm_be16(p + off);
        if (n > sizeof(out->key) || off + 2 + n > size + 2)
            return -1;
        memcpy(out->key, p + off + 2, n);
        out->len = n;
        out->ecc = false;
        return 0;
    }
    if (type == 0x0023) {
        off += 2 + 2 + 2; /* scheme, curve, kdf */
        uint16_t nx = tpm_be16(p + off);
        if (nx != 32 || off + 2 + 32 + 2 + 32 > size + 2)
            return -1;
        memcpy(out->key, p + off + 2, 32);
        uint16_t ny = tpm_be16(p + off + 2 + 32);
        if (ny != 32)
            return -1;
        memcpy(out->key + 32, p + off + 2 + 32 + 2, 32);
        out->len = 64;
        out->ecc = true;
        return 0;
    }
    return -1;
}

int tpm2_create_ek(struct swtpm *s, bool ecc, struct ek_public *out, char *err, size_t errlen)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_SESSIONS, CC_CREATE_PRIMARY);
    u32(&c, RH_ENDORSEMENT);
    pw_session(&c);
    u16(&c, 4); /* inSensitive: empty auth and data */
    u32(&c, 0);
    ek_template(&c, ecc);
    u16(&c, 0); /* outsideInfo */
    u32(&c, 0); /* creationPCR */
    int rc = run(s, &c, rsp, &n);
    if (rc != 0)
        return fail(err, errlen, "CreatePrimary(EK)", rc);
    uint32_t handle = tpm_be32(rsp + 10);
    /* handle, parameterSize, then outPublic */
    if (n < 18 || parse_public(rsp + 18, n - 18, out) < 0) {
        snprintf(err, errlen, "CreatePrimary(EK): malformed response");
        return -1;
    }
    begin(&c, ST_SESSIONS, CC_EVICT_CONTROL);
    u32(&c, RH_OWNER);
    u32(&c, handle);
    pw_session(&c);
    u32(&c, ecc ? TPM2_EK_ECC_HANDLE : TPM2_EK_RSA_HANDLE);
    rc = run(s, &c, rsp, &n);
    struct cmd f;
    begin(&f, ST_NO_SESSIONS, CC_FLUSH_CONTEXT);
    u32(&f, handle);
    size_t fn;
    run(s, &f, rsp + 0, &fn);
    return rc == 0 ? 0 : fail(err, errlen, "EvictControl(EK)", rc);
}

int tpm2_nv_store_locked(struct swtpm *s, uint32_t index, const uint8_t *data, size_t len,
                         char *err, size_t errlen)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_SESSIONS, CC_NV_DEFINE_SPACE);
    u32(&c, RH_PLATFORM);
    pw_session(&c);
    u16(&c, 0);  /* no auth value */
    u16(&c, 14); /* TPM2B_NV_PUBLIC */
    u32(&c, index);
    u16(&c, 0x000b);
    /* PPWRITE, WRITEDEFINE, PPREAD, OWNERREAD, AUTHREAD, NO_DA, PLATFORMCREATE */
    u32(&c, 0x42072001u);
    u16(&c, 0);
    u16(&c, (uint16_t)len);
    int rc = run(s, &c, rsp, &n);
    if (rc != 0)
        return fail(err, errlen, "NV_DefineSpace", rc);
    for (size_t off = 0; off < len; off += NV_CHUNK) {
        size_t chunk = len - off < NV_CHUNK ? len - off : NV_CHUNK;
        begin(&c, ST_SESSIONS, CC_NV_WRITE);
        u32(&c, RH_PLATFORM);
        u32(&c, index);
        pw_session(&c);
        u16(&c, (uint16_t)chunk);
        bytes(&c, data + off, chunk);
        u16(&c, (uint16_t)off);
        if ((rc = run(s, &c, rsp, &n)) != 0)
            return fail(err, errlen, "NV_Write", rc);
    }
    begin(&c, ST_SESSIONS, CC_NV_WRITE_LOCK);
    u32(&c, RH_PLATFORM);
    u32(&c, index);
    pw_session(&c);
    rc = run(s, &c, rsp, &n);
    return rc == 0 ? 0 : fail(err, errlen, "NV_WriteLock", rc);
}

int tpm2_read_ek(struct swtpm *s, uint32_t handle, struct ek_public *out)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_NO_SESSIONS, CC_READ_PUBLIC);
    u32(&c, handle);
    if (run(s, &c, rsp, &n) != 0)
        return -1;
    return parse_public(rsp + 10, n - 10, out);
}

int tpm2_nv_read(struct swtpm *s, uint32_t index, uint32_t *attributes, uint8_t *data,
                 size_t max, size_t *len)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_NO_SESSIONS, CC_NV_READ_PUBLIC);
    u32(&c, index);
    if (run(s, &c, rsp, &n) != 0 || n < 10 + 2 + 4 + 2 + 4 + 2)
        return -1;
    *attributes = tpm_be32(rsp + 10 + 2 + 4 + 2);
    uint16_t policy = tpm_be16(rsp + 10 + 2 + 4 + 2 + 4);
    size_t off = 10 + 2 + 4 + 2 + 4 + 2 + policy;
    if (n < off + 2)
        return -1;
    size_t size = tpm_be16(rsp + off);
    if (size > max)
        return -1;
    for (size_t done = 0; done < size; done += NV_CHUNK) {
        size_t chunk = size - done < NV_CHUNK ? size - done : NV_CHUNK;
        begin(&c, ST_SESSIONS, CC_NV_READ);
        u32(&c, index); /* authorized by the index's own (empty) auth value */
        u32(&c, index);
        pw_session(&c);
        u16(&c, (uint16_t)chunk);
        u16(&c, (uint16_t)done);
        /* parameterSize, TPM2B data */
        if (run(s, &c, rsp, &n) != 0 || n < 16 + chunk || tpm_be16(rsp + 14) != chunk)
            return -1;
        memcpy(data + done, rsp + 16, chunk);
    }
    *len = size;
    return 0;
}

int tpm2_shutdown(struct swtpm *s)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_NO_SESSIONS, CC_SHUTDOWN);
    u16(&c, 0);
    return run(s, &c, rsp, &n) == 0 ? 0 : -1;
}

static const struct { const char *name; int bit; uint16_t alg; } banks[] = {
    { "sha1", TPM2_BANK_SHA1, 0x0004 },
    { "sha256", TPM2_BANK_SHA256, 0x000b },
    { "sha384", TPM2_BANK_SHA384, 0x000c },
    { "sha512", TPM2_BANK_SHA512, 0x000d },
};
#define NBANKS (sizeof(banks) / sizeof(banks[0]))

int tpm2_banks_parse(const char *list)
{
    int mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        for (; i < NBANKS; i++)
            if (strlen(banks[i].name) == n && strncmp(p, banks[i].name, n) == 0)
                break;
        if (i == NBANKS)
            return -1;
        mask |= banks[i].bit;
        p += n + (p[n] == ',');
    }
    return mask ? mask : -1;
}

void tpm2_banks_format(int mask, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < NBANKS; i++)
        if (mask & banks[i].bit)
            used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
                                     used ? "," : "", banks[i].name);
}

int tpm2_pcr_allocate(struct swtpm *s, int mask, char *err, size_t errlen)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_SESSIONS, 0x12b /* TPM_CC_PCR_Allocate */);
    u32(&c, RH_PLATFORM);
    pw_session(&c);
    u32(&c, NBANKS); /* every bank named: selected ones on, the rest off */
    for (size_t i = 0; i < NBANKS; i++) {
        uint8_t on = (mask & banks[i].bit) ? 0xff : 0x00;
        u16(&c, banks[i].alg);
        u8(&c, 3);
        u8(&c, on);
        u8(&c, on);
        u8(&c, on);
    }
    int rc = run(s, &c, rsp, &n);
    /* parameterSize, allocationSuccess, ... */
    if (rc != 0 || n < 15 || rsp[14] != 1)
        return fail(err, errlen, "PCR_Allocate", rc);
    return 0;
}

int tpm2_active_banks(struct swtpm *s)
{
    struct cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    begin(&c, ST_NO_SESSIONS, 0x17a /* TPM_CC_GetCapability */);
    u32(&c, 5); /* TPM_CAP_PCRS */
    u32(&c, 0);
    u32(&c, NBANKS);
    if (run(s, &c, rsp, &n) != 0 || n < 19)
        return -1;
    /* moreData, capability, TPML_PCR_SELECTION: count, then (hash, size, bitmap) */
    uint32_t count = tpm_be32(rsp + 15);
    size_t off = 19;
    int mask = 0;
    for (uint32_t i = 0; i < count && off + 3 <= n; i++) {
        uint16_t alg = tpm_be16(rsp + off);
        uint8_t size = rsp[off + 2];
        bool any = false;
        for (uint8_t j = 0; j < size && off + 3 + j < n; j++)
            any |= rsp[off + 3 + j] != 0;
        for (size_t b = 0; b < NBANKS; b++)
            if (banks[b].alg == alg && any)
                mask |= banks[b].bit;
        off += 3 + size;
    }
    return mask;
}
