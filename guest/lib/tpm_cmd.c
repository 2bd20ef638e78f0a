/* TPM 2.0 command building (over lib/tpm2_wire.h) and the handful of
 * commands payloads use. */
#include "tpm.h"

void cmd_begin(struct tpm_cmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    tpm2w_command(&c->w, c->b, sizeof(c->b), tag, cc);
}

void cmd_end(struct tpm_cmd *c) { c->len = tpm2w_finish(&c->w); }

int tpm_run(struct tpm_ctx *t, struct tpm_cmd *c)
{
    cmd_end(c);
    if (c->len == 0) /* it overflowed the buffer: not sent cut short */
        return -1;
    t->rsp_len = t->drv->transmit(c->b, c->len, t->rsp, sizeof(t->rsp));
    struct tpm2w_reader r;
    return t->rsp_len < 0 ? -1 : (int)tpm2w_response(&r, t->rsp, (size_t)t->rsp_len);
}

/* The response of the last command, past its header. */
static void rsp_reader(struct tpm_ctx *t, struct tpm2w_reader *r)
{
    tpm2w_reader_init(r, t->rsp, (size_t)t->rsp_len);
    tpm2w_skip(r, TPM_HEADER_SIZE);
}

int tpm_get_property(struct tpm_ctx *t, uint32_t property, uint32_t *value)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY);
    cmd_u32(&c, TPM_CAP_TPM_PROPERTIES);
    cmd_u32(&c, property);
    cmd_u32(&c, 1);
    int rc = tpm_run(t, &c);
    if (rc != 0)
        return rc;
    /* moreData, capability, count, then (property, value) pairs. */
    struct tpm2w_reader r;
    rsp_reader(t, &r);
    tpm2w_skip(&r, 1 + 4);
    uint32_t count = tpm2w_get32(&r), got = tpm2w_get32(&r), v = tpm2w_get32(&r);
    if (r.overflow || count < 1 || got != property)
        return -1;
    *value = v;
    return 0;
}

int tpm_self_test(struct tpm_ctx *t)
{
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_SELF_TEST);
    cmd_u8(&c, 1); /* fullTest */
    return tpm_run(t, &c);
}

int tpm_auto_startup(struct tpm_ctx *t, bool *started_here)
{
    *started_here = false;
    int rc = tpm_self_test(t);
    if (rc != TPM_RC_INITIALIZE)
        return rc;
    struct tpm_cmd c;
    cmd_begin(&c, TPM_ST_NO_SESSIONS, TPM_CC_STARTUP);
    cmd_u16(&c, TPM_SU_CLEAR);
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
    if (rc != 0)
        return rc;
    struct tpm2w_reader r;
    rsp_reader(t, &r);
    if (tpm2w_get16(&r) != n)
        return -1;
    tpm2w_get_bytes(&r, out, n);
    return r.overflow ? -1 : 0;
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
    if (rc != 0)
        return rc;
    /* updateCounter, selection (count, hash, size, 3 bytes), digests. */
    struct tpm2w_reader r;
    rsp_reader(t, &r);
    tpm2w_skip(&r, 4 + 4 + 2 + 1 + 3);
    uint32_t count = tpm2w_get32(&r);
    uint16_t size = tpm2w_get16(&r);
    if (count != 1 || size != 32)
        return -1;
    tpm2w_get_bytes(&r, digest, 32);
    return r.overflow ? -1 : 0;
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
    if (rc != 0)
        return rc;
    /* TPM2B_NV_PUBLIC: size, nvIndex, nameAlg, attributes, authPolicy
     * (TPM2B), dataSize. */
    struct tpm2w_reader r;
    rsp_reader(t, &r);
    tpm2w_skip(&r, 2 + 4 + 2 + 4);
    tpm2w_skip(&r, tpm2w_get16(&r));
    uint16_t size = tpm2w_get16(&r);
    if (r.overflow)
        return -1;
    *data_size = size;
    return 0;
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
