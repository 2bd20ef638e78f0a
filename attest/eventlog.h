/* The TCG PC Client crypto-agile event log as the verifier reads it: a
 * Spec ID Event03 header (SHA-1 format) naming the digest algorithms,
 * then TCG_PCR_EVENT2 entries. The log comes from the guest, so it is
 * hostile: every size is checked against what is left, and errors name
 * the event and byte offset. */
#ifndef ATTEST_EVENTLOG_H
#define ATTEST_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVLOG_MAX_EVENTS 1024
#define EVLOG_NPCRS 24
#define EVLOG_MAX_DIGEST 64
#define EVLOG_MAX_ALGS 8

#define EVLOG_EV_NO_ACTION 0x3
#define EVLOG_EV_SEPARATOR 0x4
#define EVLOG_EV_S_CRTM_VERSION 0x8
#define EVLOG_EV_PLATFORM_CONFIG_FLAGS 0xa
#define EVLOG_EV_IPL 0xd

/* The digest algorithms the verifier knows (TPM_ALG_ID, size, name). */
struct evlog_alg {
    uint16_t alg;
    uint16_t size;
    const char *name; /* also OpenSSL's */
};
const struct evlog_alg *evlog_alg_by_id(uint16_t alg);
const struct evlog_alg *evlog_alg_by_name(const char *name);

struct evlog_event {
    uint32_t pcr, type;
    const uint8_t *digest; /* in the chosen bank */
    const uint8_t *data;
    uint32_t data_len;
    size_t offset; /* of the event in the log */
};

struct evlog {
    const struct evlog_alg *bank;
    int nalgs;
    uint16_t algs[EVLOG_MAX_ALGS];
    int nevents;
    struct evlog_event events[EVLOG_MAX_EVENTS]; /* point into the log */
    size_t end;                                  /* where the last event ends */
    uint32_t quoted;                             /* the verifier's: PCRs the quote covers */
};

/* Parses log[0..len) for the digests of `bank`. Zero bytes after the last
 * event are allowed (the guest's log area is zeroed). 0, or -1 with the
 * reason (naming the event number and byte offset) in err. */
int evlog_parse(struct evlog *l, const uint8_t *log, size_t len, const struct evlog_alg *bank,
                char *err, size_t errlen);

/* Replays every event but EV_NO_ACTION into pcrs (each starting at zero,
 * bank->size bytes). Returns which PCRs any event touched (bit per PCR). */
uint32_t evlog_replay(const struct evlog *l, uint8_t pcrs[EVLOG_NPCRS][EVLOG_MAX_DIGEST]);

/* digest = H_bank(p[0..n)); 0 or -1. */
int evlog_hash(const struct evlog_alg *bank, const void *p, size_t n, uint8_t *digest);

const char *evlog_type_name(uint32_t type);

#endif
