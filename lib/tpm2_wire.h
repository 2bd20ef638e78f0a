/* The TPM 2.0 wire format, once for every program that speaks it (the
 * monitor, hearth-tpmd, the guest payloads): the TCG constants they use,
 * bounds-checked big-endian writers and readers, and the 10-byte
 * command/response header. Freestanding: <stdint.h>, <stddef.h> and
 * <stdbool.h> only, no libc call, so the guest payloads compile it too. */
#ifndef HEARTH_TPM2_WIRE_H
#define HEARTH_TPM2_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- constants (TCG TPM 2.0 Library, Part 2), one table ---
 * Spelled TPM_*, not TPM2_*, so that they never meet tpm2-tss's names. */

/* tag, size, command code / response code */
#define TPM_HEADER_SIZE 10

#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_ST_SESSIONS 0x8002

#define TPM_RC_SUCCESS 0x000
#define TPM_RC_SIZE 0x095
#define TPM_RC_INITIALIZE 0x100
#define TPM_RC_FAILURE 0x101
#define TPM_RC_COMMAND_SIZE 0x142
#define TPM_RC_CANCELED 0x909

#define TPM_CC_EVICT_CONTROL 0x120
#define TPM_CC_NV_DEFINE_SPACE 0x12a
#define TPM_CC_PCR_ALLOCATE 0x12b
#define TPM_CC_CREATE_PRIMARY 0x131
#define TPM_CC_NV_WRITE 0x137
#define TPM_CC_NV_WRITE_LOCK 0x138
#define TPM_CC_SELF_TEST 0x143
#define TPM_CC_STARTUP 0x144
#define TPM_CC_SHUTDOWN 0x145
#define TPM_CC_NV_READ 0x14e
#define TPM_CC_FLUSH_CONTEXT 0x165
#define TPM_CC_NV_READ_PUBLIC 0x169
#define TPM_CC_READ_PUBLIC 0x173
#define TPM_CC_GET_CAPABILITY 0x17a
#define TPM_CC_GET_RANDOM 0x17b
#define TPM_CC_PCR_READ 0x17e
#define TPM_CC_PCR_EXTEND 0x182

#define TPM_SU_CLEAR 0x0000

#define TPM_ALG_RSA 0x0001
#define TPM_ALG_SHA1 0x0004
#define TPM_ALG_AES 0x0006
#define TPM_ALG_SHA256 0x000b
#define TPM_ALG_SHA384 0x000c
#define TPM_ALG_SHA512 0x000d
#define TPM_ALG_NULL 0x0010
#define TPM_ALG_ECC 0x0023
#define TPM_ALG_CFB 0x0043
#define TPM_ECC_NIST_P256 0x0003

#define TPM_RH_OWNER 0x40000001u
#define TPM_RS_PW 0x40000009u
#define TPM_RH_ENDORSEMENT 0x4000000bu
#define TPM_RH_PLATFORM 0x4000000cu

#define TPM_CAP_PCRS 5
#define TPM_CAP_TPM_PROPERTIES 6

/* --- raw big-endian access: the caller has checked that the bytes exist --- */

static inline uint16_t tpm2w_load16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t tpm2w_load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void tpm2w_store16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void tpm2w_store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* --- the header --- */

struct tpm2w_header {
    uint16_t tag;  /* TPM_ST_* */
    uint32_t size; /* what the header claims: the whole command or response */
    uint32_t code; /* TPM_CC_* in a command, TPM_RC_* in a response */
};

/* Reads the header at buf (len bytes there). false when len is under
 * TPM_HEADER_SIZE; the claimed size is not checked (that is the caller's
 * rule: see tpm_command_length in the monitor). */
bool tpm2w_header_parse(const uint8_t *buf, size_t len, struct tpm2w_header *h);

/* Writes a header into out[0..TPM_HEADER_SIZE). */
void tpm2w_header_write(uint8_t out[TPM_HEADER_SIZE], uint16_t tag, uint32_t size, uint32_t code);

/* --- writing: a cursor over buf[0..len) --- */

/* A write that does not fit is not made: it sets overflow, and every later
 * one fails too, so a command is checked once, at tpm2w_finish. The cursor
 * does not own buf. */
struct tpm2w_writer {
    uint8_t *buf;
    size_t len; /* capacity */
    size_t pos; /* bytes written */
    bool overflow;
};

/* Starts a command in buf (len bytes): the cursor is set over it and the
 * header written with size 0, which tpm2w_finish fills in. */
void tpm2w_command(struct tpm2w_writer *w, uint8_t *buf, size_t len, uint16_t tag, uint32_t cc);

/* A cursor over buf with nothing written (for marshalling that is not a
 * whole command). */
void tpm2w_writer_init(struct tpm2w_writer *w, uint8_t *buf, size_t len);

void tpm2w_put8(struct tpm2w_writer *w, uint8_t v);
void tpm2w_put16(struct tpm2w_writer *w, uint16_t v);
void tpm2w_put32(struct tpm2w_writer *w, uint32_t v);
void tpm2w_put_bytes(struct tpm2w_writer *w, const void *p, size_t n);
void tpm2w_put_zeros(struct tpm2w_writer *w, size_t n);
/* Little-endian, for the TCG event log (PC Client Platform Firmware
 * Profile), the one TPM format that is not big-endian. */
void tpm2w_put16_le(struct tpm2w_writer *w, uint16_t v);
void tpm2w_put32_le(struct tpm2w_writer *w, uint32_t v);
/* A TPM2B: the 16-bit size, then the n bytes (overflow when n > 65535). */
void tpm2w_put_sized(struct tpm2w_writer *w, const void *p, size_t n);
/* A TPM2B whose contents are marshalled in place: sized_begin writes a
 * size of 0 and returns where it is; sized_end sets it to what was
 * written since. */
size_t tpm2w_sized_begin(struct tpm2w_writer *w);
void tpm2w_sized_end(struct tpm2w_writer *w, size_t at);
/* An authorization area with one password session and the empty
 * password: what every command on an unowned vTPM needs. */
void tpm2w_put_pw_session(struct tpm2w_writer *w);

/* Puts the command's length into its header. Returns that length, or 0
 * when something did not fit (nothing must be sent then). */
size_t tpm2w_finish(struct tpm2w_writer *w);

/* --- reading: a cursor over buf[0..len) --- */

/* A read past the end returns 0 (or copies nothing) and sets overflow;
 * every later read fails too, so a parse is checked once, at its end. */
struct tpm2w_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool overflow;
};

void tpm2w_reader_init(struct tpm2w_reader *r, const uint8_t *buf, size_t len);

uint8_t tpm2w_get8(struct tpm2w_reader *r);
uint16_t tpm2w_get16(struct tpm2w_reader *r);
uint32_t tpm2w_get32(struct tpm2w_reader *r);
/* Copies n bytes to out (out untouched on overflow). */
void tpm2w_get_bytes(struct tpm2w_reader *r, void *out, size_t n);
void tpm2w_skip(struct tpm2w_reader *r, size_t n);
/* The n bytes at the cursor, in place, and moves past them; NULL on
 * overflow. */
const uint8_t *tpm2w_get_span(struct tpm2w_reader *r, size_t n);
/* Bytes left after the cursor (0 after an overflow). */
size_t tpm2w_remaining(const struct tpm2w_reader *r);

/* A response as received: len bytes at rsp. When it is whole (at least a
 * header, whose size is exactly len), sets r over it past the header and
 * returns the response code (response codes fit in 31 bits); -1 for
 * anything else. */
int32_t tpm2w_response(struct tpm2w_reader *r, const uint8_t *rsp, size_t len);

#endif
