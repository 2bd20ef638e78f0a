/* TPM 2.0 command building and the handful of commands payloads use. */
#include "tpm.h"

#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_ST_SESSIONS 0x8002
#define TPM_CC_SELF_TEST 0x143
#define TPM_CC_NV_READ_PUBLIC 0x169
#define TPM_CC_GET_CAPABILITY 0x17a
#define TPM_CC_GET_RANDOM 0x17b
#define TPM_CC_PCR_READ 0x17e
#define TPM_CC_PCR_EXTEND 0x182
#define TPM_CAP_TPM_PROPERTIES 6
#define TPM_ALG_SHA256 0x000b
#define TPM_RS_PW 0x40000009

uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void cmd_u8(struct tpm_cmd *c, uint8_t v)
{
    if (c->len < TPM_BUF)
        c->b[c->len++] = v;
}
void cmd_u16(struct tpm_cmd *c, uint16_t v) { cmd_u8(c, (uint8_t)(v >> 8)); cmd_u8(c, (uint8_t)v); }
void cmd_u32(struct tpm_cmd *c, uint32_t v) { cmd_u16(c, (uint16_t)(v >> 16)); cmd_u16(c, (uint16_t)v); }
void cmd_bytes(struct tpm_cmd *c, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cmd_u8(c, ((const uint8_t *)p)[i]);
}

void cmd_begin(struct tpm_cmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    cmd_u16(c, tag);
    cmd_u32(c, 0); /* size, patched by cmd_end */
    cmd_u32(c, cc);
}

void cmd_pw_session(struct tpm_cmd *c)
{
    cmd_u32(c, 9);         /* authorizationSize */
    cmd_u32(c, TPM_RS_PW); /* password session */
    cmd_u16(c, 0);         /* nonce */
    cmd_u8(c, 0);          /* attributes */
    cmd_u16(c, 0);         /* empty password */
}

void cmd_end(struct tpm_cmd *c)
{
    c->b[2] = (uint8_t)(c->len >> 24);
    c->b[3] = (uint8_t)(c->len >> 16);
    c->b[4] = (uint8_t)(c->len >> 8);
    c->b[5] = (uint8_t)c->len;
}

int tpm_run(struct tpm_ctx *t, struct tpm_cmd *c)
{
    cmd_end(c);
    t->rsp_len = t->drv->transmit(c->b, c->len, t->rsp, sizeof(t->rsp));
    if (t->rsp_len < 10 || (int)be32(t->rsp + 2) != t->rsp_len)
        return -1;
    return (int)be32(t->rsp + 6);
}

int tpm_get_property(struct tpm_ctx *t, uint32_t property, uint32_t *value)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY);
    cmd_u32(&c, TPM_CAP_TPM_PROPERTIES);
    cmd_u32(&c, property);
    cmd_u32(&c, 1);
    int rc = tpm_run(t, &c);
    /* moreData, capability, count, then (property, value) pairs. */
    if (rc == 0 && (t->rsp_len < 27 || be32(t->rsp + 15) < 1 || be32(t->rsp + 19) != property))
        return -1;
    if (rc == 0)
        *value = be32(t->rsp + 23);
    return rc;
}

int tpm_self_test(struct tpm_ctx *t)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_SELF_TEST);
    cmd_u8(&c, 1);
    return tpm_run(t, &c);
}

int tpm_auto_startup(struct tpm_ctx *t, bool *started_here)
{
    *started_here = false;
    int rc = tpm_self_test(t);
    if (rc != TPM_RC_INITIALIZE)
        return rc;
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, 0x144 /* TPM_CC_Startup */);
    cmd_u16(&c, 0 /* TPM_SU_CLEAR */);
    if (tpm_run(t, &c) != 0)
        return -1;
    *started_here = true;
    return tpm_self_test(t);
}

