/*
 * runnable plugin SDK: the one header a provider is built against.
 *
 * A provider is a libtool module named "<kind>-<type>" (for example
 * "run-log-store-chunked-fs.so") that exports exactly one symbol, its
 * descriptor, declared with RN_PLUGIN_DESCRIPTOR().  The engine checks the
 * descriptor (magic, ABI, kind, type name, required operations) before it
 * calls any function of the plugin.
 *
 * Rules every vtable follows (SQLite VFS / libgit2 backend style):
 *   - it starts with a `version` field; fields are only ever appended;
 *     the engine checks `version` before calling an operation that a later
 *     version added;
 *   - functions return 0 or a negative RN_E* code and, on failure, set a
 *     message with rn_error_set();
 *   - `self` is the plugin's own state, made by create() and freed by
 *     destroy(); whoever allocates frees.
 *   - json_t follows jansson's reference rules: arguments are borrowed,
 *     out-parameters are new references the caller releases.
 *
 * Plugins link against librunnable (pkg-config runnable-plugin) for the
 * helper functions declared at the end of this header.
 */
#ifndef RUNNABLE_PLUGIN_H
#define RUNNABLE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

enum {
    RN_OK = 0,
    RN_EINVAL = -1,     /* bad input (pipeline, config, parameters) */
    RN_ENOENT = -2,     /* something looked up does not exist */
    RN_EEXIST = -3,     /* something to be created already exists */
    RN_EIO = -4,        /* a file or process operation failed */
    RN_ENOMEM = -5,
    RN_EPLUGIN = -6,    /* a plugin could not be loaded or is malformed */
    RN_EUNSUPPORTED = -7, /* the provider cannot do this */
    RN_EFAIL = -8,      /* a step or run failed (not an input error) */
    RN_EINTERRUPTED = -9 /* stopped by a signal */
};

/* Set the calling thread's last error message; returns `code`. */
int rn_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The calling thread's last error message ("" when none). */
const char *rn_error_last(void);
/* Name of an RN_E* code ("RN_EINVAL"). */
const char *rn_error_name(int code);

/* ------------------------------------------------------------------ */
/* Descriptor                                                          */
/* ------------------------------------------------------------------ */

#define RN_PLUGIN_MAGIC 0x524e504cu /* "RNPL" */
#define RN_ABI_MAJOR 1              /* bumped only on incompatible change */
#define RN_ABI_MINOR 0              /* bumped when something is appended */

typedef enum rn_plugin_kind {
    RN_KIND_EXECUTOR = 1,
    RN_KIND_RUN_LOG_STORE = 2,
    RN_KIND_CATALOG = 3,
    RN_KIND_SECRETS = 4,
    RN_KIND_EXPERIMENT_TRACKER = 5,
    RN_KIND_TASK = 6
} rn_plugin_kind;

typedef struct rn_plugin_descriptor {
    uint32_t magic;          /* RN_PLUGIN_MAGIC */
    uint16_t abi_major;      /* RN_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;      /* RN_ABI_MINOR the plugin was built with */
    int kind;                /* rn_plugin_kind */
    const char *type_name;   /* the `type:` value, e.g. "chunked-fs" */
    const char *version;     /* the provider's own version string */
    const char *summary;     /* one line for `runnable plugins` */
    /* Settings accepted under `config:`, NULL-terminated.  The engine
     * rejects any other key (with file, line and column) before create()
     * is called; keys starting with "x-" are always allowed.  NULL means
     * the provider takes no settings. */
    const char *const *config_keys;
    const void *ops;         /* the kind's vtable, e.g. rn_catalog_ops */
} rn_plugin_descriptor;

/*
 * Declares the descriptor of a module.  MODULE is the file name with every
 * non-alphanumeric character replaced by '_' (run_log_store_file_system):
 * the symbol gets libtool's "<module>_LTX_" prefix so the same source also
 * links into a static (dlpreopened) build.
 */
#define RN_PLUGIN_DESCRIPTOR(MODULE) \
    extern const rn_plugin_descriptor MODULE##_LTX_rn_plugin; \
    const rn_plugin_descriptor MODULE##_LTX_rn_plugin
