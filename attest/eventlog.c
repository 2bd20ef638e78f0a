/* Parsing and replaying a crypto-agile TCG event log (little-endian). */
#include "eventlog.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static const struct evlog_alg algs[] = {
    { 0x0004, 20, "sha1" },
    { 0x000b, 32, "sha256" },
    { 0x000c, 48, "sha384" },
    { 0x000d, 64, "sha512" },
};

const struct evlog_alg *evlog_alg_by_id(uint16_t alg)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (algs[i].alg == alg)
            return &algs[i];
    return NULL;
}

const struct evlog_alg *evlog_alg_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

int evlog_hash(const struct evlog_alg *bank, const void *p, size_t n, uint8_t *digest)
{
    unsigned int len = 0;
    const EVP_MD *md = EVP_get_digestbyname(bank->name);
    return md && EVP_Digest(p, n, digest, &len, md, NULL) == 1 && len == bank->size ? 0 : -1;
}

const char *evlog_type_name(uint32_t type)
{
    switch (type) {
    case EVLOG_EV_NO_ACTION: return "EV_NO_ACTION";
    case EVLOG_EV_SEPARATOR: return "EV_SEPARATOR";
    case EVLOG_EV_S_CRTM_VERSION: return "EV_S_CRTM_VERSION";
    case EVLOG_EV_PLATFORM_CONFIG_FLAGS: return "EV_PLATFORM_CONFIG_FLAGS";
    case EVLOG_EV_IPL: return "EV_IPL";
    default: return "an unknown event type";
    }
}

/* A bounded little-endian reader; `ok` turns false at the first overrun. */
struct reader {
    const uint8_t *p;
    size_t len, off;
    bool ok;
};

static bool r_has(struct reader *r, size_t n)
{
    if (r->ok && n <= r->len - r->off)
        return true;
    r->ok = false;
    return false;
}

