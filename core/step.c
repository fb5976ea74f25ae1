/*
 * The step protocol for leaf nodes (spec/pipeline-format.md §2.2):
 * step log PROCESSING -> catalog get -> secrets -> task -> returns ->
 * catalog put -> execution log -> step log final.  Where runnable aborts the
 * whole run (catalog miss, missing secret) the step fails instead and
 * on_failure is followed (DESIGN §2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine.h"
#include "gitid.h"
#include "spawn.h"

static const rn_catalog_ops *catalog_ops(rn_engine *e)
{
    return e->svc[RN_SVC_CATALOG]->ops;
}

int rn_store_put_step(rn_engine *e, const json_t *step)
{
    const rn_run_log_store_ops *o = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    return o->put_step(e->svc[RN_SVC_RUN_LOG_STORE]->self, e->run_id, step);
}

int rn_store_put_scope(rn_engine *e, const rn_scope *scope)
{
    const rn_run_log_store_ops *o = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    void *self = e->svc[RN_SVC_RUN_LOG_STORE]->self;
    if (scope->branch_log)
        return o->put_branch(self, e->run_id, scope->branch_log);
    return o->put_run_fields(self, e->run_id, e->runlog);
}

/* runnable's execution log name: alphanumerics of the static internal
 * name and map values, plus three random characters. */
static void exec_log_name(const rn_node *node, const rn_scope *scope, char *out, size_t n)
{
    rn_buf raw = {0};
    rn_buf_append(&raw, node->internal_name, strlen(node->internal_name));
    if (scope->map_variables) {
        const char *k;
        json_t *v;
        json_object_foreach(scope->map_variables, k, v) {
            char *s = rn_json_render_env(v);
            rn_buf_printf(&raw, "_value=%s", s ? s : "");
            free(s);
        }
    }
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[3];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 7, sizeof rnd);
    size_t j = 0;
    for (size_t i = 0; raw.data && i < raw.len && j + 20 < n; i++) {
        char c = raw.data[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out[j++] = c;
    }
    for (int i = 0; i < 3; i++)
        out[j++] = alphabet[rnd[i] % 36];
    snprintf(out + j, n - j, ".execution.log");
    rn_buf_free(&raw);
}

/* Where the step's output goes: straight into the catalog when the
 * provider keeps files locally (no copy), else a temporary file. */
typedef struct exec_log {
    char name[512];
    char *path;
    int temporary;
} exec_log;

static int exec_log_open(rn_engine *e, const rn_node *node, const rn_scope *scope, exec_log *l)
{
    exec_log_name(node, scope, l->name, sizeof l->name);
    const rn_catalog_ops *o = catalog_ops(e);
    void *self = e->svc[RN_SVC_CATALOG]->self;
    l->path = NULL;
    l->temporary = 0;
    if (o->locate && o->locate(self, e->run_id, l->name, &l->path) == 0) {
        char *slash = strrchr(l->path, '/');
        if (slash) {
            *slash = '\0';
            rn_mkdir_p(l->path, 0777);
            *slash = '/';
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        size_t n = strlen(tmp ? tmp : "/tmp") + strlen(l->name) + 64;
        l->path = malloc(n);
        snprintf(l->path, n, "%s/runnable-%d-%s", tmp ? tmp : "/tmp", (int)getpid(), l->name);
        l->temporary = 1;
    }
    int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rn_error_set(RN_EIO, "cannot create execution log %s: %s", l->path,
                            strerror(errno));
    close(fd);
    return 0;
}

static void exec_log_append(const exec_log *l, const char *text)
{
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
}

static void exec_log_finish(rn_engine *e, exec_log *l)
{
    if (l->temporary) {
        const rn_catalog_ops *o = catalog_ops(e);
        o->put_file(e->svc[RN_SVC_CATALOG]->self, e->run_id, l->path, l->name);
        unlink(l->path);
    }
    free(l->path);
    l->path = NULL;
}

/* Run the catalog patterns of one stage; a miss fails the step. */
static int catalog_sync(rn_engine *e, const rn_node *node, const char *stage, int allow_missing,
                        json_t *entries, char *msg, size_t msgn)
{
    if (!node->catalog)
        return 0;
    json_t *patterns = json_object_get(node->catalog, stage);
    int store_copy = json_is_true(json_object_get(node->catalog, "store_copy")) ||
                     !json_object_get(node->catalog, "store_copy");
    const rn_catalog_ops *o = catalog_ops(e);
    void *self = e->svc[RN_SVC_CATALOG]->self;
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p) {
        const char *pat = json_string_value(p);
        int rc = strcmp(stage, "get") == 0
                     ? o->get(self, e->run_id, pat, entries)
                     : o->put(self, e->run_id, pat, allow_missing, store_copy, entries);
        if (rc < 0) {
            snprintf(msg, msgn, "catalog %s '%s' failed: %s", stage, pat, rn_error_last());
            return rc;
        }
    }
    return 0;
}

