/*
 * A pipeline run from start to end: configuration, pipeline, providers,
 * run id, initial parameters, the run log, then the executor.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "gitid.h"
#include "history.h"
#include "runid.h"
#include "spawn.h"

extern char **environ;

json_t *rn_engine_code_identity(rn_engine *e)
{
    if (!e->identity_known) {
        e->identity_known = 1;
        rn_code_identity_git(e->work_dir, &e->code_identity);
    }
    return e->code_identity;
}

/* Whether a plugin's descriptor accepts setting `key`. */
static int accepts_key(const rn_plugin *pl, const char *key)
{
    for (const char *const *a = pl->desc->config_keys; a && *a; a++)
        if (strcmp(*a, key) == 0)
            return 1;
    return 0;
}

/*
 * A task plugin's settings: its `tasks.<type>.config` block, plus the
 * executor's `python` setting when the block has none and the plugin takes
 * one, so `pipeline-executor: {config: {python: ...}}` chooses the
 * interpreter of python and notebook tasks alike.  New reference.
 */
static json_t *task_settings(rn_engine *e, const char *command_type)
{
    const rn_service_config *t = rn_config_task(e->config, command_type);
    json_t *s = t ? json_deep_copy(t->settings) : json_object();
    json_t *py = json_object_get(e->config->svc[RN_SVC_EXECUTOR].settings, "python");
    if (s && py && !json_object_get(s, "python")) {
        rn_plugin *pl = NULL;
        if (rn_plugin_open(RN_KIND_TASK, command_type, &pl) == 0) {
            if (accepts_key(pl, "python"))
                json_object_set(s, "python", py);
            rn_plugin_close(pl);
        }
    }
    return s;
}

