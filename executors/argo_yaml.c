/*
 * JSON -> block-style YAML for Argo manifests.  Strings are always
 * double-quoted with JSON's escapes (valid YAML double-quoted scalars),
 * which makes the output unambiguous: Argo's schema wants "1" and "true"
 * as strings, and a string never turns into a number or a boolean.
 * Output depends only on the document (jansson keeps insertion order).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "argo_yaml.h"

static int pad(rn_buf *b, int n)
{
    static const char spaces[] = "                                                                ";
    while (n > 0) {
        int k = n > 64 ? 64 : n;
        if (rn_buf_append(b, spaces, (size_t)k) < 0)
            return RN_ENOMEM;
        n -= k;
    }
    return 0;
}

static int quoted(rn_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char esc[8];
    size_t start = 0;
    if (rn_buf_append(b, "\"", 1) < 0)
        return RN_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t rl = 2;
        switch (c) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\t': rep = "\\t"; break;
        case '\r': rep = "\\r"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                rep = esc;
                rl = 6;
            }
        }
        if (!rep)
            continue;
        if (rn_buf_append(b, s + start, i - start) < 0 || rn_buf_append(b, rep, rl) < 0)
            return RN_ENOMEM;
        start = i + 1;
    }
    if (rn_buf_append(b, s + start, len - start) < 0 || rn_buf_append(b, "\"", 1) < 0)
        return RN_ENOMEM;
    return 0;
}

/* A key YAML reads back as the same string without quotes. */
static int plain_key(const char *k)
{
    static const char *const words[] = {"true", "false", "null", "yes", "no", "on", "off",
                                         "y", "n", "True", "False", "Null", "NULL", "TRUE",
                                         "FALSE", "Yes", "No", "On", "Off", "YES", "NO", "ON",
                                         "OFF", "Y", "N", "~", NULL};
    if (!(*k >= 'a' && *k <= 'z') && !(*k >= 'A' && *k <= 'Z') && *k != '_')
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '/'))
            return 0;
    for (int i = 0; words[i]; i++)
        if (strcmp(k, words[i]) == 0)
            return 0;
    return 1;
}

static int scalar(rn_buf *b, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return quoted(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
        break;
    case JSON_TRUE: strcpy(num, "true"); break;
    case JSON_FALSE: strcpy(num, "false"); break;
    case JSON_OBJECT: strcpy(num, "{}"); break;
    case JSON_ARRAY: strcpy(num, "[]"); break;
    default: strcpy(num, "null"); break;
    }
    return rn_buf_append(b, num, strlen(num));
}

static int is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

static int members(rn_buf *b, const json_t *v, int indent, int first_inline);

/* What follows "key:" or "-": a scalar on the same line, or a block. */
static int after(rn_buf *b, const json_t *x, int indent, int dash)
{
    if (!is_block(x)) {
        if (rn_buf_append(b, " ", 1) < 0 || scalar(b, x) < 0 || rn_buf_append(b, "\n", 1) < 0)
            return RN_ENOMEM;
        return 0;
    }
    if (dash)
        return rn_buf_append(b, " ", 1) < 0 ? RN_ENOMEM : members(b, x, indent + 2, 1);
    return rn_buf_append(b, "\n", 1) < 0 ? RN_ENOMEM : members(b, x, indent + 2, 0);
}

static int members(rn_buf *b, const json_t *v, int indent, int first_inline)
{
    int first = 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!(first && first_inline) && pad(b, indent) < 0)
                return RN_ENOMEM;
            first = 0;
            int rc = plain_key(k) ? rn_buf_append(b, k, strlen(k)) : quoted(b, k, strlen(k));
            if (rc < 0 || rn_buf_append(b, ":", 1) < 0 || after(b, x, indent, 0) < 0)
                return RN_ENOMEM;
        }
        return 0;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!(first && first_inline) && pad(b, indent) < 0)
            return RN_ENOMEM;
        first = 0;
        if (rn_buf_append(b, "-", 1) < 0 || after(b, x, indent, 1) < 0)
            return RN_ENOMEM;
    }
    return 0;
}

int rn_argo_yaml_emit(rn_buf *out, const json_t *doc)
{
    if (!is_block(doc))
        return scalar(out, doc) < 0 || rn_buf_append(out, "\n", 1) < 0 ? RN_ENOMEM : 0;
    return members(out, doc, 0, 0) < 0 ? rn_error_set(RN_ENOMEM, "out of memory") : 0;
}
