/* HTTP routes of hearth-tpmd. */
#include "api.h"

#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BODY_MAX 4096

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *type,
                                 char *body, const char *retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *o)
{
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!body)
        return MHD_NO;
    return send_text(c, code, "application/json", body, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt,
                                  const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, arg);
    char *body = json_dumps(json_pack("{s:s}", "error", msg), JSON_COMPACT);
    return send_text(c, code, "application/json", body, code == 503 ? "1" : NULL);
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
        FILE *f = fopen(path, "rb");
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

static enum MHD_Result allocate(struct api *a, struct MHD_Connection *c)
{
    struct vtpm v;
    double ms = 0;
    char err[256] = "";
    int r = pool_allocate(a->pool, &v, &ms, err, sizeof(err));
    if (r == -EAGAIN)
        return send_error(c, 503, "no vTPM available: %s", err);
    if (r < 0)
        return send_error(c, 500, "allocation failed: %s", err);
    char state[800];
    snprintf(state, sizeof(state), "%s/state", v.dir);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}", "id", v.id, "ctrl_socket", v.sock,
                          "state_dir", state, "source", v.ondemand ? "ondemand" : "pool",
                          "manufacture_ms", v.manufacture_ms, "allocate_ms", ms);
    json_object_set_new(o, "ek_cert_pem", nullable_string(cert_pem(v.dir, "ek-rsa")));
    json_object_set_new(o, "ek_ecc_cert_pem", nullable_string(cert_pem(v.dir, "ek-secp")));
    json_object_set_new(o, "platform_cert_pem", nullable_string(cert_pem(v.dir, "platform")));
    return send_json(c, 201, o);
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    struct api *a = cls;
    /* First call per request: headers only. Bodies are drained unread (no
     * route takes one) but bounded. */
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
         del = strcmp(method, "DELETE") == 0;
    if (strcmp(url, "/vtpms") == 0) {
        if (post)
            return allocate(a, c);
        if (get)
            return send_json(c, 200, pool_list_json(a->pool));
        return send_error(c, 405, "%s /vtpms: use GET or POST", method);
    }
    if (strncmp(url, "/vtpms/", 7) == 0) {
        const char *id = url + 7;
        if (!del)
            return send_error(c, 405, "%s /vtpms/{id}: use DELETE", method);
        if (!valid_id(id))
            return send_error(c, 400, "\"%s\" is not a vTPM id (32 hex digits)", id);
        int r = pool_free(a->pool, id);
        if (r == -ENOENT)
            return send_error(c, 404, "no vTPM %s", id);
        if (r == -EBUSY)
            return send_error(c, 409, "vTPM %s is not allocated", id);
        return send_text(c, 204, "application/json", strdup(""), NULL);
    }
    if (strcmp(url, "/pool") == 0 && get)
        return send_json(c, 200, pool_status_json(a->pool));
    if (strcmp(url, "/ca") == 0 && get) {
        char *pem = ca_cert_pem(a->ca);
        if (!pem)
            return send_error(c, 500, "CA certificate unreadable%s", "");
        return send_text(c, 200, "application/x-pem-file", pem, NULL);
    }
    if (strcmp(url, "/pool") == 0 || strcmp(url, "/ca") == 0)
        return send_error(c, 405, "%s: only GET", url);
    return send_error(c, 404, "no route %s", url);
}

int api_start(struct api *a, const char *path, struct pool *pool, const struct ca *ca, char *err,
              size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->pool = pool;
    a->ca = ca;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--socket %s: path too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int r = a->listen_fd < 0 || bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(a->listen_fd, 64) < 0;
    umask(old);
    if (r) {
        snprintf(err, errlen, "--socket %s: %s", path, strerror(errno));
        return -1;
    }
    a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                              0, NULL, NULL, handle, a, MHD_OPTION_LISTEN_SOCKET, a->listen_fd,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(BODY_MAX * 4),
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!a->mhd) {
        snprintf(err, errlen, "starting the HTTP server failed");
        return -1;
    }
    return 0;
}

void api_stop(struct api *a)
{
    if (a->mhd)
        MHD_stop_daemon(a->mhd);
    a->mhd = NULL;
}
