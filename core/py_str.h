/* Python's str() of a JSON value, as runnable prints map items into branch
 * names and compares conditional values with branch keys. */
#ifndef RN_PY_STR_H
#define RN_PY_STR_H

#include <jansson.h>

/* str(json.loads(text of v)): strings raw, True/False/None, numbers as
 * repr() writes them, lists and dicts as Python's repr (dicts in insertion
 * order).  malloc'd; NULL (with rn_error_last()) when out of memory or
 * nested too deeply. */
char *rn_py_str(const json_t *v);

#endif
