/* Measured direct boot: before the first guest instruction, hearth is the
 * platform's root of trust for measurement. It hashes what it boots in
 * every PCR bank the vTPM has active, extends the PCRs through the TPM
 * thread, and writes a TCG PC Client crypto-agile event log into reserved
 * guest memory (announced by the ACPI TPM2 table's LAML/LASA).
 *
 * The events (docs/measured-boot.md has the byte-level description):
 *   PCR 0  EV_S_CRTM_VERSION  "hearth <version>" as UTF-16LE with its NUL
 *   PCR 1  EV_PLATFORM_CONFIG_FLAGS  the machine configuration, compact JSON
 *   PCR 0-7 EV_SEPARATOR      four zero bytes
 *   PCR 4  EV_IPL             digest of the kernel file; data "kernel <name>"
 *   PCR 8  EV_IPL             digest of the command line the guest gets
 *                             (no NUL); data: that command line
 *   PCR 9  EV_IPL             digest of the initrd file; data "initrd <name>"
 * Every digest but the files' is of the event data itself. */
#ifndef HEARTH_MEASURE_H
#define HEARTH_MEASURE_H

#include "config/config.h"
#include "tpm/backend.h"
#include "tpm/tpm2.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MEASURE_MAX_EVENTS 16

/* PC Client event types hearth uses. */
#define EV_NO_ACTION 0x3
#define EV_SEPARATOR 0x4
#define EV_S_CRTM_VERSION 0x8
#define EV_PLATFORM_CONFIG_FLAGS 0xa
#define EV_IPL 0xd

struct measure_event {
    uint32_t pcr, type;
    uint8_t digest[TPM2_NBANKS][TPM2_MAX_DIGEST];
    char what[128]; /* for GET /tpm */
};

struct measure_log {
    int banks; /* the vTPM's active banks */
    int nevents;
    struct measure_event events[MEASURE_MAX_EVENTS];
    size_t log_len; /* bytes of event log written */
    uint64_t took_us;
};

/* What hearth boots: the bytes it loaded, never the files again by path (a
 * path may name another file by now, or one truncated under a mapping).
 * The kernel: the whole file as read, from which it was loaded; the
 * initrd: its copy in guest memory. The paths only name them in the events;
 * initrd_path NULL: no initrd. */
struct measure_inputs {
    const char *kernel_path, *initrd_path;
    const void *kernel, *initrd;
    size_t kernel_len, initrd_len;
    const char *cmdline;     /* as the guest gets it */
    const char *config_json; /* the machine configuration */
};

/* Measures `in` into the TPM behind b (its thread running) and writes the
 * event log to log[0..log_cap). 0, or -1 with a message: a VM configured
 * for measured boot must not start unmeasured. */
int measure_boot(struct measure_log *m, struct tpm_backend *b, const struct measure_inputs *in,
                 uint8_t *log, size_t log_cap, char *err, size_t errlen);

/* PCR 1's data: the machine configuration, the TPM section without its
 * socket (where swtpm listens is the host's business) and "devices": the
 * device entries hearth appends to the command line. Compact JSON with
 * sorted keys, malloc'd; NULL when out of memory. */
char *measure_machine_json(const struct vm_config *cfg, const char *devices);

/* [{"pcr", "event", "digests": {"sha256": hex, ...}, "description"}, ...] */
json_t *measure_to_json(const struct measure_log *m);

/* Runs one command on a backend and waits for the answer: a tpm2_conn
 * over the TPM thread. ctx is the struct tpm_backend. */
int measure_backend_xfer(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len);

#endif
