/* What a tenant expects its microVM to have booted: digests of the kernel
 * and initrd files, the command line, vCPUs and memory, in one PCR bank;
 * made from the files by `hearth-attest policy`, kept as JSON. */
#ifndef ATTEST_POLICY_H
#define ATTEST_POLICY_H

#include "eventlog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_VERSION 1
#define POLICY_DEFAULT_PCRS 0x3ffu /* 0-9: everything hearth measures */

struct attest_policy {
    const struct evlog_alg *bank;
    uint32_t pcrs; /* the quote's selection */
    uint8_t kernel[EVLOG_MAX_DIGEST];
    char kernel_file[256];
    bool has_initrd; /* false: no initrd may have been booted */
    uint8_t initrd[EVLOG_MAX_DIGEST];
    char initrd_file[256];
    char *cmdline;       /* boot_args as configured; hearth appends devices */
    long vcpus, mem_mib; /* -1: not checked */
    bool pin_ek;
    uint8_t ek_spki_sha256[32]; /* SHA-256 of the EK's SubjectPublicKeyInfo */
};

/* Hashes the files into a policy. initrd, ek_cert_pem may be NULL. */
int policy_make(struct attest_policy *p, const char *bank, const char *kernel, const char *initrd,
                const char *cmdline, long vcpus, long mem_mib, const char *ek_cert_pem, char *err,
                size_t errlen);

json_t *policy_to_json(const struct attest_policy *p);

/* Strict: unknown keys, wrong types and bad digests are refused with the
 * key's name. */
int policy_from_json(struct attest_policy *p, json_t *j, char *err, size_t errlen);
int policy_load(struct attest_policy *p, const char *path, char *err, size_t errlen);

void policy_free(struct attest_policy *p);

/* "0-9" / "0,1,4,8-9" as a mask of PCRs 0-23; -1 when malformed. */
long policy_parse_pcrs(const char *s);

#endif
