/* UTF-8 decoding shared by the Python-compatible text writers
 * (json_py.c: json.dumps, py_str.c: str()/repr()). */
#ifndef RN_UTF8_H
#define RN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence at `s` (n bytes available) into *cp; returns
 * its length, or 0 when malformed (overlong, surrogate, beyond U+10FFFF,
 * truncated).  jansson holds only valid UTF-8, so malformed input means a
 * caller built a string with a raw byte API; callers escape such bytes one
 * by one. */
static inline size_t rn_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t min;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    if (c < 0xe0) { len = 2; *cp = c & 0x1f; min = 0x80; }
    else if (c < 0xf0) { len = 3; *cp = c & 0x0f; min = 0x800; }
    else { len = 4; *cp = c & 0x07; min = 0x10000; }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

#endif