/* The unprefixed symbol name the loader asks libltdl for. */
#define RN_PLUGIN_SYMBOL "rn_plugin"

/* What the engine tells a provider when it is created. */
typedef struct rn_plugin_env {
    unsigned version;          /* 1 */
    const char *config_file;   /* configuration file in use, or NULL */
    const char *work_dir;      /* the engine's working directory */
} rn_plugin_env;

/* Every vtable begins with these three members. */
#define RN_OPS_HEADER \
    unsigned version; \
    int (*create)(void **self, const rn_plugin_env *env, const json_t *config); \
    void (*destroy)(void *self)

/* ------------------------------------------------------------------ */
/* Kind: run-log-store                                                 */
/* ------------------------------------------------------------------ */

/*
 * The engine keeps the authoritative run log in memory and is its only
 * writer in a run; a store persists the changes it is handed.  Documents
 * and fragments are exactly those of the run log spec (RunLog, StepLog,
 * BranchLog).  A step or branch is placed by its internal name: one
 * segment = root step; otherwise its parent branch is the name minus the
 * last segment (steps) and its parent step likewise (branches).
 */
typedef struct rn_run_log_store_ops {
    RN_OPS_HEADER;
    /* 1 if several processes may write the same run at once. */
    int (*supports_parallel_writes)(void *self);
    /* Create a run; RN_EEXIST if a run with this id exists.  `run_log`
     * is a whole RunLog document (usually with no steps yet). */
    int (*create_run)(void *self, const char *run_id, const json_t *run_log);
    /* Read the whole document, branches reassembled; RN_ENOENT if absent. */
    int (*get_run)(void *self, const char *run_id, json_t **out_run_log);
    /* Replace the run-level fields (everything but `steps`) of a run. */
    int (*put_run_fields)(void *self, const char *run_id, const json_t *run_log);
    /* Insert or replace one StepLog (its `branches` are ignored: branches
     * are stored with put_branch). */
    int (*put_step)(void *self, const char *run_id, const json_t *step_log);
    /* Insert or replace one BranchLog's own fields (internal_name, status,
     * parameters); its `steps` are ignored (stored with put_step). */
    int (*put_branch)(void *self, const char *run_id, const json_t *branch_log);
    /* Make everything written so far durable as the store promises and
     * release per-run resources; called once when a run ends. */
    int (*close_run)(void *self, const char *run_id);
    /* version 2 (optional, both or neither): batched writes.  After
     * defer(self, run_id, 1) the put_* calls of that run may only change
     * the store's memory; flush() writes everything changed since the last
     * flush (what is on disk stays valid at every instant, as always).
     * The engine flushes before it starts a task and before it waits, so
     * nothing that finished is ever only in memory while a task runs. */
    int (*defer)(void *self, const char *run_id, int on);
    int (*flush)(void *self, const char *run_id);
    /* version 3 (optional, both or neither): run history (`runnable runs`).
     * put_summary keeps a small document describing the run (docs/runs.md:
     * run_id, status, tag, pipeline, started, ended, step counts...) where
     * list_runs can read it without the run log; the engine writes one when
     * a run starts and again when it ends.  list_runs calls `fn` once per
     * run in the store, in no particular order, with its summary, or with
     * NULL for a run that has none (written by another engine: the caller
     * reads that run log instead).  A non-zero return of `fn` stops the
     * listing and is returned. */
    int (*put_summary)(void *self, const char *run_id, const json_t *summary);
    int (*list_runs)(void *self,
                     int (*fn)(const char *run_id, const json_t *summary, void *data),
                     void *data);
    /* version 4 (optional, all three or none): parts of a run, read
     * without the rest.  A process that runs one node of a stored run
     * (execute-single-node: a container, a pod, a Slurm job) needs the
     * run's own fields, the logs of the composites and branches that
     * enclose its node and its node's log; reading the whole document
     * would make every such process pay for the size of the run.
     * get_run_head: the RunLog without its steps ("steps": {}) and
     * without run_config (written once when the run is created, spec
     * run-log.md 5.1, and by far the largest field of a large pipeline's
     * run); a store with these operations keeps the stored run_config when
     * put_run_fields is given a RunLog without one.
     * get_step: one StepLog by internal name, with "branches": {}.
     * get_branch: one BranchLog by internal name, with "steps": {}.
     * RN_ENOENT when the run, step or branch does not exist.  Each is a
     * new reference. */
    int (*get_run_head)(void *self, const char *run_id, json_t **out_run_log);
    int (*get_step)(void *self, const char *run_id, const char *internal_name,
                    json_t **out_step_log);
    int (*get_branch)(void *self, const char *run_id, const char *internal_name,
                      json_t **out_branch_log);
} rn_run_log_store_ops;

