/*
 * Task attempts in processes of their own (rn_traverse_opts.node_launch):
 * the executor describes a process that runs `runnable execute-single-node`
 * for the step — in a container, on another machine — and the engine
 * starts it and waits for it like any task.  That process does the whole
 * step protocol against the run-log store and catalog; afterwards the
 * engine reads back the attempt it recorded and the parameters it
 * returned, so traversal (next, on_failure, fan-in) goes on as if the
 * task had run here.  What the process printed outside its step (a
 * container runtime pulling an image, failing to start) is kept in a
 * temporary file and becomes the message when no attempt was recorded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "spawn.h"

int rn_launch_add_node_command(rn_launch *l, const char *runnable, const rn_node_job *job)
{
    const char *args[] = {runnable, "execute-single-node", job->run_id, job->pipeline_file,
                          job->step, "--iter-variable", job->iter_variable};
    int rc = 0;
    for (size_t i = 0; i < sizeof args / sizeof *args && rc == 0; i++)
        rc = rn_launch_add_arg(l, args[i]);
    if (rc == 0 && job->config_file) {
        rc = rn_launch_add_arg(l, "--config");
        if (rc == 0)
            rc = rn_launch_add_arg(l, job->config_file);
    }
    return rc;
}

int rn_store_read_run(rn_engine *e, json_t **doc)
{
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    int rc = RN_EIO;
    for (int tries = 0; tries < 5 && rc == RN_EIO; tries++) {
        json_decref(*doc);
        *doc = NULL;
        rc = so->get_run(e->svc[RN_SVC_RUN_LOG_STORE]->self, e->run_id, doc);
    }
    return rc;
}

int rn_store_reads_parts(const rn_engine *e)
{
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    return so->version >= 4 && so->get_run_head && so->get_step && so->get_branch;
}

int rn_store_read_part(rn_engine *e, int what, const char *name, json_t **out)
{
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    void *self = e->svc[RN_SVC_RUN_LOG_STORE]->self;
    int rc = RN_EIO;
    for (int tries = 0; tries < 5 && rc == RN_EIO; tries++) {
        json_decref(*out);
        *out = NULL;
        rc = what == RN_PART_HEAD   ? so->get_run_head(self, e->run_id, out)
             : what == RN_PART_STEP ? so->get_step(self, e->run_id, name, out)
                                    : so->get_branch(self, e->run_id, name, out);
    }
    return rc;
}

/* runnable's --iter-variable for the leaf's scope: the map items and loop
 * indices of the enclosing composites, outermost first. */
