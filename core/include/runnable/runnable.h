/*
 * runnable embedding API: run pipelines from another program.
 * Providers use runnable/plugin.h instead.
 */
#ifndef RUNNABLE_RUNNABLE_H
#define RUNNABLE_RUNNABLE_H

#include "runnable/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string ("0.1.0"). */
const char *rn_version(void);

/* What to run: every field may be NULL/0 for runnable's defaults. */
typedef struct rn_run_options {
    unsigned version;             /* 1, 2 or 3 (fields below say which) */
    const char *pipeline_file;    /* required, except for a retry */
    const char *config_file;      /* -c; RUNNABLE_CONFIGURATION_FILE wins */
    const char *parameters_file;  /* -p; RUNNABLE_PARAMETERS_FILE wins */
    const char *run_id;           /* explicit id; else RUNNABLE_RUN_ID; else generated */
    const char *tag;
    /* version 2 */
    double default_timeout;       /* seconds for task attempts without their
                                     own `timeout` (0: none) */
    /* version 3 */
    const char *retry_run_id;     /* re-run this failed or interrupted run in
                                     place (else RUNNABLE_RETRY_RUN_ID);
                                     pipeline_file may then be NULL: the
                                     run's own is used */
    int force;                    /* retry even if the pipeline changed */
} rn_run_options;

/* Outcome of a run. */
typedef struct rn_run_summary {
    char run_id[128];
    char status[16];              /* "SUCCESS", "FAIL", "PROCESSING" */
    int steps_total;              /* steps recorded (all levels) */
    int steps_failed;
    double seconds;               /* wall time of the run */
    int interrupted_by;           /* signal that stopped the run, or 0 */
} rn_run_summary;

/* Run a pipeline to its end.  0 with summary filled when the run reached an
 * end (check summary->status); RN_EINVAL for bad input (nothing written);
 * other negative codes for hard errors.  rn_error_last() explains. */
int rn_run_pipeline(const rn_run_options *opts, rn_run_summary *summary);

/* Ask the run in progress to stop: its tasks get SIGTERM (SIGKILL after a
 * grace period, or at once on the second call) and the run is recorded as
 * FAIL, interrupted by `signo`.  Async-signal-safe: call it from a SIGINT
 * or SIGTERM handler. */
void rn_interrupt(int signo);

#ifdef __cplusplus
}
#endif

#endif
