/* `runnable execute --dry-run`: the steps a run would take, in order,
 * described without running anything (docs/dry-run.md). */
#ifndef RN_DRYRUN_H
#define RN_DRYRUN_H

#include <jansson.h>

#include "pipeline.h"
#include "runnable/plugin.h"

/* Append to `out` one line per step the local executor would run on the
 * success path of `p`, in order: the resolved internal name, indented by
 * nesting depth, then the step's type.  Notes in parentheses say where a
 * failure would go, what is only known at run time, and what is certain
 * to fail.  `params` are the initial root parameters (name -> {kind,
 * value}; NULL for none): a map's items and a conditional's choice are
 * resolved from them unless an earlier step may change them.  Returns 0,
 * RN_ENOMEM, or RN_EINVAL for a graph with a cycle (never for a pipeline
 * that rn_pipeline_load accepted).  On error `out` may hold part of the
 * plan; the caller frees it either way. */
int rn_dry_run(rn_buf *out, const rn_pipeline *p, const json_t *params);

#endif