int rn_engine_task(rn_engine *e, const char *command_type, rn_provider **out)
{
    for (size_t i = 0; i < e->n_tasks; i++)
        if (strcmp(e->tasks[i].command_type, command_type) == 0) {
            *out = e->tasks[i].provider;
            return 0;
        }
    rn_provider *p = NULL;
    json_t *settings = task_settings(e, command_type);
    if (!settings)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = rn_provider_open(RN_KIND_TASK, command_type, settings, &e->penv, &p);
    json_decref(settings);
    if (rc < 0)
        return rc;
    rn_task_provider *nt = realloc(e->tasks, (e->n_tasks + 1) * sizeof *nt);
    if (!nt) {
        rn_provider_close(p);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    e->tasks = nt;
    e->tasks[e->n_tasks].command_type = strdup(command_type);
    e->tasks[e->n_tasks].provider = p;
    e->n_tasks++;
    *out = p;
    return 0;
}

/* Pipeline loading calls this for every task: the task type must exist and
 * accept the task's fields. */
static int check_task(const char *command_type, const json_t *task, void *data)
{
    rn_engine *e = data;
    rn_provider *p = NULL;
    /* A missing task type is reported once, at its first task. */
    if (json_object_get(e->missing_tasks, command_type))
        return 0;
    int rc = rn_engine_task(e, command_type, &p);
    if (rc < 0) {
        json_object_set_new(e->missing_tasks, command_type, json_true());
        return rc;
    }
    const rn_task_ops *o = p->ops;
    if (o->validate)
        return o->validate(p->self, task);
    return 0;
}

/* Service `s` loaded, its settings checked, and started into e->svc[s];
 * what is wrong goes to diag. */
static void open_service(rn_engine *e, int s, rn_diag *diag)
{
    rn_service_config *sc = &e->config->svc[s];
    rn_plugin *pl = NULL;
    int kind = rn_service_kind(s);
    if (rn_plugin_open(kind, sc->type, &pl) < 0) {
        rn_diag_add(diag, e->config->file, sc->line, sc->col, "%s", rn_error_last());
        return;
    }
    size_t before = diag->n;
    rn_config_check_keys(e->config, s, pl->desc->config_keys, diag);
    if (diag->n > before) {
        rn_plugin_close(pl);
        return;
    }
    /* The module checked is the one started: loading it twice costs
     * a pod about a millisecond. */
    if (rn_provider_start(pl, sc->settings, &e->penv, &e->svc[s]) < 0) {
        int line, col;
        rn_config_setting_pos(sc, rn_error_last(), &line, &col);
        rn_diag_add(diag, e->config->file, line, col, "%s: %s", rn_service_key(s),
                    rn_error_last());
    }
}

/* Services a node's process opens only when its step uses them: most
 * steps name no secret and log no metric, and each plugin loaded costs
 * a pod a fifth of a millisecond. */
static int deferred_in_node(int s)
{
    return s == RN_SVC_SECRETS || s == RN_SVC_TRACKER;
}

rn_provider *rn_engine_service(rn_engine *e, int s)
{
    if (e->svc[s])
        return e->svc[s];
    rn_diag diag = {0};
    open_service(e, s, &diag);
    if (!e->svc[s]) {
        char *first = diag.n ? rn_diag_format(&diag.items[0]) : NULL;
        rn_error_set(RN_EINVAL, "%s", first ? first : "the service cannot be opened");
        free(first);
    }
    rn_diag_free(&diag);
    return e->svc[s];
}

static void open_services(rn_engine *e, rn_diag *diag)
{
    for (int s = 0; s < RN_SVC_COUNT; s++) {
        /* A node's process runs the node: the executor that placed it
         * there (a container runtime, a cluster) need not exist here. */
        if (e->node_mode && (s == RN_SVC_EXECUTOR || deferred_in_node(s)))
            continue;
        open_service(e, s, diag);
    }
    /* Every task type the configuration gives settings to must exist and
     * take them, used by this pipeline or not. */
    for (size_t i = 0; i < e->config->n_tasks; i++) {
        const rn_service_config *t = &e->config->tasks[i];
        rn_plugin *pl = NULL;
        if (rn_plugin_open(RN_KIND_TASK, t->type, &pl) < 0) {
            rn_diag_add(diag, e->config->file, t->line, t->col, "%s", rn_error_last());
            continue;
        }
        rn_config_check_task_keys(e->config, t, pl->desc->config_keys, diag);
        rn_plugin_close(pl);
    }
}

static int initial_parameters(rn_engine *e, json_t **out);

/* Read the run to retry from the configured store. */
static int retry_open(rn_engine *e, const char *run_id, rn_diag *diag)
{
    rn_provider *store = e->svc[RN_SVC_RUN_LOG_STORE];
    if (!store) {
        rn_diag_add(diag, NULL, 0, 0, "cannot retry run '%s': no run-log store", run_id);
        return RN_EINVAL;
    }
    const rn_run_log_store_ops *so = store->ops;
    int rc = so->get_run(store->self, run_id, &e->retry_doc);
    if (rc < 0) {
        rn_diag_add(diag, NULL, 0, 0, "cannot retry run '%s': %s (the run-log store is '%s'; "
                    "use the configuration the run was made with)", run_id, rn_error_last(),
                    e->config->svc[RN_SVC_RUN_LOG_STORE].type);
        return RN_EINVAL;
    }
    e->retrying = 1;
    return 0;
}

/* Up to a few differences between two serialised graphs, as step paths. */
static void dag_differences(const json_t *old, const json_t *cur, const char *prefix,
                            rn_buf *out, int *count)
{
    const json_t *on = json_object_get(old, "nodes"), *cn = json_object_get(cur, "nodes");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)on, k, v) {
        if (*count >= 5)
            return;
        json_t *w = json_object_get(cn, k);
        if (!w) {
            rn_buf_printf(out, "%sstep '%s%s' was removed", *count ? "; " : "", prefix, k);
            (*count)++;
        } else if (!json_equal(v, w)) {
            /* Descend into branches when only they differ. */
            json_t *ob = json_object_get(v, "branches"), *cb = json_object_get(w, "branches");
            json_t *vb = json_copy(v), *wb = json_copy(w);
            json_object_del(vb, "branches");
            json_object_del(wb, "branches");
            json_object_del(vb, "branch");
            json_object_del(wb, "branch");
            if (json_equal(vb, wb) && (ob || json_object_get(v, "branch"))) {
                const char *bk;
                json_t *bv;
                if (ob) {
                    json_object_foreach(ob, bk, bv) {
                        char p[1024];
                        snprintf(p, sizeof p, "%s%s.%s.", prefix, k, bk);
                        dag_differences(bv, json_object_get(cb, bk), p, out, count);
                    }
                } else {
                    char p[1024];
                    snprintf(p, sizeof p, "%s%s.", prefix, k);
                    dag_differences(json_object_get(v, "branch"),
                                    json_object_get(w, "branch"), p, out, count);
                }
            } else {
                rn_buf_printf(out, "%sstep '%s%s' changed", *count ? "; " : "", prefix, k);
                (*count)++;
            }
            json_decref(vb);
            json_decref(wb);
        }
    }
    json_object_foreach((json_t *)cn, k, v) {
        if (*count >= 5)
            return;
        if (!json_object_get(on, k)) {
            rn_buf_printf(out, "%sstep '%s%s' was added", *count ? "; " : "", prefix, k);
            (*count)++;
        }
    }
}