int tpm_get_random(struct tpm_ctx *t, uint8_t *out, uint16_t n)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_GET_RANDOM);
    cmd_u16(&c, n);
    int rc = tpm_run(t, &c);
    if (rc == 0 && (t->rsp_len < 12 || be16(t->rsp + 10) != n || t->rsp_len < 12 + n))
        return -1;
    if (rc == 0)
        memcpy(out, t->rsp + 12, n);
    return rc;
}

int tpm_pcr_read(struct tpm_ctx *t, uint32_t pcr, uint8_t digest[32])
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ);
    cmd_u32(&c, 1);
    cmd_u16(&c, TPM_ALG_SHA256);
    cmd_u8(&c, 3);
    uint8_t sel[3] = { 0 };
    sel[pcr / 8] = (uint8_t)(1u << (pcr % 8));
    cmd_bytes(&c, sel, 3);
    int rc = tpm_run(t, &c);
    /* updateCounter, selection (count, hash, size, 3 bytes), digests. */
    if (rc == 0 && (t->rsp_len < 10 + 4 + 10 + 4 + 2 + 32 || be32(t->rsp + 24) != 1 ||
                    be16(t->rsp + 28) != 32))
        return -1;
    if (rc == 0)
        memcpy(digest, t->rsp + 30, 32);
    return rc;
}

int tpm_pcr_extend(struct tpm_ctx *t, uint32_t pcr, const uint8_t digest[32])
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND);
    cmd_u32(&c, pcr);
    cmd_pw_session(&c);
    cmd_u32(&c, 1);
    cmd_u16(&c, TPM_ALG_SHA256);
    cmd_bytes(&c, digest, 32);
    return tpm_run(t, &c);
}

int tpm_nv_read_public(struct tpm_ctx *t, uint32_t index, uint16_t *data_size)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_NV_READ_PUBLIC);
    cmd_u32(&c, index);
    int rc = tpm_run(t, &c);
    /* TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy
     * (TPM2B), dataSize. */
    if (rc == 0) {
        if (t->rsp_len < 24)
            return -1;
        uint16_t policy = be16(t->rsp + 10 + 2 + 4 + 2 + 4);
        size_t off = 10 + 2 + 4 + 2 + 4 + 2 + policy;
        if ((size_t)t->rsp_len < off + 2)
            return -1;
        *data_size = be16(t->rsp + off);
    }
    return rc;
}

void hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

const struct tpm_driver *tpm_driver_from_cmdline(const struct boot_info *bi)
{
    char name[16] = "crb";
    opt_get(bi, "tpm", name, sizeof(name));
    if (strcmp(name, "crb") == 0)
        return &tpm_crb_driver;
    if (strcmp(name, "tis") == 0)
        return &tpm_tis_driver;
    if (strcmp(name, "virtio") == 0)
        return &tpm_virtio_driver;
    return NULL;
}

uint32_t tpm_poll_linux_ms;

bool tpm_wait_done(bool (*done)(void))
{
    if (!tpm_poll_linux_ms) {
        for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
            if (done())
                return true;
        return false;
    }
    uint64_t stop = deadline_ms(tpm_poll_linux_ms);
    do {
        if (done())
            return true;
        for (uint64_t pause = deadline_ms(1); !expired(pause);)
            ;
    } while (!expired(stop));
    return false;
}

bool tpm_open(struct tpm_ctx *t, const struct boot_info *bi)
{
    tpm_poll_linux_ms = (uint32_t)opt_u64(bi, "poll_ms", 0);
    t->drv = tpm_driver_from_cmdline(bi);
    if (!tap_ok(t->drv != NULL, "transport chosen on the command line"))
        return false;
    if (!tap_ok(t->drv->probe() == 0, "%s interface probed", t->drv->name))
        return false;
    bool started_here;
    int rc = tpm_auto_startup(t, &started_here);
    return tap_ok(rc == 0, "SelfTest(full) after %s (rc 0x%x)",
                  started_here ? "TPM2_Startup from the guest" : "the monitor's TPM2_Startup", rc);
}
