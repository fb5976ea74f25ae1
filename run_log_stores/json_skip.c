/* Skipping JSON values without building them (see json_skip.h). */
#include "config.h"

#include <string.h>

#include "json_skip.h"

#define MAX_DEPTH 1000

const char *rn_json_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

const char *rn_json_skip_string(const char *p, const char *end, int *escaped, rn_jskip *why)
{
    int esc = 0;
    p++; /* the opening quote */
    for (;;) {
        /* The common case, plain bytes, in a tight loop. */
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
               (unsigned char)*p < 0x80)
            p++;
        if (p >= end || (unsigned char)*p < 0x20) {
            *why = RN_JSKIP_BAD;
            return NULL;
        }
        if ((unsigned char)*p >= 0x80) {
            *why = RN_JSKIP_NONASCII;
            return NULL;
        }
        if (*p == '"')
            break;
        /* A backslash and what it escapes. */
        esc = 1;
        if (++p >= end) {
            *why = RN_JSKIP_BAD;
            return NULL;
        }
        if (*p == 'u') {
            if (end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4])) {
                *why = RN_JSKIP_BAD;
                return NULL;
            }
            p += 5;
        } else if (strchr("\"\\/bfnrt", *p) && *p) {
            p++;
        } else {
            *why = RN_JSKIP_BAD;
            return NULL;
        }
    }
    if (escaped)
        *escaped = esc;
    return p + 1;
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *skip_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* A number, or -Infinity. */
static const char *skip_number(const char *p, const char *end)
{
    if (*p == '-' && ++p < end && *p == 'I')
        return skip_word(p, end, "Infinity");
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        p = skip_digits(p, end);
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        const char *q = skip_digits(++p, end);
        if (q == p)
            return NULL;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        const char *q = skip_digits(p, end);
        if (q == p)
            return NULL;
        p = q;
    }
    return p;
}

/* One value that is not an array or object. */
static const char *skip_scalar(const char *p, const char *end, rn_jskip *why)
{
    const char *q;
    switch (*p) {
    case '"':
        return rn_json_skip_string(p, end, NULL, why);
    case 't':
        q = skip_word(p, end, "true");
        break;
    case 'f':
        q = skip_word(p, end, "false");
        break;
    case 'n':
        q = skip_word(p, end, "null");
        break;
    case 'N':
        q = skip_word(p, end, "NaN");
        break;
    case 'I':
        q = skip_word(p, end, "Infinity");
        break;
    default:
        q = skip_number(p, end);
    }
    if (!q)
        *why = RN_JSKIP_BAD;
    return q;
}

/*
 * Iterative, with the open brackets on a stack of bits (1: an object), so
 * a hostile file cannot exhaust the C stack.  In an object, a key and its
 * colon are read before the value.
 */
const char *rn_json_skip_value(const char *p, const char *end, rn_jskip *why)
{
    unsigned char stack[MAX_DEPTH / 8 + 1];
    int depth = 0;
    *why = RN_JSKIP_BAD;
    for (;;) {
        /* A value at p. */
        if (p >= end)
            return NULL;
        if (*p == '{' || *p == '[') {
            if (depth >= MAX_DEPTH)
                return NULL;
            int obj = *p == '{';
            if (obj)
                stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
            else
                stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            depth++;
            p = rn_json_skip_ws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                depth--;
                p++;
            } else if (obj) {
                if (p >= end || *p != '"' || !(p = rn_json_skip_string(p, end, NULL, why)))
                    return NULL;
                p = rn_json_skip_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = rn_json_skip_ws(p + 1, end);
                continue;
            } else {
                continue;
            }
        } else if (!(p = skip_scalar(p, end, why))) {
            return NULL;
        }
        /* After a value: close brackets, or a comma and the next value. */
        for (;;) {
            if (depth == 0) {
                *why = RN_JSKIP_OK;
                return p;
            }
            int obj = (stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            p = rn_json_skip_ws(p, end);
            if (p >= end)
                return NULL;
            if (*p == (obj ? '}' : ']')) {
                depth--;
                p++;
                continue;
            }
            if (*p != ',')
                return NULL;
            p = rn_json_skip_ws(p + 1, end);
            if (obj) {
                if (p >= end || *p != '"' || !(p = rn_json_skip_string(p, end, NULL, why)))
                    return NULL;
                *why = RN_JSKIP_BAD;
                p = rn_json_skip_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = rn_json_skip_ws(p + 1, end);
            }
            break;
        }
    }
}