/* A retry re-runs the same graph: refuse a changed one, saying what
 * changed. */
static void retry_check_dag(rn_engine *e, rn_diag *diag)
{
    const char *stored = json_string_value(json_object_get(e->retry_doc, "dag_hash"));
    if (stored && strcmp(stored, rn_pipeline_dag_hash(e->pipeline)) == 0)
        return;
    rn_buf what = {0};
    int count = 0;
    json_t *old = json_object_get(json_object_get(e->retry_doc, "run_config"), "dag");
    if (old)
        dag_differences(old, rn_pipeline_dag_json(e->pipeline), "", &what, &count);
    if (!count)
        rn_buf_printf(&what, "its definition differs");
    rn_buf_append(&what, "", 1);
    rn_diag_add(diag, e->pipeline->file, 0, 0, "the pipeline changed since run '%s' was made "
                "(dag_hash %s, now %s): %s; retry with --force to run the changed pipeline "
                "anyway", json_string_value(json_object_get(e->retry_doc, "run_id")),
                stored ? stored : "none", rn_pipeline_dag_hash(e->pipeline), what.data);
    rn_buf_free(&what);
}

int rn_engine_prepare(const rn_run_options *opts, rn_diag *diag, rn_engine **out)
{
    return rn_engine_prepare_node(opts, NULL, diag, out);
}

/* The top-level step a node's internal name starts with ("a" of
 * "a.branch.b"), '%' read as a space; NULL when out of memory. */
static char *top_step(const char *node_step)
{
    char *s = strndup(node_step, strcspn(node_step, "."));
    for (char *p = s; p && *p; p++)
        if (*p == '%')
            *p = ' ';
    return s;
}

/*
 * Load and check the pipeline (only top-level step `only` when not NULL),
 * first without the file's positions: for a thousand steps they are
 * thousands of entries, more memory than the document, and only a problem
 * needs them, so a pipeline with problems is loaded again to say where.
 */
static int load_pipeline(rn_engine *e, const char *file, const char *only, rn_diag *diag,
                         rn_pipeline **out)
{
    size_t before = diag->n;
    int rc = rn_pipeline_load_step(file, only, RN_PL_QUICK, check_task, e, diag, out);
    if (rc == RN_EINVAL && diag->n > before) {
        rn_diag_truncate(diag, before);
        json_object_clear(e->missing_tasks); /* to be reported again */
        rc = rn_pipeline_load_step(file, only, 0, check_task, e, diag, out);
    }
    return rc;
}

