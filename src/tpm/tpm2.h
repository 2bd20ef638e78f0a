/* TPM 2.0 commands as the host sends them (hearth's measured boot,
 * hearth-tpmd's manufacture): a transport to run a command marshalled with
 * lib/tpm2_wire.h on, PCR banks, and the PCR commands both need. */
#ifndef HEARTH_TPM2_H
#define HEARTH_TPM2_H

#include "tpm/backend.h"
#include "tpm2_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where commands go: swtpm's data channel directly (manufacture) or the
 * TPM thread (a VM's backend). xfer returns 0 with the response (at most
 * TPM_BUFFER_MAX bytes into rsp, its length in *rsp_len), or -1. */
typedef int tpm2_xfer_fn(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len);
struct tpm2_conn {
    tpm2_xfer_fn *xfer;
    void *ctx;
};

/* Sends the command cmd marshalled (begun with tpm2w_command; its size is
 * filled in here) and receives the answer into rsp. Returns the TPM's
 * response code with r set over the response past its header, or -1 when
 * the command did not fit its buffer, could not be sent, or the answer is
 * not a whole response. */
int tpm2_run(const struct tpm2_conn *t, struct tpm2w_writer *cmd, uint8_t rsp[TPM_BUFFER_MAX],
             struct tpm2w_reader *r);

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
    uint16_t alg;  /* TPM_ALG_* */
    uint16_t size; /* digest bytes */
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
