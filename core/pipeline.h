/* The pipeline model: YAML -> validated graph (spec/pipeline-format.md
 * Part 1 and Part 2 fields). */
#ifndef RN_PIPELINE_H
#define RN_PIPELINE_H

#include <jansson.h>
#include "diag.h"

typedef enum rn_node_type {
    RN_NODE_TASK, RN_NODE_STUB, RN_NODE_SUCCESS, RN_NODE_FAIL,
    RN_NODE_PARALLEL, RN_NODE_MAP, RN_NODE_CONDITIONAL, RN_NODE_LOOP
} rn_node_type;

const char *rn_node_type_name(rn_node_type t); /* "task", "stub", ... */

typedef struct rn_graph rn_graph;
typedef struct rn_node rn_node;

typedef struct rn_pos {
    int line, col;  /* 1-based position of the node's key in the file */
} rn_pos;

struct rn_node {
    char *name;              /* key in steps */
    char *internal_name;     /* static dotted name (placeholders unresolved) */
    rn_node_type type;
    rn_graph *graph;         /* the graph holding this node */
    size_t index;            /* position in graph->nodes */
    rn_pos pos;
    json_t *raw;             /* the node mapping as written (aliases expanded) */

    char *next;              /* NULL for success/fail */
    char *on_failure;        /* NULL when absent or "" */
    rn_node *next_node;      /* resolved targets (same graph) */
    rn_node *on_failure_node;
    json_t *overrides;       /* object, {} when absent */

    /* task and stub */
    char *command;           /* task only */
    char *command_type;      /* task only; "python" when absent */
    json_t *returns;         /* [{name, kind}] kind filled with "json";
                                [] on stubs, NULL on other types */
    json_t *secrets;         /* [names]; [] on stubs, NULL on other types */
    json_t *catalog;         /* {get: [], put: [], store_copy: bool} or NULL */
    int max_attempts;        /* 1 when absent */

    /* composites */
    size_t n_branches;       /* parallel, conditional */
    char **branch_keys;
    rn_graph **branches;
    rn_graph *branch;        /* map, loop */
    char *iterate_on, *iterate_as, *reducer;       /* map */
    char *parameter;         /* conditional */
    json_t *default_branch;  /* conditional `default`, NULL when absent */
    long long max_iterations;                      /* loop */
    char *break_on, *index_as;                     /* loop */

    /* Additions (not in runnable's YAML). */
    rn_graph *default_graph; /* conditional `default` built as a branch with
                                internal name "<P>.default"; NULL when absent */
    char **depends_on;       /* DAG graphs: names this step waits for */
    size_t n_depends_on;
    rn_node **depends_on_nodes;                    /* resolved, same order */
    int skip_on_error;       /* `skip_on_error: true`; 0 when absent */
    double timeout;          /* task/stub: seconds > 0; 0 when absent */
    json_t *retry;           /* task/stub: {delay, factor, max_delay, jitter}
                                as written (keys optional); NULL when absent */
};

struct rn_graph {
    char *start_at;
    rn_node *start;
    char *description;       /* NULL when absent */
    char *internal_name;     /* "" for the root, else the static branch name */
    rn_node *parent;         /* composite holding this graph; NULL at root */
    size_t n_nodes;
    rn_node **nodes;         /* in file order; implicit success, fail last
                                (an explicitly written success/fail keeps its
                                place, as in runnable) */

    /* Additions. */
    rn_pos pos;              /* the key holding this graph ("dag", branch key) */
    int is_dag;              /* some step uses depends_on: no step has next
                                or on_failure, start_at is optional */
    int stop_on_first_failure; /* `stop_on_first_failure`; 0 when absent */
    int partial;             /* holds only the step it was loaded for
                                (rn_pipeline_load_step): no edges, no start */
    void *name_index;        /* private to pipeline.c: name -> node */
};

typedef struct rn_pipeline {
    char *file;              /* path as given */
    rn_graph *dag;
    json_t *dag_json;        /* run_config.dag: use rn_pipeline_dag_json() */
    char dag_hash[41];       /* use rn_pipeline_dag_hash() */
    json_t *document;        /* the whole YAML document as JSON */
    int partial;             /* loaded for one top-level step only */
    int quick;               /* RN_PL_QUICK: nodes have no positions yet */
} rn_pipeline;

/* run_config.dag (spec/run-log.md 5.2) and the SHA-1 hex of its
 * sorted-key dump, made on first use: a process that runs one node of a
 * stored run needs neither, and for a large pipeline they are a good part
 * of its memory.  NULL / "" when out of memory (rn_error_last says). */
const json_t *rn_pipeline_dag_json(rn_pipeline *p);
const char *rn_pipeline_dag_hash(rn_pipeline *p);

/* Called for every task while validating: checks command_type and the
 * task's type-specific fields (normally through the task plugin).  `task`
 * is the node mapping as written (with type, next, ... and merge keys
 * applied).  Return 0, or < 0 with rn_error_set() explaining; the loader
 * adds a diagnostic at the task's command_type key (or the task's name). */
