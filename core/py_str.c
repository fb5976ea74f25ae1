/*
 * Python's str() for JSON values.  Map branches are named after their
 * items (`map.<str(item)>`) and a conditional compares str(value) with its
 * branch keys, so this must match Python byte for byte for a run log to
 * line up with runnable's.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_str.h"
#include "runnable/plugin.h"
#include "utf8.h"

/* jansson's parser stops at this depth too; a hand-built deeper (or
 * cyclic) value is refused rather than allowed to exhaust the stack. */
#define MAX_DEPTH 2048

/*
 * Code points repr() escapes because str.isprintable() is false for them:
 * categories Cc, Cf, Cs, Co, Zs, Zl and Zp (from Python 3.11, Unicode 14),
 * plus code points that are unassigned in every Unicode version so far
 * (noncharacters, planes 4-13).  Other unassigned code points are kept:
 * Python escapes them only until its Unicode tables learn them, so any
 * fixed choice disagrees with some Python; keeping them agrees with the
 * newer ones (a new emoji prints as itself from Python 3.12 on).
 * Sorted, not overlapping.
 */
static const uint32_t unprintable[][2] = {
    {0x0080, 0x00a0},     {0x00ad, 0x00ad},     {0x0600, 0x0605},
    {0x061c, 0x061c},     {0x06dd, 0x06dd},     {0x070f, 0x070f},
    {0x0890, 0x0891},     {0x08e2, 0x08e2},     {0x1680, 0x1680},
    {0x180e, 0x180e},     {0x2000, 0x200f},     {0x2028, 0x202f},
    {0x205f, 0x2064},     {0x2066, 0x206f},     {0x3000, 0x3000},
    {0xd800, 0xf8ff},     {0xfdd0, 0xfdef},     {0xfeff, 0xfeff},
    {0xfff9, 0xfffb},     {0xfffe, 0xffff},     {0x110bd, 0x110bd},
    {0x110cd, 0x110cd},   {0x13430, 0x1343f},   {0x1bca0, 0x1bca3},
    {0x1d173, 0x1d17a},   {0x1fffe, 0x1ffff},   {0x2fffe, 0x2ffff},
    {0x3fffe, 0x3ffff},   {0x40000, 0xdffff},   {0xe0001, 0xe0001},
    {0xe0020, 0xe007f},   {0xefffe, 0xeffff},   {0xf0000, 0xfffff},
    {0x100000, 0x10ffff},
};

static int is_printable(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 0x20 && cp < 0x7f;
    size_t lo = 0, hi = sizeof unprintable / sizeof unprintable[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < unprintable[mid][0])
            hi = mid;
        else if (cp > unprintable[mid][1])
            lo = mid + 1;
        else
            return 0;
    }
    return 1;
}

/* The escape repr() writes for a code point it does not print. */
static int put_escape(rn_buf *b, uint32_t cp)
{
    if (cp == '\n')
        return rn_buf_append(b, "\\n", 2);
    if (cp == '\r')
        return rn_buf_append(b, "\\r", 2);
    if (cp == '\t')
        return rn_buf_append(b, "\\t", 2);
    if (cp < 0x100)
        return rn_buf_printf(b, "\\x%02x", (unsigned)cp);
    if (cp < 0x10000)
        return rn_buf_printf(b, "\\u%04x", (unsigned)cp);
    return rn_buf_printf(b, "\\U%08x", (unsigned)cp);
}

/* repr() of a str: single quotes unless the text holds ' and no ". */
static int put_repr_string(rn_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    int rc = rn_buf_append(b, &q, 1);
    size_t i = 0;
    while (!rc && i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '\\' &&
               s[run] != (unsigned char)q)
            run++;
        if (run > i && (rc = rn_buf_append(b, str + i, run - i)))
            break;
        i = run;
        if (i >= n)
            break;
        uint32_t cp = s[i];
        size_t len = 1;
        if (cp == '\\' || cp == (unsigned char)q) {
            char esc[2] = {'\\', (char)cp};
            rc = rn_buf_append(b, esc, 2);
        } else if (cp < 0x80) {
            rc = put_escape(b, cp);
        } else if ((len = rn_utf8_decode(s + i, n - i, &cp)) == 0) {
            /* Python would never hold such a byte; show it, do not guess. */
            len = 1;
            rc = put_escape(b, s[i]);
        } else if (is_printable(cp)) {
            rc = rn_buf_append(b, str + i, len);
        } else {
            rc = put_escape(b, cp);
        }
        i += len;
    }
    return rc ? rc : rn_buf_append(b, &q, 1);
}

static int put(rn_buf *b, const json_t *v, int nested, int depth)
{
    int rc = 0;
    if (depth > MAX_DEPTH)
        return rn_error_set(RN_EINVAL, "value nested deeper than %d levels", MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (nested)
            return put_repr_string(b, json_string_value(v), json_string_length(v));
        return rn_buf_append(b, json_string_value(v), json_string_length(v));
    case JSON_TRUE:
        return rn_buf_append(b, "True", 4);
    case JSON_FALSE:
        return rn_buf_append(b, "False", 5);
    case JSON_NULL:
        return rn_buf_append(b, "None", 4);
    case JSON_INTEGER:
    case JSON_REAL:
        /* json.dumps writes an int or a float exactly as repr() does, and
         * str() of a number is its repr(). */
        return rn_json_append_py(b, v, 0, 0);
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        rc = rn_buf_append(b, "[", 1);
        json_array_foreach(v, i, x) {
            if (!rc && i)
                rc = rn_buf_append(b, ", ", 2);
            if (!rc)
                rc = put(b, x, 1, depth + 1);
            if (rc)
                return rc;
        }
        return rc ? rc : rn_buf_append(b, "]", 1);
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        rc = rn_buf_append(b, "{", 1);
        /* jansson iterates in insertion order, as a dict from json.loads. */
        json_object_foreach((json_t *)v, k, x) {
            if (!rc && !first)
                rc = rn_buf_append(b, ", ", 2);
            first = 0;
            if (!rc)
                rc = put_repr_string(b, k, strlen(k));
            if (!rc)
                rc = rn_buf_append(b, ": ", 2);
            if (!rc)
                rc = put(b, x, 1, depth + 1);
            if (rc)
                return rc;
        }
        return rc ? rc : rn_buf_append(b, "}", 1);
    }
    }
    return rn_error_set(RN_EINVAL, "not a JSON value");
}

char *rn_py_str(const json_t *v)
{
    rn_buf b = {0};
    int rc = v ? put(&b, v, 0, 0) : rn_error_set(RN_EINVAL, "no value");
    if (!rc && !b.data)
        rc = rn_buf_append(&b, "", 0); /* an empty top-level string */
    if (rc) {
        if (rc == RN_ENOMEM)
            rn_error_set(RN_ENOMEM, "out of memory");
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}