int rn_engine_load_whole_pipeline(rn_engine *e)
{
    if (!e->pipeline || !e->pipeline->partial)
        return 0;
    rn_diag diag = {0};
    rn_pipeline *p = NULL;
    int rc = load_pipeline(e, e->pipeline->file, NULL, &diag, &p);
    if (rc == 0) {
        rn_pipeline_free(e->pipeline);
        e->pipeline = p;
    } else if (diag.n) {
        /* The run's other steps were never checked by this process. */
        char *first = rn_diag_format(&diag.items[0]);
        if (diag.n > 1)
            rc = rn_error_set(RN_EINVAL, "%s (and %zu more: `runnable validate %s` lists them)",
                              first ? first : "the pipeline has problems", diag.n - 1,
                              e->pipeline->file);
        else
            rc = rn_error_set(RN_EINVAL, "%s", first ? first : "the pipeline has problems");
        free(first);
    }
    rn_diag_free(&diag);
    return rc;
}

int rn_engine_prepare_node(const rn_run_options *opts, const char *node_step, rn_diag *diag,
                           rn_engine **out)
{
    rn_engine *e = calloc(1, sizeof *e);
    if (!e)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *out = e;
    e->node_mode = node_step != NULL;
    e->t_start = rn_mono_now();
    char cwd[4096];
    e->work_dir = strdup(getcwd(cwd, sizeof cwd) ? cwd : ".");
    e->tag = strdup(opts->tag ? opts->tag : "");
    if (opts->version >= 2 && opts->default_timeout > 0)
        e->default_timeout = opts->default_timeout;
    if (opts->version >= 4) {
        e->on_event = opts->on_event;
        e->event_data = opts->event_data;
        e->tick_seconds = opts->tick_seconds;
        e->log_level = opts->log_level;
    }
    if (opts->version >= 5 && opts->output_file && *opts->output_file)
        e->output_file = strdup(opts->output_file);
    if (e->log_level <= 0)
        e->log_level = 30;
    size_t before = diag->n;

    rn_config_load(opts->config_file, diag, &e->config);
    e->penv.version = 1;
    e->penv.config_file = e->config->file;
    e->penv.work_dir = e->work_dir;
    open_services(e, diag);

    const char *pipeline_file = opts->pipeline_file;
    const char *retry_id = opts->version >= 3 ? opts->retry_run_id : NULL;
    if (!retry_id || !*retry_id)
        retry_id = getenv("RUNNABLE_RETRY_RUN_ID");
    if (retry_id && *retry_id && diag->n == before) {
        if (retry_open(e, retry_id, diag) < 0)
            return RN_EINVAL;
        if (!pipeline_file)
            pipeline_file = json_string_value(json_object_get(
                json_object_get(e->retry_doc, "run_config"), "pipeline_definition_file"));
    }
    if (!pipeline_file) {
        rn_diag_add(diag, NULL, 0, 0, "no pipeline file to run; name one");
        return RN_EINVAL;
    }

    e->missing_tasks = json_object();
    /* A node's process reads and checks the top-level step it runs in
     * (the run's maker checked the rest): a pod of a thousand-step
     * pipeline does not pay for the other 999.  A retry compares the
     * whole graph with the run's. */
    char *only = node_step && !e->retrying ? top_step(node_step) : NULL;
    int rc = load_pipeline(e, pipeline_file, only, diag, &e->pipeline);
    free(only);
    if (rc == RN_ENOENT && diag->n == before)
        rn_diag_add(diag, pipeline_file, 0, 0, "cannot read the pipeline file: %s",
                    rn_error_last());
    if (e->retrying && e->pipeline && diag->n == before &&
        !(opts->version >= 3 && opts->force))
        retry_check_dag(e, diag);
    /* The executor's settings may refer to the pipeline (mocked patches). */
    rn_provider *xp = e->svc[RN_SVC_EXECUTOR];
    if (xp && e->pipeline && diag->n == before) {
        const rn_executor_ops *xo = xp->ops;
        if (xo->version >= 2 && xo->check && xo->check(xp->self, e) < 0)
            rn_diag_add(diag, e->config->file, e->config->svc[RN_SVC_EXECUTOR].line,
                        e->config->svc[RN_SVC_EXECUTOR].col, "%s", rn_error_last());
    }

    const char *pf = getenv("RUNNABLE_PARAMETERS_FILE");
    if (pf && *pf)
        e->parameters_file = strdup(pf);
    else if (opts->parameters_file && *opts->parameters_file)
        e->parameters_file = strdup(opts->parameters_file);

    /* A retry runs with the parameters the run had (spec/services.md
     * §4.5): no parameters file, no RUNNABLE_PRM_ overrides. */
    if (diag->n == before && !e->retrying && initial_parameters(e, &e->initial_params) < 0)
        rn_diag_add(diag, NULL, 0, 0, "%s", rn_error_last());

    if (diag->n > before) {
        rn_diag_item *first = &diag->items[before];
        char *s = rn_diag_format(first);
        rn_error_set(RN_EINVAL, "%s", s ? s : "invalid input");
        free(s);
        return RN_EINVAL;
    }

    /* Run id: the retried run's, explicit, then RUNNABLE_RUN_ID, then
     * generated. */
    const char *rid = opts->run_id && *opts->run_id ? opts->run_id : getenv("RUNNABLE_RUN_ID");
    if (e->retrying)
        rid = retry_id;
    if (rid && *rid)
        snprintf(e->run_id, sizeof e->run_id, "%s", rid);
    else
        rn_run_id_generate(e->run_id, sizeof e->run_id);
    const char *ri = getenv("RUNNABLE_RETRY_INDICATOR");
    if (ri && *ri)
        e->retry_indicator = strdup(ri);
    return 0;
}

