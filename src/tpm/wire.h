/* TPM 2.0 wire-format helpers shared by the device transports, the swtpm
 * backend, hearth-tpmd and the benchmarks: header fields and the error
 * responses the monitor synthesises itself. */
#ifndef HEARTH_TPM_WIRE_H
#define HEARTH_TPM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define TPM_HEADER_SIZE 10
#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_RC_SUCCESS 0x000
#define TPM_RC_INITIALIZE 0x100
#define TPM_RC_FAILURE 0x101
#define TPM_RC_COMMAND_SIZE 0x142
#define TPM_RC_CANCELED 0x909
#define TPM_CC_STARTUP 0x144
#define TPM_SU_CLEAR 0x0000

static inline uint16_t tpm_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t tpm_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void tpm_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void tpm_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* The size a command or response claims in its header; 0 when fewer than
 * TPM_HEADER_SIZE bytes are available. */
uint32_t tpm_header_size(const uint8_t *buf, size_t avail);

/* The response code of a response of at least TPM_HEADER_SIZE bytes. */
uint32_t tpm_response_code(const uint8_t *rsp);

/* Writes a 10-byte error response with `rc` into out; returns 10. */
size_t tpm_error_response(uint8_t out[TPM_HEADER_SIZE], uint32_t rc);

/* Checks a command the guest handed over: `len` bytes are available and the
 * header must claim between 10 and min(len, max) bytes. Returns the
 * command's length, or 0 when it must be refused (TPM_RC_COMMAND_SIZE). */
size_t tpm_command_length(const uint8_t *cmd, size_t len, size_t max);

#endif
