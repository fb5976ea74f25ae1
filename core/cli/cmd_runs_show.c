/* runnable runs show RUN_ID: one run's steps as a tree, with what each
 * attempt did and used (docs/runs.md).  Reads the run log; writes nothing. */
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
    "usage: runnable runs show [OPTIONS] RUN_ID\n"
    "\n"
    "Print a run from the configured run-log store: its status, pipeline, times,\n"
    "parameters, code identity and totals, then every step as a tree (branches and\n"
    "map iterations nested under their step) with status, attempts, duration, exit\n"
    "code, peak memory and CPU time, each step's parameters in and out, metrics,\n"
    "catalog entries and failure message.\n"
    "\n"
    "  -c, --config FILE      configuration naming the run-log store\n"
    "      --json             print the run log itself\n"
    "      --plugin-path DIRS extra plugin folders, searched first\n"
    "\n"
    "Exit status: 0, 2 bad usage or no such run.\n";

/* ------------------------------------------------------------------ */
/* Rows of the step table                                              */
/* ------------------------------------------------------------------ */

enum { COLS = 8 };

typedef struct row {
    int depth;
    char *cell[COLS];
    char *details; /* lines printed under the row, already indented */
} row;

typedef struct table {
    row *rows;
    size_t n, cap;
    /* run totals */
    double cpu_user, cpu_sys;
    long long peak_kb;
    const char *peak_step;
    int attempts;
    const json_t *code;
} table;

static row *add_row(table *t, int depth)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        row *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return NULL;
        t->rows = r;
        t->cap = cap;
    }
    row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->depth = depth;
    return r;
}