#define RN_RUN_LOG_STORE_OPS_VERSION 4

/* ------------------------------------------------------------------ */
/* Kind: catalog                                                       */
/* ------------------------------------------------------------------ */

/*
 * Entries appended to `entries` are DataCatalog objects:
 * {name, data_hash, catalog_relative_path, catalog_handler_location, stage}.
 */
typedef struct rn_catalog_ops {
    RN_OPS_HEADER;
    /* Copy files matching `pattern` from the run's catalog into the
     * compute data folder.  No match: RN_ENOENT. */
    int (*get)(void *self, const char *run_id, const char *pattern, json_t *entries);
    /* Record (and with store_copy, copy) files of the compute data folder
     * matching `pattern`.  No match: RN_ENOENT unless allow_missing. */
    int (*put)(void *self, const char *run_id, const char *pattern,
               int allow_missing, int store_copy, json_t *entries);
    /* Store the file at `local_path` in the run's catalog as `name`
     * (execution logs, objects).  Not recorded in any step. */
    int (*put_file)(void *self, const char *run_id, const char *local_path, const char *name);
    /* Path of `name` inside the run's catalog if the provider keeps files
     * locally, else RN_EUNSUPPORTED.  *out_path is malloc'd: free() it. */
    int (*locate)(void *self, const char *run_id, const char *name, char **out_path);
} rn_catalog_ops;

#define RN_CATALOG_OPS_VERSION 1

/* ------------------------------------------------------------------ */
/* Kind: secrets                                                       */
/* ------------------------------------------------------------------ */

typedef struct rn_secrets_ops {
    RN_OPS_HEADER;
    /* *out_value is owned by the provider and stays valid until destroy.
     * Unknown name: RN_ENOENT, with a message that names the secret but
     * never a value. */
    int (*get)(void *self, const char *name, const char **out_value);
} rn_secrets_ops;

#define RN_SECRETS_OPS_VERSION 1

/* ------------------------------------------------------------------ */
/* Kind: experiment-tracker                                            */
/* ------------------------------------------------------------------ */

typedef struct rn_tracker_ops {
    RN_OPS_HEADER;
    int (*start_run)(void *self, const char *run_id, const json_t *parameters);
    /* `step` is the internal name; `value` any JSON value. */
    int (*log_metric)(void *self, const char *run_id, const char *step,
                      const char *name, const json_t *value);
    int (*end_run)(void *self, const char *run_id, const char *status);
} rn_tracker_ops;

#define RN_TRACKER_OPS_VERSION 1

/* ------------------------------------------------------------------ */
/* Kind: task (a command_type)                                         */
/* ------------------------------------------------------------------ */

/* A command the engine will spawn for a task: built by the task plugin
 * through the rn_launch_* functions, owned by the engine. */
typedef struct rn_launch rn_launch;

/* Everything a task plugin knows about the attempt it serves. */
typedef struct rn_task_request {
    unsigned version;              /* 1, or 2 with the fields below */
    const char *run_id;
    const char *internal_name;     /* resolved, e.g. "map_state.1.t" */
    const char *command_type;      /* "shell", "python", ... */
    const char *command;           /* as written (not trimmed) */
    const json_t *task;            /* the node's mapping as written */
    const json_t *returns;         /* [{name, kind}], kinds filled in */
    const json_t *parameters;      /* scope: name -> {kind, value} */
    const json_t *map_variables;   /* iterate_as name -> item value */
    const json_t *secrets;         /* name -> value (strings) */
    int attempt;                   /* 1-based */
    const char *work_dir;
    /* version 2 */
    void *engine_private;          /* owned by the engine, opaque: only
                                      passed back to rn_task_catalog_*();
                                      NULL when the attempt has no catalog
                                      (mocked runs) */
} rn_task_request;

