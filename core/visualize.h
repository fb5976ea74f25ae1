/* A pipeline's graph drawn for people: levelled text, Graphviz DOT or
 * Mermaid (docs/visualize.md shows each). */
#ifndef RN_VISUALIZE_H
#define RN_VISUALIZE_H

#include "pipeline.h"
#include "runnable/plugin.h"

typedef enum rn_vis_format {
    RN_VIS_TEXT,     /* steps by level, branches nested and indented */
    RN_VIS_DOT,      /* Graphviz `digraph`, composites as clusters */
    RN_VIS_MERMAID   /* Mermaid `flowchart TD`, composites as subgraphs */
} rn_vis_format;

/* "text", "dot" or "mermaid" -> *out.  Returns 0, or RN_EINVAL (message
 * names the accepted formats). */
int rn_vis_format_parse(rn_vis_format *out, const char *name);

/* Append the drawing of every graph of `p` (branches nested, any depth) to
 * `out`.  Returns 0, RN_ENOMEM, or RN_EINVAL when a graph has a cycle
 * (never for a pipeline that rn_pipeline_load accepted).  On error `out`
 * may hold part of the drawing; the caller frees it either way. */
int rn_visualize(rn_buf *out, const rn_pipeline *p, rn_vis_format fmt);

#endif
