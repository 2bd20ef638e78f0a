/* TPM 2.0 header parsing and locally generated error responses. */
#include "tpm/wire.h"

uint32_t tpm_header_size(const uint8_t *buf, size_t avail)
{
    return avail < TPM_HEADER_SIZE ? 0 : tpm_be32(buf + 2);
}

uint32_t tpm_response_code(const uint8_t *rsp)
{
    return tpm_be32(rsp + 6);
}

size_t tpm_error_response(uint8_t out[TPM_HEADER_SIZE], uint32_t rc)
{
    tpm_put_be16(out, TPM_ST_NO_SESSIONS);
    tpm_put_be32(out + 2, TPM_HEADER_SIZE);
    tpm_put_be32(out + 6, rc);
    return TPM_HEADER_SIZE;
}

size_t tpm_command_length(const uint8_t *cmd, size_t len, size_t max)
{
    uint32_t size = tpm_header_size(cmd, len);
    if (size < TPM_HEADER_SIZE || size > len || size > max)
        return 0;
    return size;
}