/* How the attempt's process ended and what it left behind. */
typedef struct rn_task_exit {
    unsigned version;              /* 1 */
    int exited;                    /* 1: exit_code is valid */
    int exit_code;
    int signaled;                  /* 1: term_signal is valid */
    int term_signal;
    const char *result_data;       /* bytes the process wrote to its result
                                      descriptor (rn_launch_want_result) */
    size_t result_len;
    const char *log_path;          /* captured stdout+stderr */
} rn_task_exit;

/* Filled by the plugin's collect(). */
typedef struct rn_task_result {
    unsigned version;              /* 1 */
    int success;                   /* 1: attempt SUCCESS */
    json_t *returns;               /* object name -> {kind, value}, set by
                                      the plugin (new reference) */
    char message[1024];            /* attempt message, "" for none */
} rn_task_result;

typedef struct rn_task_ops {
    RN_OPS_HEADER;
    /* Check a task mapping at load time (command present and well-formed,
     * return kinds allowed, type-specific keys).  Errors name the field;
     * the engine adds the file position. */
    int (*validate)(void *self, const json_t *task);
    /* Describe the process that runs the attempt. */
    int (*prepare)(void *self, const rn_task_request *req, rn_launch *launch);
    /* Turn the finished process into a result. */
    int (*collect)(void *self, const rn_task_request *req,
                   const rn_task_exit *exit, rn_task_result *result);
} rn_task_ops;

#define RN_TASK_OPS_VERSION 1

/* The engine starts the child with the launch's argv and environment (the
 * engine's own environment is already in it), in its own process group,
 * stdin from /dev/null, stdout and stderr into the attempt's log. */
int rn_launch_add_arg(rn_launch *l, const char *arg);
/* Set (or replace) NAME=VALUE in the child's environment. */
int rn_launch_setenv(rn_launch *l, const char *name, const char *value);
int rn_launch_unsetenv(rn_launch *l, const char *name);
/* Give the child a private descriptor `fd` (>= 3) whose contents reach
 * collect() as result_data.  It is never logged. */
int rn_launch_want_result(rn_launch *l, int fd);

/* The run's catalog, for task plugins that keep files of their own there
 * (pickled objects, executed notebooks).  Valid only during prepare() and
 * collect() of a request with version >= 2; otherwise RN_EUNSUPPORTED.
 * `name` is a relative path inside the run's catalog folder.
 *
 * Store the file at `local_path` (the caller keeps and removes it) as
 * `name`.  Not recorded in the step's data_catalog. */
int rn_task_catalog_put(const rn_task_request *req, const char *name, const char *local_path);
/* Path of `name` inside the run's catalog when the provider keeps files
 * locally (the file may not exist); *out_path is malloc'd: free() it.
 * RN_EUNSUPPORTED when the provider cannot say. */
int rn_task_catalog_locate(const rn_task_request *req, const char *name, char **out_path);
/* Copy `name` from the run's catalog to `local_path`; RN_ENOENT when the
 * catalog has no such file. */
int rn_task_catalog_get(const rn_task_request *req, const char *name, const char *local_path);

/* "SIGKILL" for 9 (a number when the C library has no name for it), as the
 * messages of ended attempts say it; `out` has room for `n` bytes. */
void rn_signal_name(int sig, char *out, size_t n);

/* ------------------------------------------------------------------ */
/* Kind: executor                                                      */
/* ------------------------------------------------------------------ */

/* The run being executed; the executor drives it through rn_engine_*. */
typedef struct rn_engine rn_engine;

/* One task attempt for a process of its own (rn_traverse_opts.node_launch):
 * the arguments of `runnable execute-single-node` and what the executor
 * may need to place the process.  Everything borrowed for the call. */
