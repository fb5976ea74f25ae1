/* runnable: run pipelines written for the Python runnable, from C. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "runnable/runnable.h"

#ifdef RN_STATIC_PLUGINS
#include <ltdl.h>
#endif

static const char usage[] =
    "usage: runnable [--version] [--help] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  execute PIPELINE.yaml [RUN_ID]   run a pipeline (-c CONFIG, -p PARAMS, --tag T)\n"
    "  retry RUN_ID                     re-run a failed or interrupted run in place\n"
    "  validate PIPELINE.yaml           check a pipeline and its configuration\n"
    "  visualize PIPELINE.yaml          draw the graph (--format text|dot|mermaid|svg)\n"
    "  plugins                          list installed providers\n"
    "  execute-single-node RUN_ID PIPELINE.yaml STEP\n"
    "                                   run one step of a stored run (executors' node protocol)\n"
    "  fan RUN_ID STEP PIPELINE.yaml in|out\n"
    "                                   prepare or finish a composite step of a stored run\n"
    "  runs                             past runs, newest first (--status, --since, --search)\n"
    "  runs show RUN_ID                 a run's steps as a tree with times, memory and CPU\n"
    "  runs logs RUN_ID [STEP]          what a run's tasks printed\n"
    "  timeline RUN_ID_OR_PATH          when each step ran (--format text|html|chrome)\n"
    "\n"
    "Run 'runnable COMMAND --help' for a command's options.\n";

void rn_cli_print_diag(const rn_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = rn_diag_format(&d->items[i]);
        fprintf(stderr, "runnable: error: %s\n", s ? s : d->items[i].message);
        free(s);
    }
}

void rn_cli_print_warnings(const rn_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = rn_diag_format(&d->items[i]);
        fprintf(stderr, "runnable: warning: %s\n", s ? s : d->items[i].message);
        free(s);
    }
}

int rn_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "runnable %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'runnable %s --help'.\n", cmd);
    va_end(ap);
    return RN_EXIT_USAGE;
}

int rn_cli_log_level(const char *level)
{
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", NULL};
    for (int i = 0; levels[i]; i++)
        if (strcasecmp(levels[i], level) == 0)
            return 10 * (i + 1);   /* Python logging's numbers */
    return -1;
}

int main(int argc, char **argv)
{
#ifdef RN_STATIC_PLUGINS
    /* The in-tree plugins linked into this program (core/loader.c). */
    LTDL_SET_PRELOADED_SYMBOLS();
#endif
    rn_cli_heap_setup();
    if (argc < 2) {
        fputs(usage, stderr);
        return RN_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return RN_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("runnable %s\n", rn_version());
        return RN_EXIT_OK;
    }
    if (strcmp(cmd, "execute") == 0)
        return rn_cmd_execute(argc - 1, argv + 1);
    if (strcmp(cmd, "retry") == 0)
        return rn_cmd_retry(argc - 1, argv + 1);
    if (strcmp(cmd, "execute-single-node") == 0)
        return rn_cmd_execute_single_node(argc - 1, argv + 1);
    if (strcmp(cmd, "fan") == 0)
        return rn_cmd_fan(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return rn_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "visualize") == 0)
        return rn_cmd_visualize(argc - 1, argv + 1);
    if (strcmp(cmd, "plugins") == 0)
        return rn_cmd_plugins(argc - 1, argv + 1);
    if (strcmp(cmd, "timeline") == 0)
        return rn_cmd_timeline(argc - 1, argv + 1);
    if (strcmp(cmd, "runs") == 0) {
        /* runs [list] | runs show | runs logs */
        if (argc > 2 && strcmp(argv[2], "show") == 0)
            return rn_cmd_runs_show(argc - 2, argv + 2);
        if (argc > 2 && strcmp(argv[2], "logs") == 0)
            return rn_cmd_runs_logs(argc - 2, argv + 2);
        return rn_cmd_runs_list(argc - 1, argv + 1);
    }
    fprintf(stderr, "runnable: unknown command '%s'\n\n%s", cmd, usage);
    return RN_EXIT_USAGE;
}
