/* The API fuzzers' fake backend (see fake_api_backend.h). */
#include "fake_api_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t mode_of(void *ctx) { return *(const uint8_t *)ctx; }

static int fake_allocate(void *ctx, struct vtpm *out, double *ms, char *err, size_t errlen)
{
    static const int rcs[4] = { 0, -EAGAIN, -EIO, -ENOMEM };
    memset(out, 0, sizeof(*out));
    strcpy(out->id, "0123456789abcdef0123456789abcdef");
    strcpy(out->dir, "/nonexistent");
    strcpy(out->tpm_dir, "/nonexistent/tpm");
    strcpy(out->sock, "/nonexistent/tpm/ctrl.sock");
    *ms = 1.5;
    /* An error text with bytes that are not UTF-8, as a bug could leave. */
    snprintf(err, errlen, "fake \xff\xc3 reason");
    return rcs[mode_of(ctx) & 3];
}

static int fake_release(void *ctx, const char *id)
{
    (void)id;
    static const int rcs[3] = { 0, -ENOENT, -EBUSY };
    return rcs[(mode_of(ctx) >> 2) % 3];
}

static json_t *fake_get(void *ctx, const char *id)
{
    return mode_of(ctx) & 0x10 ? json_pack("{s:s}", "id", id) : NULL;
}

static json_t *fake_list(void *ctx)
{
    (void)ctx;
    return json_array();
}

static json_t *fake_status(void *ctx)
{
    (void)ctx;
    return json_pack("{s:i}", "ready", 1);
}

static char *fake_ca(void *ctx)
{
    return mode_of(ctx) & 0x20 ? strdup("-----BEGIN CERTIFICATE-----\n") : NULL;
}

void fake_api_backend(struct api_backend *b, const uint8_t *mode)
{
    *b = (struct api_backend){
        .ctx = (void *)mode,
        .allocate = fake_allocate,
        .release = fake_release,
        .get = fake_get,
        .list = fake_list,
        .status = fake_status,
        .ca_pem = fake_ca,
    };
}