static char *iter_variable(const rn_leaf *l)
{
    const rn_scope *chain[64];
    size_t n = 0;
    for (const rn_scope *s = l->scope; s && s->branch_name && n < 64; s = s->parent)
        chain[n++] = s;
    const rn_node *comps[64];
    size_t k = 0;
    for (const rn_graph *g = l->node->graph; g && g->parent && k < 64; g = g->parent->graph)
        comps[k++] = g->parent;
    json_t *maps = json_object(), *loops = json_array();
    /* chain[i] and comps[i] both count from the innermost level. */
    for (size_t i = n; i-- > 0;) {
        const rn_node *c = i < k ? comps[i] : NULL;
        if (!c)
            continue;
        if (c->type == RN_NODE_MAP) {
            json_t *v = json_object_get(chain[i]->map_variables, c->iterate_as);
            json_object_set_new(maps, c->iterate_as, json_pack("{s:O}", "value", v ? v : json_null()));
        } else if (c->type == RN_NODE_LOOP) {
            const char *dot = strrchr(chain[i]->branch_name, '.');
            json_array_append_new(loops, json_pack("{s:I}", "value",
                                                   (json_int_t)atoll(dot ? dot + 1 : "0")));
        }
    }
    json_t *doc = json_pack("{s:o, s:o}", "map_variable", maps, "loop_variable", loops);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static char *absolute(const char *work_dir, const char *path)
{
    if (!path)
        return NULL;
    char buf[PATH_MAX];
    if (path[0] == '/')
        snprintf(buf, sizeof buf, "%s", path);
    else
        snprintf(buf, sizeof buf, "%s/%s", work_dir, path);
    return strdup(buf);
}

/* The texts an rn_node_job borrows, owned while it is in use. */
typedef struct job_text {
    char *iter, *step, *pipeline, *config;
} job_text;

static void job_text_free(job_text *t)
{
    free(t->iter);
    free(t->step);
    free(t->pipeline);
    free(t->config);
}

/* The attempt `attempt` of `node` in the leaf's scope as execute-single-node
 * takes it; `l` gives the scope (iteration variables) and may have no
 * scope at all for a root step. */
static int job_make(rn_engine *e, const rn_leaf *l, const char *internal_name, int attempt,
                    job_text *t, rn_node_job *job)
{
    *t = (job_text){
        .iter = iter_variable(l),
        .step = strdup(l->node->internal_name),
        .pipeline = absolute(e->work_dir, e->pipeline->file),
        .config = absolute(e->work_dir, e->config->file),
    };
    if (!t->iter || !t->step || !t->pipeline || (!t->config && e->config->file)) {
        job_text_free(t);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    for (char *p = t->step; *p; p++)
        if (*p == ' ')
            *p = '%';
    *job = (rn_node_job){
        .version = 1,
        .run_id = e->run_id,
        .pipeline_file = t->pipeline,
        .config_file = t->config,
        .step = t->step,
        .iter_variable = t->iter,
        .internal_name = internal_name,
        .overrides = l->node->overrides,
        .attempt = attempt,
        .timeout = l->node->timeout > 0 ? l->node->timeout : e->default_timeout,
        .work_dir = e->work_dir,
    };
    return 0;
}

int rn_engine_node_job(rn_engine *e, const char *name, int attempt,
                       int (*fn)(const rn_node_job *job, void *data), void *data)
{
    rn_node *node = rn_graph_find(e->pipeline->dag, name);
    if (!node || node->type != RN_NODE_TASK)
        return rn_error_set(RN_ENOENT, "the pipeline's top level has no task '%s'", name);
    rn_leaf l = {.node = node};   /* no scope: the root's */
    job_text t;
    rn_node_job job;
    int rc = job_make(e, &l, node->internal_name, attempt, &t, &job);
    if (rc == 0)
        rc = fn(&job, data);
    job_text_free(&t);
    return rc;
}

/* A batch job: adopted when the executor submitted it ahead, else
 * submitted now.  The job id is all the scheduler keeps; sched.c polls it. */
static int submit(rn_engine *e, rn_leaf *l, const rn_node_job *job)
{
    char *handle = NULL;
    int rc = 0, adopted = 0;
    if (e->node_adopt) {
        rc = e->node_adopt(e->node_data, job, &handle);
        adopted = rc == 1;
    }
    if (rc >= 0 && !adopted && l->open_pending) {
        /* Not one of the jobs that record their step before we see it:
         * its PROCESSING goes to the store before the job can start. */
        l->open_pending = 0;
        if ((rc = rn_store_put_step(e, l->step)) < 0)
            return rc;
    }
    l->open_pending = 0;
    if (rc >= 0 && !adopted)
        rc = e->node_submit(e->node_data, job, l->log_path, &handle);
    if (rc < 0 || !handle) {
        free(handle);
        snprintf(l->msg, sizeof l->msg, "cannot submit the step's job: %s", rn_error_last());
        return RN_ATTEMPT_ENDED;
    }
    l->job = handle;
    l->adopted = adopted;
    return RN_ATTEMPT_SUBMITTED;
}

int rn_remote_start(rn_engine *e, rn_leaf *l)
{
    l->remote = 1;
    rn_launch *launch = NULL;
    job_text t;
    rn_node_job job;
    int rc = job_make(e, l, l->internal_name, l->attempt, &t, &job);
    int made = rc == 0;
    /* A batch job is described by the plugin alone. */
    if (!rc && !e->node_submit && (rc = rn_launch_new(&launch)) == 0 &&
        e->node_launch(e->node_data, &job, launch) < 0)
        snprintf(l->msg, sizeof l->msg, "cannot prepare the step's process: %s",
                 rn_error_last());
    /* The process reads the run from the store: everything must be there. */
    if (!rc && !l->msg[0])
        rc = rn_store_flush(e);
    char path[PATH_MAX];
    if (!rc && !l->msg[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/runnable-node-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0)
            snprintf(l->msg, sizeof l->msg,
                     "cannot create a file for the step's process output: %s", strerror(errno));
        else
            close(fd);
    }
    if (rc < 0 || l->msg[0]) {
        if (made)
            job_text_free(&t);
        rn_launch_free(launch);
        return rc < 0 ? rc : RN_ATTEMPT_ENDED;
    }
    l->log_path = strdup(path);
    l->log_temporary = 1;
    if (!l->log_path) {
        job_text_free(&t);
        rn_launch_free(launch);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    if (e->node_submit) {
        rc = submit(e, l, &job);
        job_text_free(&t);
        return rc;
    }
    job_text_free(&t);
    rn_child *child = calloc(1, sizeof *child);
    rc = child ? rn_spawn(launch, e->work_dir, l->log_path, child)
               : rn_error_set(RN_ENOMEM, "out of memory");
    rn_launch_free(launch);
    if (rc < 0) {
        free(child);
        snprintf(l->msg, sizeof l->msg, "cannot start the step's process: %s", rn_error_last());
        return RN_ATTEMPT_ENDED;
    }
    l->child = child;
    return RN_ATTEMPT_SPAWNED;
}

/* The step log and parameter layer of the leaf's scope in a stored run:
 * the branches from the root down to the leaf's scope. */
static int stored_scope(const json_t *doc, const rn_scope *scope, json_t **steps, json_t **layer)
{
    const rn_scope *chain[64];
    size_t n = 0;
    for (const rn_scope *s = scope; s && s->branch_name && n < 64; s = s->parent)
        chain[n++] = s;
    json_t *st = json_object_get(doc, "steps");
    json_t *params = json_object_get(doc, "parameters");
    for (size_t i = n; i-- > 0;) {
        const char *b = chain[i]->branch_name;
        const char *dot = strrchr(b, '.');
        if (!dot)
            return -1;
        char comp[1024];
        snprintf(comp, sizeof comp, "%.*s", (int)(dot - b), b);
        json_t *blog = json_object_get(json_object_get(json_object_get(st, comp), "branches"), b);
        if (!blog)
            return -1;
        st = json_object_get(blog, "steps");
        params = json_object_get(blog, "parameters");
    }
    *steps = st;
    *layer = params;
    return 0;
}

void rn_store_refresh_scope(rn_engine *e, rn_scope *scope)
{
    json_t *doc = NULL, *steps = NULL, *layer = NULL; /* borrowed from doc */
    if (rn_store_reads_parts(e)) {
        /* The scope's own log is enough: a node process must not read
         * the whole run (docs/node-protocol.md). */
        const char *b = scope->branch_name;
        if (rn_store_read_part(e, b ? RN_PART_BRANCH : RN_PART_HEAD, b, &doc) == 0)
            layer = json_object_get(doc, "parameters");
    } else if (rn_store_read_run(e, &doc) != 0 || stored_scope(doc, scope, &steps, &layer) != 0) {
        layer = NULL;
    }
    if (json_is_object(layer))
        json_object_update(scope->params, layer);
    json_decref(doc);
}

/* Orders attempts by end_time (ISO 8601 text sorts as time does). */
static int by_end_time(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "end_time"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "end_time"));
    return strcmp(x ? x : "", y ? y : "");
}

/*
 * Jobs submitted ahead of the traversal (slurm's `submit: dependencies`)
 * may have run steps of this scope that the engine has not read back yet,
 * and returned parameters the steps after them already read from the
 * store.  Writing the engine's layer back without them would take them
 * away from the steps still to run: they join it, in the order their
 * attempts ended.  (A step the engine has read back is known; its returns
 * are in `params` already.)
 */
static void add_returns_ahead(json_t *params, const json_t *stored_steps,
                              const json_t *own_steps)
{
    size_t n = 0, cap = json_object_size(stored_steps);
    json_t **ahead = cap ? malloc(cap * sizeof *ahead) : NULL;
    const char *k;
    json_t *st;
    json_object_foreach((json_t *)stored_steps, k, st) {
        const json_t *att = json_object_get(st, "attempts");
        const json_t *mine = json_object_get(json_object_get(own_steps, k), "attempts");
        json_t *last = json_array_get(att, json_array_size(att) - 1);
        const char *status = json_string_value(json_object_get(last, "status"));
        if (ahead && json_array_size(mine) < json_array_size(att) && status &&
            strcmp(status, "SUCCESS") == 0)
            ahead[n++] = last;
    }
    if (n > 1)
        qsort(ahead, n, sizeof *ahead, by_end_time);
    for (size_t i = 0; i < n; i++) {
        json_t *v;
        json_object_foreach(json_object_get(ahead[i], "output_parameters"), k, v)
            json_object_set(params, k, v);
    }
    free(ahead);
}

/* The last line the process printed, for a message. */
static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t len = strlen(line);
        if (len) {
            len = len < n ? len : n - 1;
            memcpy(out, line, len);
            out[len] = '\0';
        }
    }
    fclose(f);
}