typedef int (*rn_task_check_fn)(const char *command_type, const json_t *task, void *data);

/* Load and validate.  Every problem found is added to `diag` (file, line,
 * column, what to do).  Returns 0, or RN_EINVAL when diag holds errors,
 * RN_ENOENT when the file cannot be read. */
int rn_pipeline_load(const char *path, rn_task_check_fn check, void *check_data,
                     rn_diag *diag, rn_pipeline **out);
/* For a process that runs one node: only top-level step `only_step` (the
 * first segment of the node's internal name) is read and checked, with all
 * it holds; p->partial says whether others were left out.  Such a
 * pipeline has no run_config.dag (rn_pipeline_dag_json fails): load the
 * whole file to make a run. */
int rn_pipeline_load_step(const char *path, const char *only_step, int flags,
                          rn_task_check_fn check, void *check_data, rn_diag *diag,
                          rn_pipeline **out);
/* flags: check without the file's positions.  Problems are found as
 * always, but reported without line and column, and nodes have none:
 * load again without it to report them (rn_pipeline_root_positions gives
 * the top level's nodes theirs). */
#define RN_PL_QUICK 1
/* The positions of the top-level graph's nodes after an RN_PL_QUICK load:
 * the file is read again for them.  0, or < 0 (rn_error_last). */
int rn_pipeline_root_positions(rn_pipeline *p);
/* The same from text in memory; `name` is used in diagnostics. */
int rn_pipeline_load_string(const char *text, size_t len, const char *name,
                            rn_task_check_fn check, void *check_data, rn_diag *diag,
                            rn_pipeline **out);
void rn_pipeline_free(rn_pipeline *p);

/* Look a node up by its static internal name ("a.b.c"); NULL if absent.
 * Branch segments are branch keys, "map_variable_placeholder",
 * "loop_variable_placeholder", or "default" for a conditional's default. */
rn_node *rn_pipeline_find(const rn_pipeline *p, const char *internal_name);
/* A node of one graph by its short name, in O(1); NULL if absent. */
rn_node *rn_graph_find(const rn_graph *g, const char *name);
/* The branch a conditional takes when its parameter reads `value` (Python
 * str() of the parameter): the branch with that key, else the `default`
 * branch; NULL when neither exists.  *key gets the branch's key. */
rn_graph *rn_conditional_choose(const rn_node *n, const char *value, const char **key);

/* run_config.dag for a validated graph (spec/run-log.md 5.2); new
 * reference, NULL when out of memory. */
json_t *rn_dag_serialise(const rn_graph *g);
/* SHA-1 hex of the sorted-key, Python-style dump of `dag`. */
int rn_dag_hash(const json_t *dag, char out_hex[41]);

/* libyaml -> jansson with YAML 1.2 scalar rules, anchors, aliases and merge
 * keys.  `positions` (if not NULL) receives an object mapping a JSON pointer
 * ("/dag/steps/a") to a position (rn_yaml_pos_get) for every mapping key and
 * sequence item ("" for the document itself).  A key that YAML 1.2 reads as
 * something other than a string (unquoted 1, true, null, 1.5) is kept as
 * written and its position names what it was read as ("int", "float",
 * "bool" or "null"), so a consumer needing a string can say "quote it".  Under an alias or merge key, positions are those of the
 * anchored text.  Syntax errors are added to diag.  Returns 0, RN_EINVAL
 * (diag explains), RN_ENOENT/RN_EIO (file), RN_ENOMEM. */
int rn_yaml_load_file(const char *path, json_t **out, json_t **positions, rn_diag *diag);
/* The same with only one step of the top-level graph, `only_step`, among
 * /dag/steps (NULL: all of them): the steps before it are skipped as
 * libyaml reads them, never built, and reading stops after its value
 * (what follows cannot change it).  *partial (may be NULL) says whether
 * anything was left out; a file where leaving steps out could change what
 * is kept (an anchor inside a skipped step, a merge key among the steps
 * before it) is loaded whole.  With `markers_only`, `positions` gets only
 * the keys YAML read as something other than text (what a check needs;
 * the thousands of others cost more than the document). */
int rn_yaml_load_step(const char *path, const char *only_step, int markers_only, json_t **out,
                      json_t **positions, rn_diag *diag, int *partial);

/* A position is one JSON integer (line, column and marker packed): a
 * pipeline of a thousand steps has thousands, and as [line, col] arrays
 * they took more memory than the document itself, which a process
 * running one node pays for in page faults.  rn_yaml_pos_get: 0 and the
 * fields (marker NULL for a plain key), or -1 when `pos` is not one. */
json_t *rn_yaml_pos_new(int line, int col, const char *marker);
int rn_yaml_pos_get(const json_t *pos, int *line, int *col, const char **marker);
int rn_yaml_load_string(const char *text, size_t len, const char *name,
                        json_t **out, json_t **positions, rn_diag *diag);

#endif