static const char *sv(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* "  in:  a=1, b=\"x\"" under a step, when there is anything to say. */
static void detail_params(rn_buf *d, int depth, const char *label, const json_t *params)
{
    if (!json_object_size(params))
        return;
    char *text = rn_runs_fmt_params(params, 100);
    rn_buf_printf(d, "%*s%-9s %s\n", depth * 2 + 2, "", label, text ? text : "");
    free(text);
}

static void add_step(table *t, const char *key, const json_t *st, int depth);

static void add_branches(table *t, const json_t *branches, int depth)
{
    const char *bk;
    json_t *b;
    json_object_foreach((json_t *)branches, bk, b) {
        row *r = add_row(t, depth);
        if (!r)
            return;
        const char *name = sv(b, "internal_name");
        r->cell[0] = strdup(*name ? name : bk);
        r->cell[1] = strdup("branch");
        r->cell[2] = strdup(sv(b, "status"));
        const char *sk;
        json_t *s;
        json_object_foreach(json_object_get(b, "steps"), sk, s)
            add_step(t, sk, s, depth + 1);
    }
}

static void add_step(table *t, const char *key, const json_t *st, int depth)
{
    row *r = add_row(t, depth);
    if (!r)
        return;
    size_t ri = (size_t)(r - t->rows); /* rows may move while branches are added */
    const json_t *attempts = json_object_get(st, "attempts");
    size_t na = json_array_size(attempts);
    const json_t *last = na ? json_array_get(attempts, na - 1) : NULL;
    const char *name = sv(st, "internal_name");
    r->cell[0] = strdup(*name ? name : key);
    r->cell[1] = strdup(sv(st, "step_type"));
    r->cell[2] = strdup(sv(st, "status"));
    char buf[64];
    snprintf(buf, sizeof buf, "%zu", na);
    r->cell[3] = strdup(na ? buf : "");
    double secs = last ? rn_runs_attempt_seconds(last) : -1;
    rn_runs_fmt_seconds(buf, sizeof buf, secs);
    r->cell[4] = strdup(secs >= 0 ? buf : "");
    const json_t *ec = json_object_get(last, "exit_code");
    const json_t *sig = json_object_get(last, "term_signal");
    if (json_is_integer(ec))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(ec));
    else if (json_is_integer(sig))
        snprintf(buf, sizeof buf, "sig %lld", (long long)json_integer_value(sig));
    else
        buf[0] = '\0';
    r->cell[5] = strdup(buf);

    /* Memory: the largest peak of its attempts; CPU: their sum. */
    long long peak = -1;
    double cpu = -1;
    size_t i;
    json_t *a;
    json_array_foreach(attempts, i, a) {
        const json_t *res = json_object_get(a, "resources");
        if (!res)
            continue;
        long long kb = (long long)json_integer_value(json_object_get(res, "max_rss_kb"));
        double u = json_number_value(json_object_get(res, "user_cpu_seconds"));
        double s = json_number_value(json_object_get(res, "system_cpu_seconds"));
        peak = kb > peak ? kb : peak;
        cpu = (cpu < 0 ? 0 : cpu) + u + s;
        t->cpu_user += u;
        t->cpu_sys += s;
        t->attempts++;
        if (kb > t->peak_kb) {
            t->peak_kb = kb;
            t->peak_step = sv(st, "internal_name");
        }
        if (!t->code && json_array_size(json_object_get(a, "code_identities")))
            t->code = json_array_get(json_object_get(a, "code_identities"), 0);
    }
    rn_runs_fmt_kb(buf, sizeof buf, peak);
    r->cell[6] = strdup(peak >= 0 ? buf : "");
    rn_runs_fmt_seconds(buf, sizeof buf, cpu);
    r->cell[7] = strdup(cpu >= 0 ? buf : "");

    /* Under the row: why it failed, what went in and out, what it filed. */
    rn_buf d = {0};
    int pad = depth * 2 + 2;
    const char *msg = last ? sv(last, "message") : sv(st, "message");
    if (!*msg)
        msg = sv(st, "message");
    if (*msg)
        rn_buf_printf(&d, "%*s%-9s %s\n", pad, "", "message:", msg);
    if (na > 1) {
        json_array_foreach(attempts, i, a) {
            double s = rn_runs_attempt_seconds(a);
            rn_runs_fmt_seconds(buf, sizeof buf, s);
            rn_buf_printf(&d, "%*sattempt %lld: %s %s%s%s\n", pad, "",
                             (long long)json_integer_value(json_object_get(a, "attempt_number")),
                             sv(a, "status"), s >= 0 ? buf : "",
                             *sv(a, "message") ? "  " : "", sv(a, "message"));
        }
    }
    if (last) {
        detail_params(&d, depth, "in:", json_object_get(last, "input_parameters"));
        detail_params(&d, depth, "out:", json_object_get(last, "output_parameters"));
        const json_t *metrics = json_object_get(last, "user_defined_metrics");
        if (json_object_size(metrics)) {
            char *text = rn_runs_fmt_values(metrics, 100);
            rn_buf_printf(&d, "%*s%-9s %s\n", pad, "", "metrics:", text ? text : "");
            free(text);
        }
    }
    json_array_foreach(json_object_get(st, "data_catalog"), i, a) {
        const char *hash = sv(a, "data_hash");
        rn_buf_printf(&d, "%*s%-9s %s %s%s%.12s\n", pad, "", "catalog:", sv(a, "stage"),
                         sv(a, "name"), *hash ? "  sha256:" : "", hash);
    }
    t->rows[ri].details = d.data;

    add_branches(t, json_object_get(st, "branches"), depth + 1);
}

static void print_table(const table *t)
{
    static const char *const head[COLS] = {"STEP",     "TYPE", "STATUS",   "ATTEMPTS",
                                           "DURATION", "EXIT", "PEAK MEM", "CPU"};
    int w[COLS];
    for (int c = 0; c < COLS; c++)
        w[c] = (int)strlen(head[c]);
    for (size_t i = 0; i < t->n; i++)
        for (int c = 0; c < COLS; c++) {
            int len = t->rows[i].cell[c] ? (int)strlen(t->rows[i].cell[c]) : 0;
            if (c == 0)
                len += t->rows[i].depth * 2;
            if (len > w[c])
                w[c] = len;
        }
    rn_buf line = {0};
    for (int c = 0; c < COLS; c++)
        rn_buf_printf(&line, c < 3 ? "%-*s  " : "%*s  ", w[c], head[c]);
    rn_runs_put_line(&line);
    for (size_t i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        rn_buf_printf(&line, "%*s%-*s  ", r->depth * 2, "", w[0] - r->depth * 2,
                      r->cell[0] ? r->cell[0] : "");
        /* numbers right-aligned, words left */
        for (int c = 1; c < COLS; c++)
            rn_buf_printf(&line, c < 3 ? "%-*s  " : "%*s  ", w[c], r->cell[c] ? r->cell[c] : "");
        rn_runs_put_line(&line);
        if (r->details)
            fputs(r->details, stdout);
    }
    rn_buf_free(&line);
}

