/* Local CA creation with OpenSSL and the swtpm_localca configuration. */
#include "ca.h"

#include "certs.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int r = write(fd, text, n) == (ssize_t)n ? 0 : -1;
    return close(fd) == 0 ? r : -1;
}

static int create_ca(const struct ca *ca)
{
    int r = -1;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *cert = X509_new();
    FILE *f = NULL;
    if (!key || !cert)
        goto out;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"hearth-tpmd local CA", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (cert_add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
        cert_add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        cert_add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
        !X509_sign(cert, key, EVP_sha256()))
        goto out;
    /* The key never exists with looser permissions than 0600. */
    int fd = open(ca->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        goto out;
    }
    if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        goto out;
    fclose(f);
    f = fopen(ca->cert_path, "we");
    if (!f || !PEM_write_X509(f, cert))
        goto out;
    r = 0;
out:
    if (f)
        fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    return r;
}

int ca_init(struct ca *ca, const char *state_dir, const char *key_path, const char *cert_path,
            char *err, size_t errlen)
{
    memset(ca, 0, sizeof(*ca));
    snprintf(ca->dir, sizeof(ca->dir), "%s/ca", state_dir);
    if (mkdir(ca->dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", ca->dir, strerror(errno));
        return -1;
    }
    if (!key_path != !cert_path) {
        snprintf(err, errlen, "--ca-key and --ca-cert go together");
        return -1;
    }
    if (key_path) {
        snprintf(ca->key_path, sizeof(ca->key_path), "%s", key_path);
        snprintf(ca->cert_path, sizeof(ca->cert_path), "%s", cert_path);
    } else {
        snprintf(ca->key_path, sizeof(ca->key_path), "%s/signkey.pem", ca->dir);
        snprintf(ca->cert_path, sizeof(ca->cert_path), "%s/issuercert.pem", ca->dir);
        if (access(ca->key_path, R_OK) != 0 && create_ca(ca) < 0) {
            snprintf(err, errlen, "creating the CA in %s failed", ca->dir);
            return -1;
        }
    }
    if (access(ca->key_path, R_OK) != 0 || access(ca->cert_path, R_OK) != 0) {
        snprintf(err, errlen, "CA key %s or certificate %s unreadable", ca->key_path,
                 ca->cert_path);
        return -1;
    }
    char text[2400], path[700];
    snprintf(path, sizeof(path), "%s/certserial", ca->dir);
    if (access(path, F_OK) != 0)
        write_file(path, "1\n", 0600);
    snprintf(text, sizeof(text),
             "statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s/certserial\n",
             ca->dir, ca->key_path, ca->cert_path, ca->dir);
    snprintf(path, sizeof(path), "%s/localca.conf", ca->dir);
    int r = write_file(path, text, 0600);
    snprintf(path, sizeof(path), "%s/localca.options", ca->dir);
    r |= write_file(path,
                    "--platform-manufacturer hearth\n--platform-version 0.1\n"
                    "--platform-model hearth-microvm\n",
                    0600);
    snprintf(text, sizeof(text),
             "create_certs_tool = /usr/bin/swtpm_localca\n"
             "create_certs_tool_config = %s/localca.conf\n"
             "create_certs_tool_options = %s/localca.options\n"
             "active_pcr_banks = sha256\n",
             ca->dir, ca->dir);
    snprintf(path, sizeof(path), "%s/swtpm_setup.conf", ca->dir);
    r |= write_file(path, text, 0600);
    if (r) {
        snprintf(err, errlen, "writing the swtpm_localca configuration in %s failed", ca->dir);
        return -1;
    }
    return 0;
}

char *ca_cert_pem(const struct ca *ca)
{
    FILE *f = fopen(ca->cert_path, "re");
    if (!f)
        return NULL;
    char *buf = calloc(1, 16384);
    size_t n = buf ? fread(buf, 1, 16383, f) : 0;
    fclose(f);
    if (buf && n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
