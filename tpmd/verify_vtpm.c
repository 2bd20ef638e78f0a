/* hearth-tpm-verify: checks a manufactured vTPM through its control
 * socket: the persisted EK matches the EK certificate in NV, both EK and
 * platform certificates verify against the CA, and their NV indices are
 * write-locked. Leaves the swtpm running.
 *   hearth-tpm-verify CTRL_SOCKET CA_CERT.pem [rsa|ecc] */
#include "certs.h"
#include "provision.h"
#include "instance.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

static int failed;

static void check(int ok, const char *what)
{
    printf("%sok - %s\n", ok ? "" : "not ", what);
    failed += !ok;
}

static X509 *nv_cert(struct swtpm *s, uint32_t index, uint32_t *attrs)
{
    static uint8_t der[4096];
    size_t len = 0;
    *attrs = 0;
    if (provision_nv_read(s, index, attrs, der, sizeof(der), &len) < 0)
        return NULL;
    const unsigned char *p = der;
    return d2i_X509(NULL, &p, (long)len);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hearth-tpm-verify CTRL_SOCKET CA_CERT.pem [rsa|ecc]\n");
        return 2;
    }
    bool ecc = argc > 3 && strcmp(argv[3], "ecc") == 0;
    FILE *f = fopen(argv[2], "r");
    X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!ca) {
        fprintf(stderr, "hearth-tpm-verify: cannot read CA certificate %s\n", argv[2]);
        return 2;
    }
    EVP_PKEY *ca_key = X509_get0_pubkey(ca);
    static struct swtpm s;
    char err[256];
    if (swtpm_open(&s, argv[1], -1, VTPM_COMMAND_TIMEOUT_MS, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth-tpm-verify: %s\n", err);
        return 2;
    }
    struct ek_public ek;
    int have_ek = provision_read_ek(&s, ecc ? TPM2_EK_ECC_HANDLE : TPM2_EK_RSA_HANDLE, &ek) == 0;
    check(have_ek, ecc ? "EK persisted at 0x81010002" : "EK persisted at 0x81010001");
    uint32_t attrs;
    X509 *cert = nv_cert(&s, ecc ? TPM2_NV_EK_ECC_CERT : TPM2_NV_EK_RSA_CERT, &attrs);
    check(cert != NULL, "EK certificate in NV");
    check(attrs & TPMA_NV_WRITELOCKED, "EK certificate index is write-locked");
    EVP_PKEY *tpm_key = have_ek ? ek_to_pkey(&ek) : NULL;
    check(cert && tpm_key && EVP_PKEY_eq(X509_get0_pubkey(cert), tpm_key) == 1,
          "EK certificate holds the TPM's EK public key");
    check(cert && X509_verify(cert, ca_key) == 1, "EK certificate verifies against the CA");
    X509 *pf = nv_cert(&s, TPM2_NV_PLATFORM_CERT, &attrs);
    check(pf != NULL, "platform certificate in NV");
    check(attrs & TPMA_NV_WRITELOCKED, "platform certificate index is write-locked");
    check(pf && X509_verify(pf, ca_key) == 1, "platform certificate verifies against the CA");
    char names[64];
    tpm2_banks_format(provision_active_banks(&s), names, sizeof(names));
    printf("# active PCR banks: %s\n", names);
    if (cert)
        PEM_write_X509(stdout, cert);
    X509_free(cert);
    X509_free(pf);
    EVP_PKEY_free(tpm_key);
    X509_free(ca);
    swtpm_release(&s);
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
