/*
 * `submit: dependencies` for the slurm executor (docs/slurm.md,
 * "Submitting a chain up front"): before the traversal, one job per task
 * step of the top level that the success path reaches, each held by
 * `--dependency=afterok:` on its predecessors' jobs, so Slurm starts each
 * the moment the one before it ends (no wait for the engine's next poll
 * nor for slurmctld's once-a-second pass over newly queued jobs), and the
 * chain runs on even if the engine goes away.
 *
 * The engine then traverses as in queue mode and asks, for each attempt,
 * whether such a job is its own (adopt).  It is when every job it waited
 * for is the job that ended well for its step; otherwise (a predecessor
 * needed a retry, so Slurm cancels this job for its dead dependency) it is
 * cancelled and the engine submits a fresh one.  What is never adopted is
 * cancelled when the run ends.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slurm.h"

typedef struct ahead_job {
    char *name;        /* its step (top level: short = internal name) */
    char *id;          /* its Slurm job */
    json_t *after;     /* the job ids it waits for (afterok) */
    int settled;       /* adopted, or cancelled for a fresh one */
    int adopted;
} ahead_job;

struct rn_slurm_ahead {
    ahead_job *jobs;
    size_t n, cap;
    json_t *step_of;   /* job id -> step, for every job of the run */
    json_t *ok_job;    /* step -> the job that ended well for it */
};

static int is_composite(const char *type)
{
    return strcmp(type, "task") && strcmp(type, "stub") && strcmp(type, "success") &&
           strcmp(type, "fail");
}

int rn_slurm_ahead_check(const rn_engine *engine)
{
    json_t *root = NULL;
    int rc = rn_engine_root_steps(engine, &root);
    size_t i;
    json_t *st;
    json_array_foreach(rc == 0 ? json_object_get(root, "steps") : NULL, i, st) {
        const char *type = json_string_value(json_object_get(st, "type"));
        if (!type || !is_composite(type))
            continue;
        rc = rn_error_set(RN_EINVAL, "%s:%d:%d: step '%s' is a %s step; 'submit: "
                          "dependencies' submits pipelines whose top level holds only task, "
                          "stub, success and fail steps: use 'submit: queue'",
                          json_string_value(json_object_get(root, "file")),
                          (int)json_integer_value(json_object_get(st, "line")),
                          (int)json_integer_value(json_object_get(st, "col")),
                          json_string_value(json_object_get(st, "name")), type);
        break;
    }
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Submitting ahead                                                    */
/* ------------------------------------------------------------------ */

typedef struct plan {
    rn_slurm_ahead *a;
    rn_slurm_submit_fn submit;
    void *x;
    rn_engine *engine;
    json_t *after_of;  /* step -> job ids a step after it waits for */
    json_t *after;     /* for the step being submitted: its job ids */
    const char *name;
} plan;

static int one_job(const rn_node_job *job, void *data)
{
    plan *p = data;
    rn_slurm_ahead *a = p->a;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        ahead_job *j = realloc(a->jobs, cap * sizeof *j);
        if (!j)
            return rn_error_set(RN_ENOMEM, "out of memory");
        a->jobs = j;
        a->cap = cap;
    }
    rn_buf dep = {0};
    size_t i;
    json_t *id;
    int rc = 0;
    json_array_foreach(p->after, i, id)
        if (rc == 0)
            rc = rn_buf_printf(&dep, "%s%s", i ? ":" : "afterok:", json_string_value(id));
    /* The engine never reads an adopted job's output (the job records its
     * attempt, its task's output goes to the catalog); a file would only
     * be left behind when the engine is killed. */
    char *handle = NULL;
    if (rc == 0)
        rc = p->submit(p->x, job, "/dev/null", dep.data, &handle);
    rn_buf_free(&dep);
    ahead_job *j = &a->jobs[a->n];
    *j = (ahead_job){.name = strdup(p->name), .id = handle, .after = json_incref(p->after)};
    if (rc < 0 || !j->name || !j->id) {
        free(j->name);
        json_decref(j->after);
        if (handle) {
            /* Submitted, but we cannot keep track of it: take it back. */
            const char *h = handle;
            rn_slurm_cancel(&h, 1);
            free(handle);
        }
        return rc < 0 ? rc : rn_error_set(RN_ENOMEM, "out of memory");
    }
    a->n++;
    json_object_set_new(a->step_of, j->id, json_string(j->name));
    return json_object_set_new(p->after_of, p->name, json_pack("[s]", j->id));
}