static int resolve_secrets(rn_engine *e, const rn_node *node, json_t **out, char *msg,
                           size_t msgn)
{
    *out = json_object();
    const rn_secrets_ops *o = e->svc[RN_SVC_SECRETS]->ops;
    void *self = e->svc[RN_SVC_SECRETS]->self;
    size_t i;
    json_t *name;
    json_array_foreach(node->secrets, i, name) {
        const char *value = NULL;
        int rc = o->get(self, json_string_value(name), &value);
        if (rc < 0) {
            snprintf(msg, msgn, "%s", rn_error_last());
            return rc;
        }
        json_object_set_new(*out, json_string_value(name), json_string(value ? value : ""));
    }
    return 0;
}

/* Run the task's process and collect its result. */
static int run_task(rn_engine *e, rn_node *node, const char *internal_name, rn_scope *scope,
                    int attempt, json_t *secrets, const exec_log *log, rn_task_result *res)
{
    rn_provider *tp = NULL;
    int rc = rn_engine_task(e, node->command_type, &tp);
    if (rc < 0) {
        snprintf(res->message, sizeof res->message, "%s", rn_error_last());
        return rc;
    }
    const rn_task_ops *to = tp->ops;
    rn_task_request req = {
        .version = 1,
        .run_id = e->run_id,
        .internal_name = internal_name,
        .command_type = node->command_type,
        .command = node->command,
        .task = node->raw,
        .returns = node->returns,
        .parameters = scope->params,
        .map_variables = scope->map_variables,
        .secrets = secrets,
        .attempt = attempt,
        .work_dir = e->work_dir,
    };
    rn_launch *launch = NULL;
    if ((rc = rn_launch_new(&launch)) < 0)
        return rc;
    char num[16];
    snprintf(num, sizeof num, "%d", attempt);
    rn_launch_setenv(launch, "RUNNABLE_STEP_ATTEMPT", num);
    rc = to->prepare(tp->self, &req, launch);
    if (rc < 0) {
        snprintf(res->message, sizeof res->message, "cannot prepare the task: %s",
                 rn_error_last());
        rn_launch_free(launch);
        return 0;
    }
    rn_child child;
    rc = rn_spawn(launch, e->work_dir, log->path, &child);
    rn_launch_free(launch);
    if (rc < 0) {
        snprintf(res->message, sizeof res->message, "cannot start the task: %s",
                 rn_error_last());
        return 0;
    }
    rn_task_exit ex;
    rc = rn_child_wait(&child, &ex, NULL);
    if (rc < 0) {
        snprintf(res->message, sizeof res->message, "lost the task's process: %s",
                 rn_error_last());
        rn_child_release(&child, &ex);
        return 0;
    }
    rc = to->collect(tp->self, &req, &ex, res);
    if (rc < 0 && !res->message[0])
        snprintf(res->message, sizeof res->message, "%s", rn_error_last());
    rn_child_release(&child, &ex);
    return 0;
}

/* Write returns into the scope; 1 if anything changed. */
static int merge_returns(rn_scope *scope, json_t *returns, json_t *attempt)
{
    int changed = 0;
    json_t *outp = json_object_get(attempt, "output_parameters");
    json_t *metrics = json_object_get(attempt, "user_defined_metrics");
    const char *k;
    json_t *v;
    json_object_foreach(returns, k, v) {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        json_t *param = rn_param_new(kind ? kind : "json",
                                     json_incref(json_object_get(v, "value")));
        json_object_set(outp, k, param);
        if (kind && strcmp(kind, "metric") == 0)
            json_object_set(metrics, k, param);
        json_t *old = json_object_get(scope->params, k);
        if (!old || !json_equal(old, param)) {
            json_object_set(scope->params, k, param);
            changed = 1;
        }
        json_decref(param);
    }
    return changed;
}

static void log_metrics(rn_engine *e, const char *internal_name, json_t *metrics)
{
    const rn_tracker_ops *o = e->svc[RN_SVC_TRACKER]->ops;
    const char *k;
    json_t *v;
    json_object_foreach(metrics, k, v)
        o->log_metric(e->svc[RN_SVC_TRACKER]->self, e->run_id, internal_name, k,
                      json_object_get(v, "value"));
}

