/* TPM 2.0 command marshalling for manufacture and verification. */
#include "tpm2.h"

#include "tpm/wire.h"

#include <stdio.h>
#include <string.h>

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

/* Runs c on swtpm's data channel (manufacture: no TPM thread yet). */
static int swtpm_xfer(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    return swtpm_command(ctx, cmd, len, rsp, rsp_len);
}

static int run(struct swtpm *s, struct tpm2_cmd *c, uint8_t *rsp, size_t *rsp_len)
{
    const struct tpm2_conn t = { swtpm_xfer, s };
    return tpm2_run(&t, c, rsp, rsp_len);
}

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s failed (TPM rc 0x%x)", what, rc);
    return -1;
}

/* TPMT_PUBLIC of the TCG default EK templates (RSA-2048 / ECC NIST P-256). */
static void ek_template(struct tpm2_cmd *c, bool ecc)
{
    struct tpm2_cmd t = { .len = 0 };
    tpm2_put16(&t, ecc ? 0x0023 : 0x0001); /* ECC / RSA */
    tpm2_put16(&t, 0x000b);                /* SHA-256 */
    tpm2_put32(&t, 0x000300b2); /* fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy restricted decrypt */
    tpm2_put16(&t, sizeof(ek_policy));
    tpm2_put_bytes(&t, ek_policy, sizeof(ek_policy));
    tpm2_put16(&t, 0x0006); /* AES-128-CFB */
    tpm2_put16(&t, 128);
    tpm2_put16(&t, 0x0043);
    if (ecc) {
        tpm2_put16(&t, 0x0010); /* no scheme */
        tpm2_put16(&t, 0x0003); /* NIST P-256 */
        tpm2_put16(&t, 0x0010); /* no KDF */
        tpm2_put16(&t, 32);     /* unique: x, y zero-filled */
        for (int i = 0; i < 32; i++)
            tpm2_put8(&t, 0);
        tpm2_put16(&t, 32);
        for (int i = 0; i < 32; i++)
            tpm2_put8(&t, 0);
    } else {
        tpm2_put16(&t, 0x0010); /* no scheme */
        tpm2_put16(&t, 2048);
        tpm2_put32(&t, 0);      /* default exponent */
        tpm2_put16(&t, 256);    /* unique: zero-filled modulus */
        for (int i = 0; i < 256; i++)
            tpm2_put8(&t, 0);
    }
    tpm2_put16(c, (uint16_t)t.len);
    tpm2_put_bytes(c, t.b, t.len);
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
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_SESSIONS, CC_CREATE_PRIMARY);
    tpm2_put32(&c, RH_ENDORSEMENT);
    tpm2_put_pw_session(&c);
    tpm2_put16(&c, 4); /* inSensitive: empty auth and data */
    tpm2_put32(&c, 0);
    ek_template(&c, ecc);
    tpm2_put16(&c, 0); /* outsideInfo */
    tpm2_put32(&c, 0); /* creationPCR */
    int rc = run(s, &c, rsp, &n);
    if (rc != 0)
        return fail(err, errlen, "CreatePrimary(EK)", rc);
    uint32_t handle = tpm_be32(rsp + 10);
    /* handle, parameterSize, then outPublic */
    if (n < 18 || parse_public(rsp + 18, n - 18, out) < 0) {
        snprintf(err, errlen, "CreatePrimary(EK): malformed response");
        return -1;
    }
    tpm2_begin(&c, TPM2_ST_SESSIONS, CC_EVICT_CONTROL);
    tpm2_put32(&c, RH_OWNER);
    tpm2_put32(&c, handle);
    tpm2_put_pw_session(&c);
    tpm2_put32(&c, ecc ? TPM2_EK_ECC_HANDLE : TPM2_EK_RSA_HANDLE);
    rc = run(s, &c, rsp, &n);
    struct tpm2_cmd f;
    tpm2_begin(&f, TPM2_ST_NO_SESSIONS, CC_FLUSH_CONTEXT);
    tpm2_put32(&f, handle);
    size_t fn;
    run(s, &f, rsp + 0, &fn);
    return rc == 0 ? 0 : fail(err, errlen, "EvictControl(EK)", rc);
}