static void free_table(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (int c = 0; c < COLS; c++)
            free(t->rows[i].cell[c]);
        free(t->rows[i].details);
    }
    free(t->rows);
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

static void print_run(const char *run_id, const json_t *doc)
{
    json_t *sum = rn_history_from_log(run_id, doc);
    table t = {0};
    const char *key;
    json_t *st;
    json_object_foreach(json_object_get(doc, "steps"), key, st)
        add_step(&t, key, st, 0);

    char buf[64], buf2[64];
    printf("run %s: %s\n", run_id, sv(doc, "status"));
    const json_t *rc = json_object_get(doc, "run_config");
    printf("  %-11s %s\n", "pipeline", *sv(rc, "pipeline_definition_file")
                                            ? sv(rc, "pipeline_definition_file") : "-");
    if (*sv(doc, "tag"))
        printf("  %-11s %s\n", "tag", sv(doc, "tag"));
    rn_runs_fmt_seconds(buf, sizeof buf, json_is_number(json_object_get(sum, "duration_seconds"))
                                             ? json_number_value(json_object_get(sum, "duration_seconds"))
                                             : -1);
    printf("  %-11s %s", "started", *sv(sum, "started") ? sv(sum, "started") : "-");
    if (*sv(sum, "ended"))
        printf("  ended %s  (%s)", sv(sum, "ended"), buf);
    printf("\n");
    /* What the log holds (`runs` adds the engine's estimate of the steps a
     * run that stopped early never reached). */
    printf("  %-11s %lld ended, %lld failed%s%s\n", "steps",
           (long long)json_integer_value(json_object_get(sum, "steps_done")),
           (long long)json_integer_value(json_object_get(sum, "steps_failed")),
           *sv(sum, "failed_step") ? "; first: " : "", sv(sum, "failed_step"));
    if (t.attempts) {
        rn_runs_fmt_seconds(buf, sizeof buf, t.cpu_user + t.cpu_sys);
        rn_runs_fmt_kb(buf2, sizeof buf2, t.peak_kb);
        printf("  %-11s CPU %s over %d task attempt%s", "resources", buf, t.attempts,
               t.attempts == 1 ? "" : "s");
        rn_runs_fmt_seconds(buf, sizeof buf, t.cpu_user);
        printf(" (user %s, ", buf);
        rn_runs_fmt_seconds(buf, sizeof buf, t.cpu_sys);
        printf("system %s); peak memory %s (%s)\n", buf, buf2, t.peak_step ? t.peak_step : "");
    }
    if (t.code) {
        const char *url = sv(t.code, "code_identifier_url");
        const char *msg = sv(t.code, "code_identifier_message");
        printf("  %-11s %s %s%s%s%s%s\n", "code", sv(t.code, "code_identifier_type"),
               sv(t.code, "code_identifier"), *url ? "  " : "", url, *msg ? "  " : "", msg);
    }
    const json_t *params = json_object_get(doc, "parameters");
    if (json_object_size(params)) {
        char *text = rn_runs_fmt_params(params, 200);
        printf("  %-11s %s\n", "parameters", text ? text : "");
        free(text);
    }
    printf("\n");
    print_table(&t);
    free_table(&t);
    json_decref(sum);
}

int rn_cmd_runs_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 4};
    const char *unused_file = NULL;
    int json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
            continue;
        }
        int r = rn_cli_option("runs show", c, argv, help, &unused_file, &o);
        if (r != RN_CLI_HANDLED)
            return r;
    }
    if (optind >= argc)
        return rn_cli_usage_error("runs show", "which run? give its RUN_ID ('runnable runs' "
                                  "lists them)");
    const char *run_id = argv[optind++];
    if (optind < argc)
        return rn_cli_usage_error("runs show", "unexpected argument '%s'", argv[optind]);

    rn_config *conf = NULL;
    rn_provider *store = NULL;
    json_t *doc = NULL;
    int code = rn_cli_open_store(o.config_file, &conf, &store);
    if (code == RN_EXIT_OK)
        code = rn_cli_get_run(store, run_id, &doc);
    if (code == RN_EXIT_OK) {
        if (json) {
            char *text = json_dumps(doc, JSON_INDENT(4));
            if (text)
                printf("%s\n", text);
            free(text);
        } else {
            print_run(run_id, doc);
        }
    }
    json_decref(doc);
    rn_provider_close(store);
    rn_config_free(conf);
    return code;
}
