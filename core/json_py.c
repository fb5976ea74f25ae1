/*
 * JSON text exactly as Python's json module writes it, because shell tasks
 * compare rendered parameters textually (`[ "$p" = '{"x": 10}' ]`) and the
 * run log must read like runnable's.  Reading follows json.loads.
 */

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "utf8.h"

/* jansson's own parser refuses deeper documents; we refuse to print them
 * so a hand-built cyclic or absurdly deep value cannot blow the stack. */
#define MAX_DEPTH 2048

static const char hexdigits[] = "0123456789abcdef";

static int put_u16(rn_buf *b, unsigned u)
{
    char e[6] = { '\\', 'u', hexdigits[(u >> 12) & 15], hexdigits[(u >> 8) & 15],
                  hexdigits[(u >> 4) & 15], hexdigits[u & 15] };
    return rn_buf_append(b, e, sizeof e);
}

/* ensure_ascii=True: Python escapes everything outside ' '..'~', so DEL
 * (0x7f) becomes \u007f too. */
static int put_string(rn_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int rc;

    if ((rc = rn_buf_append(b, "\"", 1)))
        return rc;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && (rc = rn_buf_append(b, str + i, run - i)))
            return rc;
        i = run;
        if (i >= n)
            break;
        unsigned c = s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            rc = rn_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x80) {
            rc = put_u16(b, c);
            i++;
        } else {
            uint32_t cp;
            size_t len = rn_utf8_decode(s + i, n - i, &cp);
            if (len == 0) {
                rc = put_u16(b, c);
                i++;
            } else if (cp < 0x10000) {
                rc = put_u16(b, cp);
                i += len;
            } else {
                cp -= 0x10000;
                rc = put_u16(b, 0xd800 | (cp >> 10));
                if (!rc)
                    rc = put_u16(b, 0xdc00 | (cp & 0x3ff));
                i += len;
            }
        }
        if (rc)
            return rc;
    }
    return rn_buf_append(b, "\"", 1);
}

/*
 * float.__repr__: the shortest digit string that reads back as the same
 * double, positional for decimal exponents -4..15, scientific otherwise.
 * Trying 1..17 significant digits finds the shortest; %.*e rounds
 * correctly in glibc, so the first precision that round-trips is it.
 */
static int put_real(rn_buf *b, double v)
{
    if (isnan(v))
        return rn_buf_append(b, "NaN", 3);
    if (isinf(v))
        return v < 0 ? rn_buf_append(b, "-Infinity", 9) : rn_buf_append(b, "Infinity", 8);

    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }

    /* tmp is "[-]D[.DDD]e[+-]XX": pull out sign, digits and exponent. */
    const char *p = tmp;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[20];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        int decpt = exp10 + 1; /* digits before the decimal point */
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int k = 0; k < -decpt; k++)
                out[o++] = '0';
            memcpy(out + o, digits, nd);
            o += nd;
        } else if ((size_t)decpt >= nd) {
            memcpy(out + o, digits, nd);
            o += nd;
            for (size_t k = nd; k < (size_t)decpt; k++)
                out[o++] = '0';
            out[o++] = '.';
            out[o++] = '0';
        } else {
            memcpy(out + o, digits, (size_t)decpt);
            o += (size_t)decpt;
            out[o++] = '.';
            memcpy(out + o, digits + decpt, nd - (size_t)decpt);
            o += nd - (size_t)decpt;
        }
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d",
                              exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    return rn_buf_append(b, out, o);
}

static int put_newline_indent(rn_buf *b, int level)
{
    static const char spaces[] = "                                ";
    int rc = rn_buf_append(b, "\n", 1);
    size_t n = (size_t)level * 4;
    while (!rc && n) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        rc = rn_buf_append(b, spaces, k);
        n -= k;
    }
    return rc;
}

struct key_ref {
    const char *key;
    size_t len;
    json_t *value;
};

/* sort_keys compares str objects: code point order, which for UTF-8 is
 * byte order. */
static int key_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int put_value(rn_buf *b, const json_t *v, unsigned flags, int level, int depth);

static int put_separator(rn_buf *b, unsigned flags, int first, int level)
{
    int rc = 0;
    if (!first)
        rc = (flags & RN_JSON_INDENT4) ? rn_buf_append(b, ",", 1) : rn_buf_append(b, ", ", 2);
    if (!rc && (flags & RN_JSON_INDENT4))
        rc = put_newline_indent(b, level);
    return rc;
}

