/* TPM 2.0 commands as the host sends them (hearth's measured boot,
 * hearth-tpmd's manufacture): a marshalling buffer, a transport to run
 * it on, PCR banks, and the PCR commands both need. */
#ifndef HEARTH_TPM2_H
#define HEARTH_TPM2_H

#include "tpm/backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM2_ST_NO_SESSIONS 0x8001
#define TPM2_ST_SESSIONS 0x8002
#define TPM2_RS_PW 0x40000009u

/* A command being marshalled (big-endian); writes past the buffer are
 * dropped and make tpm2_run fail. */
struct tpm2_cmd {
    uint8_t b[TPM_BUFFER_MAX];
    size_t len;
    bool overflow;
};

void tpm2_begin(struct tpm2_cmd *c, uint16_t tag, uint32_t cc);
void tpm2_put8(struct tpm2_cmd *c, uint8_t v);
void tpm2_put16(struct tpm2_cmd *c, uint16_t v);
void tpm2_put32(struct tpm2_cmd *c, uint32_t v);
void tpm2_put_bytes(struct tpm2_cmd *c, const void *p, size_t n);
/* An authorization area with one empty password session. */
void tpm2_put_pw_session(struct tpm2_cmd *c);

/* Where commands go: swtpm's data channel directly (manufacture) or the
 * TPM thread (a VM's backend). xfer returns 0 with the response, or -1. */
typedef int tpm2_xfer_fn(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp,
                         size_t *rsp_len);
struct tpm2_conn {
    tpm2_xfer_fn *xfer;
    void *ctx;
};

/* Fills in the size and sends c; returns the TPM's response code, or -1
 * when the command could not be sent or the answer is not a response. */
int tpm2_run(const struct tpm2_conn *t, struct tpm2_cmd *c, uint8_t *rsp, size_t *rsp_len);

/* PCR banks: the algorithms hearth can hash. */
#define TPM2_BANK_SHA1 1
#define TPM2_BANK_SHA256 2
#define TPM2_BANK_SHA384 4
#define TPM2_BANK_SHA512 8
#define TPM2_NBANKS 4
#define TPM2_MAX_DIGEST 64

struct tpm2_bank {
    const char *name; /* "sha256": also OpenSSL's digest name */
    int bit;
    uint16_t alg;     /* TPM_ALG_ID */
    uint16_t size;    /* digest bytes */
};
extern const struct tpm2_bank tpm2_banks[TPM2_NBANKS];

/* Banks by name ("sha1,sha256") as a bit mask; -1 for an unknown name. */
int tpm2_banks_parse(const char *list);
/* The names of the banks in mask, comma-separated. */
void tpm2_banks_format(int mask, char *out, size_t len);

/* The banks with any PCR selected (TPM2_GetCapability(TPM_CAP_PCRS)), or
 * -1. */
int tpm2_pcr_banks(const struct tpm2_conn *t);

/* TPM2_PCR_Extend of `pcr` with one digest per bank in mask, digests[i]
 * for tpm2_banks[i]. Returns the TPM's response code or -1. */
int tpm2_pcr_extend(const struct tpm2_conn *t, uint32_t pcr, int mask,
                    const uint8_t digests[TPM2_NBANKS][TPM2_MAX_DIGEST]);

/* TPM2_PCR_Read of one PCR in one bank into out (tpm2_banks[bank].size
 * bytes). Returns the response code or -1. */
int tpm2_pcr_read(const struct tpm2_conn *t, uint32_t pcr, int bank, uint8_t *out);

#endif
