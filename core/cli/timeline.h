/* runnable timeline: a run log flattened into rows on one time axis, which
 * the text, HTML and Chrome-trace writers draw (docs/timeline.md). */
#ifndef RN_CLI_TIMELINE_H
#define RN_CLI_TIMELINE_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

typedef enum rn_tl_kind {
    RN_TL_ATTEMPT,   /* one attempt of a leaf step (task, stub, success, fail) */
    RN_TL_GROUP      /* a composite step: spans its descendants' attempts */
} rn_tl_kind;

typedef struct rn_tl_row {
    rn_tl_kind kind;
    int depth;              /* nesting: 0 for root steps */
    const char *name;       /* internal name (borrowed from the run log) */
    const char *label;      /* `name` less its enclosing composite's name:
                               what an indented tree needs to show */
    const char *type;       /* step_type */
    const char *status;     /* attempt status; "RUNNING" for an open bar */
    const char *graph_key;  /* the step in run_config.dag: iteration segments
                               of map/loop branches as "*" (malloc'd) */
    int attempt;            /* attempt_number (1 for an open or group row) */
    int n_attempts;         /* attempts the step has (open one included) */
    int open;               /* still running: `end` is now */
    int estimated_start;    /* open, not yet in the log: start guessed from
                               the step before it */
    int64_t start, end;     /* microseconds from the run's first start; -1 for
                               a composite nothing of which ran */
    int lane;               /* a lane no overlapping row of its kind shares */
    const json_t *att;      /* the attempt (NULL for open and group rows) */
    size_t first_child, n_desc;  /* groups: rows after it that are inside it */
    size_t n_branches;      /* groups: how many branches (iterations) it has */
    size_t branch_idx;      /* which branch of the enclosing composite holds it */
} rn_tl_row;

typedef struct rn_tl {
    rn_tl_row *rows;
    size_t n, cap;
    size_t n_attempts;       /* RN_TL_ATTEMPT rows */
    int64_t t0_us;           /* epoch microseconds of the first start */
    int64_t span;            /* microseconds from t0 to the last end (>= 1) */
    int lanes;               /* of attempts */
    int group_lanes;         /* of composite groups */
    int running;             /* the run is still PROCESSING */
    const char *run_id, *status, *started;
    const json_t *doc;
} rn_tl;

/* Flatten `doc` (borrowed; must outlive `tl`) into rows in run log order:
 * a composite's group row, then its branches' rows, at any depth.
 * `now_us` (epoch microseconds) ends the open bars of a PROCESSING run.
 * 0, or -1 when out of memory. */
int rn_tl_build(rn_tl *tl, const char *run_id, const json_t *doc, int64_t now_us);
void rn_tl_free(rn_tl *tl);

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" in local time -> epoch microseconds;
 * -1 when empty or malformed. */
int64_t rn_tl_parse_time(const char *s);

/* "1.5 s", "120 ms", "2m05s": a duration for people. */
void rn_tl_fmt_us(char *out, size_t n, int64_t us);

/* The writers (timeline_text.c, timeline_chrome.c, timeline_html.c).
 * Text: the caller decides width and colour, since only it knows what the
 * output is connected to.  0, or -1 when out of memory or writing failed. */
typedef struct rn_tl_text_opts {
    int width;      /* columns of the whole line */
    int colour;     /* ANSI colours */
    int all;        /* every row: no folded iterations, success steps shown */
} rn_tl_text_opts;
int rn_tl_write_text(FILE *out, const rn_tl *tl, const rn_tl_text_opts *o);
int rn_tl_write_chrome(FILE *out, const rn_tl *tl);
int rn_tl_write_html(FILE *out, const rn_tl *tl);
/* The pipeline graph of run_config.dag as an inline <svg> (timeline_graph.c),
 * nodes coloured by what happened to their steps.  Appends to `out`. */
struct rn_buf;
int rn_tl_graph_svg(struct rn_buf *out, const rn_tl *tl);

/* Text for HTML/XML: & < > " ' escaped.  Appends to `out`. */
int rn_tl_xml_escape(struct rn_buf *out, const char *s);

#endif
