/* The engine's run state, shared by engine.c, step.c and traverse.c. */
#ifndef RN_ENGINE_H
#define RN_ENGINE_H

#include "runnable/runnable.h"
#include "conf.h"
#include "diag.h"
#include "loader.h"
#include "pipeline.h"

typedef struct rn_task_provider {
    char *command_type;
    rn_provider *provider;
} rn_task_provider;

struct rn_engine {
    rn_config *config;
    rn_pipeline *pipeline;
    rn_provider *svc[RN_SVC_COUNT];
    rn_task_provider *tasks;       /* opened on first use per command_type */
    size_t n_tasks;
    rn_plugin_env penv;
    char *work_dir;
    char run_id[128];
    char *tag;
    char *parameters_file;
    json_t *runlog;                /* authoritative in-memory run log */
    json_t *code_identity;         /* git identity, NULL outside a repository */
    char *retry_indicator;
    double t_start;
    int steps_total, steps_failed;
    int created;                   /* run log exists in the store */
    json_t *missing_tasks;
    json_t *initial_params;        /* root scope before the run starts */         /* command_types without a provider */
};

/* Load config + pipeline and check everything (providers, task types);
 * every problem goes to diag.  Nothing is written. */
int rn_engine_prepare(const rn_run_options *opts, rn_diag *diag, rn_engine **out);
/* Create the run log and run the pipeline through the executor. */
int rn_engine_execute(rn_engine *e, rn_run_summary *summary);
void rn_engine_free(rn_engine *e);

/* Task provider for a command_type (opened on first use). */
int rn_engine_task(rn_engine *e, const char *command_type, rn_provider **out);

/* Run-log helpers (runlog.c). */
void rn_timestamp(char *out, size_t n);  /* Python str(datetime.now()) */
json_t *rn_param_new(const char *kind, json_t *value_stolen);
json_t *rn_step_log_new(const char *name, const char *internal_name, const char *step_type);
json_t *rn_attempt_new(int number, const char *start_time);

/* Where a graph's steps and parameters live in the run log. */
typedef struct rn_scope {
    const char *branch_name;       /* NULL for the root graph */
    json_t *steps;                 /* borrowed: object of step logs */
    json_t *params;                /* borrowed: object of parameters */
    json_t *branch_log;            /* borrowed: the BranchLog, or NULL */
    json_t *map_variables;         /* borrowed: iterate_as -> item, or NULL */
} rn_scope;

int rn_store_put_step(rn_engine *e, const json_t *step);
int rn_store_put_scope(rn_engine *e, const rn_scope *scope);

/* Execute one leaf node (task, stub, success, fail) in scope; returns 1 for
 * SUCCESS, 0 for FAIL, < 0 for a hard error. */
int rn_step_execute_leaf(rn_engine *e, rn_node *node, const char *internal_name,
                         rn_scope *scope);
/* Record a step that cannot run (composites before their issue lands). */
int rn_step_record_unsupported(rn_engine *e, rn_node *node, const char *internal_name,
                               rn_scope *scope, const char *why);

#endif