int tpm2_nv_store_locked(struct swtpm *s, uint32_t index, const uint8_t *data, size_t len,
                         char *err, size_t errlen)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_SESSIONS, CC_NV_DEFINE_SPACE);
    tpm2_put32(&c, RH_PLATFORM);
    tpm2_put_pw_session(&c);
    tpm2_put16(&c, 0);  /* no auth value */
    tpm2_put16(&c, 14); /* TPM2B_NV_PUBLIC */
    tpm2_put32(&c, index);
    tpm2_put16(&c, 0x000b);
    /* PPWRITE, WRITEDEFINE, PPREAD, OWNERREAD, AUTHREAD, NO_DA, PLATFORMCREATE */
    tpm2_put32(&c, 0x42072001u);
    tpm2_put16(&c, 0);
    tpm2_put16(&c, (uint16_t)len);
    int rc = run(s, &c, rsp, &n);
    if (rc != 0)
        return fail(err, errlen, "NV_DefineSpace", rc);
    for (size_t off = 0; off < len; off += NV_CHUNK) {
        size_t chunk = len - off < NV_CHUNK ? len - off : NV_CHUNK;
        tpm2_begin(&c, TPM2_ST_SESSIONS, CC_NV_WRITE);
        tpm2_put32(&c, RH_PLATFORM);
        tpm2_put32(&c, index);
        tpm2_put_pw_session(&c);
        tpm2_put16(&c, (uint16_t)chunk);
        tpm2_put_bytes(&c, data + off, chunk);
        tpm2_put16(&c, (uint16_t)off);
        if ((rc = run(s, &c, rsp, &n)) != 0)
            return fail(err, errlen, "NV_Write", rc);
    }
    tpm2_begin(&c, TPM2_ST_SESSIONS, CC_NV_WRITE_LOCK);
    tpm2_put32(&c, RH_PLATFORM);
    tpm2_put32(&c, index);
    tpm2_put_pw_session(&c);
    rc = run(s, &c, rsp, &n);
    return rc == 0 ? 0 : fail(err, errlen, "NV_WriteLock", rc);
}

int tpm2_read_ek(struct swtpm *s, uint32_t handle, struct ek_public *out)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_NO_SESSIONS, CC_READ_PUBLIC);
    tpm2_put32(&c, handle);
    if (run(s, &c, rsp, &n) != 0)
        return -1;
    return parse_public(rsp + 10, n - 10, out);
}

int tpm2_nv_read(struct swtpm *s, uint32_t index, uint32_t *attributes, uint8_t *data,
                 size_t max, size_t *len)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_NO_SESSIONS, CC_NV_READ_PUBLIC);
    tpm2_put32(&c, index);
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
        tpm2_begin(&c, TPM2_ST_SESSIONS, CC_NV_READ);
        tpm2_put32(&c, index); /* authorized by the index's own (empty) auth value */
        tpm2_put32(&c, index);
        tpm2_put_pw_session(&c);
        tpm2_put16(&c, (uint16_t)chunk);
        tpm2_put16(&c, (uint16_t)done);
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
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_NO_SESSIONS, CC_SHUTDOWN);
    tpm2_put16(&c, 0);
    return run(s, &c, rsp, &n) == 0 ? 0 : -1;
}

int tpm2_pcr_allocate(struct swtpm *s, int mask, char *err, size_t errlen)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_SESSIONS, 0x12b /* TPM_CC_PCR_Allocate */);
    tpm2_put32(&c, RH_PLATFORM);
    tpm2_put_pw_session(&c);
    tpm2_put32(&c, TPM2_NBANKS); /* every bank named: selected ones on, the rest off */
    for (size_t i = 0; i < TPM2_NBANKS; i++) {
        uint8_t on = (mask & tpm2_banks[i].bit) ? 0xff : 0x00;
        tpm2_put16(&c, tpm2_banks[i].alg);
        tpm2_put8(&c, 3);
        tpm2_put8(&c, on);
        tpm2_put8(&c, on);
        tpm2_put8(&c, on);
    }
    int rc = run(s, &c, rsp, &n);
    /* parameterSize, allocationSuccess, ... */
    if (rc != 0 || n < 15 || rsp[14] != 1)
        return fail(err, errlen, "PCR_Allocate", rc);
    return 0;
}

int tpm2_active_banks(struct swtpm *s)
{
    const struct tpm2_conn t = { swtpm_xfer, s };
    return tpm2_pcr_banks(&t);
}