static uint32_t r32(struct reader *r)
{
    if (!r_has(r, 4))
        return 0;
    const uint8_t *p = r->p + r->off;
    r->off += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t r16(struct reader *r)
{
    if (!r_has(r, 2))
        return 0;
    const uint8_t *p = r->p + r->off;
    r->off += 2;
    return (uint16_t)(p[0] | p[1] << 8);
}

static const uint8_t *r_bytes(struct reader *r, size_t n)
{
    if (!r_has(r, n))
        return NULL;
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static int parse_header(struct evlog *l, struct reader *r, char *err, size_t errlen)
{
    static const char sig[16] = "Spec ID Event03";
    uint32_t pcr = r32(r), type = r32(r);
    r_bytes(r, 20);
    uint32_t size = r32(r);
    size_t start = r->off;
    const uint8_t *s = r_bytes(r, 16);
    if (!r->ok || pcr != 0 || type != EVLOG_EV_NO_ACTION || !s || memcmp(s, sig, 16) != 0) {
        snprintf(err, errlen,
                 "event log: does not start with a TCG crypto-agile header (Spec ID Event03)");
        return -1;
    }
    r32(r);                             /* platformClass */
    const uint8_t *ver = r_bytes(r, 4); /* minor, major, errata, uintnSize */
    uint32_t n = r32(r);
    if (!r->ok || ver[1] != 2 || n == 0 || n > EVLOG_MAX_ALGS) {
        snprintf(err, errlen, "event log: header: %s",
                 !r->ok                         ? "truncated"
                 : n == 0 || n > EVLOG_MAX_ALGS ? "bad number of algorithms"
                                                : "not spec version 2");
        return -1;
    }
    l->nalgs = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        l->algs[i] = r16(r);
        uint16_t dsize = r16(r);
        const struct evlog_alg *a = evlog_alg_by_id(l->algs[i]);
        if (r->ok && (!a || a->size != dsize)) {
            /* Digests of an unknown algorithm cannot be skipped safely
             * unless the header's size is believed; refuse instead. */
            snprintf(err, errlen, "event log: header names algorithm 0x%04x of %u bytes, unknown",
                     l->algs[i], dsize);
            return -1;
        }
    }
    uint8_t vendor = r_has(r, 1) ? r->p[r->off++] : 0;
    r_bytes(r, vendor);
    if (!r->ok || r->off - start != size) {
        snprintf(err, errlen, "event log: header: %s", !r->ok ? "truncated" : "size disagrees");
        return -1;
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int evlog_parse(struct evlog *l, const uint8_t *log, size_t len, const struct evlog_alg *bank,
                char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->bank = bank;
    struct reader r = { log, len, 0, true };
    if (parse_header(l, &r, err, errlen) < 0)
        return -1;
    bool has_bank = false;
    for (int i = 0; i < l->nalgs; i++)
        has_bank |= l->algs[i] == bank->alg;
    if (!has_bank) {
        snprintf(err, errlen, "event log: has no %s digests", bank->name);
        return -1;
    }
    while (r.off < len) {
        if (all_zero(log + r.off, len - r.off))
            break;
        size_t at = r.off;
        int k = l->nevents + 1; /* events are numbered from 1 after the header */
        if (l->nevents == EVLOG_MAX_EVENTS) {
            snprintf(err, errlen, "event log: more than %d events", EVLOG_MAX_EVENTS);
            return -1;
        }
        struct evlog_event *e = &l->events[l->nevents];
        e->offset = at;
        e->pcr = r32(&r);
        e->type = r32(&r);
        uint32_t count = r32(&r);
        if (r.ok && (count == 0 || count > EVLOG_MAX_ALGS)) {
            snprintf(err, errlen, "event log: event %d (byte %zu): %u digests", k, at, count);
            return -1;
        }
        e->digest = NULL;
        for (uint32_t i = 0; i < count && r.ok; i++) {
            uint16_t alg = r16(&r);
            const struct evlog_alg *a = evlog_alg_by_id(alg);
            bool listed = false;
            for (int j = 0; j < l->nalgs; j++)
                listed |= l->algs[j] == alg;
            if (r.ok && (!a || !listed)) {
                snprintf(
                    err, errlen,
                    "event log: event %d (byte %zu): digest algorithm 0x%04x not in the header", k,
                    at, alg);
                return -1;
            }
            const uint8_t *d = a ? r_bytes(&r, a->size) : NULL;
            if (a == bank)
                e->digest = d;
        }
        e->data_len = r32(&r);
        e->data = r_bytes(&r, e->data_len);
        if (!r.ok) {
            snprintf(err, errlen, "event log: truncated in event %d (byte %zu of %zu)", k, at, len);
            return -1;
        }
        if (e->pcr >= EVLOG_NPCRS) {
            snprintf(err, errlen, "event log: event %d (byte %zu): PCR %u does not exist", k, at,
                     e->pcr);
            return -1;
        }
        if (!e->digest) {
            snprintf(err, errlen, "event log: event %d (byte %zu): no %s digest", k, at,
                     bank->name);
            return -1;
        }
        l->nevents++;
        l->end = r.off;
    }
    return 0;
}

uint32_t evlog_replay(const struct evlog *l, uint8_t pcrs[EVLOG_NPCRS][EVLOG_MAX_DIGEST])
{
    const struct evlog_alg *b = l->bank;
    const EVP_MD *md = EVP_get_digestbyname(b->name);
    uint32_t touched = 0;
    memset(pcrs, 0, EVLOG_NPCRS * EVLOG_MAX_DIGEST);
    for (int i = 0; i < l->nevents; i++) {
        const struct evlog_event *e = &l->events[i];
        if (e->type == EVLOG_EV_NO_ACTION)
            continue;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (!c || !md || !EVP_DigestInit_ex(c, md, NULL) ||
            !EVP_DigestUpdate(c, pcrs[e->pcr], b->size) ||
            !EVP_DigestUpdate(c, e->digest, b->size) || !EVP_DigestFinal_ex(c, pcrs[e->pcr], NULL))
            memset(pcrs[e->pcr], 0xff, b->size); /* cannot hash: never matches */
        EVP_MD_CTX_free(c);
        touched |= 1u << e->pcr;
    }
    return touched;
}
