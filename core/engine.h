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
    char *output_file;             /* rn_run_options v5, or NULL */
    char *parameters_file;
    json_t *runlog;                /* the run log in play: finished branches
                                      keep only their own fields here, their
                                      steps are in the store */
    json_t *code_identity;         /* git identity, NULL outside a repository */
    int identity_known;            /* code_identity has been looked up */
    int store_deferred;            /* the store batches puts until flush */
    char *retry_indicator;
    double t_start;
    int steps_total, steps_failed;
    int created;                   /* run log exists in the store */
    json_t *missing_tasks;         /* command_types without a provider */
    json_t *initial_params;        /* root scope before the run starts */
    double default_timeout;        /* --timeout: attempts without their own */
    int interrupted_by;            /* signal that stopped the run, or 0 */
    int retrying;                  /* re-running a stored run in place */
    json_t *retry_doc;             /* that run's log as stored */
    rn_event_fn on_event;          /* progress subscriber (events.c) */
    void *event_data;
    double tick_seconds;
    int log_level;
    int leaves_done, leaves_known; /* progress counts (leaf steps) */
    int leaves_estimate;           /* leaves the run should reach (events.c) */
    char *first_failed;            /* internal name of the first leaf that
                                      failed (history.c), or NULL */
    char started[40];              /* timestamp of the run's start */
    /* the node protocol (node.c): run this one node, then stop */
    int node_mode;                 /* prepared for the node protocol */
    rn_node *single_node;
    struct rn_scope *single_scope; /* its graph's scope, parents linked */
    int single_ok;                 /* its outcome */
    /* tasks in processes of their own (remote.c), from rn_traverse_opts v4 */
    int (*node_launch)(void *, const rn_node_job *, rn_launch *);
    void *node_data;
    /* ... or as batch jobs (rn_traverse_opts v5; sched.c polls them) */
    int (*node_submit)(void *, const rn_node_job *, const char *, char **);
    /* ... some perhaps submitted before the traversal (v6) */
    int (*node_adopt)(void *, const rn_node_job *, char **);
};

/* Load config + pipeline and check everything (providers, task types);
 * every problem goes to diag.  Nothing is written. */
int rn_engine_prepare(const rn_run_options *opts, rn_diag *diag, rn_engine **out);
/* The same for one node of a run (the node protocol, node.c): the
 * executor is not opened. */
int rn_engine_prepare_node(const rn_run_options *opts, const char *node_step, rn_diag *diag,
                           rn_engine **out);
/* After a prepare for one node loaded only its top-level step: load and
 * check the whole pipeline (to make the run, or to end a graph).  0 when
 * it was whole already; RN_EINVAL naming the first problem found. */
int rn_engine_load_whole_pipeline(rn_engine *e);
/* Create the run log and run the pipeline through the executor. */
int rn_engine_execute(rn_engine *e, rn_run_summary *summary);
void rn_engine_free(rn_engine *e);
/* A new run log (PROCESSING, no steps) with `params` (stolen) as its
 * parameters and the run_config of this engine. */
json_t *rn_engine_new_runlog(rn_engine *e, json_t *params);

/* The node protocol (node.c, spec/cli.md §2.2-2.3): one node of a stored
 * run, as container and cluster executors run it.  `step` is the node's
 * static internal name ('%' for spaces), `iter` the iteration context
 * (runnable's --iter-variable JSON, or NULL).  mode NULL runs a leaf step
 * (one attempt); "out" prepares a composite (step and branch logs;
 * *fan_value gets the map's items / the conditional's branch key / the
 * parallel's branch keys as JSON text, malloc'd), "in" finishes it
 * (status, merged parameters).  The run log is created when missing.
 * 0 with *ok the node's outcome, or < 0 (RN_EINVAL: bad step name or
 * context, said in rn_error_last()). */
int rn_engine_run_node(rn_engine *e, const char *step, const char *iter, const char *mode,
                       int *ok, char **fan_value);

