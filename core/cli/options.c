/* Command-line handling every subcommand shares: the options of the same
 * name mean the same everywhere, and so do their error messages. */
#include "config.h"

#include <stdio.h>
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "engine.h"
#include "loader.h"
#include "runnable/runnable.h"

int rn_cli_option(const char *cmd, int c, char **argv, const char *help, const char **file,
                  struct rn_run_options *o)
{
    switch (c) {
    case 'f':
        *file = optarg;
        return RN_CLI_HANDLED;
    case 'c':
        if (o) {
            o->config_file = optarg;
            return RN_CLI_HANDLED;
        }
        break;
    case 'T': {
        char *end = NULL;
        double s = strtod(optarg, &end);
        if (!o || !end || *end || end == optarg || !(s > 0))
            return rn_cli_usage_error(cmd, "--timeout needs a number of seconds above 0, "
                                      "not '%s'", optarg);
        o->default_timeout = s;
        return RN_CLI_HANDLED;
    }
    case 'l': {
        int level = rn_cli_log_level(optarg);
        if (level < 0)
            return rn_cli_usage_error(cmd, "invalid --log-level '%s'; use one of DEBUG, INFO, "
                                      "WARNING, ERROR, CRITICAL", optarg);
        if (o && o->version >= 4)
            o->log_level = level;
        return RN_CLI_HANDLED;
    }
    case 'P':
        rn_loader_set_extra_path(optarg);
        return RN_CLI_HANDLED;
    case 'h':
        fputs(help, stdout);
        return RN_EXIT_OK;
    case ':':
        return rn_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    default:
        break;
    }
    return rn_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int rn_cli_pipeline_arg(const char *cmd, int argc, char **argv, const char **file)
{
    if (!*file) {
        if (optind >= argc)
            return rn_cli_usage_error(cmd, "missing PIPELINE.yaml");
        *file = argv[optind++];
    }
    if (optind < argc)
        return rn_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return RN_CLI_HANDLED;
}

int rn_cli_prepare(const rn_run_options *o, int flags, int hard_code, rn_engine **e)
{
    return rn_cli_prepare_node(o, NULL, flags, hard_code, e);
}

int rn_cli_prepare_node(const rn_run_options *o, const char *node_step, int flags,
                        int hard_code, rn_engine **e)
{
    rn_diag diag = {0};
    *e = NULL;
    int rc = rn_engine_prepare_node(o, node_step, &diag, e);
    if (*e && (*e)->config)
        rn_cli_print_warnings(&(*e)->config->warnings);
    int code = RN_EXIT_OK;
    if (rc == RN_EINVAL) {
        rn_cli_print_diag(&diag);
        if (flags & RN_CLI_COUNT)
            fprintf(stderr, "runnable: %zu problem%s found\n", diag.n, diag.n == 1 ? "" : "s");
        code = RN_EXIT_USAGE;
    } else if (rc < 0) {
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
        code = hard_code;
    }
    rn_diag_free(&diag);
    if (code != RN_EXIT_OK) {
        rn_engine_free(*e);
        *e = NULL;
    }
    return code;
}
