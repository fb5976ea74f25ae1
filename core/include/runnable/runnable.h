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

/*
 * What happens during a run, as it happens.  The library never prints: a
 * program that wants to show progress subscribes with rn_run_options'
 * on_event (version 4) and is called in the engine's own thread, between
 * scheduling decisions — so it must return quickly.  Every pointer in an
 * event is borrowed for the duration of the call.
 */
typedef enum rn_event_kind {
    RN_EVENT_RUN_START = 1,    /* run_id known, nothing has run yet */
    RN_EVENT_STEP_START = 2,   /* a step (any type) starts */
    RN_EVENT_ATTEMPT_START = 3,/* a task attempt's process started */
    RN_EVENT_ATTEMPT_END = 4,  /* it ended: status, message */
    RN_EVENT_STEP_END = 5,     /* a step ended: status ("SUCCESS", "FAIL",
                                  "SKIPPED") */
    RN_EVENT_TICK = 6,         /* tasks are running (every tick_seconds) */
    RN_EVENT_RUN_END = 7,      /* status of the run */
    RN_EVENT_LOG = 8           /* an engine message at `level` */
} rn_event_kind;

typedef struct rn_event {
    unsigned version;          /* 1 */
    rn_event_kind kind;
    const char *run_id;
    const char *name;          /* steps and attempts: internal name */
    const char *step_type;     /* steps: "task", "map", ... */
    const char *status;        /* *_END events */
    const char *message;       /* ATTEMPT_END/STEP_END: why it failed ("");
                                  LOG: the message */
    int attempt;               /* ATTEMPT_*: 1-based */
    const char *output_path;   /* ATTEMPT_START: a file the task's output
                                  can be read from while it runs, or NULL */
    int reused;                /* STEP_END: done by an earlier run (retry) */
    double elapsed;            /* seconds since the run started */
    double step_seconds;       /* *_END: how long the step/attempt took */
    /* Leaf steps (tasks, stubs, success/fail) done and known so far: a map
     * makes its iterations known when it starts, so `known` grows. */
    int steps_done, steps_known, running;
    int level;                 /* LOG: 10 debug, 20 info, 30 warning */
} rn_event;

typedef void (*rn_event_fn)(const rn_event *ev, void *data);

/* What to run: every field may be NULL/0 for runnable's defaults. */
typedef struct rn_run_options {
    unsigned version;             /* 1 to 4 (fields below say which) */
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
    /* version 4 */
    rn_event_fn on_event;         /* progress subscriber, or NULL */
    void *event_data;             /* passed to on_event */
    double tick_seconds;          /* RN_EVENT_TICK period while tasks run
                                     (0: no ticks) */
    int log_level;                /* RN_EVENT_LOG messages at or above this
                                     level (0: 30, warnings) */
    /* version 5 */
    const char *output_file;      /* where an executor that writes the run out
                                     for another system (argo) puts it; NULL:
                                     its own setting */
} rn_run_options;

/* Outcome of a run. */
typedef struct rn_run_summary {
    char run_id[128];
    char status[16];              /* "SUCCESS", "FAIL", "PROCESSING"; "RENDERED"
                                     when the executor wrote the run out for
                                     another system (argo) and ran nothing */
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