/* The run's code identity, looked up on first use: the scheduler asks
 * while the first task runs, so its cost (libgit2 starting up, reading the
 * repository) overlaps the task instead of delaying it.  Borrowed; NULL
 * outside a git repository. */
json_t *rn_engine_code_identity(rn_engine *e);

/* Tell the subscriber (if any) what happened; `ev` is completed with the
 * run id, elapsed time and progress counts (events.c). */
void rn_engine_emit(rn_engine *e, rn_event *ev);

/* Leaf steps graph `g` should run if all goes well, counting each map or
 * loop branch once and a conditional's largest branch (events.c). */
int rn_graph_leaf_estimate(const rn_graph *g);
int rn_node_leaf_estimate(const rn_node *n);

/* The provider of service `s` (RN_SVC_*): a node's process opens secrets
 * and the experiment tracker on first use (engine.c); NULL with the
 * error set (the configuration's file:line:col) when it cannot. */
rn_provider *rn_engine_service(rn_engine *e, int s);

/* Task provider for a command_type (opened on first use). */
int rn_engine_task(rn_engine *e, const char *command_type, rn_provider **out);

/* Run-log helpers (runlog.c). */
void rn_timestamp(char *out, size_t n);  /* Python str(datetime.now()) */
json_t *rn_param_new(const char *kind, json_t *value_stolen);
json_t *rn_step_log_new(const char *name, const char *internal_name, const char *step_type);
json_t *rn_attempt_new(int number, const char *start_time);

/* Where a graph's steps and parameters live in the run log.  Parameters
 * are layered: a branch sees its parent's parameters, but its own layer
 * (BranchLog.parameters) holds only what was set inside it, so a big
 * parameter is stored once and never copied into every branch. */
typedef struct rn_scope {
    char *branch_name;             /* NULL for the root graph (owned) */
    json_t *steps;                 /* borrowed: object of step logs */
    json_t *params;                /* this layer (owned reference) */
    struct rn_scope *parent;       /* enclosing scope, NULL at the root */
    json_t *branch_log;            /* borrowed: the BranchLog, or NULL */
    json_t *map_variables;         /* owned: iterate_as/index_as -> value */
} rn_scope;

/* A parameter as seen from `scope` (innermost layer first); borrowed. */
json_t *rn_scope_get(const rn_scope *scope, const char *name);
/* Every parameter visible from `scope`, inner layers winning; new object
 * sharing the values. */
json_t *rn_scope_view(const rn_scope *scope);

int rn_store_put_step(rn_engine *e, const json_t *step);
/* The whole run as stored (new reference in *doc).  Other processes write
 * it while this one reads (the node protocol): a file that changed under
 * the reader (RN_EIO) is read again, a few times (remote.c). */
int rn_store_read_run(rn_engine *e, json_t **doc);
/* 1 if the run-log store reads parts of a run (ops version 4). */
int rn_store_reads_parts(const rn_engine *e);
/* One part of the run: its head (name unused), a step or a branch by
 * internal name, each without children; retried like rn_store_read_run.
 * *out must be NULL or a reference the call may drop. */
enum { RN_PART_HEAD, RN_PART_STEP, RN_PART_BRANCH };
int rn_store_read_part(rn_engine *e, int what, const char *name, json_t **out);
/* Write what deferred puts left in the store's memory (no-op for stores
 * without batching). */
int rn_store_flush(rn_engine *e);
int rn_store_put_scope(rn_engine *e, const rn_scope *scope);
/* The node protocol's process, about to write its returns: the scope's
 * parameters as stored now (other processes of the scope wrote theirs
 * since this one read the run) replace what it read at its start. */
void rn_store_refresh_scope(rn_engine *e, rn_scope *scope);

/* One leaf step (task, stub, success, fail) and its attempts.  The
 * scheduler owns it; step.c runs the protocol around each attempt. */
