/* The fast manufacture path: one hardened swtpm, started on an empty state,
 * is driven over its own data channel (EK creation and persistence,
 * certificates signed in-process, NV written and locked) and then left
 * running as the ready vTPM. No swtpm_setup, no extra swtpm processes. */
#include "certs.h"
#include "instance.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_der(const char *dir, const char *name, const unsigned char *der, int len)
{
    char path[900];
    snprintf(path, sizeof(path), "%s/certs/%s", dir, name);
    /* certs/ is root's; O_EXCL | O_NOFOLLOW keep a planted link harmless anyway. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int r = write(fd, der, (size_t)len) == len ? 0 : -1;
    return close(fd) == 0 ? r : -1;
}

int vtpm_manufacture_fast(const struct vtpm_opts *o, const struct ca *ca, struct vtpm *v, char *err,
                          size_t errlen)
{
    if (vtpm_start_swtpm(o, v, err, errlen) < 0)
        return -1;
    static __thread struct swtpm s; /* large; one per manufacturing thread */
    if (swtpm_open(&s, v->sock, -1, VTPM_COMMAND_TIMEOUT_MS, err, errlen) < 0)
        return -1;
    unsigned char *ek_der = NULL, *pf_der = NULL;
    int r = -1;
    struct ek_public first = { 0 };
    bool have_first = false;
    for (int alg = 0; alg < 2; alg++) {
        bool ecc = alg == 1;
        if (ecc ? !o->ek_ecc : !o->ek_rsa)
            continue;
        struct ek_public ek;
        if (provision_create_ek(&s, ecc, &ek, err, errlen) < 0)
            goto out;
        free(ek_der);
        ek_der = NULL;
        int ek_len = cert_make(ca, &ek, v->id, false, &ek_der);
        if (ek_len <= 0) {
            snprintf(err, errlen, "signing the EK certificate failed");
            goto out;
        }
        if (provision_nv_store_locked(&s, ecc ? TPM2_NV_EK_ECC_CERT : TPM2_NV_EK_RSA_CERT, ek_der,
                                      (size_t)ek_len, err, errlen) < 0)
            goto out;
        if (write_der(v->dir, ecc ? "ek-secp256r1.crt" : "ek-rsa2048.crt", ek_der, ek_len) < 0) {
            snprintf(err, errlen, "writing certificate files failed");
            goto out;
        }
        if (!have_first) {
            first = ek;
            have_first = true;
        }
    }
    /* The platform certificate binds the platform to the (first) EK. */
    int pf_len = have_first ? cert_make(ca, &first, v->id, true, &pf_der) : -1;
    if (pf_len <= 0) {
        snprintf(err, errlen, "signing the platform certificate failed");
        goto out;
    }
    if (provision_nv_store_locked(&s, TPM2_NV_PLATFORM_CERT, pf_der, (size_t)pf_len, err, errlen) <
        0)
        goto out;
    if (write_der(v->dir, "platform.crt", pf_der, pf_len) < 0) {
        snprintf(err, errlen, "writing certificate files failed");
        goto out;
    }
    if (provision_pcr_allocate(&s, tpm2_banks_parse(o->pcr_banks), err, errlen) < 0)
        goto out;
    if (provision_shutdown(&s) < 0) {
        snprintf(err, errlen, "TPM2_Shutdown failed");
        goto out;
    }
    r = 0;
out:
    free(ek_der);
    free(pf_der);
    swtpm_release(&s); /* swtpm keeps running: it is the ready vTPM */
    return r;
}