/* The step `st` once the steps it comes after (`preds`, names) are
 * planned: a task gets its job; a stub runs no job, so what comes after
 * it waits for what it waits for. */
static int plan_step(plan *p, const json_t *st, const json_t *preds)
{
    const char *name = json_string_value(json_object_get(st, "name"));
    const char *type = json_string_value(json_object_get(st, "type"));
    json_t *after = json_array();
    if (!after)
        return rn_error_set(RN_ENOMEM, "out of memory");
    size_t i, k;
    json_t *pred, *id;
    json_array_foreach(preds, i, pred)
        json_array_foreach(json_object_get(p->after_of, json_string_value(pred)), k, id) {
            size_t m;
            json_t *have;
            int dup = 0;
            json_array_foreach(after, m, have)
                dup |= json_equal(have, id);
            if (!dup)
                json_array_append(after, id);
        }
    int rc = 0;
    if (strcmp(type, "task") == 0) {
        p->after = after;
        p->name = name;
        rc = rn_engine_node_job(p->engine, name, 1, one_job, p);
    } else {
        rc = json_object_set(p->after_of, name, after);
    }
    json_decref(after);
    return rc;
}

/* A `next` chain: from start_at by next until success or fail. */
static int plan_chain(plan *p, const json_t *root, const json_t *by_name)
{
    const char *name = json_string_value(json_object_get(root, "start_at"));
    json_t *prev = json_array();
    int rc = prev ? 0 : rn_error_set(RN_ENOMEM, "out of memory");
    for (size_t hops = 0; rc == 0 && name && hops <= json_object_size(by_name); hops++) {
        const json_t *st = json_object_get(by_name, name);
        const char *type = json_string_value(json_object_get(st, "type"));
        if (!type || strcmp(type, "success") == 0 || strcmp(type, "fail") == 0 ||
            is_composite(type) || json_object_get(p->after_of, name))
            break;   /* the end, or a loop back (which the engine will not take
                        twice without a failure) */
        rc = plan_step(p, st, prev);
        json_array_clear(prev);
        json_array_append_new(prev, json_string(name));
        name = json_string_value(json_object_get(st, "next"));
    }
    json_decref(prev);
    return rc;
}

/* A depends_on graph: every step once all it depends on is planned. */
static int plan_dag(plan *p, const json_t *steps)
{
    int progress = 1, rc = 0;
    while (progress && rc == 0) {
        progress = 0;
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            const char *name = json_string_value(json_object_get(st, "name"));
            const char *type = json_string_value(json_object_get(st, "type"));
            if (rc || json_object_get(p->after_of, name) || strcmp(type, "success") == 0 ||
                strcmp(type, "fail") == 0)
                continue;
            const json_t *deps = json_object_get(st, "depends_on");
            size_t k;
            json_t *d;
            int ready = 1;
            json_array_foreach(deps, k, d)
                ready &= json_object_get(p->after_of, json_string_value(d)) != NULL;
            if (!ready)
                continue;
            rc = plan_step(p, st, deps);
            progress = 1;
        }
    }
    return rc;
}