typedef struct rn_leaf {
    struct rn_frame *frame;        /* graph run that holds the step */
    rn_node *node;
    char *internal_name;           /* resolved, owned */
    rn_scope *scope;               /* borrowed from the frame */
    json_t *step;                  /* borrowed: the StepLog */
    int attempt;                   /* number of the attempt in flight */
    int success;                   /* outcome of the last attempt */
    double timeout;                /* seconds per attempt, 0: none */
    int mock;                      /* test run: succeeds without running */
    int no_catalog;                /* test run: no catalog get/put */
    json_t *patched;               /* test run: the task's fields with the
                                      patch over them (owned), or NULL */
    json_t *patched_returns;       /* their returns as [{name, kind}] */
    /* the attempt in flight (step.c) */
    json_t *attempt_json, *gets, *puts, *secrets, *view;
    char *log_path;                /* where the task writes its output */
    char log_name[512];
    int log_fd;                    /* the output in memory, or -1 */
    int log_temporary, log_ok;
    rn_provider *task;
    rn_task_request req;
    char num[16];
    char msg[1024];
    /* the process (sched.c) */
    void *child;                   /* rn_child while running */
    int pidfd;
    double started, deadline, kill_at, wake_at;
    double first_started;          /* the first attempt (progress events) */
    int stop_signal;               /* why the scheduler ended it, or 0 */
    int timed_out;
    int remote;                    /* the attempt runs execute-single-node
                                      in a process of its own (remote.c) */
    char *job;                     /* ... as this batch job (owned), or NULL */
    int adopted;                   /* the job was submitted before the
                                      traversal (node_adopt): it may have
                                      ended already */
    int open_pending;              /* its PROCESSING is written only once
                                      the job is known not to be one
                                      submitted ahead (node_adopt) */
    json_t *job_record;            /* what the batch system said of it, for
                                      the attempt (owned), or NULL */
    struct rn_leaf *next;          /* ready queue / sleepers */
} rn_leaf;

/* What starting an attempt led to. */
enum { RN_ATTEMPT_SPAWNED = 1, RN_ATTEMPT_ENDED = 2, RN_ATTEMPT_SUBMITTED = 3 };

/* Create or reuse the step log and store it as PROCESSING. */
int rn_leaf_open(rn_engine *e, rn_leaf *l);
/* Start the next attempt: RN_ATTEMPT_ENDED when it ended without a process
 * (stubs, terminals, a failure before the task started), RN_ATTEMPT_SPAWNED
 * with l->child running, < 0 on a hard error. */
int rn_leaf_attempt_start(rn_engine *e, rn_leaf *l);
/* The attempt's process ended (`ex` NULL when none ran): collect, returns,
 * catalog put, execution log, attempt recorded.  Sets l->success. */
int rn_leaf_attempt_end(rn_engine *e, rn_leaf *l, const rn_task_exit *ex);
/* The step is over (no more attempts): final status stored. */
int rn_leaf_close(rn_engine *e, rn_leaf *l);
/* Free what an attempt holds (after end, or when abandoned). */
void rn_leaf_release(rn_leaf *l);

/* A step that ends without running: SKIPPED in a depends_on graph, or a
 * composite that fails before any branch.  Status and message stored. */
int rn_step_record(rn_engine *e, rn_node *node, const char *internal_name, rn_scope *scope,
                   const char *status, const char *message);

/* A task attempt in a process of its own (remote.c): start it
 * (RN_ATTEMPT_SPAWNED, or RN_ATTEMPT_ENDED when it could not start), and
 * when it ended read back what it recorded. */
int rn_remote_start(rn_engine *e, rn_leaf *l);
int rn_remote_end(rn_engine *e, rn_leaf *l, const rn_task_exit *ex);

/* The scheduler (sched.c): runs the root graph to its end. */
int rn_sched_run(rn_engine *e, const rn_traverse_opts *opts);

#endif
