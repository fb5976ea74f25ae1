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
        switch (c) {
        case 'f': o.pipeline_file = optarg; break;
        case 'c': o.config_file = optarg; break;
        case 'P': rn_loader_set_extra_path(optarg); break;
        case 'h': fputs(help, stdout); return RN_EXIT_OK;
        case ':': return rn_cli_usage_error("validate", "option '%s' needs a value", argv[optind - 1]);
        default: return rn_cli_usage_error("validate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o.pipeline_file) {
        if (optind >= argc)
            return rn_cli_usage_error("validate", "missing PIPELINE.yaml");
        o.pipeline_file = argv[optind++];
    }
    if (optind < argc)
        return rn_cli_usage_error("validate", "unexpected argument '%s'", argv[optind]);

    rn_diag diag = {0};
    rn_engine *e = NULL;
    int rc = rn_engine_prepare(&o, &diag, &e);
    if (e && e->config)
        rn_cli_print_warnings(&e->config->warnings);
    int code = RN_EXIT_OK;
    if (rc == RN_EINVAL) {
        rn_cli_print_diag(&diag);
        fprintf(stderr, "runnable: %zu problem%s found\n", diag.n, diag.n == 1 ? "" : "s");
        code = RN_EXIT_USAGE;
    } else if (rc < 0) {
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
        code = RN_EXIT_USAGE;
    } else {
        printf("%s: valid (config: %s)\n", o.pipeline_file,
               e->config->file ? e->config->file : "embedded default");
    }
    rn_diag_free(&diag);
    rn_engine_free(e);
    return code;
}