int rn_slurm_ahead_submit(rn_slurm_ahead **out, rn_engine *engine, rn_slurm_submit_fn submit,
                          void *x)
{
    *out = NULL;
    json_t *root = NULL;
    int rc = rn_engine_root_steps(engine, &root);
    if (rc < 0)
        return rc;
    rn_slurm_ahead *a = calloc(1, sizeof *a);
    if (a) {
        a->step_of = json_object();
        a->ok_job = json_object();
    }
    if (!a || !a->step_of || !a->ok_job) {
        rn_slurm_ahead_finish(a);
        json_decref(root);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    *out = a;
    /* A retry re-runs only what did not succeed: queue mode does that. */
    if (json_is_true(json_object_get(root, "retrying"))) {
        json_decref(root);
        return 0;
    }
    json_t *by_name = json_object();
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(root, "steps"), i, st)
        json_object_set(by_name, json_string_value(json_object_get(st, "name")), st);
    plan p = {.a = a, .submit = submit, .x = x, .engine = engine, .after_of = json_object()};
    rc = !by_name || !p.after_of ? rn_error_set(RN_ENOMEM, "out of memory")
         : json_is_true(json_object_get(root, "is_dag"))
             ? plan_dag(&p, json_object_get(root, "steps"))
             : plan_chain(&p, root, by_name);
    json_decref(p.after_of);
    json_decref(by_name);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Following                                                           */
/* ------------------------------------------------------------------ */

void rn_slurm_ahead_note(rn_slurm_ahead *a, const char *id, const char *step)
{
    if (a)
        json_object_set_new(a->step_of, id, json_string(step));
}

void rn_slurm_ahead_ended(rn_slurm_ahead *a, const char *id, int ok)
{
    const char *step = a ? json_string_value(json_object_get(a->step_of, id)) : NULL;
    if (step && ok)
        json_object_set_new(a->ok_job, step, json_string(id));
}

/* Its Slurm state ("PENDING", "CANCELLED"...), "" when Slurm has none. */
static void job_state(const char *id, char *out, size_t n)
{
    char *argv[] = {"squeue", "-h", "-t", "all", "-j", (char *)id, "-o", "%T", NULL};
    rn_buf o = {0}, e = {0};
    int status = 0;
    out[0] = '\0';
    if (rn_slurm_run(argv, &o, &e, &status) == 0 && status == 0)
        snprintf(out, n, "%.*s", (int)strcspn(o.data, " \n"), o.data);
    rn_buf_free(&o);
    rn_buf_free(&e);
}

int rn_slurm_ahead_adopt(rn_slurm_ahead *a, const rn_node_job *job, char **handle)
{
    ahead_job *j = NULL;
    for (size_t i = 0; a && job->attempt == 1 && i < a->n && !j; i++)
        if (!a->jobs[i].settled && strcmp(a->jobs[i].name, job->internal_name) == 0)
            j = &a->jobs[i];
    if (!j)
        return 0;
    j->settled = 1;
    int ours = 1;
    size_t i;
    json_t *dep;
    json_array_foreach(j->after, i, dep) {
        const char *step = json_string_value(json_object_get(a->step_of, json_string_value(dep)));
        const char *ok = step ? json_string_value(json_object_get(a->ok_job, step)) : NULL;
        ours &= ok && json_equal(json_object_get(a->ok_job, step), dep);
    }
    char state[64];
    if (ours) {
        /* Cancelled before it ran (by hand, or Slurm's kill of a dead
         * dependency): nothing of it to follow. */
        job_state(j->id, state, sizeof state);
        if (strcmp(state, "CANCELLED") == 0)
            return 0;
        if (!(*handle = strdup(j->id)))
            return rn_error_set(RN_ENOMEM, "out of memory");
        j->adopted = 1;
        return 1;
    }
    /* It waits for a job whose step needed another attempt: it will never
     * run (or Slurm has cancelled it already). */
    const char *h = j->id;
    rn_slurm_cancel(&h, 1);
    return 0;
}

/* Until none of `ids` is pending, running or completing (at most ~60 s:
 * a controller that stopped answering must not hang the engine). */
static void wait_gone(const char *const *ids, size_t n)
{
    rn_buf list = {0};
    for (size_t i = 0; i < n; i++)
        rn_buf_printf(&list, "%s%s", i ? "," : "", ids[i]);
    for (int tries = 0; list.data && tries < 1200; tries++) {
        char *argv[] = {"squeue", "-h", "-t", "PD,R,CG,CF,S", "-j", list.data, "-o", "%i",
                        NULL};
        rn_buf o = {0}, e = {0};
        int status = 0;
        int rc = rn_slurm_run(argv, &o, &e, &status);
        int gone = rc < 0 || (status == 0 && !o.data[strspn(o.data, " \n")]) ||
                   (status != 0 && strstr(e.data, "Invalid job id"));
        rn_buf_free(&o);
        rn_buf_free(&e);
        if (gone)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    }
    rn_buf_free(&list);
}

int rn_slurm_ahead_finish(rn_slurm_ahead *a)
{
    if (!a)
        return 0;
    const char **left = a->n ? malloc(a->n * sizeof *left) : NULL;
    size_t n = 0, n_cancel = 0;
    int rc = 0;
    /* First those to cancel, then those cancelled already for a fresh one:
     * none may stay in the queue. */
    for (size_t i = 0; left && i < a->n; i++)
        if (!a->jobs[i].settled)
            left[n++] = a->jobs[i].id;
    n_cancel = n;
    for (size_t i = 0; left && i < a->n; i++)
        if (a->jobs[i].settled && !a->jobs[i].adopted)
            left[n++] = a->jobs[i].id;
    if (n_cancel)
        rc = rn_slurm_cancel(left, n_cancel);
    if (n)
        wait_gone(left, n);
    free(left);
    for (size_t i = 0; i < a->n; i++) {
        free(a->jobs[i].name);
        free(a->jobs[i].id);
        json_decref(a->jobs[i].after);
    }
    free(a->jobs);
    json_decref(a->step_of);
    json_decref(a->ok_job);
    free(a);
    return rc;
}
