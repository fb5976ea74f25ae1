/* Combining the values one returned name took across map iterations. */
#ifndef RN_REDUCE_H
#define RN_REDUCE_H

#include <jansson.h>

/*
 * `values` is a JSON array in iteration order (borrowed); *out a new
 * reference.  reducer NULL or "": a new list of the same values.  Named:
 *   first, last   the first or last value; null for no values
 *   min, max      of numbers, or of texts (code point order); the first
 *                 of equal values; null for no values
 *   sum           of numbers; an integer while all are integers; 0 for none
 *   concat        lists into one list (one level), or texts into one
 *                 text; [] for no values
 * Anything else is runnable's Python reducer (a lambda source or a dotted
 * function path), called as f(*values) in a child Python: $RUNNABLE_PYTHON,
 * else python3 on PATH.  The reducer text is passed as an argument, never
 * through a shell.
 * Errors: RN_EINVAL for values a named reducer cannot combine (the message
 * names the items) or a failing Python reducer (with Python's last line of
 * error output); RN_EUNSUPPORTED when Python is needed and none is found;
 * RN_EIO when its process cannot be run; RN_ENOMEM.
 */
int rn_reduce(const char *reducer, const json_t *values, json_t **out);

#endif
