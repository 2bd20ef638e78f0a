/* Attestation policies: made from files, stored and read as JSON. */
#include "policy.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hash_file(const struct evlog_alg *bank, const char *path, uint8_t *out, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_get_digestbyname(bank->name), NULL);
    static uint8_t buf[1 << 16];
    ssize_t n;
    while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            EVP_MD_CTX_free(c);
            close(fd);
            return -1;
        }
        ok = EVP_DigestUpdate(c, buf, (size_t)n);
    }
    ok = ok && EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
    close(fd);
    if (!ok)
        snprintf(err, errlen, "%s: hashing failed", path);
    return ok ? 0 : -1;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

long policy_parse_pcrs(const char *s)
{
    long mask = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0 || a > 23)
            return -1;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a || b > 23)
                return -1;
        }
        for (long i = a; i <= b; i++)
            mask |= 1L << i;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return mask ? mask : -1;
}

static int ek_fingerprint(const char *pem, uint8_t out[32], char *err, size_t errlen)
{
    FILE *f = fopen(pem, "re");
    X509 *c = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    unsigned char *der = NULL;
    int len = c ? i2d_PUBKEY(X509_get0_pubkey(c), &der) : -1;
    unsigned int n = 0;
    int ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL) == 1;
    OPENSSL_free(der);
    X509_free(c);
    if (!ok)
        snprintf(err, errlen, "--ek-cert %s: %s", pem,
                 f ? "not a PEM certificate" : strerror(errno));
    return ok ? 0 : -1;
}

int policy_make(struct attest_policy *p, const char *bank, const char *kernel, const char *initrd,
                const char *cmdline, long vcpus, long mem_mib, const char *ek_cert_pem, char *err,
                size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->bank = evlog_alg_by_name(bank);
    if (!p->bank) {
        snprintf(err, errlen, "--bank %s: must be sha1, sha256, sha384 or sha512", bank);
        return -1;
    }
    p->pcrs = POLICY_DEFAULT_PCRS;
    p->vcpus = vcpus;
    p->mem_mib = mem_mib;
    snprintf(p->kernel_file, sizeof(p->kernel_file), "%s", base_name(kernel));
    if (hash_file(p->bank, kernel, p->kernel, err, errlen) < 0)
        return -1;
    if (initrd) {
        p->has_initrd = true;
        snprintf(p->initrd_file, sizeof(p->initrd_file), "%s", base_name(initrd));
        if (hash_file(p->bank, initrd, p->initrd, err, errlen) < 0)
            return -1;
    }
    if (ek_cert_pem) {
        p->pin_ek = true;
        if (ek_fingerprint(ek_cert_pem, p->ek_spki_sha256, err, errlen) < 0)
            return -1;
    }
    p->cmdline = strdup(cmdline);
    return p->cmdline ? 0 : -1;
}

json_t *policy_to_json(const struct attest_policy *p)
{
    json_t *pcrs = json_array();
    for (int i = 0; i < 24; i++)
        if (p->pcrs & (1u << i))
            json_array_append_new(pcrs, json_integer(i));
    json_t *j =
        json_pack("{s:i, s:s, s:o, s:{s:s, s:o}, s:s}", "hearth_attest_policy", POLICY_VERSION,
                  "bank", p->bank->name, "pcrs", pcrs, "kernel", "file", p->kernel_file, "digest",
                  attest_hex(p->kernel, p->bank->size), "cmdline", p->cmdline);
    json_object_set_new(j, "initrd",
                        p->has_initrd ? json_pack("{s:s, s:o}", "file", p->initrd_file, "digest",
                                                  attest_hex(p->initrd, p->bank->size))
                                      : json_null());
    if (p->vcpus >= 0)
        json_object_set_new(j, "vcpus", json_integer(p->vcpus));
    if (p->mem_mib >= 0)
        json_object_set_new(j, "mem_mib", json_integer(p->mem_mib));
    if (p->pin_ek)
        json_object_set_new(j, "ek_public_sha256", attest_hex(p->ek_spki_sha256, 32));
    return j;
}

