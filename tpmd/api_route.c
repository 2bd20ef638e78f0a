/* hearth-tpmd's routes: a request (method, decoded URL, body size) to a
 * JSON reply. Kept free of the HTTP server so the fuzzer drives it. */
#include "api.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Client bytes as printable ASCII ("\xNN" for the rest), cut at
 * API_QUOTE_MAX with "...": always valid UTF-8 for jansson, and never a
 * multibyte character cut in half. */
static void quote(const char *in, char *out, size_t outlen)
{
    size_t n = 0, i = 0;
    for (; in[i] && i < API_QUOTE_MAX && n + 5 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", c);
    }
    if (in[i] && n + 4 < outlen)
        n += (size_t)snprintf(out + n, outlen - n, "...");
    out[n] = 0;
}

static void reply_json(struct api_reply *out, unsigned code, json_t *o)
{
    out->code = code;
    out->type = "application/json";
    out->retry_after = code == 503;
    out->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

void api_error(struct api_reply *out, unsigned code, const char *fmt, const char *arg)
{
    char q[API_QUOTE_MAX * 4 + 8], msg[sizeof(q) + 256];
    quote(arg ? arg : "", q, sizeof(q));
    snprintf(msg, sizeof(msg), fmt, q);
    /* fmt and the daemon's own reasons are ASCII; checked anyway, since a
     * NULL here once crashed the daemon. */
    json_t *s = json_string(msg);
    if (!s)
        s = json_string("unprintable error");
    reply_json(out, code, json_pack("{s:o}", "error", s));
}

/* The first certificate file under DIR/certs whose name starts with
 * prefix, as PEM; NULL when there is none. */
static char *cert_pem(const char *dir, const char *prefix)
{
    char path[900];
    snprintf(path, sizeof(path), "%s/certs", dir);
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct dirent *e;
    char *pem = NULL;
    while (!pem && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/certs/%s", dir, e->d_name);
        FILE *f = fopen(path, "rbe");
        X509 *x = f ? d2i_X509_fp(f, NULL) : NULL;
        if (f)
            fclose(f);
        BIO *b = BIO_new(BIO_s_mem());
        if (x && b && PEM_write_bio_X509(b, x)) {
            char *data;
            long n = BIO_get_mem_data(b, &data);
            pem = strndup(data, (size_t)n);
        }
        BIO_free(b);
        X509_free(x);
    }
    closedir(d);
    return pem;
}

static json_t *nullable_string(char *s)
{
    json_t *j = s ? json_string(s) : json_null();
    free(s);
    return j;
}

static void allocate(const struct api_backend *b, struct api_reply *out)
{
    struct vtpm v;
    double ms = 0;
    char err[256] = "";
    int r = b->allocate(b->ctx, &v, &ms, err, sizeof(err));
    if (r == -EAGAIN)
        return api_error(out, 503, "no vTPM available: %s", err);
    if (r < 0)
        return api_error(out, 500, "allocation failed: %s", err);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}", "id", v.id, "ctrl_socket", v.sock,
                          "state_dir", v.tpm_dir, "source", v.ondemand ? "ondemand" : "pool",
                          "manufacture_ms", v.manufacture_ms, "allocate_ms", ms);
    json_object_set_new(o, "ek_cert_pem", nullable_string(cert_pem(v.dir, "ek-rsa")));
    json_object_set_new(o, "ek_ecc_cert_pem", nullable_string(cert_pem(v.dir, "ek-secp")));
    json_object_set_new(o, "platform_cert_pem", nullable_string(cert_pem(v.dir, "platform")));
    reply_json(out, 201, o);
}

static bool valid_id(const char *id)
{
    if (strlen(id) != 32)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static void one_vtpm(const struct api_backend *b, bool get, const char *id, struct api_reply *out)
{
    if (!valid_id(id))
        return api_error(out, 400, "\"%s\" is not a vTPM id (32 hex digits)", id);
    if (get) {
        json_t *o = b->get(b->ctx, id);
        return o ? reply_json(out, 200, o) : api_error(out, 404, "no vTPM %s", id);
    }
    int r = b->release(b->ctx, id);
    if (r == -ENOENT)
        return api_error(out, 404, "no vTPM %s", id);
    if (r == -EBUSY)
        return api_error(out, 409, "vTPM %s is not allocated", id);
    out->code = 204;
    out->type = "application/json";
    out->body = strdup("");
}

void api_route(const struct api_backend *b, const char *method, const char *url, size_t body_len,
               struct api_reply *out)
{
    memset(out, 0, sizeof(*out));
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
         del = strcmp(method, "DELETE") == 0;
    if (body_len)
        return api_error(out, 400, "%s takes no request body", url);
    if (strcmp(url, "/vtpms") == 0) {
        if (post)
            return allocate(b, out);
        if (get)
            return reply_json(out, 200, b->list(b->ctx));
        return api_error(out, 405, "%s /vtpms: use GET or POST", method);
    }
    if (strncmp(url, "/vtpms/", 7) == 0) {
        if (!get && !del)
            return api_error(out, 405, "%s /vtpms/{id}: use GET or DELETE", method);
        return one_vtpm(b, get, url + 7, out);
    }
    if (strcmp(url, "/pool") == 0 && get)
        return reply_json(out, 200, b->status(b->ctx));
    if (strcmp(url, "/ca") == 0 && get) {
        char *pem = b->ca_pem(b->ctx);
        if (!pem)
            return api_error(out, 500, "CA certificate unreadable%s", "");
        out->code = 200;
        out->type = "application/x-pem-file";
        out->body = pem;
        return;
    }
    if (strcmp(url, "/pool") == 0 || strcmp(url, "/ca") == 0)
        return api_error(out, 405, "%s: only GET", url);
    api_error(out, 404, "no route %s", url);
}
