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

#endif
