/* Measured direct boot: digests, PCR extends and the TCG event log. */
#include "tpm/measure.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef HEARTH_VERSION
#define HEARTH_VERSION "0.0.0"
#endif

#define CHUNK (1u << 20)

/* --- one command at a time over the TPM thread --- */

struct sync_call {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    uint8_t *rsp;
    size_t *rsp_len;
};

static void sync_done(void *ctx, const uint8_t *rsp, size_t len)
{
    struct sync_call *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (len > TPM_BUFFER_MAX)
        len = TPM_BUFFER_MAX;
    memcpy(c->rsp, rsp, len);
    *c->rsp_len = len;
    c->done = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int measure_backend_xfer(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    struct sync_call c = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, rsp,
                           rsp_len };
    if (tpm_submit(ctx, cmd, len, 0, sync_done, &c) < 0)
        return -1;
    /* The backend calls done exactly once, by its deadline at the latest. */
    pthread_mutex_lock(&c.lock);
    while (!c.done)
        pthread_cond_wait(&c.cond, &c.lock);
    pthread_mutex_unlock(&c.lock);
    return 0;
}

/* --- digests --- */

struct hasher {
    EVP_MD_CTX *ctx[TPM2_NBANKS];
};

static int hasher_start(struct hasher *h, int banks)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (!(banks & tpm2_banks[i].bit))
            continue;
        const EVP_MD *md = EVP_get_digestbyname(tpm2_banks[i].name);
        if (!md || !(h->ctx[i] = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(h->ctx[i], md, NULL))
            return -1;
    }
    return 0;
}

static void hasher_update(struct hasher *h, const void *p, size_t n)
{
    for (int i = 0; i < TPM2_NBANKS; i++)
        if (h->ctx[i])
            EVP_DigestUpdate(h->ctx[i], p, n);
}

static void hasher_finish(struct hasher *h, uint8_t out[TPM2_NBANKS][TPM2_MAX_DIGEST])
{
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (!h->ctx[i])
            continue;
        EVP_DigestFinal_ex(h->ctx[i], out[i], NULL);
        EVP_MD_CTX_free(h->ctx[i]);
        h->ctx[i] = NULL;
    }
}

/* A loaded file's digest in every bank, a chunk at a time so each is still
 * in cache for the next bank. */
static int hash_bytes(const void *p, size_t len, int banks,
                      uint8_t out[TPM2_NBANKS][TPM2_MAX_DIGEST], char *err, size_t errlen)
{
    struct hasher h;
    if (hasher_start(&h, banks) < 0) {
        snprintf(err, errlen, "measured boot: no digest");
        return -1;
    }
    for (size_t off = 0; off < len; off += CHUNK)
        hasher_update(&h, (const uint8_t *)p + off, len - off < CHUNK ? len - off : CHUNK);
    hasher_finish(&h, out);
    return 0;
}

/* --- the event log (little-endian, TCG PC Client Platform Firmware Profile),
 * written through a tpm2w_writer: what does not fit sets its overflow --- */

/* TCG_PCClientPCREvent (SHA-1 format) carrying TCG_EfiSpecIDEventStruct:
 * what makes the log crypto-agile and says which digests follow. */
static void write_spec_id(struct tpm2w_writer *w, int banks)
{
    uint8_t zero[20] = { 0 };
    uint32_t nalgs = 0;
    for (int i = 0; i < TPM2_NBANKS; i++)
        nalgs += (banks & tpm2_banks[i].bit) != 0;
    tpm2w_put32_le(w, 0);
    tpm2w_put32_le(w, EV_NO_ACTION);
    tpm2w_put_bytes(w, zero, sizeof(zero));
    tpm2w_put32_le(w, 16 + 4 + 4 + 4 + nalgs * 4 + 1);
    tpm2w_put_bytes(w, "Spec ID Event03", 16); /* with its NUL */
    tpm2w_put32_le(w, 0);                      /* platformClass: client */
    uint8_t version[4] = { 0, 2, 0, 2 };       /* minor, major, errata, uintnSize (UINT64) */
    tpm2w_put_bytes(w, version, 4);
    tpm2w_put32_le(w, nalgs);
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (banks & tpm2_banks[i].bit) {
            tpm2w_put16_le(w, tpm2_banks[i].alg);
            tpm2w_put16_le(w, tpm2_banks[i].size);
        }
    }
    tpm2w_put8(w, 0); /* vendorInfoSize */
}