/* Initial parameters (spec/pipeline-format.md §3.2). */
static int initial_parameters(rn_engine *e, json_t **out)
{
    json_t *params = json_object();
    if (e->parameters_file) {
        json_t *doc = NULL;
        rn_diag d = {0};
        int yrc = rn_yaml_load_file(e->parameters_file, &doc, NULL, &d);
        if (yrc < 0 && d.n == 0) {
            rn_error_set(RN_EINVAL, "%s: cannot read the parameters file; check the path "
                         "given with -p or RUNNABLE_PARAMETERS_FILE", e->parameters_file);
            json_decref(params);
            json_decref(doc);
            return RN_EINVAL;
        }
        if (d.n || (doc && !json_is_object(doc) && !json_is_null(doc))) {
            char *s = d.n ? rn_diag_format(&d.items[0]) : NULL;
            if (s)
                rn_error_set(RN_EINVAL, "%s", s);
            else
                rn_error_set(RN_EINVAL, "%s:1:1: the parameters file must be a mapping of "
                             "parameter names to values", e->parameters_file);
            free(s);
            rn_diag_free(&d);
            json_decref(doc);
            json_decref(params);
            return RN_EINVAL;
        }
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
            json_object_set_new(params, k, rn_param_new("json", json_incref(v)));
        json_decref(doc);
        rn_diag_free(&d);
    }
    for (char **env = environ; *env; env++) {
        if (strncmp(*env, "RUNNABLE_PRM_", 13) != 0)
            continue;
        const char *eq = strchr(*env, '=');
        if (!eq || eq == *env + 13)
            continue;
        char name[512];
        size_t n = (size_t)(eq - (*env + 13));
        if (n >= sizeof name)
            continue;
        for (size_t i = 0; i < n; i++) {
            char c = (*env)[13 + i];
            name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        name[n] = '\0';
        json_t *v = rn_json_loads_py(eq + 1, strlen(eq + 1));
        if (!v)
            v = json_string(eq + 1);
        json_object_set_new(params, name, rn_param_new("json", v));
    }
    *out = params;
    return 0;
}

static json_t *service_entry(const char *name, const char *type)
{
    return json_pack("{s:s, s:s}", "service_name", name, "service_type", type);
}

static json_t *run_config(rn_engine *e)
{
    rn_config *c = e->config;
    json_t *exec = service_entry(c->svc[RN_SVC_EXECUTOR].type, "pipeline_executor");
    json_t *ov = json_object_get(c->svc[RN_SVC_EXECUTOR].settings, "overrides");
    json_object_set_new(exec, "overrides", ov ? json_deep_copy(ov) : json_object());
    json_t *cat = service_entry(c->svc[RN_SVC_CATALOG].type, "catalog");
    json_t *cdf = json_object_get(c->svc[RN_SVC_CATALOG].settings, "compute_data_folder");
    json_object_set_new(cat, "compute_data_folder", cdf ? json_incref(cdf) : json_string("."));
    json_t *store = service_entry(c->svc[RN_SVC_RUN_LOG_STORE].type, "run_log_store");
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    int parallel = so->supports_parallel_writes
                       ? so->supports_parallel_writes(e->svc[RN_SVC_RUN_LOG_STORE]->self)
                       : 0;
    json_object_set_new(store, "supports_parallel_writes", json_boolean(parallel));
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:{}, s:o, s:o, s:o, s:{s:s, s:s, s:s}, s:o, s:s, s:s, s:b, "
        "s:O, s:s}",
        "execution_mode", "yaml", "run_id", e->run_id, "tag", e->tag, "object_serialisation",
        !json_is_false(json_object_get(c->svc[RN_SVC_EXECUTOR].settings, "object_serialisation")),
        "return_objects", "pipeline_executor", exec, "catalog", cat, "secrets",
        service_entry(c->svc[RN_SVC_SECRETS].type, "secrets"), "pickler", "extension", ".dill",
        "service_name", "pickle", "service_type", "pickler", "run_log_store", store,
        "pipeline_definition_file", e->pipeline->file, "retry_indicator",
        e->retry_indicator ? e->retry_indicator : "", "is_retry", 0, "dag",
        rn_pipeline_dag_json(e->pipeline), "dag_hash", rn_pipeline_dag_hash(e->pipeline));
}

