/* The runnable command: one file per subcommand. */
#ifndef RN_CLI_H
#define RN_CLI_H

#include "diag.h"

/* Exit codes (DESIGN §4). */
enum { RN_EXIT_OK = 0, RN_EXIT_FAILED = 1, RN_EXIT_USAGE = 2 };

int rn_cmd_execute(int argc, char **argv);
int rn_cmd_validate(int argc, char **argv);
int rn_cmd_plugins(int argc, char **argv);
int rn_cmd_visualize(int argc, char **argv);
int rn_cmd_retry(int argc, char **argv);

/* Prepare, run and report a run (execute, retry): the exit status. */
struct rn_run_options;
int rn_cli_run(const struct rn_run_options *opts, int quiet);
/* Make SIGINT/SIGTERM stop the run in progress cleanly. */
void rn_cli_catch_stop_signals(void);

/* "runnable: error: FILE:LINE:COL: message" for every diagnostic. */
void rn_cli_print_diag(const rn_diag *d);
/* "runnable: warning: FILE:LINE:COL: message" for every item. */
void rn_cli_print_warnings(const rn_diag *d);
/* Print a usage error and return RN_EXIT_USAGE. */
int rn_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Accept runnable's log levels; 0 if valid. */
int rn_cli_check_log_level(const char *level);

#endif
