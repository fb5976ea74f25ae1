/*
 * Finding where a JSON value ends without building it: what lets a
 * process that touches one step of a large run log find that step's
 * bytes (and every node's place in the file) at the speed of a byte scan,
 * instead of turning megabytes of text into a tree of values it never
 * reads (json_docfile.c, the fast load).
 *
 * The grammar is checked as Python's json.loads reads it (RFC 8259 plus
 * NaN, Infinity and -Infinity), so a file that passes is one a full parse
 * would accept.  Non-ASCII bytes are not checked as UTF-8 here: the scan
 * reports them and its caller takes the full parse instead (this
 * project's writers escape everything outside ASCII).
 *
 * Not exported from the plugins.
 */
#ifndef RN_JSON_SKIP_H
#define RN_JSON_SKIP_H

#include <stddef.h>

typedef enum rn_jskip {
    RN_JSKIP_OK = 0,
    RN_JSKIP_BAD = 1,      /* not JSON */
    RN_JSKIP_NONASCII = 2  /* a byte >= 0x80: check it with a real parser */
} rn_jskip;

/* Whitespace as JSON defines it, from p; returns the first other byte. */
const char *rn_json_skip_ws(const char *p, const char *end);

/* The value starting at p (no leading whitespace): returns the byte after
 * it, or NULL with *why set.  Nesting deeper than 1,000 levels is BAD. */
const char *rn_json_skip_value(const char *p, const char *end, rn_jskip *why);

/* A string starting at p (its opening quote): returns the byte after the
 * closing quote, or NULL with *why set.  *escaped (may be NULL) says
 * whether it holds a backslash, i.e. whether its bytes are its value. */
const char *rn_json_skip_string(const char *p, const char *end, int *escaped, rn_jskip *why);

#endif
