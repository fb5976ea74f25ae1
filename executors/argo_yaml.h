/* A small block-style YAML writer for the argo executor's manifests. */
#ifndef RN_ARGO_YAML_H
#define RN_ARGO_YAML_H

#include "runnable/plugin.h"

/* Append `doc` (an object) to `out` as block-style YAML: keys in insertion
 * order, every string double-quoted (so "1", "true", "null" or "a: b"
 * stay strings), numbers and booleans plain.  0 or RN_ENOMEM. */
int rn_argo_yaml_emit(rn_buf *out, const json_t *doc);

#endif