typedef struct rn_node_job {
    unsigned version;          /* 1 */
    const char *run_id;
    const char *pipeline_file; /* absolute */
    const char *config_file;   /* absolute; NULL for the embedded default */
    const char *step;          /* static internal name, '%' for spaces */
    const char *iter_variable; /* runnable's --iter-variable JSON */
    const char *internal_name; /* resolved, e.g. "map_state.1.t" (for names) */
    const json_t *overrides;   /* the step's `overrides` mapping ({} none) */
    int attempt;               /* 1-based */
    double timeout;            /* seconds, 0: none (the engine also enforces it) */
    const char *work_dir;      /* the engine's working folder */
} rn_node_job;

/* What node_poll learnt about one submitted job (rn_traverse_opts v5). */
typedef struct rn_job_state {
    unsigned version;          /* 1, set by the engine */
    int done;                  /* 1: the job has ended (fields below valid) */
    int exit_code;             /* its batch script's exit status */
    int term_signal;           /* > 0: killed by this signal instead */
    char reason[256];          /* why it ended when it did not complete
                                  (CANCELLED, TIMEOUT, NODE_FAIL...), "" */
    json_t *record;            /* extra fields for the attempt, e.g.
                                  {"slurm": {...}}; a new reference the
                                  engine takes, or NULL */
} rn_job_state;

typedef struct rn_traverse_opts {
    unsigned version;      /* 1 to 6 (the fields below say which) */
    int enable_parallel;   /* run independent work concurrently */
    int max_parallel;      /* at most this many tasks at once (0: CPUs) */
    /* version 2 */
    double kill_grace;     /* seconds between SIGTERM and SIGKILL when a
                              task is stopped (0: 5 seconds) */
    /* version 3: test runs (runnable's `mocked` executor) */
    int mock;              /* tasks and stubs succeed without running,
                              no catalog I/O, step logs marked mock */
    const json_t *patches; /* short step name -> task fields: that step
                              runs for real with these fields over its own
                              (still no catalog I/O); borrowed */
    /* version 4: every task step runs in a process of its own that runs
     * `runnable execute-single-node` (docs/node-protocol.md): in a
     * container, on another machine...  The engine traverses the graph,
     * runs stubs, success/fail and composite steps itself, asks
     * node_launch to describe the process for each task attempt, starts
     * it, waits for it, then reads the attempt that process recorded from
     * the run-log store.  NULL: tasks run here, through their task plugin. */
    int (*node_launch)(void *node_data, const struct rn_node_job *job, rn_launch *launch);
    void *node_data;
    /* version 5: task attempts are jobs of a batch system (slurm), not
     * children of the engine.  When node_submit is set it is used instead
     * of node_launch (which may stay NULL); node_poll and node_cancel must
     * then be set too.  At most max_submitted attempts are outstanding
     * (0: max_parallel's rule); while any is, the scheduler calls
     * node_poll once every poll_interval seconds (0: 1 s) with all of
     * them, never once per job.
     *
     * node_submit: submit one attempt; `log_path` is where the engine
     * wants the job's own output (the job may write there or not).
     * *handle is malloc'd by the plugin and freed by the engine with
     * free(); it is what poll and cancel are given.  < 0 with
     * rn_error_set(): the attempt fails with that message.
     * node_poll: fill states[i] for handles[i] (n of them, borrowed);
     * states arrive zeroed with version set.  < 0: a transient error,
     * polled again next interval.
     * node_cancel: cancel these jobs (borrowed); their end is still
     * learnt through node_poll. */
    int (*node_submit)(void *node_data, const struct rn_node_job *job, const char *log_path,
                       char **handle);
    int (*node_poll)(void *node_data, const char *const *handles, size_t n,
                     struct rn_job_state *states);
    int (*node_cancel)(void *node_data, const char *const *handles, size_t n);
    double poll_interval;  /* seconds between polls, 0: 1 s */
    int max_submitted;     /* outstanding jobs at most, 0: as max_parallel */
    /* version 6: jobs submitted before the traversal (slurm's `submit:
     * dependencies`), which may run, and record their step, before the
     * engine reaches it.  With node_submit set, node_adopt is asked first
     * for every task attempt, before the engine writes anything of it:
     * 1 with *handle (malloc'd, as node_submit's): that job is the
     * attempt; the engine writes nothing of the step until the job has
     * ended (the job records its own step, perhaps already has), then
     * reads the attempt back as for any job.  0: no such job, node_submit
     * follows.  < 0 with rn_error_set(): the attempt fails with that
     * message.  NULL: never asked. */
    int (*node_adopt)(void *node_data, const struct rn_node_job *job, char **handle);
} rn_traverse_opts;

