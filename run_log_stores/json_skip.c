/* Skipping JSON values without building them (see json_skip.h). */
#include "config.h"

#include <string.h>

#include "json_skip.h"

/* Sixteen bytes at a time where the compiler offers SSE2 (every x86-64):
 * a run log is half indentation, and most of the rest short strings, so a
 * byte at a time was most of what reading a large one cost. */
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define SKIP_SSE2 1
#endif

#define MAX_DEPTH 1000

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

const char *rn_json_skip_ws(const char *p, const char *end)
{
    if (p < end && !is_ws(*p))
        return p;
#ifdef SKIP_SSE2
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                  tab = _mm_set1_epi8('\t');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, nl)),
                                  _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, tab)));
        unsigned other = ~(unsigned)_mm_movemask_epi8(ws) & 0xFFFFu;
        if (other)
            return p + __builtin_ctz(other);
        p += 16;
    }
#endif
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Past the bytes of a string that need no look: printable ASCII other
 * than the quote and the backslash. */
static const char *skip_plain(const char *p, const char *end)
{
#ifdef SKIP_SSE2
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed: below 0x20 and from 0x80 up are both "less than" 0x20. */
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                 _mm_cmpeq_epi8(x, bslash)),
                                    _mm_cmplt_epi8(x, space));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
           (unsigned char)*p < 0x80)
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
        p = skip_plain(p, end);
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