json_t *rn_engine_new_runlog(rn_engine *e, json_t *params)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:n, s:o, s:o}", "run_id", e->run_id,
                     "dag_hash", rn_pipeline_dag_hash(e->pipeline), "tag", e->tag, "status", "PROCESSING",
                     "steps", "job", "parameters", params, "run_config", run_config(e));
}

int rn_engine_execute(rn_engine *e, rn_run_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    snprintf(summary->run_id, sizeof summary->run_id, "%s", e->run_id);
    snprintf(summary->status, sizeof summary->status, "PROCESSING");

    json_t *params = e->initial_params;
    e->initial_params = NULL;
    int rc;

    /* Tasks inherit these (spec/cli.md §6.2). */
    setenv("RUNNABLE_RUN_ID", e->run_id, 1);
    if (e->config->exported && e->config->file)
        setenv("RUNNABLE_CONFIGURATION_FILE", e->config->file, 1);
    if (*e->tag)
        setenv("RUNNABLE_RUN_TAG", e->tag, 1);


    /* An executor that hands the run to another system (argo) answers its
     * check() with 1: it only writes its output, and the run log is made
     * by that system's first process, not here. */
    const rn_executor_ops *rxo = e->svc[RN_SVC_EXECUTOR]->ops;
    if (rxo->version >= 2 && rxo->check && rxo->check(e->svc[RN_SVC_EXECUTOR]->self, e) == 1) {
        e->initial_params = params;   /* rn_engine_parameters() reads them */
        if (e->retrying)
            return rn_error_set(RN_EINVAL, "the %s executor runs nothing here, so it cannot "
                                "retry run '%s': retry it where it ran (on Argo: argo retry "
                                "WORKFLOW, or argo resubmit), or retry with another executor's "
                                "config", e->config->svc[RN_SVC_EXECUTOR].type, e->run_id);
        rc = rxo->run_pipeline(e->svc[RN_SVC_EXECUTOR]->self, e);
        snprintf(summary->status, sizeof summary->status, "%s", rc < 0 ? "FAIL" : "RENDERED");
        summary->seconds = rn_mono_now() - e->t_start;
        return rc;
    }

    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    void *sself = e->svc[RN_SVC_RUN_LOG_STORE]->self;
    if (e->retrying) {
        /* Re-run in place: the stored document goes on, marked live again
         * (the terminal step reached at the end writes the final status). */
        json_decref(params);
        e->runlog = e->retry_doc;
        e->retry_doc = NULL;
        params = json_object_get(e->runlog, "parameters");
        if (!json_is_object(params))
            json_object_set_new(e->runlog, "parameters", params = json_object());
        json_object_set_new(e->runlog, "status", json_string("PROCESSING"));
        if ((rc = so->put_run_fields(sself, e->run_id, e->runlog)) < 0)
            return rc;
    } else {
        e->runlog = rn_engine_new_runlog(e, params);
        if ((rc = so->create_run(sself, e->run_id, e->runlog)) < 0)
            return rc;
    }
    e->created = 1;
    rn_timestamp(e->started, sizeof e->started);
    /* Batch the store's writes: the scheduler flushes at the moments that
     * matter (before a task starts, before it waits). */
    if (so->version >= 2 && so->defer && so->flush &&
        so->defer(sself, e->run_id, 1) == 0)
        e->store_deferred = 1;

    rn_provider *tracker = rn_engine_service(e, RN_SVC_TRACKER);
    const rn_tracker_ops *to = tracker->ops;
    to->start_run(tracker->self, e->run_id, params);

    const rn_executor_ops *xo = e->svc[RN_SVC_EXECUTOR]->ops;
    rn_history_put(e, 0);
    rn_engine_emit(e, &(rn_event){.kind = RN_EVENT_RUN_START});
    rc = xo->run_pipeline(e->svc[RN_SVC_EXECUTOR]->self, e);

    const char *status = json_string_value(json_object_get(e->runlog, "status"));
    if (rc < 0 && status && strcmp(status, "PROCESSING") == 0) {
        /* A hard error must not leave the run looking alive (DESIGN §2). */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rn_error_last());
        json_object_set_new(e->runlog, "status", json_string("FAIL"));
        so->put_run_fields(sself, e->run_id, e->runlog);
        rn_error_set(rc, "%s", msg);
        status = "FAIL";
    }
    to->end_run(tracker->self, e->run_id, status ? status : "FAIL");
    int frc = rn_store_flush(e);
    if (rc == 0 && frc < 0)
        rc = frc;
    rn_history_put(e, 1);
    int crc = so->close_run(sself, e->run_id);
    if (rc == 0 && crc < 0)
        rc = crc;

    rn_engine_emit(e, &(rn_event){.kind = RN_EVENT_RUN_END,
                                  .status = status ? status : "FAIL"});
    snprintf(summary->status, sizeof summary->status, "%s", status ? status : "FAIL");
    summary->steps_total = e->steps_total;
    summary->steps_failed = e->steps_failed;
    summary->seconds = rn_mono_now() - e->t_start;
    summary->interrupted_by = e->interrupted_by;
    return rc;
}

