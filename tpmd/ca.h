/* hearth-tpmd's local CA: created on first start (RSA-2048 key, mode 0600,
 * self-signed certificate) under STATE/ca, or taken from the operator. */
#ifndef TPMD_CA_H
#define TPMD_CA_H

#include <stddef.h>

struct ca {
    char dir[512];
    char key_path[600];
    char cert_path[600];
};

/* Uses key_path/cert_path when given (both or neither), else creates or
 * reuses STATE/ca/signkey.pem + issuercert.pem. Writes the swtpm_localca
 * and swtpm_setup configuration next to them. -1 with a message on error. */
int ca_init(struct ca *ca, const char *state_dir, const char *key_path, const char *cert_path,
            char *err, size_t errlen);

/* The CA certificate in PEM, malloc'd; NULL on error. */
char *ca_cert_pem(const struct ca *ca);

#endif
