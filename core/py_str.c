/*
 * Python's str() for JSON values.  Map branches are named after their
 * items (`map.<str(item)>`) and a conditional compares str(value) with its
 * branch keys, so this must match Python byte for byte for a run log to
 * line up with runnable's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_str.h"
#include "runnable/plugin.h"

/* repr() of a str: single quotes unless the text holds ' and no ". */
static void put_repr_string(rn_buf *b, const char *s, size_t n)
{
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    rn_buf_append(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '\\' || c == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = (char)c;
            rn_buf_append(b, esc, 2);
        } else if (c == '\n') {
            rn_buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            rn_buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            rn_buf_append(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            rn_buf_append(b, esc, 4);
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0xa0) {
            /* U+0080..U+00A0 are not printable for Python: \x80 .. \xa0 */
            snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)s[i + 1]);
            rn_buf_append(b, esc, 4);
            i++;
        } else {
            rn_buf_append(b, (const char *)&s[i], 1);
        }
    }
    rn_buf_append(b, &q, 1);
}

static void put(rn_buf *b, const json_t *v, int nested)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (nested)
            put_repr_string(b, json_string_value(v), json_string_length(v));
        else
            rn_buf_append(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_TRUE: rn_buf_append(b, "True", 4); break;
    case JSON_FALSE: rn_buf_append(b, "False", 5); break;
    case JSON_NULL: rn_buf_append(b, "None", 4); break;
    case JSON_INTEGER:
    case JSON_REAL: {
        /* json.dumps prints numbers as Python's repr does. */
        char *s = rn_json_dumps_py(v, 0);
        if (s)
            rn_buf_append(b, s, strlen(s));
        free(s);
        break;
    }
    case JSON_ARRAY: {
        rn_buf_append(b, "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i)
                rn_buf_append(b, ", ", 2);
            put(b, x, 1);
        }
        rn_buf_append(b, "]", 1);
        break;
    }
    case JSON_OBJECT: {
        rn_buf_append(b, "{", 1);
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (!first)
                rn_buf_append(b, ", ", 2);
            first = 0;
            put_repr_string(b, k, strlen(k));
            rn_buf_append(b, ": ", 2);
            put(b, x, 1);
        }
        rn_buf_append(b, "}", 1);
        break;
    }
    }
}

char *rn_py_str(const json_t *v)
{
    rn_buf b = {0};
    put(&b, v, 0);
    if (rn_buf_append(&b, "", 1) < 0) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}
