/* The run-log store of a configuration, for the commands that read past
 * runs (runs, runs show, runs logs, timeline): opened without a pipeline,
 * with the same messages everywhere. */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "loader.h"

int rn_cli_open_store(const char *config_file, rn_config **conf, rn_provider **store)
{
    rn_diag diag = {0};
    *store = NULL;
    rn_config_load(config_file, &diag, conf);
    if (diag.n) {
        rn_cli_print_diag(&diag);
        rn_diag_free(&diag);
        return RN_EXIT_USAGE;
    }
    rn_diag_free(&diag);
    rn_cli_print_warnings(&(*conf)->warnings);
    const rn_service_config *sc = &(*conf)->svc[RN_SVC_RUN_LOG_STORE];
    char cwd[4096];
    rn_plugin_env env = {.version = 1, .config_file = (*conf)->file,
                         .work_dir = getcwd(cwd, sizeof cwd) ? cwd : "."};
    if (rn_provider_open(RN_KIND_RUN_LOG_STORE, sc->type, sc->settings, &env, store) < 0) {
        fprintf(stderr, "runnable: error: run-log-store: %s\n", rn_error_last());
        return RN_EXIT_USAGE;
    }
    return RN_EXIT_OK;
}

int rn_cli_get_run(const rn_provider *store, const char *run_id, json_t **doc)
{
    const rn_run_log_store_ops *so = store->ops;
    *doc = NULL;
    int rc = so->get_run(store->self, run_id, doc);
    if (rc == RN_ENOENT) {
        fprintf(stderr, "runnable: error: %s\n"
                        "runnable: hint: 'runnable runs' lists the runs of this store; "
                        "give -c CONFIG for another store\n", rn_error_last());
        return RN_EXIT_USAGE;
    }
    if (rc < 0) {
        fprintf(stderr, "runnable: error: run %s: %s\n", run_id, rn_error_last());
        return RN_EXIT_USAGE;
    }
    return RN_EXIT_OK;
}
