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
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
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

int rn_store_flush(rn_engine *e)
{
    const rn_run_log_store_ops *o = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    if (o->version < 2 || !o->flush || !e->store_deferred)
        return 0;
    return o->flush(e->svc[RN_SVC_RUN_LOG_STORE]->self, e->run_id);
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

/*
 * The attempt's output is captured in memory (a memfd the task writes
 * through /proc/self/fd) and written to the catalog when the attempt ends,
 * only if there is any: creating a file per step was most of the engine's
 * own cost of a step that prints nothing (an inode allocation on ext4
 * costs more than the rest of the step's bookkeeping together).  Where
 * memfds are missing the log is a file from the start, as before.
 */
static int exec_log_target(rn_engine *e, rn_leaf *l)
{
    const rn_catalog_ops *o = catalog_ops(e);
    void *self = e->svc[RN_SVC_CATALOG]->self;
    l->log_temporary = 0;
    if (o->locate && o->locate(self, e->run_id, l->log_name, &l->log_path) == 0) {
        char *slash = strrchr(l->log_path, '/');
        if (slash) {
            *slash = '\0';
            rn_mkdir_p(l->log_path, 0777);
            *slash = '/';
        }
        return 0;
    }
    /* Not kept locally: a temporary file handed over with put_file. */
    const char *tmp = getenv("TMPDIR");
    size_t n = strlen(tmp ? tmp : "/tmp") + strlen(l->log_name) + 64;
    l->log_path = malloc(n);
    if (!l->log_path)
        return rn_error_set(RN_ENOMEM, "out of memory");
    snprintf(l->log_path, n, "%s/runnable-%d-%s", tmp ? tmp : "/tmp", (int)getpid(),
             l->log_name);
    l->log_temporary = 1;
    return 0;
}

static int exec_log_open(rn_engine *e, rn_leaf *l)
{
    exec_log_name(l->node, l->scope, l->log_name, sizeof l->log_name);
    l->log_path = NULL;
    l->log_fd = memfd_create("rn-execution-log", MFD_CLOEXEC);
    if (l->log_fd >= 0) {
        /* The task opens this name, which is the memfd itself. */
        l->log_path = malloc(48);
        if (!l->log_path)
            return rn_error_set(RN_ENOMEM, "out of memory");
        snprintf(l->log_path, 48, "/proc/self/fd/%d", l->log_fd);
        return 0;
    }
    int rc = exec_log_target(e, l);
    if (rc < 0)
        return rc;
    int fd = open(l->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rn_error_set(RN_EIO, "cannot create execution log %s: %s", l->log_path,
                            strerror(errno));
    close(fd);
    return 0;
}

static void exec_log_append(const rn_leaf *l, const char *text)
{
    int fd = l->log_fd >= 0 ? l->log_fd : open(l->log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    if (l->log_fd >= 0)
        lseek(fd, 0, SEEK_END);
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    if (fd != l->log_fd)
        close(fd);
}

/* Copy the captured output to its file in the catalog. */
static int exec_log_store(rn_engine *e, rn_leaf *l, off_t size)
{
    free(l->log_path);
    l->log_path = NULL;
    int rc = exec_log_target(e, l);
    if (rc < 0)
        return rc;
    int out = open(l->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        return rn_error_set(RN_EIO, "cannot create execution log %s: %s", l->log_path,
                            strerror(errno));
    off_t off = 0;
    while (off < size) {
        ssize_t n = sendfile(out, l->log_fd, &off, (size_t)(size - off));
        if (n <= 0) {
            rc = rn_error_set(RN_EIO, "cannot write execution log %s: %s", l->log_path,
                              n < 0 ? strerror(errno) : "short write");
            break;
        }
    }
    close(out);
    return rc;
}

/* The attempt is over: its output goes to the catalog (only if there is
 * any when it was captured in memory).  The attempt names the catalog
 * file it went to (`execution_log`, an addition to runnable's attempt:
 * the name has random characters, so nothing else can find it again). */
static int exec_log_finish(rn_engine *e, rn_leaf *l)
{
    int rc = 0, kept = 1;
    if (l->log_fd >= 0) {
        struct stat st;
        kept = fstat(l->log_fd, &st) == 0 && st.st_size > 0;
        if (kept)
            rc = exec_log_store(e, l, st.st_size);
        close(l->log_fd);
        l->log_fd = -1;
    }
    if (rc == 0 && l->log_temporary && l->log_path) {
        const rn_catalog_ops *o = catalog_ops(e);
        rc = o->put_file(e->svc[RN_SVC_CATALOG]->self, e->run_id, l->log_path, l->log_name);
    }
    if (l->log_temporary && l->log_path)
        unlink(l->log_path);
    free(l->log_path);
    l->log_path = NULL;
    if (rc == 0 && kept && l->attempt_json)
        json_object_set_new(l->attempt_json, "execution_log", json_string(l->log_name));
    return rc;
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
    if (!json_array_size(node->secrets))
        return 0;
    rn_provider *p = rn_engine_service(e, RN_SVC_SECRETS);
    if (!p) {
        snprintf(msg, msgn, "secrets: %s", rn_error_last());
        return RN_EINVAL;
    }
    const rn_secrets_ops *o = p->ops;
    void *self = p->self;
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
    if (!json_object_size(metrics))
        return;
    rn_provider *p = rn_engine_service(e, RN_SVC_TRACKER);
    if (!p) {
        rn_engine_log(e, 30, "%s: metrics not sent to the experiment tracker: %s",
                      internal_name, rn_error_last());
        return;
    }
    const rn_tracker_ops *o = p->ops;
    const char *k;
    json_t *v;
    json_object_foreach(metrics, k, v)
        o->log_metric(p->self, e->run_id, internal_name, k, json_object_get(v, "value"));
}


int rn_leaf_open(rn_engine *e, rn_leaf *l)
{
    json_t *step = json_object_get(l->scope->steps, l->internal_name);
    if (!step) {
        step = rn_step_log_new(l->node->name, l->internal_name,
                               rn_node_type_name(l->node->type));
        if (!step)
            return rn_error_set(RN_ENOMEM, "out of memory");
        json_object_set_new(l->scope->steps, l->internal_name, step);
    }
    l->step = step;
    json_object_set_new(step, "status", json_string("PROCESSING"));
    if (l->mock || l->patched)
        json_object_set_new(step, "mock", json_true());
    /* Only a task can be caught in flight; other leaves end at once and
     * are stored when they do. */
    if (l->node->type != RN_NODE_TASK)
        return 0;
    /* A job submitted ahead may have recorded this step already: remote.c
     * writes this only once it knows the job is not one of those. */
    if (e->node_adopt && !l->patched) {
        l->open_pending = 1;
        return 0;
    }
    return rn_store_put_step(e, step);
}

void rn_leaf_release(rn_leaf *l)
{
    json_decref(l->attempt_json);
    json_decref(l->gets);
    json_decref(l->puts);
    json_decref(l->secrets);
    json_decref(l->view);
    l->attempt_json = l->gets = l->puts = l->secrets = l->view = NULL;
    if (l->log_fd >= 0)
        close(l->log_fd);
    l->log_fd = -1;
    if (l->log_path && l->log_temporary)
        unlink(l->log_path);
    free(l->log_path);
    l->log_path = NULL;
}

/* A failure before the task's process started ends the attempt at once. */
static int ended(rn_leaf *l, const char *why)
{
    if (why && !l->msg[0])
        snprintf(l->msg, sizeof l->msg, "%s", why);
    return RN_ATTEMPT_ENDED;
}

int rn_leaf_attempt_start(rn_engine *e, rn_leaf *l)
{
    rn_node *node = l->node;
    json_t *attempts = json_object_get(l->step, "attempts");
    l->attempt = (int)json_array_size(attempts) + 1;
    l->success = 0;
    l->msg[0] = '\0';
    l->timed_out = 0;
    char t0[40];
    rn_timestamp(t0, sizeof t0);
    l->attempt_json = rn_attempt_new(l->attempt, t0);
    l->gets = json_array();
    l->puts = json_array();
    if (!l->attempt_json || !l->gets || !l->puts)
        return rn_error_set(RN_ENOMEM, "out of memory");
    if (node->type != RN_NODE_STUB && e->retry_indicator)
        json_object_set_new(l->attempt_json, "retry_indicator",
                            json_string(e->retry_indicator));

    if (node->type == RN_NODE_SUCCESS || node->type == RN_NODE_FAIL || l->mock) {
        /* A mocked step succeeds with nothing in and nothing out. */
        l->success = 1;
        return RN_ATTEMPT_ENDED;
    }
    /* A task in a process of its own does all the rest there. */
    if (node->type == RN_NODE_TASK && e->node_launch && !l->patched)
        return rn_remote_start(e, l);
    /* Only a task has output to keep: stubs and terminal steps get no
     * execution log (runnable writes one holding a parameter listing; a
     * file per step is the biggest cost of a step that runs nothing).
     * Without somewhere to put its output a task cannot run: it fails
     * (and says why) rather than aborting the run. */
    if (node->type == RN_NODE_TASK) {
        l->log_ok = exec_log_open(e, l) == 0;
        if (!l->log_ok)
            return ended(l, rn_error_last());
    }
    int ok = l->no_catalog ||
             catalog_sync(e, node, "get", 0, l->gets, l->msg, sizeof l->msg) == 0;
    if (node->type == RN_NODE_STUB) {
        l->success = ok;
        return RN_ATTEMPT_ENDED;
    }

    /* The task sees every parameter in reach; the attempt records its own
     * scope's layer (the rest is recorded where it was set). */
    l->view = rn_scope_view(l->scope);
    json_object_set_new(l->attempt_json, "input_parameters", json_copy(l->scope->params));
    if (!ok)
        return RN_ATTEMPT_ENDED;
    if (resolve_secrets(e, node, &l->secrets, l->msg, sizeof l->msg) < 0)
        return RN_ATTEMPT_ENDED;
    if (rn_engine_task(e, node->command_type, &l->task) < 0)
        return ended(l, rn_error_last());

    /* A patched step runs its patch over its own fields. */
    const json_t *task = l->patched ? l->patched : node->raw;
    const char *command = node->command, *command_type = node->command_type;
    const json_t *returns = node->returns;
    if (l->patched) {
        const char *pc = json_string_value(json_object_get(l->patched, "command"));
        const char *pt = json_string_value(json_object_get(l->patched, "command_type"));
        command = pc ? pc : command;
        command_type = pt ? pt : command_type;
        returns = l->patched_returns ? l->patched_returns : returns;
        if (pt && rn_engine_task(e, pt, &l->task) < 0)
            return ended(l, rn_error_last());
    }
    l->req = (rn_task_request){
        .version = 2,
        .run_id = e->run_id,
        .internal_name = l->internal_name,
        .command_type = command_type,
        .command = command,
        .task = task,
        .returns = returns,
        .parameters = l->view,
        .map_variables = l->scope->map_variables,
        .secrets = l->secrets,
        .attempt = l->attempt,
        .work_dir = e->work_dir,
        /* Task plugins reach the catalog only through rn_task_catalog_*
         * (task_catalog.c), and not at all in a run without catalog I/O. */
        .engine_private = l->no_catalog ? NULL : e,
    };
    rn_launch *launch = NULL;
    if (rn_launch_new(&launch) < 0)
        return rn_error_set(RN_ENOMEM, "out of memory");
    snprintf(l->num, sizeof l->num, "%d", l->attempt);
    rn_launch_setenv(launch, "RUNNABLE_STEP_ATTEMPT", l->num);
    const rn_task_ops *to = l->task->ops;
    if (to->prepare(l->task->self, &l->req, launch) < 0) {
        snprintf(l->msg, sizeof l->msg, "cannot prepare the task: %s", rn_error_last());
        rn_launch_free(launch);
        return RN_ATTEMPT_ENDED;
    }
    /* Everything that finished, and this step's PROCESSING, reaches the
     * disk before the task can change anything: a crash from here on loses
     * at most what is running. */
    int frc = rn_store_flush(e);
    if (frc < 0) {
        rn_launch_free(launch);
        return frc;
    }
    rn_child *child = calloc(1, sizeof *child);
    if (!child) {
        rn_launch_free(launch);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    int rc = rn_spawn(launch, e->work_dir, l->log_path, child);
    rn_launch_free(launch);
    if (rc < 0) {
        free(child);
        snprintf(l->msg, sizeof l->msg, "cannot start the task: %s", rn_error_last());
        return RN_ATTEMPT_ENDED;
    }
    l->child = child;
    return RN_ATTEMPT_SPAWNED;
}

int rn_leaf_attempt_end(rn_engine *e, rn_leaf *l, const rn_task_exit *ex)
{
    if (l->remote)
        return rn_remote_end(e, l, ex);
    rn_node *node = l->node;
    int params_changed = 0, rc = 0;
    if (ex) {
        rn_task_result res = {.version = 1};
        const rn_task_ops *to = l->task->ops;
        int crc = to->collect(l->task->self, &l->req, ex, &res);
        l->success = res.success && crc == 0;
        snprintf(l->msg, sizeof l->msg, "%s",
                 res.message[0] || crc == 0 ? res.message : rn_error_last());
        if (l->timed_out) {
            l->success = 0;
            snprintf(l->msg, sizeof l->msg, "timed out after %g s", l->timeout);
        } else if (l->stop_signal) {
            l->success = 0;
            char sig[32];
            rn_signal_name(l->stop_signal, sig, sizeof sig);
            snprintf(l->msg, sizeof l->msg, "interrupted by %s", sig);
        }
        if (l->success && res.returns) {
            /* Steps of the same scope may have ended while this one ran,
             * each in a process of its own (a depends_on graph under a
             * batch system): their returns must survive ours being
             * written, for steps started before the engine repairs the
             * layer (jobs submitted ahead, slurm's submit: dependencies). */
            if (e->single_node && json_object_size(res.returns))
                rn_store_refresh_scope(e, l->scope);
            params_changed = merge_returns(l->scope, res.returns, l->attempt_json);
        }
        json_decref(res.returns);
    }
    if (!l->no_catalog && ((node->type == RN_NODE_TASK && l->log_ok) ||
                           node->type == RN_NODE_STUB)) {
        char pmsg[1024] = "";
        if (catalog_sync(e, node, "put", !l->success, l->puts, pmsg, sizeof pmsg) < 0 &&
            l->success) {
            l->success = 0;
            snprintf(l->msg, sizeof l->msg, "%s", pmsg);
        }
    }
    if (l->log_ok) {
        if (l->msg[0]) {
            /* The reason also goes to the execution log, where users look. */
            exec_log_append(l, l->msg);
            exec_log_append(l, "\n");
        }
        /* Output that cannot be kept fails the attempt, saying why. */
        if (exec_log_finish(e, l) < 0 && l->success) {
            l->success = 0;
            snprintf(l->msg, sizeof l->msg, "%s", rn_error_last());
        }
    }

    char t1[40];
    rn_timestamp(t1, sizeof t1);
    json_t *a = l->attempt_json;
    json_t *identity = rn_engine_code_identity(e);
    if (identity)
        json_array_append(json_object_get(a, "code_identities"), identity);
    json_object_set_new(a, "end_time", json_string(t1));
    json_object_set_new(a, "status", json_string(l->success ? "SUCCESS" : "FAIL"));
    json_object_set_new(a, "message", json_string(l->msg));
    log_metrics(e, l->internal_name, json_object_get(a, "user_defined_metrics"));
    json_array_append(json_object_get(l->step, "attempts"), a);
    json_t *dc = json_object_get(l->step, "data_catalog");
    json_array_extend(dc, l->puts);
    json_array_extend(dc, l->gets);
    rn_leaf_release(l);
    if (params_changed)
        rc = rn_store_put_scope(e, l->scope);
    return rc;
}

int rn_leaf_close(rn_engine *e, rn_leaf *l)
{
    int rc;
    json_object_set_new(l->step, "status", json_string(l->success ? "SUCCESS" : "FAIL"));
    e->steps_total++;
    if (!l->success)
        e->steps_failed++;
    if ((rc = rn_store_put_step(e, l->step)) < 0)
        return rc;
    if (l->node->type == RN_NODE_SUCCESS || l->node->type == RN_NODE_FAIL) {
        const char *st = l->node->type == RN_NODE_SUCCESS ? "SUCCESS" : "FAIL";
        json_t *owner = l->scope->branch_log ? l->scope->branch_log : e->runlog;
        json_object_set_new(owner, "status", json_string(st));
        if ((rc = rn_store_put_scope(e, l->scope)) < 0)
            return rc;
    }
    return 0;
}

int rn_step_record(rn_engine *e, rn_node *node, const char *internal_name, rn_scope *scope,
                   const char *status, const char *message)
{
    json_t *step = json_object_get(scope->steps, internal_name);
    if (!step) {
        step = rn_step_log_new(node->name, internal_name, rn_node_type_name(node->type));
        if (!step)
            return rn_error_set(RN_ENOMEM, "out of memory");
        json_object_set_new(scope->steps, internal_name, step);
    }
    json_object_set_new(step, "status", json_string(status));
    json_object_set_new(step, "message", json_string(message ? message : ""));
    e->steps_total++;
    if (strcmp(status, "FAIL") == 0)
        e->steps_failed++;
    return rn_store_put_step(e, step);
}