void rn_engine_free(rn_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_tasks; i++) {
        rn_provider_close(e->tasks[i].provider);
        free(e->tasks[i].command_type);
    }
    free(e->tasks);
    for (int s = RN_SVC_COUNT - 1; s >= 0; s--)
        rn_provider_close(e->svc[s]);
    rn_pipeline_free(e->pipeline);
    rn_config_free(e->config);
    json_decref(e->runlog);
    json_decref(e->code_identity);
    json_decref(e->missing_tasks);
    json_decref(e->initial_params);
    json_decref(e->retry_doc);
    free(e->work_dir);
    free(e->tag);
    free(e->output_file);
    free(e->parameters_file);
    free(e->retry_indicator);
    free(e->first_failed);
    free(e);
}

const char *rn_engine_run_id(const rn_engine *e)
{
    return e->run_id;
}

const json_t *rn_engine_pipeline(const rn_engine *e)
{
    return e->pipeline ? e->pipeline->document : NULL;
}

const json_t *rn_engine_dag(const rn_engine *e)
{
    return e->pipeline ? rn_pipeline_dag_json(e->pipeline) : NULL;
}

const char *rn_engine_pipeline_file(const rn_engine *e)
{
    return e->pipeline ? e->pipeline->file : NULL;
}

const char *rn_engine_config_file(const rn_engine *e)
{
    return e->config ? e->config->file : NULL;
}

