/* Provisioning a vTPM over its swtpm data channel (hearth-tpmd's fast
 * manufacture) and reading it back (hearth-tpm-verify): EK creation and
 * persistence, NV indices for certificates, PCR bank allocation. The
 * commands are marshalled with lib/tpm2_wire.h and run with the monitor's
 * tpm2_run (src/tpm/tpm2.h). */
#ifndef TPMD_PROVISION_H
#define TPMD_PROVISION_H

#include "tpm/swtpm.h"
#include "tpm/tpm2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM2_EK_RSA_HANDLE 0x81010001u
#define TPM2_EK_ECC_HANDLE 0x81010002u
#define TPM2_NV_EK_RSA_CERT 0x01c00002u
#define TPM2_NV_EK_ECC_CERT 0x01c0000au
#define TPM2_NV_PLATFORM_CERT 0x01c08000u
#define TPMA_NV_WRITELOCKED 0x800u

/* An EK's public key: RSA modulus (256 bytes) or ECC P-256 x || y. */
struct ek_public {
    bool ecc;
    uint8_t key[256];
    size_t len;
};

/* Creates the EK with the TCG default template in the endorsement
 * hierarchy and persists it at its standard handle. */
int provision_create_ek(struct swtpm *s, bool ecc, struct ek_public *out, char *err, size_t errlen);

/* Defines an NV index under the platform hierarchy (platform-create,
 * write-define, owner/auth/platform readable), writes data, then locks it
 * for writing for good. */
int provision_nv_store_locked(struct swtpm *s, uint32_t index, const uint8_t *data, size_t len,
                              char *err, size_t errlen);

/* Reads a persisted EK's public key back. */
int provision_read_ek(struct swtpm *s, uint32_t handle, struct ek_public *out);

/* Reads an NV index: its attributes and up to max bytes of data. */
int provision_nv_read(struct swtpm *s, uint32_t index, uint32_t *attributes, uint8_t *data,
                      size_t max, size_t *len);

/* TPM2_PCR_Allocate: exactly these banks are active from the next
 * TPM2_Startup on (hearth's INIT at VM start). */
int provision_pcr_allocate(struct swtpm *s, int banks, char *err, size_t errlen);

/* The banks with any PCR selected (TPM2_GetCapability(TPM_CAP_PCRS)). */
int provision_active_banks(struct swtpm *s);

/* TPM2_Shutdown(CLEAR): state saved before the instance is handed over. */
int provision_shutdown(struct swtpm *s);

#endif