static int put_object(rn_buf *b, const json_t *v, unsigned flags, int level, int depth)
{
    size_t n = json_object_size(v);
    int rc;
    if (n == 0)
        return rn_buf_append(b, "{}", 2);

    struct key_ref *keys = malloc(n * sizeof *keys);
    if (!keys)
        return rn_error_set(RN_ENOMEM, "out of memory");
    size_t k = 0;
    for (void *it = json_object_iter((json_t *)v); it && k < n;
         it = json_object_iter_next((json_t *)v, it), k++) {
        keys[k].key = json_object_iter_key(it);
        keys[k].len = json_object_iter_key_len(it);
        keys[k].value = json_object_iter_value(it);
    }
    n = k;
    if (flags & RN_JSON_SORT_KEYS)
        qsort(keys, n, sizeof *keys, key_cmp);

    rc = rn_buf_append(b, "{", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = put_separator(b, flags, i == 0, level + 1);
        if (!rc)
            rc = put_string(b, keys[i].key, keys[i].len);
        if (!rc)
            rc = rn_buf_append(b, ": ", 2);
        if (!rc)
            rc = put_value(b, keys[i].value, flags, level + 1, depth + 1);
    }
    free(keys);
    if (!rc && (flags & RN_JSON_INDENT4))
        rc = put_newline_indent(b, level);
    if (!rc)
        rc = rn_buf_append(b, "}", 1);
    return rc;
}

static int put_array(rn_buf *b, const json_t *v, unsigned flags, int level, int depth)
{
    size_t n = json_array_size(v);
    int rc;
    if (n == 0)
        return rn_buf_append(b, "[]", 2);
    rc = rn_buf_append(b, "[", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = put_separator(b, flags, i == 0, level + 1);
        if (!rc)
            rc = put_value(b, json_array_get(v, i), flags, level + 1, depth + 1);
    }
    if (!rc && (flags & RN_JSON_INDENT4))
        rc = put_newline_indent(b, level);
    if (!rc)
        rc = rn_buf_append(b, "]", 1);
    return rc;
}

static int put_value(rn_buf *b, const json_t *v, unsigned flags, int level, int depth)
{
    char num[32];
    int n;

    if (depth > MAX_DEPTH)
        return rn_error_set(RN_EINVAL, "JSON value nested deeper than %d levels", MAX_DEPTH);
    if (!v)
        return rn_error_set(RN_EINVAL, "no JSON value to encode");
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(b, v, flags, level, depth);
    case JSON_ARRAY:
        return put_array(b, v, flags, level, depth);
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return rn_buf_append(b, num, (size_t)n);
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return rn_buf_append(b, "true", 4);
    case JSON_FALSE:
        return rn_buf_append(b, "false", 5);
    case JSON_NULL:
        return rn_buf_append(b, "null", 4);
    }
    return rn_error_set(RN_EINVAL, "unknown JSON type");
}

int rn_json_append_py(rn_buf *b, const json_t *value, unsigned flags, int indent_level)
{
    if (indent_level < 0)
        indent_level = 0;
    return put_value(b, value, flags, indent_level, 0);
}

char *rn_json_dumps_py(const json_t *value, unsigned flags)
{
    rn_buf b = { 0 };
    if (rn_json_append_py(&b, value, flags, 0)) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/*
 * json.loads accepts any value at the top level, surrounding whitespace
 * and "\u0000" in strings, which is what these jansson flags give.
 *
 * Python also accepts NaN, Infinity and -Infinity, but jansson cannot hold
 * a non-finite real (json_real() refuses them), so such text yields NULL
 * and callers keep the raw string.  For the places this is used (shell
 * returns, RUNNABLE_PRM_*) the observable result is the same text: the
 * string "NaN" renders to a shell as NaN, exactly like Python's float nan.
 *
 * Integers beyond 64 bits (Python has arbitrary precision) also give NULL.
 */
json_t *rn_json_loads_py(const char *text, size_t len)
{
    json_error_t err;
    if (!text)
        return NULL;
    return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
}

char *rn_json_render_env(const json_t *value)
{
    if (json_is_string(value)) {
        /* An embedded NUL cannot pass through an environment variable
         * anyway; the text up to it is what a child process would see. */
        size_t n = json_string_length(value);
        char *s = malloc(n + 1);
        if (!s) {
            rn_error_set(RN_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(s, json_string_value(value), n);
        s[n] = '\0';
        return s;
    }
    return rn_json_dumps_py(value, 0);
}