/*
 * What the step's process left in the store: its step log and its scope's
 * parameter layer (new references, NULL when absent), and, when jobs may
 * run ahead of the traversal (node_adopt), every stored step of the scope
 * (add_returns_ahead).  Read as parts when the store can and nothing else
 * is needed: the whole run would make every ended job of a long map cost
 * the size of the run (quadratic over the map).
 */
static void read_stored(rn_engine *e, const rn_leaf *l, json_t **stored, json_t **layer,
                        json_t **steps)
{
    *stored = *layer = *steps = NULL;
    if (rn_store_reads_parts(e) && !e->node_adopt) {
        json_t *owner = NULL;
        const char *b = l->scope->branch_name;
        if (rn_store_read_part(e, b ? RN_PART_BRANCH : RN_PART_HEAD, b, &owner) == 0)
            *layer = json_incref(json_object_get(owner, "parameters"));
        json_decref(owner);
        if (rn_store_read_part(e, RN_PART_STEP, l->internal_name, stored) != 0) {
            json_decref(*stored);
            *stored = NULL;
        }
        return;
    }
    json_t *doc = NULL, *st = NULL, *params = NULL;
    if (rn_store_read_run(e, &doc) == 0 && stored_scope(doc, l->scope, &st, &params) == 0) {
        *stored = json_incref(json_object_get(st, l->internal_name));
        *layer = json_incref(params);
        *steps = json_incref(st);
    }
    json_decref(doc);
}

