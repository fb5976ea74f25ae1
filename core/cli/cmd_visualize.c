/* runnable visualize PIPELINE.yaml [--format text|dot|mermaid|svg]: draw the
 * graph.  Needs neither a configuration nor plugins: only the pipeline
 * file is read, and nothing is written but standard output. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"
#include "visualize.h"

static const char help[] =
    "usage: runnable visualize [OPTIONS] PIPELINE.yaml\n"
    "\n"
    "Print the pipeline's graph: every step with the steps it waits for, by level,\n"
    "composite steps with their branches nested under them.  Runs nothing, writes\n"
    "nothing.  Exit status: 0 drawn, 2 bad usage or an invalid pipeline.\n"
    "\n"
    "  -f, --file FILE          the pipeline (instead of the positional argument)\n"
    "  -F, --format FORMAT      text (default), dot (Graphviz), mermaid, or svg (the dot\n"
    "                           graph drawn by Graphviz's dot, which must be installed)\n";

int rn_cmd_visualize(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *format = "text";
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:F:h", longopts, NULL)) != -1) {
        if (c == 'F') {
            format = optarg;
            continue;
        }
        int r = rn_cli_option("visualize", c, argv, help, &file, NULL);
        if (r != RN_CLI_HANDLED)
            return r;
    }
    int r = rn_cli_pipeline_arg("visualize", argc, argv, &file);
    if (r != RN_CLI_HANDLED)
        return r;
    rn_vis_format fmt = RN_VIS_DOT;
    /* svg is dot drawn by Graphviz (vis_svg.c), so the CLI owns it.
     * Checked before the file is read: a typo in the command is reported
     * as such, whatever the pipeline holds. */
    int svg = strcmp(format, "svg") == 0;
    if (!svg && rn_vis_format_parse(&fmt, format) < 0)
        return rn_cli_usage_error("visualize", "unknown format '%s'; use text, dot, mermaid "
                                  "or svg", format);

    rn_diag diag = {0};
    rn_pipeline *p = NULL;
    /* No task check: drawing needs no task type to be installed. */
    int rc = rn_pipeline_load(file, NULL, NULL, &diag, &p);
    if (rc == RN_ENOENT && diag.n == 0)
        rn_diag_add(&diag, file, 0, 0, "cannot read the pipeline file: %s", rn_error_last());
    int code = RN_EXIT_OK;
    if (rc < 0 && diag.n) {
        rn_cli_print_diag(&diag);
        fprintf(stderr, "runnable: %zu problem%s found\n", diag.n, diag.n == 1 ? "" : "s");
        code = RN_EXIT_USAGE;
    } else if (rc < 0) {
        fprintf(stderr, "runnable: error: %s\n", rn_error_last());
        code = RN_EXIT_USAGE;
    } else {
        rn_buf out = {0};
        if (rn_visualize(&out, p, fmt) < 0) {
            fprintf(stderr, "runnable: error: %s\n", rn_error_last());
            code = RN_EXIT_FAILED;
        } else if (svg) {
            code = rn_cli_dot_to_svg(&out);
        } else if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) ||
                   fflush(stdout) != 0) {
            fprintf(stderr, "runnable: error: cannot write the drawing: %s\n", strerror(errno));
            code = RN_EXIT_FAILED;
        }
        rn_buf_free(&out);
    }
    rn_diag_free(&diag);
    rn_pipeline_free(p);
    return code;
}
