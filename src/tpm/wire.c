/* TPM 2.0 header checks and locally generated error responses. */
#include "tpm/wire.h"

uint32_t tpm_header_size(const uint8_t *buf, size_t avail)
{
    struct tpm2w_header h;
    return tpm2w_header_parse(buf, avail, &h) ? h.size : 0;
}

uint32_t tpm_response_code(const uint8_t *rsp)
{
    struct tpm2w_header h;
    tpm2w_header_parse(rsp, TPM_HEADER_SIZE, &h);
    return h.code;
}

size_t tpm_error_response(uint8_t out[TPM_HEADER_SIZE], uint32_t rc)
{
    tpm2w_header_write(out, TPM_ST_NO_SESSIONS, TPM_HEADER_SIZE, rc);
    return TPM_HEADER_SIZE;
}

size_t tpm_command_length(const uint8_t *cmd, size_t len, size_t max)
{
    struct tpm2w_header h;
    if (!tpm2w_header_parse(cmd, len, &h) || h.size < TPM_HEADER_SIZE || h.size > len ||
        h.size > max)
        return 0;
    return h.size;
}
