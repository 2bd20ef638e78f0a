/* Running TPM 2.0 commands from the host, PCR banks and the PCR commands. */
#include "tpm/tpm2.h"

#include <stdio.h>
#include <string.h>

const struct tpm2_bank tpm2_banks[TPM2_NBANKS] = {
    { "sha1", TPM2_BANK_SHA1, TPM_ALG_SHA1, 20 },
    { "sha256", TPM2_BANK_SHA256, TPM_ALG_SHA256, 32 },
    { "sha384", TPM2_BANK_SHA384, TPM_ALG_SHA384, 48 },
    { "sha512", TPM2_BANK_SHA512, TPM_ALG_SHA512, 64 },
};

int tpm2_run(const struct tpm2_conn *t, struct tpm2w_writer *cmd, uint8_t rsp[TPM_BUFFER_MAX],
             struct tpm2w_reader *r)
{
    size_t len = tpm2w_finish(cmd), n = 0;
    tpm2w_reader_init(r, rsp, 0);
    if (len == 0 || t->xfer(t->ctx, cmd->buf, len, rsp, &n) < 0 || n > TPM_BUFFER_MAX)
        return -1;
    return tpm2w_response(r, rsp, n);
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
    uint8_t cmd[64], rsp[TPM_BUFFER_MAX];
    struct tpm2w_writer c;
    struct tpm2w_reader r;
    tpm2w_command(&c, cmd, sizeof(cmd), TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY);
    tpm2w_put32(&c, TPM_CAP_PCRS);
    tpm2w_put32(&c, 0);
    tpm2w_put32(&c, TPM2_NBANKS);
    if (tpm2_run(t, &c, rsp, &r) != 0)
        return -1;
    /* moreData, capability, TPML_PCR_SELECTION: count, then (hash, size, bitmap) */
    tpm2w_skip(&r, 1 + 4);
    uint32_t count = tpm2w_get32(&r);
    if (r.overflow)
        return -1;
    int mask = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t alg = tpm2w_get16(&r);
        uint8_t size = tpm2w_get8(&r);
        bool any = false;
        for (uint8_t j = 0; j < size && tpm2w_remaining(&r) > 0; j++)
            any |= tpm2w_get8(&r) != 0;
        if (r.overflow)
            break; /* a selection cut short: what came whole still counts */
        for (size_t b = 0; b < TPM2_NBANKS; b++)
            if (tpm2_banks[b].alg == alg && any)
                mask |= tpm2_banks[b].bit;
    }
    return mask;
}

int tpm2_pcr_extend(const struct tpm2_conn *t, uint32_t pcr, int mask,
                    const uint8_t digests[TPM2_NBANKS][TPM2_MAX_DIGEST])
{
    uint8_t cmd[TPM_BUFFER_MAX], rsp[TPM_BUFFER_MAX];
    struct tpm2w_writer c;
    struct tpm2w_reader r;
    uint32_t count = 0;
    for (int i = 0; i < TPM2_NBANKS; i++)
        count += (mask & tpm2_banks[i].bit) != 0;
    tpm2w_command(&c, cmd, sizeof(cmd), TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND);
    tpm2w_put32(&c, pcr);
    tpm2w_put_pw_session(&c);
    tpm2w_put32(&c, count); /* TPML_DIGEST_VALUES */
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (!(mask & tpm2_banks[i].bit))
            continue;
        tpm2w_put16(&c, tpm2_banks[i].alg);
        tpm2w_put_bytes(&c, digests[i], tpm2_banks[i].size);
    }
    return tpm2_run(t, &c, rsp, &r);
}

int tpm2_pcr_read(const struct tpm2_conn *t, uint32_t pcr, int bank, uint8_t *out)
{
    uint8_t cmd[64], rsp[TPM_BUFFER_MAX];
    struct tpm2w_writer c;
    struct tpm2w_reader r;
    uint8_t select[3] = { 0 };
    if (pcr >= 24 || bank < 0 || bank >= TPM2_NBANKS)
        return -1;
    select[pcr / 8] = (uint8_t)(1u << (pcr % 8));
    tpm2w_command(&c, cmd, sizeof(cmd), TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ);
    tpm2w_put32(&c, 1);
    tpm2w_put16(&c, tpm2_banks[bank].alg);
    tpm2w_put8(&c, 3);
    tpm2w_put_bytes(&c, select, 3);
    int rc = tpm2_run(t, &c, rsp, &r);
    if (rc != 0)
        return rc;
    /* updateCounter, TPML_PCR_SELECTION (count 1, alg, 3, bitmap),
     * TPML_DIGEST (count, size, digest) */
    uint16_t size = tpm2_banks[bank].size;
    tpm2w_skip(&r, 4 + 4 + 2 + 1 + 3);
    uint32_t count = tpm2w_get32(&r);
    uint16_t got = tpm2w_get16(&r);
    tpm2w_get_bytes(&r, out, size);
    return r.overflow || count != 1 || got != size ? -1 : 0;
}