/* {"file": name, "digest": hex} */
static int file_digest(struct attest_policy *p, json_t *o, const char *key, uint8_t *digest,
                       char *file, size_t file_len, char *err, size_t errlen)
{
    json_t *name = json_object_get(o, "file");
    size_t n;
    if (!json_is_object(o) || json_object_size(o) != 2 || !json_is_string(name)) {
        snprintf(err, errlen, "%s: must be {\"file\": name, \"digest\": hex}", key);
        return -1;
    }
    snprintf(file, file_len, "%s", json_string_value(name));
    char sub[300];
    if (attest_get_hex(o, "digest", digest, &n, p->bank->size, p->bank->size, sub, sizeof(sub)) <
        0) {
        snprintf(err, errlen, "%s.%s", key, sub);
        return -1;
    }
    return 0;
}

static int get_count(json_t *j, const char *key, long *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(j, key);
    *out = -1;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 24) {
        snprintf(err, errlen, "%s: must be a positive integer", key);
        return -1;
    }
    *out = (long)json_integer_value(v);
    return 0;
}

int policy_from_json(struct attest_policy *p, json_t *j, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "hearth_attest_policy", "bank", "pcrs", "kernel", "initrd", "cmdline", "vcpus", "mem_mib",
        "ek_public_sha256"
    };
    memset(p, 0, sizeof(*p));
    const char *key;
    json_t *v;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "a policy is a JSON object");
        return -1;
    }
    json_object_foreach(j, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(key, keys[i]) == 0;
        if (!known) {
            snprintf(err, errlen, "%.60s: unknown key", key);
            return -1;
        }
    }
    v = json_object_get(j, "hearth_attest_policy");
    if (!json_is_integer(v) || json_integer_value(v) != POLICY_VERSION) {
        snprintf(err, errlen, "hearth_attest_policy: must be %d (the policy format's version)",
                 POLICY_VERSION);
        return -1;
    }
    v = json_object_get(j, "bank");
    p->bank = json_is_string(v) ? evlog_alg_by_name(json_string_value(v)) : NULL;
    if (!p->bank) {
        snprintf(err, errlen, "bank: must be sha1, sha256, sha384 or sha512");
        return -1;
    }
    v = json_object_get(j, "pcrs");
    size_t i;
    json_t *e;
    if (!json_is_array(v) || !json_array_size(v)) {
        snprintf(err, errlen, "pcrs: must be a non-empty list of PCR numbers");
        return -1;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 23) {
            snprintf(err, errlen, "pcrs: must be a list of PCR numbers 0-23");
            return -1;
        }
        p->pcrs |= 1u << json_integer_value(e);
    }
    if (file_digest(p, json_object_get(j, "kernel"), "kernel", p->kernel, p->kernel_file,
                    sizeof(p->kernel_file), err, errlen) < 0)
        return -1;
    v = json_object_get(j, "initrd");
    p->has_initrd = v && !json_is_null(v);
    if (p->has_initrd && file_digest(p, v, "initrd", p->initrd, p->initrd_file,
                                     sizeof(p->initrd_file), err, errlen) < 0)
        return -1;
    v = json_object_get(j, "cmdline");
    if (!json_is_string(v)) {
        snprintf(err, errlen, "cmdline: must be a string");
        return -1;
    }
    if (get_count(j, "vcpus", &p->vcpus, err, errlen) < 0 ||
        get_count(j, "mem_mib", &p->mem_mib, err, errlen) < 0)
        return -1;
    size_t n;
    p->pin_ek = json_object_get(j, "ek_public_sha256") != NULL;
    if (p->pin_ek &&
        attest_get_hex(j, "ek_public_sha256", p->ek_spki_sha256, &n, 32, 32, err, errlen) < 0)
        return -1;
    p->cmdline = strdup(json_string_value(v));
    return p->cmdline ? 0 : -1;
}

int policy_load(struct attest_policy *p, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "policy %s: %s (line %d)", path, je.text, je.line);
        return -1;
    }
    char sub[400];
    int r = policy_from_json(p, j, sub, sizeof(sub));
    json_decref(j);
    if (r < 0)
        snprintf(err, errlen, "policy %s: %s", path, sub);
    return r;
}

void policy_free(struct attest_policy *p)
{
    free(p->cmdline);
    p->cmdline = NULL;
}