typedef struct rn_executor_ops {
    RN_OPS_HEADER;
    /* Run the whole pipeline; returns 0 when the run reached its end
     * (whatever its status), < 0 on a hard error. */
    int (*run_pipeline)(void *self, rn_engine *engine);
    /* version 2 (optional): check the settings against the loaded pipeline
     * before anything is written; < 0 with rn_error_set() explaining makes
     * it an input error.  1 says the executor only writes the run out for
     * another system (argo): the engine then creates no run log and calls
     * run_pipeline, whose output is the whole result ("RENDERED"). */
    int (*check)(void *self, const rn_engine *engine);
} rn_executor_ops;

#define RN_EXECUTOR_OPS_VERSION 2

/* Find the executable a child would run as `name`: a name with a '/' is
 * taken as it is; any other is searched on `path` (NULL: /bin:/usr/bin),
 * relative entries relative to `cwd` (NULL: the current directory).  `out`
 * has room for PATH_MAX bytes.  RN_ENOENT, with a message naming the PATH,
 * when there is none. */
int rn_find_program(const char *name, const char *path, const char *cwd, char *out);

/* Append `RUNNABLE execute-single-node RUN_ID PIPELINE STEP --iter-variable
 * JSON [--config FILE]` for `job` to a launch: the command every
 * process-per-step executor runs, wherever it runs it. */
int rn_launch_add_node_command(rn_launch *l, const char *runnable, const rn_node_job *job);

/* The traversal settings executors that use the engine's scheduler share:
 * enable_parallel, max_parallel, kill_grace, and the checks of
 * object_serialisation and overrides.  Fills `out` (version 4, no
 * node_launch); < 0 with rn_error_set() naming the bad setting. */
int rn_traverse_opts_parse(const json_t *config, rn_traverse_opts *out);

/* Traverse the pipeline in this process with the engine's scheduler. */
int rn_engine_traverse(rn_engine *engine, const rn_traverse_opts *opts);
const char *rn_engine_run_id(const rn_engine *engine);
/* The loaded pipeline as a JSON tree ({"dag": ...} as written). */
const json_t *rn_engine_pipeline(const rn_engine *engine);
/* 1 if a task or stub of the pipeline, at any depth, has this short name. */
int rn_engine_has_step(const rn_engine *engine, const char *name);
/* For executors that hand the run to another system (argo): what the
 * engine loaded, borrowed for the engine's lifetime.  The graph in the
 * normalised form of the run log's run_config.dag (spec/run-log.md 5.2:
 * node_type, next_node, on_failure, branches, ...); the pipeline and
 * configuration files as given (the configuration NULL for the embedded
 * default); the initial parameters as name -> {kind, value}. */
const json_t *rn_engine_dag(const rn_engine *engine);
const char *rn_engine_pipeline_file(const rn_engine *engine);
const char *rn_engine_config_file(const rn_engine *engine);
const json_t *rn_engine_parameters(const rn_engine *engine);
/* For executors that submit the top level of a pipeline ahead of the
 * traversal (slurm's `submit: dependencies`): the root graph as a new
 * object {"file": the pipeline file as given, "start_at": name or null,
 * "is_dag": true when its steps use depends_on, "retrying": true under
 * `runnable retry`, "steps": [{"name", "type" ("task", "stub", "success",
 * "fail", "parallel", "map", "conditional", "loop"), "line", "col" (1-based
 * position of the step's key, 0 when unknown), "next", "on_failure" (names
 * or null), "depends_on": [names]}, ...] in file order}. */
int rn_engine_root_steps(const rn_engine *engine, json_t **out);
/* The rn_node_job the engine would give node_submit for attempt `attempt`
 * of the root-graph task `name` (short name), handed to `fn` (borrowed for
 * the call); returns fn's result.  RN_ENOENT when the root graph has no
 * task of that name. */
