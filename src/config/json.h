/* Strict JSON field access for configuration and API bodies: every error
 * names its key path ("machine-config.vcpu_count: must be ...") and the
 * reason. */
#ifndef HEARTH_JSON_H
#define HEARTH_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct jctx {
    char *err;
    size_t errlen;
    const char *section; /* prefix of every path, or NULL */
};

/* Writes "section.field: reason" (either part may be NULL) to c->err and
 * returns -1. */
int jfail(struct jctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "an object", "a string", ... for error messages. */
const char *jtype_name(const json_t *v);

/* Every key of obj must be in `allowed`; every key in `required` (may be
 * NULL) must be present. */
int jcheck_keys(struct jctx *c, json_t *obj, const char *const *allowed,
                const char *const *required);

/* Field readers: an absent key leaves *out alone and returns 0; a value of
 * the wrong type or out of range fails. jget_string replaces *out with a
 * copy (or NULL for a null value when nullable). */
int jget_string(struct jctx *c, json_t *obj, const char *key, bool nullable, char **out);
int jget_int(struct jctx *c, json_t *obj, const char *key, long long min, long long max,
             long long *out);
int jget_bool(struct jctx *c, json_t *obj, const char *key, bool *out);
/* A string that must not be empty when given (paths, names): *out is
 * replaced by a copy; a null (when nullable) keeps *out. */
int jget_nonempty(struct jctx *c, json_t *obj, const char *key, bool nullable, char **out);

bool jin_list(const char *s, const char *const *list);

/* "what: invalid JSON at line L, column C: text" */
void jinvalid(char *err, size_t errlen, const char *what, const json_error_t *e);

#endif
