/* Minimal AML byte writer for the DSDT. */
#include "boot/aml.h"

#include <string.h>

#define AML_NAME_OP 0x08
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_EXT_OP 0x5b
#define AML_DEVICE_OP 0x82
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e

void aml_init(struct aml *a) { memset(a, 0, sizeof(*a)); }

void aml_bytes(struct aml *a, const void *p, size_t n)
{
    if (a->overflow || n > AML_MAX - a->len) {
        a->overflow = true;
        return;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b) { aml_bytes(a, &b, 1); }

static void aml_nameseg(struct aml *a, const char *name4)
{
    char seg[4] = { '_', '_', '_', '_' };
    for (int i = 0; i < 4 && name4[i]; i++)
        seg[i] = name4[i];
    aml_bytes(a, seg, 4);
}

/* Writes a NameString: an optional root prefix and dot-separated segments. */
static void aml_namestring(struct aml *a, const char *path)
{
    if (*path == '\\') {
        aml_byte(a, '\\');
        path++;
    }
    int segs = 1;
    for (const char *p = path; *p; p++)
        segs += *p == '.';
    if (segs == 2)
        aml_byte(a, 0x2e); /* DualNamePrefix */
    else if (segs > 2) {
        aml_byte(a, 0x2f); /* MultiNamePrefix */
        aml_byte(a, (uint8_t)segs);
    }
    while (*path) {
        char seg[5] = { 0 };
        int n = 0;
        while (*path && *path != '.' && n < 4)
            seg[n++] = *path++;
        aml_nameseg(a, seg);
        if (*path == '.')
            path++;
    }
}

size_t aml_pkglen_encode(uint8_t out[4], size_t body)
{
    /* The length counts its own bytes; pick the shortest encoding. */
    if (body + 1 < 0x40) {
        out[0] = (uint8_t)(body + 1);
        return 1;
    }
    for (size_t n = 2; n <= 4; n++) {
        size_t total = body + n;
        if (total < (1ULL << (4 + 8 * (n - 1)))) {
            out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
            for (size_t i = 1; i < n; i++)
                out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
            return n;
        }
    }
    return 0;
}

static void aml_open(struct aml *a)
{
    if (a->depth == AML_MAX_DEPTH) {
        a->overflow = true;
        return;
    }
    a->open[a->depth++] = a->len;
}

void aml_end(struct aml *a)
{
    if (a->depth == 0 || a->overflow) {
        a->overflow = true;
        return;
    }
    size_t start = a->open[--a->depth];
    size_t body = a->len - start;
    uint8_t pkg[4];
    size_t n = aml_pkglen_encode(pkg, body);
    if (n == 0 || a->len + n > AML_MAX) {
        a->overflow = true;
        return;
    }
    memmove(a->buf + start + n, a->buf + start, body);
    memcpy(a->buf + start, pkg, n);
    a->len += n;
}

void aml_scope(struct aml *a, const char *path)
{
    aml_byte(a, AML_SCOPE_OP);
    aml_open(a);
    aml_namestring(a, path);
}

void aml_device(struct aml *a, const char *name4)
{
    aml_byte(a, AML_EXT_OP);
    aml_byte(a, AML_DEVICE_OP);
    aml_open(a);
    aml_namestring(a, name4);
}

static void aml_integer(struct aml *a, uint64_t v)
{
    if (v <= 1) {
        aml_byte(a, (uint8_t)v); /* ZeroOp / OneOp */
    } else if (v <= 0xff) {
        aml_byte(a, AML_BYTE_PREFIX);
        aml_byte(a, (uint8_t)v);
    } else if (v <= 0xffff) {
        uint8_t b[3] = { AML_WORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8) };
        aml_bytes(a, b, 3);
    } else if (v <= 0xffffffffu) {
        uint8_t b[5] = { AML_DWORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                         (uint8_t)(v >> 24) };
        aml_bytes(a, b, 5);
    } else {
        aml_byte(a, AML_QWORD_PREFIX);
        for (int i = 0; i < 8; i++)
            aml_byte(a, (uint8_t)(v >> (8 * i)));
    }
}

void aml_name_int(struct aml *a, const char *name4, uint64_t v)
{
    aml_byte(a, AML_NAME_OP);
    aml_nameseg(a, name4);
    aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name4, const char *s)
{
    aml_byte(a, AML_NAME_OP);
    aml_nameseg(a, name4);
    aml_byte(a, AML_STRING_PREFIX);
    aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 0;
}

uint32_t aml_eisa_id(const char *id)
{
    uint16_t vendor = (uint16_t)(((id[0] - '@') & 0x1f) << 10 | ((id[1] - '@') & 0x1f) << 5 |
                                 ((id[2] - '@') & 0x1f));
    uint8_t b[4] = {
        (uint8_t)(vendor >> 8),
        (uint8_t)vendor,
        (uint8_t)(hexval(id[3]) << 4 | hexval(id[4])),
        (uint8_t)(hexval(id[5]) << 4 | hexval(id[6])),
    };
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void aml_name_hid(struct aml *a, const char *name4, const char *id)
{
    if (strlen(id) == 7 && strncmp(id, "PNP", 3) == 0) {
        aml_byte(a, AML_NAME_OP);
        aml_nameseg(a, name4);
        uint32_t v = aml_eisa_id(id);
        uint8_t b[5] = { AML_DWORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                         (uint8_t)(v >> 24) };
        aml_bytes(a, b, 5);
    } else {
        aml_name_string(a, name4, id);
    }
}

void aml_name_buffer(struct aml *a, const char *name4, const uint8_t *data, size_t n)
{
    aml_byte(a, AML_NAME_OP);
    aml_nameseg(a, name4);
    aml_byte(a, AML_BUFFER_OP);
    aml_open(a);
    aml_integer(a, n);
    aml_bytes(a, data, n);
    aml_end(a);
}
