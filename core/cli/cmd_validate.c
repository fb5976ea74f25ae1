/* runnable validate PIPELINE.yaml [-c CONFIG]: check everything, run nothing. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "engine.h"
#include "loader.h"

static const char help[] =
    "usage: runnable validate [OPTIONS] PIPELINE.yaml\n"
    "\n"
    "Load the pipeline and the configuration, resolve every provider and task type,\n"
    "and report every problem found.  Runs nothing, writes nothing.\n"
    "Exit status: 0 valid, 2 problems found.\n"
    "\n"
    "  -f, --file FILE          the pipeline (instead of the positional argument)\n"
    "  -c, --config FILE        configuration file\n"
    "      --plugin-path DIRS   extra plugin folders, searched first\n";

int rn_cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 1};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:c:h", longopts, NULL)) != -1) {
        int r = rn_cli_option("validate", c, argv, help, &o.pipeline_file, &o);
        if (r != RN_CLI_HANDLED)
            return r;
    }
    int r = rn_cli_pipeline_arg("validate", argc, argv, &o.pipeline_file);
    if (r != RN_CLI_HANDLED)
        return r;

    rn_engine *e = NULL;
    int code = rn_cli_prepare(&o, RN_CLI_COUNT, RN_EXIT_USAGE, &e);
    if (code == RN_EXIT_OK)
        printf("%s: valid (config: %s)\n", o.pipeline_file,
               e->config->file ? e->config->file : "embedded default");
    rn_engine_free(e);
    return code;
}
