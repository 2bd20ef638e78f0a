/* TPM 2.0 command marshalling and the PCR commands. */
#include "tpm/tpm2.h"

#include "tpm/wire.h"

#include <stdio.h>
#include <string.h>

#define CC_PCR_EXTEND 0x182
#define CC_PCR_READ 0x17e
#define CC_GET_CAPABILITY 0x17a
#define CAP_PCRS 5

const struct tpm2_bank tpm2_banks[TPM2_NBANKS] = {
    { "sha1", TPM2_BANK_SHA1, 0x0004, 20 },
    { "sha256", TPM2_BANK_SHA256, 0x000b, 32 },
    { "sha384", TPM2_BANK_SHA384, 0x000c, 48 },
    { "sha512", TPM2_BANK_SHA512, 0x000d, 64 },
};

void tpm2_put8(struct tpm2_cmd *c, uint8_t v)
{
    if (c->len < sizeof(c->b))
        c->b[c->len++] = v;
    else
        c->overflow = true;
}

void tpm2_put16(struct tpm2_cmd *c, uint16_t v)
{
    tpm2_put8(c, (uint8_t)(v >> 8));
    tpm2_put8(c, (uint8_t)v);
}

void tpm2_put32(struct tpm2_cmd *c, uint32_t v)
{
    tpm2_put16(c, (uint16_t)(v >> 16));
    tpm2_put16(c, (uint16_t)v);
}

void tpm2_put_bytes(struct tpm2_cmd *c, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tpm2_put8(c, ((const uint8_t *)p)[i]);
}

void tpm2_begin(struct tpm2_cmd *c, uint16_t tag, uint32_t cc)
{
    c->len = 0;
    c->overflow = false;
    tpm2_put16(c, tag);
    tpm2_put32(c, 0);
    tpm2_put32(c, cc);
}

void tpm2_put_pw_session(struct tpm2_cmd *c)
{
    tpm2_put32(c, 9); /* authorizationSize */
    tpm2_put32(c, TPM2_RS_PW);
    tpm2_put16(c, 0); /* nonce */
    tpm2_put8(c, 0);  /* sessionAttributes */
    tpm2_put16(c, 0); /* hmac: the empty password */
}

int tpm2_run(const struct tpm2_conn *t, struct tpm2_cmd *c, uint8_t *rsp, size_t *rsp_len)
{
    if (c->overflow)
        return -1;
    tpm_put_be32(c->b + 2, (uint32_t)c->len);
    if (t->xfer(t->ctx, c->b, c->len, rsp, rsp_len) < 0 || *rsp_len < TPM_HEADER_SIZE ||
        tpm_header_size(rsp, *rsp_len) != *rsp_len)
        return -1;
    return (int)tpm_response_code(rsp);
}

int tpm2_banks_parse(const char *list)
{
    int mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        for (; i < TPM2_NBANKS; i++)
            if (strlen(tpm2_banks[i].name) == n && strncmp(p, tpm2_banks[i].name, n) == 0)
                break;
        if (i == TPM2_NBANKS)
            return -1;
        mask |= tpm2_banks[i].bit;
        p += n + (p[n] == ',');
    }
    return mask ? mask : -1;
}

void tpm2_banks_format(int mask, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < TPM2_NBANKS; i++)
        if (mask & tpm2_banks[i].bit)
            used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
                                     used ? "," : "", tpm2_banks[i].name);
}

int tpm2_pcr_banks(const struct tpm2_conn *t)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    tpm2_begin(&c, TPM2_ST_NO_SESSIONS, CC_GET_CAPABILITY);
    tpm2_put32(&c, CAP_PCRS);
    tpm2_put32(&c, 0);
    tpm2_put32(&c, TPM2_NBANKS);
    if (tpm2_run(t, &c, rsp, &n) != 0 || n < 19)
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
        for (size_t b = 0; b < TPM2_NBANKS; b++)
            if (tpm2_banks[b].alg == alg && any)
                mask |= tpm2_banks[b].bit;
        off += 3 + size;
    }
    return mask;
}

int tpm2_pcr_extend(const struct tpm2_conn *t, uint32_t pcr, int mask,
                    const uint8_t digests[TPM2_NBANKS][TPM2_MAX_DIGEST])
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    uint32_t count = 0;
    for (int i = 0; i < TPM2_NBANKS; i++)
        count += (mask & tpm2_banks[i].bit) != 0;
    tpm2_begin(&c, TPM2_ST_SESSIONS, CC_PCR_EXTEND);
    tpm2_put32(&c, pcr);
    tpm2_put_pw_session(&c);
    tpm2_put32(&c, count); /* TPML_DIGEST_VALUES */
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (!(mask & tpm2_banks[i].bit))
            continue;
        tpm2_put16(&c, tpm2_banks[i].alg);
        tpm2_put_bytes(&c, digests[i], tpm2_banks[i].size);
    }
    return tpm2_run(t, &c, rsp, &n);
}

int tpm2_pcr_read(const struct tpm2_conn *t, uint32_t pcr, int bank, uint8_t *out)
{
    struct tpm2_cmd c;
    uint8_t rsp[TPM_BUFFER_MAX];
    size_t n;
    uint8_t select[3] = { 0 };
    if (pcr >= 24 || bank < 0 || bank >= TPM2_NBANKS)
        return -1;
    select[pcr / 8] = (uint8_t)(1u << (pcr % 8));
    tpm2_begin(&c, TPM2_ST_NO_SESSIONS, CC_PCR_READ);
    tpm2_put32(&c, 1);
    tpm2_put16(&c, tpm2_banks[bank].alg);
    tpm2_put8(&c, 3);
    tpm2_put_bytes(&c, select, 3);
    int rc = tpm2_run(t, &c, rsp, &n);
    if (rc != 0)
        return rc;
    /* updateCounter, TPML_PCR_SELECTION (count 1, alg, 3, bitmap), TPML_DIGEST (count, size, digest) */
    size_t off = 10 + 4 + 4 + 2 + 1 + 3;
    uint16_t size = tpm2_banks[bank].size;
    if (n < off + 4 + 2 + size || tpm_be32(rsp + off) != 1 || tpm_be16(rsp + off + 4) != size)
        return -1;
    memcpy(out, rsp + off + 6, size);
    return 0;
}
