/* Combining the values one returned name took across map iterations. */
#ifndef RN_REDUCE_H
#define RN_REDUCE_H

#include <jansson.h>

/* `values` is a JSON array in iteration order; *out a new reference.
 * reducer NULL or "": the list itself.  Named: first, last, min, max,
 * sum, concat.  Anything else is runnable's Python reducer (a lambda
 * source or a dotted function path), called as f(*values) in a child
 * Python ($RUNNABLE_PYTHON, else python3 on PATH).  RN_EINVAL for values
 * a reducer cannot combine or a failing Python reducer, RN_EUNSUPPORTED
 * when Python is needed and missing. */
int rn_reduce(const char *reducer, const json_t *values, json_t **out);

#endif
