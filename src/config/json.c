/* Strict JSON field access with key-path errors. */
#include "config/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jfail(struct jctx *c, const char *field, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s%s%s: ", c->section ? c->section : "",
                     c->section && field ? "." : "", field ? field : "");
    if (n < 0 || (size_t)n >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

const char *jtype_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

bool jin_list(const char *s, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

int jcheck_keys(struct jctx *c, json_t *obj, const char *const *allowed,
                const char *const *required)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!jin_list(key, allowed))
            return jfail(c, NULL, "unknown key \"%.64s\"", key);
    }
    for (; required && *required; required++)
        if (!json_object_get(obj, *required))
            return jfail(c, *required, "missing required field");
    return 0;
}

int jget_string(struct jctx *c, json_t *obj, const char *key, bool nullable, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    char *s = NULL;
    if (json_is_null(v) && nullable)
        s = NULL;
    else if (!json_is_string(v))
        return jfail(c, key, "must be a string, got %s", jtype_name(v));
    else if (!(s = strdup(json_string_value(v))))
        return jfail(c, key, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

int jget_int(struct jctx *c, json_t *obj, const char *key, long long min, long long max,
             long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return jfail(c, key, "must be an integer, got %s", jtype_name(v));
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return jfail(c, key, "must be between %lld and %lld, got %lld", min, max, x);
    *out = x;
    return 0;
}

int jget_bool(struct jctx *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return jfail(c, key, "must be a boolean, got %s", jtype_name(v));
    *out = json_is_true(v);
    return 0;
}

int jget_nonempty(struct jctx *c, json_t *obj, const char *key, bool nullable, char **out)
{
    char *s = NULL;
    if (jget_string(c, obj, key, nullable, &s))
        return -1;
    if (s && !*s) {
        free(s);
        return jfail(c, key, "must not be empty");
    }
    if (s) {
        free(*out);
        *out = s;
    }
    return 0;
}

void jinvalid(char *err, size_t errlen, const char *what, const json_error_t *e)
{
    snprintf(err, errlen, "%s: invalid JSON at line %d, column %d: %s", what, e->line, e->column,
             e->text);
}