int rn_engine_node_job(rn_engine *engine, const char *name, int attempt,
                       int (*fn)(const rn_node_job *job, void *data), void *data);
/* `runnable execute --output FILE` (rn_run_options version 5), or NULL:
 * where a rendering executor writes, instead of its own setting. */
const char *rn_engine_output_file(const rn_engine *engine);
/* A message for the user at `level` (10 debug, 20 info, 30 warning): an
 * RN_EVENT_LOG event for the run's subscriber (the CLI prints warnings as
 * `runnable: warning: ...`), formatted only when someone listens at that
 * level.  For what a provider cannot do as asked but need not refuse. */
void rn_engine_log(rn_engine *engine, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Helpers exported by librunnable for providers                       */
/* ------------------------------------------------------------------ */

/* JSON text as Python's json.dumps() prints it: separators ", " and
 * ": ", non-ASCII escaped, floats in repr() form.  Flags below.
 * Returns a malloc'd NUL-terminated string (free()), or NULL. */
#define RN_JSON_SORT_KEYS 0x1   /* sort_keys=True */
#define RN_JSON_INDENT4   0x2   /* indent=4 (separator "," at line ends) */
char *rn_json_dumps_py(const json_t *value, unsigned flags);
/* Append the same text to a growing buffer; returns 0 or RN_ENOMEM. */
typedef struct rn_buf {
    char *data;
    size_t len;
    size_t cap;
} rn_buf;
int rn_buf_append(rn_buf *b, const char *s, size_t n);
int rn_buf_printf(rn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rn_buf_free(rn_buf *b);
/* indent_level: starting indentation depth for RN_JSON_INDENT4 output. */
int rn_json_append_py(rn_buf *b, const json_t *value, unsigned flags, int indent_level);
/* Decode text the way Python's json.loads would (NaN/Infinity accepted,
 * surrounding whitespace allowed); NULL when it is not JSON. */
json_t *rn_json_loads_py(const char *text, size_t len);
/* Render a parameter value for a shell environment: strings raw, other
 * values as rn_json_dumps_py(). malloc'd. */
char *rn_json_render_env(const json_t *value);
/* Python's str() of a JSON value: strings raw, True/False/None, floats in
 * repr form, lists and dicts as Python's repr ({'k': [1, 'a']}): how
 * runnable shows a map item to a task and names its branch.  malloc'd;
 * NULL when out of memory. */
char *rn_py_str(const json_t *value);

/* SHA-256 of a file as lowercase hex (65 bytes with NUL), using runnable's
 * fingerprint for files of 1 GiB or more. */
int rn_sha256_file(const char *path, char out_hex[65]);
void rn_sha256_hex(const void *data, size_t len, char out_hex[65]);

/* Python-pathlib-style glob of `pattern` relative to `base_dir`: `*`, `?`,
 * `[...]`, `**` for any depth.  Calls `fn` with each matching *file*'s
 * path relative to base_dir, sorted.  Patterns that are absolute or
 * contain a ".." segment are rejected with RN_EINVAL. */
typedef int (*rn_glob_fn)(const char *rel_path, void *data);
int rn_glob(const char *base_dir, const char *pattern, rn_glob_fn fn, void *data);

/* mkdir -p; 0 if it exists. */
int rn_mkdir_p(const char *path, unsigned mode);
/* Write a whole file atomically (temporary file in the same folder, then
 * rename).  `fsync_it` also syncs the file and its folder. */
int rn_write_file_atomic(const char *path, const void *data, size_t len, int fsync_it);
/* Read a whole file; *out is malloc'd and NUL-terminated. */
int rn_read_file(const char *path, char **out, size_t *out_len);
/* Copy a file, creating the destination's folders. */
int rn_copy_file(const char *src, const char *dst);

/* Look up a setting in a provider's config with a type check; errors name
 * the key.  Missing keys give the default. */
int rn_config_string(const json_t *config, const char *key, const char *def, const char **out);
int rn_config_bool(const json_t *config, const char *key, int def, int *out);
int rn_config_int(const json_t *config, const char *key, long long def, long long *out);

#ifdef __cplusplus
}
#endif

#endif /* RUNNABLE_PLUGIN_H */
