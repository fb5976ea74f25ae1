/* runnable runs logs RUN_ID [STEP]: what a run's tasks printed, from the
 * execution logs the catalog keeps (docs/runs.md).  Each attempt names its
 * log in the run log (`execution_log`); the catalog says where it is. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "loader.h"
#include "runnable/runnable.h"

static const char help[] =
    "usage: runnable runs logs [OPTIONS] RUN_ID [STEP]\n"
    "\n"
    "Print what a run's tasks printed (stdout and stderr, as captured in the\n"
    "catalog's execution logs).  STEP is a step's internal name as `runnable runs\n"
    "show` prints it (map_state.1.task); a step name of the top-level graph also\n"
    "works.  Without STEP, every step's output in run order, each under a header;\n"
    "with it, that step's output as is (a header per attempt when it was retried).\n"
    "\n"
    "  -c, --config FILE      configuration naming the run-log store and catalog\n"
    "      --plugin-path DIRS extra plugin folders, searched first\n"
    "\n"
    "Exit status: 0, 2 bad usage, no such run or step, or a catalog that keeps no\n"
    "files (do-nothing).\n";

typedef struct logs {
    const rn_provider *catalog;
    const char *run_id, *step; /* step NULL: all */
    int matched, printed, errors;
} logs;

static int print_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char buf[65536];
    size_t n;
    int last = '\n';
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        fwrite(buf, 1, n, stdout);
        last = buf[n - 1];
    }
    fclose(f);
    if (last != '\n')
        putchar('\n');
    return 0;
}

static void show_step(logs *L, const json_t *st)
{
    const char *iname = json_string_value(json_object_get(st, "internal_name"));
    const json_t *attempts = json_object_get(st, "attempts");
    size_t na = json_array_size(attempts), i;
    json_t *a;
    json_array_foreach(attempts, i, a) {
        const char *name = json_string_value(json_object_get(a, "execution_log"));
        if (!name)
            continue; /* printed nothing, or not run by a task */
        const rn_catalog_ops *co = L->catalog->ops;
        char *path = NULL;
        if (co->locate(L->catalog->self, L->run_id, name, &path) < 0) {
            fprintf(stderr, "runnable: error: %s: %s\n", name, rn_error_last());
            L->errors++;
            continue;
        }
        fflush(stdout);
        if (!L->step || na > 1)
            printf("%s==> %s (attempt %lld, %s) <==\n", L->printed ? "\n" : "", iname,
                   (long long)json_integer_value(json_object_get(a, "attempt_number")),
                   json_string_value(json_object_get(a, "status")) ?
                   json_string_value(json_object_get(a, "status")) : "");
        int rc = print_file(path);
        if (rc < 0) {
            fflush(stdout);
            fprintf(stderr, "runnable: error: cannot read %s: %s\n", path, strerror(-rc));
            L->errors++;
        }
        L->printed++;
        free(path);
    }
}

/* Whether the catalog keeps files where they can be read (do-nothing does
 * not: it answers locate with RN_EUNSUPPORTED). */
static int keeps_files(const rn_provider *catalog, const char *run_id)
{
    const rn_catalog_ops *co = catalog->ops;
    char *path = NULL;
    if (!co->locate || co->locate(catalog->self, run_id, "probe.execution.log", &path) ==
                           RN_EUNSUPPORTED)
        return 0;
    free(path);
    return 1;
}

static void walk(logs *L, const json_t *steps, int top)
{
    const char *key;
    json_t *st;
    json_object_foreach((json_t *)steps, key, st) {
        const char *iname = json_string_value(json_object_get(st, "internal_name"));
        int hit = !L->step || (iname && strcmp(iname, L->step) == 0) ||
                  (top && strcmp(key, L->step) == 0);
        if (hit) {
            L->matched++;
            show_step(L, st);
        }
        const char *bk;
        json_t *b;
        json_object_foreach(json_object_get(st, "branches"), bk, b)
            walk(L, json_object_get(b, "steps"), 0);
    }
}

int rn_cmd_runs_logs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 4};
    const char *unused_file = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        int r = rn_cli_option("runs logs", c, argv, help, &unused_file, &o);
        if (r != RN_CLI_HANDLED)
            return r;
    }
    if (optind >= argc)
        return rn_cli_usage_error("runs logs", "which run? give its RUN_ID ('runnable runs' "
                                  "lists them)");
    logs L = {.run_id = argv[optind++]};
    if (optind < argc)
        L.step = argv[optind++];
    if (optind < argc)
        return rn_cli_usage_error("runs logs", "unexpected argument '%s'", argv[optind]);

    rn_config *conf = NULL;
    rn_provider *store = NULL, *catalog = NULL;
    json_t *doc = NULL;
    int code = rn_cli_open_store(o.config_file, &conf, &store);
    if (code == RN_EXIT_OK)
        code = rn_cli_get_run(store, L.run_id, &doc);
    if (code == RN_EXIT_OK) {
        const rn_service_config *sc = &conf->svc[RN_SVC_CATALOG];
        char cwd[4096];
        rn_plugin_env env = {.version = 1, .config_file = conf->file,
                             .work_dir = getcwd(cwd, sizeof cwd) ? cwd : "."};
        if (rn_provider_open(RN_KIND_CATALOG, sc->type, sc->settings, &env, &catalog) < 0) {
            fprintf(stderr, "runnable: error: catalog: %s\n", rn_error_last());
            code = RN_EXIT_USAGE;
        } else if (!keeps_files(catalog, L.run_id)) {
            fprintf(stderr, "runnable: error: the %s catalog keeps no files, so no task output "
                    "was kept; configure the file-system catalog to keep it\n", sc->type);
            code = RN_EXIT_USAGE;
        }
    }
    if (code == RN_EXIT_OK) {
        L.catalog = catalog;
        walk(&L, json_object_get(doc, "steps"), 1);
        fflush(stdout);
        if (L.step && !L.matched) {
            fprintf(stderr, "runnable: error: run %s has no step '%s'\n"
                    "runnable: hint: 'runnable runs show %s' lists its steps by internal name\n",
                    L.run_id, L.step, L.run_id);
            code = RN_EXIT_USAGE;
        } else if (L.errors) {
            code = RN_EXIT_FAILED;
        } else if (!L.printed) {
            fprintf(stderr, "runnable: %s printed nothing\n", L.step ? L.step : L.run_id);
        }
    }
    json_decref(doc);
    rn_provider_close(catalog);
    rn_provider_close(store);
    rn_config_free(conf);
    return code;
}
