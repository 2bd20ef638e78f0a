/* A minimal AML (ACPI Machine Language) byte writer: just what a DSDT of
 * fixed devices needs (scopes, devices, names, integers, strings, buffers). */
#ifndef HEARTH_AML_H
#define HEARTH_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX 8192
#define AML_MAX_DEPTH 8

struct aml {
    uint8_t buf[AML_MAX];
    size_t len;
    bool overflow; /* set when anything did not fit; the result is then invalid */
    int depth;
    size_t open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Scope(path) { ... } and Device(name) { ... }: close each with aml_end. */
void aml_scope(struct aml *a, const char *path);
void aml_device(struct aml *a, const char *name4);
void aml_end(struct aml *a);

/* Name(name4, value) for the usual value kinds. */
void aml_name_int(struct aml *a, const char *name4, uint64_t v);
void aml_name_string(struct aml *a, const char *name4, const char *s);
/* _HID-style: a 7-character PNP id ("PNP0501") becomes a compressed EISA
 * id, anything else a string. */
void aml_name_hid(struct aml *a, const char *name4, const char *id);
void aml_name_buffer(struct aml *a, const char *name4, const uint8_t *data, size_t n);

/* Encodes a PkgLength for `body` bytes that follow it; returns its size. */
size_t aml_pkglen_encode(uint8_t out[4], size_t body);
/* The 4-byte compressed EISA id of a 7-character PNP id. */
uint32_t aml_eisa_id(const char *id);

#endif
