/* Guest-side TPM 2.0 access: the CRB, TIS and virtio-tpm drivers, command
 * building over the shared wire format (lib/tpm2_wire.h) and SHA-256. */
#ifndef GUEST_TPM_H
#define GUEST_TPM_H

#include "guest.h"
#include "tpm2_wire.h"

#define TPM_BASE 0xfed40000ull
/* How long a driver waits for the device: beyond any vTPM deadline
 * (hearth's is 2 s, 20 s in the emulated test host), so a slow TPM shows
 * as the monitor's TPM_RC_FAILURE, not a transport error. */
#define TPM_WAIT_MS 60000
#define TPM_BUF 4096

enum tpm_transport { TPM_CRB, TPM_TIS, TPM_VIRTIO };

/* A driver moves a command in and a response out; -1 on a transport error
 * (timeout, protocol violation), else the response length. */
struct tpm_driver {
    const char *name;
    int (*probe)(void);
    int (*transmit)(const uint8_t *cmd, size_t len, uint8_t *rsp, size_t max);
};

extern const struct tpm_driver tpm_crb_driver, tpm_tis_driver, tpm_virtio_driver;

/* How a driver waits for a started command to complete. 0 (default):
 * reads the status until it completes, up to TPM_WAIT_MS. N: the way
 * Linux's tpm_try_transmit does, with N as the command's duration: a
 * deadline N ms from when START/tpmGo returned, a status read, a 1 ms
 * pause, and no last read once the deadline has passed. Set by tpm_open
 * from poll_ms=N on the command line. */
extern uint32_t tpm_poll_linux_ms;
/* Waits for `done` as tpm_poll_linux_ms says; false on a time-out. */
bool tpm_wait_done(bool (*done)(void));

/* Picks the driver named by tpm=crb|tis|virtio (default crb); NULL if
 * unknown. */
const struct tpm_driver *tpm_driver_from_cmdline(const struct boot_info *bi);

/* virtio-tpm internals for hostile tests: (re)initialise the device, send
 * an arbitrary chain (returns the used length or -1), read the status. */
int virtio_tpm_setup(void);
int virtio_tpm_chain(const uint64_t *addr, const uint32_t *len, const bool *writable, int n);
uint32_t virtio_tpm_status(void);

/* Command building: a command in b, marshalled through w (lib/tpm2_wire.h;
 * what does not fit is dropped and the command is not sent). len is the
 * command's length once cmd_end has run. w points into b: a tpm_cmd is
 * filled in place, never copied. The cmd_ and be names are the payloads'
 * (tpm_hostile.c builds commands with them). */
struct tpm_cmd {
    uint8_t b[TPM_BUF];
    size_t len;
    struct tpm2w_writer w;
};
void cmd_begin(struct tpm_cmd *c, uint16_t tag, uint32_t cc);
static inline void cmd_u8(struct tpm_cmd *c, uint8_t v) { tpm2w_put8(&c->w, v); }
static inline void cmd_u16(struct tpm_cmd *c, uint16_t v) { tpm2w_put16(&c->w, v); }
static inline void cmd_u32(struct tpm_cmd *c, uint32_t v) { tpm2w_put32(&c->w, v); }
static inline void cmd_bytes(struct tpm_cmd *c, const void *p, size_t n)
{
    tpm2w_put_bytes(&c->w, p, n);
}
/* The empty-password authorization area. */
static inline void cmd_pw_session(struct tpm_cmd *c) { tpm2w_put_pw_session(&c->w); }
/* Patches the size field and sets len; len 0 when the command overflowed. */
void cmd_end(struct tpm_cmd *c);

static inline uint16_t be16(const uint8_t *p) { return tpm2w_load16(p); }
static inline uint32_t be32(const uint8_t *p) { return tpm2w_load32(p); }

/* Common commands; each returns the TPM response code or -1 on a transport
 * failure. */
struct tpm_ctx {
    const struct tpm_driver *drv;
    uint8_t rsp[TPM_BUF];
    int rsp_len;
};
int tpm_run(struct tpm_ctx *t, struct tpm_cmd *c);
/* The usual start of a TPM payload: picks the driver from tpm=, probes it
 * and runs tpm_auto_startup, reporting each step as a TAP result. */
bool tpm_open(struct tpm_ctx *t, const struct boot_info *bi);
int tpm_get_property(struct tpm_ctx *t, uint32_t property, uint32_t *value);
int tpm_self_test(struct tpm_ctx *t);
/* As Linux's tpm2_auto_startup: SelfTest, and TPM2_Startup(CLEAR) when the
 * TPM answers TPM_RC_INITIALIZE (no firmware started it). Returns the
 * SelfTest response code; *started_here tells whether Startup was sent. */
int tpm_auto_startup(struct tpm_ctx *t, bool *started_here);
int tpm_get_random(struct tpm_ctx *t, uint8_t *out, uint16_t n);
int tpm_pcr_read(struct tpm_ctx *t, uint32_t pcr, uint8_t digest[32]);
int tpm_pcr_extend(struct tpm_ctx *t, uint32_t pcr, const uint8_t digest[32]);
int tpm_nv_read_public(struct tpm_ctx *t, uint32_t index, uint16_t *data_size);

void sha256(const void *data, size_t len, uint8_t out[32]);
void hex(char *out, const uint8_t *p, size_t n); /* out: 2n + 1 bytes */

#endif
