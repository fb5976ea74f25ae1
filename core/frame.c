/*
 * One graph running in one scope.  A chained graph follows `next` on
 * success and `on_failure` (or its `fail` step) on failure until a
 * terminal step (spec/services.md §4.3).  A depends_on graph starts every
 * step whose dependencies all succeeded; a failure skips everything that
 * depends on it and fails the graph, unless the failed step has
 * skip_on_error (docs/composites.md).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

/* Per-node state in a depends_on graph. */
enum { ST_WAITING, ST_RUNNING, ST_OK, ST_FAILED, ST_SKIPPED };

char *rn_frame_step_name(const rn_frame *f, const rn_node *node)
{
    const char *b = f->scope.branch_name;
    size_t n = (b ? strlen(b) + 1 : 0) + strlen(node->name) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", b ? b : "", b ? "." : "", node->name);
    return s;
}

static int dag_init(rn_frame *f)
{
    rn_graph *g = f->g;
    size_t n = g->n_nodes, edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += g->nodes[i]->n_depends_on;
    f->state = calloc(n, 1);
    f->waiting = calloc(n, sizeof *f->waiting);
    f->dep_start = calloc(n + 1, sizeof *f->dep_start);
    f->deps = calloc(edges ? edges : 1, sizeof *f->deps);
    f->ready = calloc(n, sizeof *f->ready);
    if (!f->state || !f->waiting || !f->dep_start || !f->deps || !f->ready)
        return rn_error_set(RN_ENOMEM, "out of memory");
    /* Dependents as a compact adjacency list: count, prefix-sum, fill. */
    for (size_t i = 0; i < n; i++) {
        rn_node *u = g->nodes[i];
        f->waiting[i] = (unsigned)u->n_depends_on;
        for (size_t k = 0; k < u->n_depends_on; k++)
            f->dep_start[u->depends_on_nodes[k]->index + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        f->dep_start[i + 1] += f->dep_start[i];
    size_t *fill = calloc(n ? n : 1, sizeof *fill);
    if (!fill)
        return rn_error_set(RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rn_node *u = g->nodes[i];
        for (size_t k = 0; k < u->n_depends_on; k++) {
            size_t d = u->depends_on_nodes[k]->index;
            f->deps[f->dep_start[d] + fill[d]++] = i;
        }
    }
    free(fill);
    return 0;
}

rn_frame *rn_frame_new(rn_sched *s, rn_graph *g, rn_comp *parent)
{
    rn_frame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->s = s;
    f->g = g;
    f->parent = parent;
    if (g->is_dag && dag_init(f) < 0) {
        rn_frame_free(f);
        return NULL;
    }
    return f;
}

void rn_frame_free(rn_frame *f)
{
    if (!f)
        return;
    free(f->scope.branch_name);
    json_decref(f->scope.params);
    json_decref(f->scope.map_variables);
    free(f->state);
    free(f->waiting);
    free(f->dep_start);
    free(f->deps);
    free(f->ready);
    free(f);
}

void rn_frame_note_failure(rn_frame *f, const char *what)
{
    for (rn_frame *a = f; a; a = a->parent ? a->parent->frame : NULL)
        if (a->g->stop_on_first_failure && !a->stopping) {
            a->stopping = 1;
            snprintf(a->first_failure, sizeof a->first_failure, "%s", what);
        }
}

int rn_frame_stopping(const rn_frame *f)
{
    for (const rn_frame *a = f; a; a = a->parent ? a->parent->frame : NULL)
        if (a->stopping)
            return 1;
    return 0;
}

/* The graph is over.  A graph stopped before its terminal step (the run
 * was interrupted) is recorded as failed here. */
static void frame_end(rn_frame *f, int success)
{
    rn_sched *s = f->s;
    f->done = 1;
    f->success = success;
    json_t *owner = f->scope.branch_log ? f->scope.branch_log : s->e->runlog;
    const char *st = json_string_value(json_object_get(owner, "status"));
    if (!success && st && strcmp(st, "PROCESSING") == 0) {
        json_object_set_new(owner, "status", json_string("FAIL"));
        int rc = rn_store_put_scope(s->e, &f->scope);
        if (rc < 0)
            rn_sched_fail(s, rc);
    }
    /* A finished branch's steps are in the store and nothing reads them
     * again: keeping them would make a 10,000-item map hold every step
     * log in memory.  Its parameters stay for the fan-in. */
    if (f->scope.branch_log)
        json_object_clear(f->scope.steps);
    rn_sched_post(s, RN_EV_FRAME, f);
}

static void run_step(rn_frame *f, rn_node *node)
{
    f->running++;
    switch (node->type) {
    case RN_NODE_TASK:
    case RN_NODE_STUB:
    case RN_NODE_SUCCESS:
    case RN_NODE_FAIL:
        rn_sched_leaf(f->s, f, node);
        break;
    default:
        rn_comp_start(f->s, f, node);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* depends_on graphs                                                   */
/* ------------------------------------------------------------------ */

static int is_terminal(const rn_node *n)
{
    return n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL;
}

static void record_skip(rn_frame *f, rn_node *node, const char *why)
{
    f->state[node->index] = ST_SKIPPED;
    char *name = rn_frame_step_name(f, node);
    int rc = name ? rn_step_record(f->s->e, node, name, &f->scope, "SKIPPED", why)
                  : rn_error_set(RN_ENOMEM, "out of memory");
    if (name)
        rn_sched_emit(f->s, &(rn_event){.kind = RN_EVENT_STEP_END, .name = name,
                                        .step_type = rn_node_type_name(node->type),
                                        .status = "SKIPPED", .message = why});
    free(name);
    if (rc < 0)
        rn_sched_fail(f->s, rc);
}

/* Everything that depends on `failed`, directly or not, can never run. */
static void skip_dependents(rn_frame *f, rn_node *failed)
{
    rn_graph *g = f->g;
    size_t *stack = malloc((g->n_nodes + 1) * sizeof *stack);
    if (!stack) {
        rn_sched_fail(f->s, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    char why[512];
    snprintf(why, sizeof why, "skipped: step '%s' it depends on did not succeed",
             failed->name);
    size_t top = 0;
    stack[top++] = failed->index;
    while (top) {
        size_t u = stack[--top];
        for (size_t k = f->dep_start[u]; k < f->dep_start[u + 1]; k++) {
            size_t d = f->deps[k];
            if (f->state[d] != ST_WAITING)
                continue;
            record_skip(f, g->nodes[d], why);
            stack[top++] = d;
        }
    }
    free(stack);
}

static void dag_pump(rn_frame *f)
{
    rn_sched *s = f->s;
    rn_graph *g = f->g;
    int stop = rn_sched_halting(s) || rn_frame_stopping(f);
    /* Without enable_parallel the graph runs one step at a time, in the
     * order the steps became ready. */
    while (!stop && f->ready_head < f->ready_tail && (s->parallel || f->running == 0)) {
        rn_node *node = g->nodes[f->ready[f->ready_head++]];
        if (f->state[node->index] != ST_WAITING)
            continue;
        f->state[node->index] = ST_RUNNING;
        run_step(f, node);
    }
    if (f->running || (!stop && f->ready_head < f->ready_tail))
        return;

    /* Nothing runs and nothing more can start: the graph is over. */
    if (stop && !rn_sched_halting(s)) {
        char why[512];
        const rn_frame *a = f;
        while (a && !a->stopping)
            a = a->parent ? a->parent->frame : NULL;
        snprintf(why, sizeof why, "not started: %s failed and stop_on_first_failure is set",
                 a && a->first_failure[0] ? a->first_failure : "an earlier step");
        for (size_t i = 0; i < g->n_nodes; i++)
            if (f->state[i] == ST_WAITING && !is_terminal(g->nodes[i])) {
                record_skip(f, g->nodes[i], why);
                f->failed = 1;
            }
    }
    if (rn_sched_halting(s)) {
        frame_end(f, 0);
        return;
    }
    rn_node *term = rn_graph_find(g, f->failed ? "fail" : "success");
    f->state[term->index] = ST_RUNNING;
    run_step(f, term);
}

static void dag_start(rn_frame *f)
{
    rn_graph *g = f->g;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!is_terminal(g->nodes[i]) && f->waiting[i] == 0)
            f->ready[f->ready_tail++] = i;
    dag_pump(f);
}

static void dag_step_done(rn_frame *f, rn_node *node, int ok)
{
    if (is_terminal(node)) {
        frame_end(f, node->type == RN_NODE_SUCCESS);
        return;
    }
    f->state[node->index] = ok ? ST_OK : ST_FAILED;
    if (ok) {
        for (size_t k = f->dep_start[node->index]; k < f->dep_start[node->index + 1]; k++) {
            size_t d = f->deps[k];
            if (--f->waiting[d] == 0 && f->state[d] == ST_WAITING)
                f->ready[f->ready_tail++] = d;
        }
    } else {
        if (!node->skip_on_error) {
            f->failed = 1;
            char *name = rn_frame_step_name(f, node);
            char what[300];
            snprintf(what, sizeof what, "step '%s'", name ? name : node->name);
            free(name);
            rn_frame_note_failure(f, what);
        }
        skip_dependents(f, node);
    }
    dag_pump(f);
}

/* ------------------------------------------------------------------ */
/* Chained graphs                                                      */
/* ------------------------------------------------------------------ */

static void chain_step_done(rn_frame *f, rn_node *node, int ok)
{
    if (is_terminal(node)) {
        frame_end(f, node->type == RN_NODE_SUCCESS);
        return;
    }
    if (!ok) {
        char *name = rn_frame_step_name(f, node);
        char what[300];
        snprintf(what, sizeof what, "step '%s'", name ? name : node->name);
        free(name);
        rn_frame_note_failure(f, what);
    }
    /* Stopping (the run is interrupted, or a failure under a graph with
     * stop_on_first_failure): no next step starts, on_failure included. */
    if (rn_sched_halting(f->s) || rn_frame_stopping(f)) {
        frame_end(f, 0);
        return;
    }
    rn_node *next = ok ? node->next_node : node->on_failure_node;
    if (!next)
        next = rn_graph_find(f->g, ok ? "success" : "fail");
    run_step(f, next);
}

void rn_frame_start(rn_frame *f)
{
    if (rn_sched_halting(f->s)) {
        frame_end(f, 0);
        return;
    }
    if (f->g->is_dag)
        dag_start(f);
    else
        run_step(f, f->g->start);
}

/*
 * The node protocol runs a depends_on graph's terminal step on its own,
 * and the orchestrator may never run some steps: Argo starts the `fail`
 * task once any step failed and omits the steps that depend on it, so no
 * process records them.  Before the terminal step, every step that can
 * never run (it depends, directly or not, on a step stored as FAIL or
 * SKIPPED, and has no record) gets the SKIPPED record `execute` gives it.
 * Steps still running or waiting for running ones are left alone.  Under
 * `execute` the engine has recorded them already: nothing to do.
 */
static void dag_skip_unreached(rn_frame *f)
{
    rn_graph *g = f->g;
    for (size_t i = 0; i < g->n_nodes; i++) {
        char *name = rn_frame_step_name(f, g->nodes[i]);
        json_t *st = name ? json_object_get(json_object_get(f->scope.steps, name), "status")
                          : NULL;
        const char *v = json_string_value(st);
        free(name);
        f->state[i] = !v                           ? ST_WAITING
                      : strcmp(v, "FAIL") == 0     ? ST_FAILED
                      : strcmp(v, "SKIPPED") == 0  ? ST_SKIPPED
                      : strcmp(v, "SUCCESS") == 0  ? ST_OK
                                                   : ST_RUNNING;
    }
    /* Failed steps first, so their dependents name them, as execute's do. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < g->n_nodes; i++)
            if (!is_terminal(g->nodes[i]) &&
                f->state[i] == (pass == 0 ? ST_FAILED : ST_SKIPPED))
                skip_dependents(f, g->nodes[i]);
}

void rn_frame_run_one(rn_frame *f, rn_node *node)
{
    f->single = 1;
    if (f->g->is_dag && is_terminal(node))
        dag_skip_unreached(f);
    run_step(f, node);
}

void rn_frame_step_done(rn_frame *f, rn_node *node, int ok)
{
    f->running--;
    if (f->single) {
        f->done = 1;
        f->success = ok;
        return;
    }
    if (f->g->is_dag)
        dag_step_done(f, node, ok);
    else
        chain_step_done(f, node, ok);
}
