/* runnable runs [list]: the runs in the configured run-log store as a
 * table, newest first (docs/runs.md).  Reads run summaries (history.c);
 * writes nothing. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"
#include "history.h"
#include "loader.h"
#include "runs_fmt.h"

static const char help[] =
    "usage: runnable runs [list] [OPTIONS]\n"
    "\n"
    "List the runs in the configured run-log store (file-system or chunked-fs), newest\n"
    "first: run id, pipeline, tag, status, start, duration, steps done/total, the first\n"
    "failed step.\n"
    "\n"
    "  -c, --config FILE      configuration naming the run-log store\n"
    "      --status STATUS    only runs with this status: SUCCESS, FAIL or PROCESSING\n"
    "      --since TIME       only runs started at or after TIME: 2026-12-01,\n"
    "                         '2026-12-01 14:30', or a time ago: 30m, 2h, 7d\n"
    "      --until TIME       only runs started at or before TIME (a date: that whole day)\n"
    "      --tag TAG          only runs with this tag\n"
    "      --search TEXT      only runs whose id, tag or a step name contains TEXT\n"
    "      --sort FIELD       started (default, newest first), ended, duration, run_id,\n"
    "                         status, tag, pipeline, steps, failed; '-FIELD' descending\n"
    "      --limit N          at most N runs\n"
    "      --json             the summaries as a JSON list (fields: docs/runs.md)\n"
    "      --plugin-path DIRS extra plugin folders, searched first\n"
    "\n"
    "Exit status: 0 (also when nothing matches), 2 bad usage or a store without history.\n";

static const char *str(const json_t *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s, key));
    return v ? v : "";
}

/* The pipeline column: the file's name (its folder is in --json). */
static const char *short_pipeline(const json_t *s)
{
    const char *p = str(s, "pipeline");
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

enum { COLS = 8 };

static void print_table(const json_t *runs)
{
    static const char *const head[COLS] = {"RUN ID", "PIPELINE", "TAG", "STATUS",
                                           "STARTED", "DURATION", "STEPS", "FAILED STEP"};
    size_t n = json_array_size(runs);
    char *(*cells)[COLS] = calloc(n ? n : 1, sizeof *cells);
    int w[COLS];
    for (int c = 0; c < COLS; c++)
        w[c] = (int)strlen(head[c]);
    for (size_t i = 0; cells && i < n; i++) {
        const json_t *s = json_array_get(runs, i);
        char dur[32], steps[48], started[24];
        const json_t *d = json_object_get(s, "duration_seconds");
        rn_runs_fmt_seconds(dur, sizeof dur, json_is_number(d) ? json_number_value(d) : -1);
        snprintf(steps, sizeof steps, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(s, "steps_done")),
                 (long long)json_integer_value(json_object_get(s, "steps_total")));
        /* To the second: the table is for people. */
        snprintf(started, sizeof started, "%.19s", *str(s, "started") ? str(s, "started") : "-");
        const char *v[COLS] = {str(s, "run_id"), short_pipeline(s), str(s, "tag"),
                               str(s, "status"), started, dur, steps, str(s, "failed_step")};
        for (int c = 0; c < COLS; c++) {
            cells[i][c] = strdup(v[c]);
            int len = cells[i][c] ? (int)strlen(cells[i][c]) : 0;
            if (len > w[c])
                w[c] = len;
        }
    }
    /* Columns padded to their widest value. */
    rn_buf line = {0};
    for (int c = 0; c < COLS; c++)
        rn_buf_printf(&line, "%-*s  ", w[c], head[c]);
    rn_runs_put_line(&line);
    for (size_t i = 0; cells && i < n; i++) {
        for (int c = 0; c < COLS; c++) {
            rn_buf_printf(&line, "%-*s  ", w[c], cells[i][c] ? cells[i][c] : "");
            free(cells[i][c]);
        }
        rn_runs_put_line(&line);
    }
    rn_buf_free(&line);
    free(cells);
}

int rn_cmd_runs_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"status", required_argument, NULL, 'S'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"tag", required_argument, NULL, 't'},
        {"search", required_argument, NULL, 'q'},
        {"sort", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_history_query q = {0};
    rn_run_options o = {.version = 4};
    const char *unused_file = NULL;
    int json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'S':
            if (strcasecmp(optarg, "SUCCESS") && strcasecmp(optarg, "FAIL") &&
                strcasecmp(optarg, "PROCESSING"))
                return rn_cli_usage_error("runs", "--status takes SUCCESS, FAIL or "
                                          "PROCESSING, not '%s'", optarg);
            q.status = optarg;
            break;
        case 's': q.since = optarg; break;
        case 'u': q.until = optarg; break;
        case 't': q.tag = optarg; break;
        case 'q': q.search = optarg; break;
        case 'o': q.sort = optarg; break;
        case 'n': {
            char *end = NULL;
            q.limit = strtol(optarg, &end, 10);
            if (!end || *end || end == optarg || q.limit < 1)
                return rn_cli_usage_error("runs", "--limit needs a number of runs above 0, "
                                          "not '%s'", optarg);
            break;
        }
        case 'j': json = 1; break;
        default: {
            int r = rn_cli_option("runs", c, argv, help, &unused_file, &o);
            if (r != RN_CLI_HANDLED)
                return r;
        }
        }
    }
    /* `runs list` and `runs` are the same. */
    if (optind < argc && strcmp(argv[optind], "list") == 0)
        optind++;
    if (optind < argc)
        return rn_cli_usage_error("runs", "unexpected argument '%s'", argv[optind]);

    rn_config *conf = NULL;
    rn_provider *store = NULL;
    int code = rn_cli_open_store(o.config_file, &conf, &store);
    json_t *runs = NULL;
    if (code == RN_EXIT_OK) {
        int rc = rn_history_list(store, &q, &runs);
        if (rc == RN_EINVAL) {
            code = rn_cli_usage_error("runs", "%s", rn_error_last());
        } else if (rc < 0) {
            fprintf(stderr, "runnable: error: %s\n", rn_error_last());
            code = RN_EXIT_USAGE;
        } else if (json) {
            char *text = json_dumps(runs, JSON_INDENT(2));
            if (text)
                printf("%s\n", text);
            free(text);
        } else {
            print_table(runs);
        }
    }
    json_decref(runs);
    rn_provider_close(store);
    rn_config_free(conf);
    return code;
}