int rn_remote_end(rn_engine *e, rn_leaf *l, const rn_task_exit *ex)
{
    json_t *stored = NULL, *layer = NULL, *steps = NULL;
    int rc = 0;
    read_stored(e, l, &stored, &layer, &steps);
    json_t *attempts = json_object_get(stored, "attempts");
    if (json_array_size(attempts) >= (size_t)l->attempt) {
        /* It recorded its attempt: that is the step now, and what it
         * returned is in its scope's layer. */
        json_t *last = json_array_get(attempts, json_array_size(attempts) - 1);
        const char *st = json_string_value(json_object_get(last, "status"));
        l->success = st && strcmp(st, "SUCCESS") == 0;
        if (l->timed_out || l->stop_signal)
            l->success = 0;
        if (!(l->job && l->stop_signal))
            snprintf(l->msg, sizeof l->msg, "%s",
                     json_string_value(json_object_get(last, "message"))
                         ? json_string_value(json_object_get(last, "message")) : "");
        if (l->job && l->stop_signal && !l->timed_out) {
            /* Its job was cancelled (scancel's SIGTERM): the reason is the
             * engine's interrupt. */
            json_object_set_new(last, "status", json_string("FAIL"));
            json_object_set_new(last, "message", json_string(l->msg));
        }
        if (l->timed_out) {
            /* It saw only a SIGTERM; the reason is the engine's. */
            snprintf(l->msg, sizeof l->msg, "timed out after %g s", l->timeout);
            json_object_set_new(last, "status", json_string("FAIL"));
            json_object_set_new(last, "message", json_string(l->msg));
        }
        if (l->job_record)
            json_object_update(last, l->job_record);
        json_object_set(l->step, "attempts", attempts);
        json_object_set(l->step, "data_catalog", json_object_get(stored, "data_catalog"));
        /* Its returns are those of its attempt (its own step log): the
         * scope's stored layer may have lost them to a process of the same
         * scope that wrote it at the same time.  The layer as it should be
         * goes back to the store, and to the store's own copy (a store
         * that batches writes must not put back what it had before). */
        if (l->success) {
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(last, "output_parameters"), k, v)
                json_object_set(l->scope->params, k, v);
        }
        add_returns_ahead(l->scope->params, steps, l->scope->steps);
        if (!json_equal(layer, l->scope->params))
            rc = rn_store_put_scope(e, l->scope);
    } else {
        /* It never got as far as its step: say what it printed. */
        char line[512];
        last_line(l->log_path, line, sizeof line);
        l->success = 0;
        if (l->timed_out)
            snprintf(l->msg, sizeof l->msg, "timed out after %g s", l->timeout);
        else if (l->job && !l->stop_signal && l->msg[0] && line[0]) {
            /* The batch system's reason, then what the job printed. */
            size_t n = strlen(l->msg);
            snprintf(l->msg + n, sizeof l->msg - n, ": %s", line);
        } else if (!l->msg[0])
            snprintf(l->msg, sizeof l->msg, "the step's process %s %d without recording an "
                     "attempt%s%s", ex && ex->signaled ? "was killed by signal" : "exited with status",
                     ex ? (ex->signaled ? ex->term_signal : ex->exit_code) : -1,
                     line[0] ? ": " : "", line);
        char t1[40];
        rn_timestamp(t1, sizeof t1);
        json_object_set_new(l->attempt_json, "end_time", json_string(t1));
        json_object_set_new(l->attempt_json, "status", json_string("FAIL"));
        json_object_set_new(l->attempt_json, "message", json_string(l->msg));
        if (l->job_record)
            json_object_update(l->attempt_json, l->job_record);
        json_array_append(json_object_get(l->step, "attempts"), l->attempt_json);
    }
    free(l->job);
    l->job = NULL;
    json_decref(l->job_record);
    l->job_record = NULL;
    json_decref(stored);
    json_decref(layer);
    json_decref(steps);
    rn_leaf_release(l);
    l->remote = 0;
    return rc;
}