const char *rn_engine_output_file(const rn_engine *e)
{
    return e->output_file;
}

const json_t *rn_engine_parameters(const rn_engine *e)
{
    /* Before the run starts they wait in initial_params; once it has, the
     * run log holds them. */
    if (e->initial_params)
        return e->initial_params;
    return e->runlog ? json_object_get(e->runlog, "parameters") : NULL;
}

static int graph_has_step(const rn_graph *g, const char *name)
{
    if (!g)
        return 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const rn_node *n = g->nodes[i];
        if ((n->type == RN_NODE_TASK || n->type == RN_NODE_STUB) && !strcmp(n->name, name))
            return 1;
        for (size_t b = 0; b < n->n_branches; b++)
            if (graph_has_step(n->branches[b], name))
                return 1;
        if (graph_has_step(n->branch, name) || graph_has_step(n->default_graph, name))
            return 1;
    }
    return 0;
}

int rn_engine_has_step(const rn_engine *e, const char *name)
{
    return e && e->pipeline && name && graph_has_step(e->pipeline->dag, name);
}

static json_t *root_step(const rn_node *n)
{
    json_t *deps = json_array();
    for (size_t i = 0; deps && i < n->n_depends_on; i++)
        json_array_append_new(deps, json_string(n->depends_on[i]));
    return json_pack("{s:s, s:s, s:i, s:i, s:s?, s:s?, s:o*}", "name", n->name, "type",
                     rn_node_type_name(n->type), "line", n->pos.line, "col", n->pos.col,
                     "next", n->next, "on_failure", n->on_failure, "depends_on", deps);
}

int rn_engine_root_steps(const rn_engine *e, json_t **out)
{
    *out = NULL;
    if (!e || !e->pipeline)
        return rn_error_set(RN_EINVAL, "no pipeline is loaded");
    int rc = rn_pipeline_root_positions(e->pipeline);
    if (rc < 0)
        return rc;
    const rn_graph *g = e->pipeline->dag;
    json_t *steps = json_array();
    json_t *doc = steps ? json_pack("{s:s, s:s?, s:b, s:b, s:o}", "file", e->pipeline->file,
                                    "start_at", g->start_at, "is_dag", g->is_dag,
                                    "retrying", e->retrying, "steps", steps)
                        : NULL;
    for (size_t i = 0; doc && i < g->n_nodes; i++)
        if (json_array_append_new(steps, root_step(g->nodes[i])) < 0) {
            json_decref(doc);
            doc = NULL;
        }
    if (!doc)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *out = doc;
    return 0;
}

int rn_run_pipeline(const rn_run_options *opts, rn_run_summary *summary)
{
    rn_diag diag = {0};
    rn_engine *e = NULL;
    int rc = rn_engine_prepare(opts, &diag, &e);
    if (rc == 0)
        rc = rn_engine_execute(e, summary);
    rn_engine_free(e);
    rn_diag_free(&diag);
    return rc;
}