int rn_step_execute_leaf(rn_engine *e, rn_node *node, const char *internal_name,
                         rn_scope *scope)
{
    json_t *step = json_object_get(scope->steps, internal_name);
    if (!step) {
        step = rn_step_log_new(node->name, internal_name, rn_node_type_name(node->type));
        json_object_set_new(scope->steps, internal_name, step);
    }
    json_object_set_new(step, "status", json_string("PROCESSING"));
    int rc = rn_store_put_step(e, step);
    if (rc < 0)
        return rc;

    json_t *attempts = json_object_get(step, "attempts");
    int number = (int)json_array_size(attempts) + 1;
    char t0[40];
    rn_timestamp(t0, sizeof t0);
    json_t *attempt = rn_attempt_new(number, t0);
    if (e->code_identity)
        json_array_append(json_object_get(attempt, "code_identities"), e->code_identity);
    if (node->type != RN_NODE_STUB && e->retry_indicator)
        json_object_set_new(attempt, "retry_indicator", json_string(e->retry_indicator));

    json_t *puts = json_array(), *gets = json_array();
    int success = 0;
    int params_changed = 0;
    char msg[1024] = "";

    /* Without somewhere to put its output the step cannot run: it fails
     * (and says why) rather than aborting the run. */
    exec_log log;
    int log_ok = exec_log_open(e, node, scope, &log) == 0;
    if (!log_ok) {
        snprintf(msg, sizeof msg, "%s", rn_error_last());
        free(log.path);
    } else if (node->type == RN_NODE_TASK || node->type == RN_NODE_STUB) {
        int ok = catalog_sync(e, node, "get", 0, gets, msg, sizeof msg) == 0;
        if (node->type == RN_NODE_TASK) {
            json_object_set_new(attempt, "input_parameters", json_copy(scope->params));
            json_t *secrets = NULL;
            if (ok)
                ok = resolve_secrets(e, node, &secrets, msg, sizeof msg) == 0;
            if (ok) {
                rn_task_result res = {.version = 1};
                rc = run_task(e, node, internal_name, scope, number, secrets, &log, &res);
                success = res.success && rc == 0;
                snprintf(msg, sizeof msg, "%s", res.message);
                if (success && res.returns)
                    params_changed = merge_returns(scope, res.returns, attempt);
                json_decref(res.returns);
            }
            json_decref(secrets);
        } else {
            success = ok;
        }
        char pmsg[1024] = "";
        if (catalog_sync(e, node, "put", !success, puts, pmsg, sizeof pmsg) < 0 && success) {
            success = 0;
            snprintf(msg, sizeof msg, "%s", pmsg);
        }
    } else {
        success = 1; /* success and fail nodes always succeed themselves */
    }
    if (!log_ok && (node->type == RN_NODE_SUCCESS || node->type == RN_NODE_FAIL))
        success = 1;
    if (log_ok) {
        if (msg[0]) {
            /* The reason also goes to the execution log, where users look. */
            exec_log_append(&log, msg);
            exec_log_append(&log, "\n");
        }
        exec_log_finish(e, &log);
    }

    char t1[40];
    rn_timestamp(t1, sizeof t1);
    json_object_set_new(attempt, "end_time", json_string(t1));
    json_object_set_new(attempt, "status", json_string(success ? "SUCCESS" : "FAIL"));
    json_object_set_new(attempt, "message", json_string(msg));
    log_metrics(e, internal_name, json_object_get(attempt, "user_defined_metrics"));
    json_array_append_new(attempts, attempt);
    json_t *dc = json_object_get(step, "data_catalog");
    json_array_extend(dc, puts);
    json_array_extend(dc, gets);
    json_decref(puts);
    json_decref(gets);
    json_object_set_new(step, "status", json_string(success ? "SUCCESS" : "FAIL"));
    e->steps_total++;
    if (!success)
        e->steps_failed++;

    if (params_changed && (rc = rn_store_put_scope(e, scope)) < 0)
        return rc;
    if ((rc = rn_store_put_step(e, step)) < 0)
        return rc;

    if (node->type == RN_NODE_SUCCESS || node->type == RN_NODE_FAIL) {
        const char *st = node->type == RN_NODE_SUCCESS ? "SUCCESS" : "FAIL";
        json_t *owner = scope->branch_log ? scope->branch_log : e->runlog;
        json_object_set_new(owner, "status", json_string(st));
        if ((rc = rn_store_put_scope(e, scope)) < 0)
            return rc;
    }
    return success;
}

int rn_step_record_unsupported(rn_engine *e, rn_node *node, const char *internal_name,
                               rn_scope *scope, const char *why)
{
    json_t *step = json_object_get(scope->steps, internal_name);
    if (!step) {
        step = rn_step_log_new(node->name, internal_name, rn_node_type_name(node->type));
        json_object_set_new(scope->steps, internal_name, step);
    }
    json_object_set_new(step, "status", json_string("FAIL"));
    json_object_set_new(step, "message", json_string(why));
    e->steps_total++;
    e->steps_failed++;
    int rc = rn_store_put_step(e, step);
    return rc < 0 ? rc : 0;
}
