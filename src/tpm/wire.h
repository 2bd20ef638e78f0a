/* The monitor's TPM 2.0 wire rules, over the shared format of
 * lib/tpm2_wire.h: the one check of the size of a command the guest hands
 * over, and the error responses the monitor synthesises itself. */
#ifndef HEARTH_TPM_WIRE_H
#define HEARTH_TPM_WIRE_H

#include "tpm2_wire.h"

#include <stddef.h>
#include <stdint.h>

/* The names the device transports, the swtpm backend, the bench and the
 * tests read and write header fields by (kept while those files, outside
 * the shared-library change, still use them). */
static inline uint16_t tpm_be16(const uint8_t *p) { return tpm2w_load16(p); }
static inline uint32_t tpm_be32(const uint8_t *p) { return tpm2w_load32(p); }
static inline void tpm_put_be16(uint8_t *p, uint16_t v) { tpm2w_store16(p, v); }
static inline void tpm_put_be32(uint8_t *p, uint32_t v) { tpm2w_store32(p, v); }

/* The size a command or response claims in its header; 0 when fewer than
 * TPM_HEADER_SIZE bytes are available. */
uint32_t tpm_header_size(const uint8_t *buf, size_t avail);

/* The response code of a response of at least TPM_HEADER_SIZE bytes. */
uint32_t tpm_response_code(const uint8_t *rsp);

/* Writes a 10-byte error response with `rc` into out; returns 10. */
size_t tpm_error_response(uint8_t out[TPM_HEADER_SIZE], uint32_t rc);

/* Checks a command the guest handed over: `len` bytes are available and the
 * header must claim between 10 and min(len, max) bytes. Returns the
 * command's length, or 0 when it must be refused (TPM_RC_COMMAND_SIZE).
 * The one check of a guest command's size: every transport uses it. */
size_t tpm_command_length(const uint8_t *cmd, size_t len, size_t max);

#endif
