/* The runnable command: one file per subcommand. */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <jansson.h>

#include "diag.h"

/* Exit codes (DESIGN §4). */
enum { RN_EXIT_OK = 0, RN_EXIT_FAILED = 1, RN_EXIT_USAGE = 2 };

int rn_cmd_execute(int argc, char **argv);
int rn_cmd_validate(int argc, char **argv);
int rn_cmd_plugins(int argc, char **argv);
int rn_cmd_visualize(int argc, char **argv);
int rn_cmd_retry(int argc, char **argv);
int rn_cmd_runs_list(int argc, char **argv);
int rn_cmd_execute_single_node(int argc, char **argv);
int rn_cmd_fan(int argc, char **argv);
int rn_cmd_runs_show(int argc, char **argv);
int rn_cmd_runs_logs(int argc, char **argv);
int rn_cmd_timeline(int argc, char **argv);
/* `dot -Tsvg` of a DOT text to standard output (vis_svg.c): RN_EXIT_OK,
 * RN_EXIT_USAGE when Graphviz is not installed, RN_EXIT_FAILED when dot
 * failed; says why on standard error. */
struct rn_buf;
int rn_cli_dot_to_svg(const struct rn_buf *dot);

struct rn_run_options;
/* Prepare, run and report a run (execute, retry): the exit status. */
int rn_cli_run(const struct rn_run_options *opts, int quiet);
/* Back the heap with huge pages where it grows large (heap.c); first
 * thing in main. */
void rn_cli_heap_setup(void);
/* Make SIGINT/SIGTERM stop the run in progress cleanly. */
void rn_cli_catch_stop_signals(void);

/* "runnable: error: FILE:LINE:COL: message" for every diagnostic. */
void rn_cli_print_diag(const rn_diag *d);
/* "runnable: warning: FILE:LINE:COL: message" for every item. */
void rn_cli_print_warnings(const rn_diag *d);
/* Print a usage error and return RN_EXIT_USAGE. */
int rn_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Options shared by subcommands, given getopt_long's `c` after the
 * command's own cases: -f/--file (into *file), -c/--config, --log-level and --timeout
 * (into `o`, which may be NULL when the command has neither),
 * --log-level, --plugin-path, --help (prints `help`), and getopt's
 * "needs a value"/"unknown option".  Returns RN_CLI_HANDLED to go on, or
 * the exit status the command must return now. */
#define RN_CLI_HANDLED (-1)
int rn_cli_option(const char *cmd, int c, char **argv, const char *help, const char **file,
                  struct rn_run_options *o);
/* After the options: the PIPELINE.yaml argument unless -f gave it, and
 * nothing more.  RN_CLI_HANDLED, or the exit status to return. */
int rn_cli_pipeline_arg(const char *cmd, int argc, char **argv, const char **file);
/* runnable's log levels (any case) as Python logging's numbers: DEBUG 10
 * .. CRITICAL 50; -1 if not one of them. */
int rn_cli_log_level(const char *level);

/* rn_engine_prepare with the CLI's reporting: configuration warnings,
 * every diagnostic (with RN_CLI_COUNT in flags, how many there were) or the
 * hard error.  RN_EXIT_OK with *e ready; else the exit status
 * (RN_EXIT_USAGE for bad input, `hard_code` for other failures) with *e
 * freed and NULL. */
enum { RN_CLI_COUNT = 1 };
struct rn_engine;
int rn_cli_prepare(const struct rn_run_options *o, int flags, int hard_code,
                   struct rn_engine **e);
/* The same for node `node_step` of a run (rn_engine_prepare_node: no
 * executor, only the top-level step holding the node is read). */
int rn_cli_prepare_node(const struct rn_run_options *o, const char *node_step, int flags,
                        int hard_code, struct rn_engine **e);

/* The run-log store `config_file` names (NULL: the embedded default),
 * opened without a pipeline (store.c).  RN_EXIT_OK, or RN_EXIT_USAGE after
 * printing why.  The caller closes *store and frees *conf either way. */
struct rn_config;
struct rn_provider;
int rn_cli_open_store(const char *config_file, struct rn_config **conf,
                      struct rn_provider **store);
/* A run's log from the store: RN_EXIT_OK, or RN_EXIT_USAGE after printing
 * that there is no such run (and how to list the runs). */
int rn_cli_get_run(const struct rn_provider *store, const char *run_id, json_t **doc);

#endif