static void write_event(struct tpm2w_writer *w, int banks, const struct measure_event *e,
                        const void *data, size_t len)
{
    uint32_t nalgs = 0;
    for (int i = 0; i < TPM2_NBANKS; i++)
        nalgs += (banks & tpm2_banks[i].bit) != 0;
    tpm2w_put32_le(w, e->pcr);
    tpm2w_put32_le(w, e->type);
    tpm2w_put32_le(w, nalgs);
    for (int i = 0; i < TPM2_NBANKS; i++) {
        if (banks & tpm2_banks[i].bit) {
            tpm2w_put16_le(w, tpm2_banks[i].alg);
            tpm2w_put_bytes(w, e->digest[i], tpm2_banks[i].size);
        }
    }
    tpm2w_put32_le(w, (uint32_t)len);
    tpm2w_put_bytes(w, data, len);
}

struct session {
    struct measure_log *m;
    struct tpm2_conn tpm;
    struct tpm2w_writer log;
    char *err;
    size_t errlen;
};

/* Extends and logs one event. digest NULL: the digest of data itself. */
static int record(struct session *s, uint32_t pcr, uint32_t type, const void *data, size_t len,
                  uint8_t (*digest)[TPM2_MAX_DIGEST], const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int record(struct session *s, uint32_t pcr, uint32_t type, const void *data, size_t len,
                  uint8_t (*digest)[TPM2_MAX_DIGEST], const char *fmt, ...)
{
    struct measure_log *m = s->m;
    if (m->nevents == MEASURE_MAX_EVENTS) {
        snprintf(s->err, s->errlen, "measured boot: more than %d events", MEASURE_MAX_EVENTS);
        return -1;
    }
    struct measure_event *e = &m->events[m->nevents++];
    e->pcr = pcr;
    e->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof(e->what), fmt, ap);
    va_end(ap);
    if (digest) {
        memcpy(e->digest, digest, sizeof(e->digest));
    } else {
        struct hasher h;
        if (hasher_start(&h, m->banks) < 0) {
            snprintf(s->err, s->errlen, "measured boot: no digest");
            return -1;
        }
        hasher_update(&h, data, len);
        hasher_finish(&h, e->digest);
    }
    int rc = tpm2_pcr_extend(&s->tpm, pcr, m->banks, (const uint8_t(*)[TPM2_MAX_DIGEST])e->digest);
    if (rc != 0) {
        snprintf(s->err, s->errlen, "measured boot: extending PCR %u failed (%s 0x%x)", pcr,
                 rc < 0 ? "no answer" : "TPM rc", rc < 0 ? 0 : rc);
        return -1;
    }
    write_event(&s->log, m->banks, e, data, len);
    if (s->log.overflow) {
        snprintf(s->err, s->errlen, "measured boot: the event log is over %zu bytes", s->log.len);
        return -1;
    }
    return 0;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int measure_boot(struct measure_log *m, struct tpm_backend *b, const struct measure_inputs *in,
                 uint8_t *log, size_t log_cap, char *err, size_t errlen)
{
    uint64_t t0 = mono_ns();
    memset(m, 0, sizeof(*m));
    memset(log, 0, log_cap);
    /* hearth is static: OpenSSL must not go looking for a config file
     * (which could ask it to dlopen providers). */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    struct session s = { .m = m, .tpm = { measure_backend_xfer, b }, .err = err, .errlen = errlen };
    tpm2w_writer_init(&s.log, log, log_cap);
    m->banks = tpm2_pcr_banks(&s.tpm);
    if (m->banks <= 0) {
        snprintf(err, errlen, "measured boot: the vTPM reports no PCR bank hearth can hash");
        return -1;
    }
    write_spec_id(&s.log, m->banks);

    uint16_t version[64];
    char ascii[sizeof(version) / 2];
    int n = snprintf(ascii, sizeof(ascii), "hearth %s", HEARTH_VERSION);
    for (int i = 0; i <= n; i++)
        version[i] = (uint16_t)(unsigned char)ascii[i]; /* UTF-16LE, NUL included */
    static const uint8_t separator[4] = { 0 };
    uint8_t digest[TPM2_NBANKS][TPM2_MAX_DIGEST];
    if (record(&s, 0, EV_S_CRTM_VERSION, version, (size_t)(n + 1) * 2, NULL, "%s", ascii) < 0 ||
        record(&s, 1, EV_PLATFORM_CONFIG_FLAGS, in->config_json, strlen(in->config_json), NULL,
               "machine configuration %s", in->config_json) < 0)
        return -1;
    for (uint32_t pcr = 0; pcr < 8; pcr++)
        if (record(&s, pcr, EV_SEPARATOR, separator, sizeof(separator), NULL, "separator") < 0)
            return -1;
    char data[300];
    n = snprintf(data, sizeof(data), "kernel %s", base_name(in->kernel_path));
    if (hash_bytes(in->kernel, in->kernel_len, m->banks, digest, err, errlen) < 0 ||
        record(&s, 4, EV_IPL, data, (size_t)n, digest, "kernel %s", in->kernel_path) < 0 ||
        record(&s, 8, EV_IPL, in->cmdline, strlen(in->cmdline), NULL, "command line") < 0)
        return -1;
    if (in->initrd_path) {
        n = snprintf(data, sizeof(data), "initrd %s", base_name(in->initrd_path));
        if (hash_bytes(in->initrd, in->initrd_len, m->banks, digest, err, errlen) < 0 ||
            record(&s, 9, EV_IPL, data, (size_t)n, digest, "initrd %s", in->initrd_path) < 0)
            return -1;
    }
    m->log_len = s.log.pos;
    m->took_us = (mono_ns() - t0) / 1000;
    char names[64];
    tpm2_banks_format(m->banks, names, sizeof(names));
    log_info("measured boot: %d events into PCRs (banks %s), %zu-byte event log, %llu us",
             m->nevents, names, m->log_len, (unsigned long long)m->took_us);
    return 0;
}

char *measure_machine_json(const struct vm_config *cfg, const char *devices)
{
    json_t *machine = config_machine_to_json(cfg);
    json_t *all = config_to_json(cfg);
    json_t *tpm = json_object_get(all, "tpm");
    if (json_is_object(tpm))
        json_object_del(tpm, "socket");
    json_object_set(machine, "tpm", tpm);
    json_object_set_new(machine, "devices", json_string(devices));
    char *text = json_dumps(machine, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(machine);
    json_decref(all);
    return text;
}

static const char *event_name(uint32_t type)
{
    switch (type) {
    case EV_S_CRTM_VERSION: return "EV_S_CRTM_VERSION";
    case EV_PLATFORM_CONFIG_FLAGS: return "EV_PLATFORM_CONFIG_FLAGS";
    case EV_SEPARATOR: return "EV_SEPARATOR";
    case EV_IPL: return "EV_IPL";
    default: return "EV_UNKNOWN";
    }
}

json_t *measure_to_json(const struct measure_log *m)
{
    json_t *a = json_array();
    for (int k = 0; k < m->nevents; k++) {
        const struct measure_event *e = &m->events[k];
        json_t *d = json_object();
        for (int i = 0; i < TPM2_NBANKS; i++) {
            if (!(m->banks & tpm2_banks[i].bit))
                continue;
            char hex[2 * TPM2_MAX_DIGEST + 1];
            for (int j = 0; j < tpm2_banks[i].size; j++)
                snprintf(hex + 2 * j, 3, "%02x", e->digest[i][j]);
            json_object_set_new(d, tpm2_banks[i].name, json_string(hex));
        }
        char what[sizeof(e->what) * 4];
        size_t n = 0; /* event data can be anything: kept printable */
        for (const char *p = e->what; *p && n + 5 < sizeof(what); p++)
            n += (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f
                     ? (size_t)snprintf(what + n, sizeof(what) - n, "%c", *p)
                     : (size_t)snprintf(what + n, sizeof(what) - n, "\\x%02x", (unsigned char)*p);
        what[n] = 0;
        json_array_append_new(a, json_pack("{s:i, s:s, s:o, s:s}", "pcr", (int)e->pcr, "event",
                                           event_name(e->type), "digests", d, "description", what));
    }
    return a;
}
