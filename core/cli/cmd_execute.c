/* runnable execute [OPTIONS] PIPELINE.yaml [RUN_ID] */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "dryrun.h"
#include "engine.h"
#include "loader.h"

static const char help[] =
    "usage: runnable execute [OPTIONS] PIPELINE.yaml [RUN_ID]\n"
    "\n"
    "Run a pipeline.  Exit status: 0 run succeeded, 1 run failed, 2 bad usage or input.\n"
    "\n"
    "  -f, --file FILE            the pipeline (instead of the positional argument)\n"
    "  -c, --config FILE          configuration file (RUNNABLE_CONFIGURATION_FILE wins;\n"
    "                             also --config-file)\n"
    "  -p, --parameters FILE      initial parameters (RUNNABLE_PARAMETERS_FILE wins;\n"
    "                             also --parameters-file)\n"
    "      --run-id ID            run id, instead of the RUN_ID argument (else\n"
    "                             RUNNABLE_RUN_ID, else generated)\n"
    "      --tag TEXT             tag stored on the run\n"
    "      --log-level LEVEL      DEBUG, INFO, WARNING (default), ERROR, CRITICAL\n"
    "      --timeout SECONDS      stop any task attempt that runs longer (tasks may set\n"
    "                             their own `timeout`)\n"
    "      --plugin-path DIRS     extra plugin folders, searched first (colon-separated)\n"
    "      --dry-run              check everything, then print the steps the run would take\n"
    "                             in order; run nothing, write nothing\n"
    "  -o, --output FILE          where an executor that writes the pipeline out for another\n"
    "                             system (argo) puts it (default: its output_file setting)\n"
    "  -q, --quiet                no live view on a terminal: plain lines, one per step\n"
    "                             start and end (as on a pipe, in CI or with NO_COLOR)\n"
    "\n"
    "Progress goes to standard error, the run's summary to standard output.\n";

/* Ctrl-C or SIGTERM: the run stops its tasks and records why; a second
 * one kills them at once (rn_interrupt). */
static void on_stop_signal(int signo)
{
    rn_interrupt(signo);
}

void rn_cli_catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* --dry-run: rn_cli_run is shared with retry, which has no such option. */
static int dry_run;

/* The run is prepared (every input checked) but only described. */
static int print_plan(rn_engine *e)
{
    rn_buf out = {0};
    int code = RN_EXIT_OK;
    if (rn_dry_run(&out, e->pipeline, e->initial_params) < 0) {
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
        code = RN_EXIT_FAILED;
    } else if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) ||
               fflush(stdout) != 0) {
        fprintf(stderr, "runnable: error: cannot write the plan: %s\n", strerror(errno));
        code = RN_EXIT_FAILED;
    }
    rn_buf_free(&out);
    rn_engine_free(e);
    return code;
}

int rn_cmd_execute(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"parameters", required_argument, NULL, 'p'},
        {"parameters-file", required_argument, NULL, 'p'},
        {"run-id", required_argument, NULL, 'r'},
        {"tag", required_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'l'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"timeout", required_argument, NULL, 'T'},
        {"quiet", no_argument, NULL, 'q'},
        {"dry-run", no_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 5};
    int quiet = 0;
    int c;
    dry_run = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:c:p:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.parameters_file = optarg; break;
        case 'r': o.run_id = optarg; break;
        case 't': o.tag = optarg; break;
        case 'q': quiet = 1; break;
        case 'n': dry_run = 1; break;
        case 'o': o.output_file = optarg; break;
        default: {
            int r = rn_cli_option("execute", c, argv, help, &o.pipeline_file, &o);
            if (r != RN_CLI_HANDLED)
                return r;
        }
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (!o.pipeline_file) {
        if (npos < 1)
            return rn_cli_usage_error("execute", "missing PIPELINE.yaml");
        o.pipeline_file = pos[0];
        pos++;
        npos--;
    }
    if (npos > 1)
        return rn_cli_usage_error("execute", "unexpected argument '%s'", pos[1]);
    if (npos == 1) {
        if (o.run_id)
            return rn_cli_usage_error("execute", "give the run id once");
        o.run_id = pos[0];
    }

    return rn_cli_run(&o, quiet);
}

/* Prepare, run and report a run; the exit status of execute and retry. */
int rn_cli_run(const rn_run_options *opts, int quiet)
{
    const rn_run_options o = *opts;
    rn_engine *e = NULL;
    int rc = rn_cli_prepare(&o, 0, RN_EXIT_FAILED, &e);
    if (rc != RN_EXIT_OK)
        return rc;
    if (dry_run)
        return print_plan(e);
    rn_run_summary s;
    rn_cli_catch_stop_signals();
    /* Progress goes to standard error, the summary to standard output. */
    rn_progress_mode mode = rn_progress_choose(quiet);
    rn_progress *prog = rn_progress_new(mode, stderr, o.log_level);
    if (prog) {
        e->on_event = rn_progress_event;
        e->event_data = prog;
        e->tick_seconds = mode == RN_PROGRESS_LIVE ? 0.1 : 0;
    }
    rc = rn_engine_execute(e, &s);
    rn_progress_free(prog);
    int created = e->created;
    rn_engine_free(e);
    if (rc < 0 && !created) {
        /* Nothing was written: the input (run id, parameters) was at fault. */
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
        if (rc == RN_EEXIST)
            fprintf(stderr, "runnable: hint: choose another run id, or re-run that run with "
                            "'runnable retry %s'\n", o.run_id ? o.run_id : "RUN_ID");
        return rc == RN_EINVAL || rc == RN_EEXIST ? RN_EXIT_USAGE : RN_EXIT_FAILED;
    }
    if (rc < 0)
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
    if (rc == 0 && strcmp(s.status, "RENDERED") == 0) {
        printf("pipeline written out by the executor; nothing ran here\n");
        return RN_EXIT_OK;
    }
    printf("run %s: %s  (%d steps, %d failed, %.3f s)\n", s.run_id, s.status,
           s.steps_total, s.steps_failed, s.seconds);
    if (s.interrupted_by) {
        /* As a shell reports a process stopped by that signal. */
        fprintf(stderr, "runnable: run %s interrupted by %s\n", s.run_id,
                s.interrupted_by == SIGINT ? "SIGINT" : s.interrupted_by == SIGTERM
                ? "SIGTERM" : "a signal");
        return 128 + s.interrupted_by;
    }
    if (rc < 0 || strcmp(s.status, "SUCCESS") != 0) {
        fprintf(stderr, "runnable: Execution failed for run id: %s\n", s.run_id);
        return RN_EXIT_FAILED;
    }
    return RN_EXIT_OK;
}
