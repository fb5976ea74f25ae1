/* The slurm executor's helpers (slurm_cmd.c): running Slurm's command-line
 * tools, which is all the executor uses of Slurm (no libslurm, so it
 * builds where Slurm is not installed). */
#ifndef RN_SLURM_H
#define RN_SLURM_H

#include <stddef.h>

#include "runnable/plugin.h"

/* Run argv[0] (searched on PATH) with argv, stdin from /dev/null, in a
 * process group of its own (a Ctrl-C meant for the engine must not kill the
 * scancel it runs in answer).  *out gets its stdout, *err its stderr
 * (both NUL-terminated, appended to the caller's buffers); *status its
 * exit status (-1: killed by a signal).  < 0 only when it could not run. */
int rn_slurm_run(char *const argv[], rn_buf *out, rn_buf *err, int *status);

/* Append `s` to b quoted for sh (single quotes). */
int rn_slurm_shell_quote(rn_buf *b, const char *s);

/* scancel these jobs (one command for all). */
int rn_slurm_cancel(const char *const *ids, size_t n);

/* `submit: dependencies` (slurm_ahead.c).  A submit function: sbatch for
 * `job` with its output to `log_path` and, when `dependency` is not NULL,
 * --dependency=DEPENDENCY --kill-on-invalid-dep=yes; *handle gets the id. */
typedef int (*rn_slurm_submit_fn)(void *x, const rn_node_job *job, const char *log_path,
                                  const char *dependency, char **handle);
typedef struct rn_slurm_ahead rn_slurm_ahead;
/* check(): the top level holds no composite step (file:line:col if not). */
int rn_slurm_ahead_check(const rn_engine *engine);
/* Submit the success path of the top level; *out is made even when it
 * fails (what was submitted is then cancelled by rn_slurm_ahead_finish). */
int rn_slurm_ahead_submit(rn_slurm_ahead **out, rn_engine *engine, rn_slurm_submit_fn submit,
                          void *x);
/* node_adopt: 1 and *handle when the attempt's job was submitted ahead. */
int rn_slurm_ahead_adopt(rn_slurm_ahead *a, const rn_node_job *job, char **handle);
/* A job submitted for `step` in the traversal. */
void rn_slurm_ahead_note(rn_slurm_ahead *a, const char *id, const char *step);
/* A job ended (ok: completed, exit status 0). */
void rn_slurm_ahead_ended(rn_slurm_ahead *a, const char *id, int ok);
/* Cancel what was never adopted, wait until it has left the queue, free. */
int rn_slurm_ahead_finish(rn_slurm_ahead *a);

#endif
