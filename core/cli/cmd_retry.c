/* runnable retry [OPTIONS] RUN_ID: re-run a failed or interrupted run in
 * place (spec/services.md §4.5, for YAML pipelines too). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "loader.h"
#include "runnable/runnable.h"

static const char help[] =
    "usage: runnable retry [OPTIONS] RUN_ID\n"
    "\n"
    "Re-run a failed or interrupted run with its stored parameters: steps whose last\n"
    "attempt succeeded are skipped, the others get a new attempt.  The pipeline is the\n"
    "one the run was made with, and must not have changed (its dag_hash).\n"
    "Exit status: 0 run succeeded, 1 run failed, 2 bad usage or input.\n"
    "\n"
    "  -f, --file FILE            the pipeline, if it moved since the run\n"
    "  -c, --config FILE          configuration file: the run's run-log store and catalog\n"
    "      --force                run even if the pipeline changed\n"
    "      --tag TEXT             accepted for runnable's form; the run keeps its tag\n"
    "      --timeout SECONDS      stop any task attempt that runs longer\n"
    "      --log-level LEVEL      DEBUG, INFO, WARNING (default), ERROR, CRITICAL\n"
    "      --plugin-path DIRS     extra plugin folders, searched first (colon-separated)\n"
    "  -q, --quiet                no live view on a terminal: plain lines, one per step\n"
    "                             start and end (as on a pipe, in CI or with NO_COLOR)\n"
    "\n"
    "Progress goes to standard error, the run's summary to standard output.\n";

int rn_cmd_retry(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"force", no_argument, NULL, 'F'},
        {"tag", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"log-level", required_argument, NULL, 'l'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 4};
    int quiet = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:c:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'F': o.force = 1; break;
        case 't': break;
        case 'q': quiet = 1; break;
        default: {
            int r = rn_cli_option("retry", c, argv, help, &o.pipeline_file, &o);
            if (r != RN_CLI_HANDLED)
                return r;
        }
        }
    }
    if (argc - optind < 1)
        return rn_cli_usage_error("retry", "missing RUN_ID");
    if (argc - optind > 1)
        return rn_cli_usage_error("retry", "unexpected argument '%s'", argv[optind + 1]);
    o.retry_run_id = argv[optind];
    return rn_cli_run(&o, quiet);
}
