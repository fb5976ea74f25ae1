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
    json_t *returns;         /* [{name, kind}] kind filled with "json" */
    json_t *secrets;         /* [names] */
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
};

struct rn_graph {
    char *start_at;
    rn_node *start;
    char *description;       /* NULL when absent */
    char *internal_name;     /* "" for the root, else the static branch name */
    rn_node *parent;         /* composite holding this graph; NULL at root */
    size_t n_nodes;
    rn_node **nodes;         /* in file order; implicit success, fail last */
};

typedef struct rn_pipeline {
    char *file;              /* path as given */
    rn_graph *dag;
    json_t *dag_json;        /* run_config.dag (spec/run-log.md 5.2) */
    char dag_hash[41];       /* SHA-1 hex of the sorted-key dump of dag_json */
    json_t *document;        /* the whole YAML document as JSON */
} rn_pipeline;

/* Called for every task while validating: checks command_type and the
 * task's type-specific fields (normally through the task plugin).  Return
 * 0, or < 0 with rn_error_set() explaining; the loader adds a diagnostic
 * at the task's position. */
typedef int (*rn_task_check_fn)(const char *command_type, const json_t *task, void *data);

/* Load and validate.  Every problem found is added to `diag` (file, line,
 * column, what to do).  Returns 0, or RN_EINVAL when diag holds errors,
 * RN_ENOENT when the file cannot be read. */
int rn_pipeline_load(const char *path, rn_task_check_fn check, void *check_data,
                     rn_diag *diag, rn_pipeline **out);
void rn_pipeline_free(rn_pipeline *p);

/* Look a node up by its static internal name ("a.b.c"); NULL if absent. */
rn_node *rn_pipeline_find(const rn_pipeline *p, const char *internal_name);

/* libyaml -> jansson with YAML 1.2 scalar rules, anchors, aliases and merge
 * keys.  `positions` (if not NULL) receives an object mapping a JSON pointer
 * ("/dag/steps/a") to [line, col] for every mapping key and sequence item.
 * Syntax errors are added to diag. */
int rn_yaml_load_file(const char *path, json_t **out, json_t **positions, rn_diag *diag);
int rn_yaml_load_string(const char *text, size_t len, const char *name,
                        json_t **out, json_t **positions, rn_diag *diag);

#endif
