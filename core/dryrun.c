/*
 * The plan of a run, described instead of run.  The walk follows the
 * scheduler on the success path: a chained graph goes along `next` to its
 * terminal step (frame.c), a depends_on graph level by level, and each
 * composite fans out as composite.c would, from what is known before the
 * run starts.
 *
 * Known means: an initial parameter that no earlier step may have changed.
 * A step declares what it sets in `returns`, so the walk keeps, per scope,
 * the names returned so far, layered like the run's parameter scopes
 * (scope.c): a branch's returns hide the initial value from that branch
 * and, after the fan-in, from the enclosing graph, but never from a sibling
 * branch, which in the run does not see them either.
 *
 * Cost: each graph is walked once per time it is printed, with work
 * proportional to what it prints; the returns of a whole branch (needed for
 * loops, maps and depends_on graphs) are collected once per graph.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dryrun.h"
#include "py_str.h"

/* Where the type column starts, unless a long name pushes it right. */
enum { TYPE_COLUMN = 24 };

/* Names a scope's steps have returned so far. */
typedef struct layer {
    json_t *produced;          /* owned: name -> true */
    /* Borrowed: names that may already be set when this scope starts
     * (a loop's later iterations, a depends_on graph's other steps). */
    const json_t *carried;
    const struct layer *parent;
} layer;

typedef struct walk {
    rn_buf *out;
    const json_t *params;      /* initial root parameters */
    json_t *graph_returns;     /* "%p" of a graph -> names returned inside it */
    int rc;                    /* first error; everything stops after it */
} walk;

/* What a map or conditional would read. */
typedef enum param_state {
    P_KNOWN,                   /* an initial parameter nothing changes first */
    P_PRODUCED,                /* an earlier step may set it */
    P_UNSET                    /* neither: the step fails */
} param_state;

static void fail(walk *w, int rc)
{
    if (!w->rc)
        w->rc = rc;
}

static void emit_v(walk *w, const char *fmt, va_list ap)
{
    if (w->rc)
        return;
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        fail(w, rn_error_set(RN_EINVAL, "bad format string"));
    } else if ((size_t)n < sizeof small) {
        fail(w, rn_buf_append(w->out, small, (size_t)n));
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big) {
            fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        } else {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            fail(w, rn_buf_append(w->out, big, (size_t)n));
            free(big);
        }
    }
    va_end(again);
}

static void emit(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(walk *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(w, fmt, ap);
    va_end(ap);
}

/* "<indent>branch.name<pad>type": the name column is fixed so that lines
 * need no look-ahead, which keeps the output streaming in one pass. */
static void step_line(walk *w, int depth, const char *branch, const char *name,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void step_line(walk *w, int depth, const char *branch, const char *name,
                      const char *fmt, ...)
{
    size_t used = 2 * (size_t)depth + (branch ? strlen(branch) + 1 : 0) + strlen(name);
    size_t pad = used + 2 <= TYPE_COLUMN ? TYPE_COLUMN - used : 2;
    emit(w, "%*s%s%s%s%*s", 2 * depth, "", branch ? branch : "", branch ? "." : "", name,
         (int)pad, "");
    va_list ap;
    va_start(ap, fmt);
    emit_v(w, fmt, ap);
    va_end(ap);
    emit(w, "\n");
}

static void note(walk *w, int depth, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(walk *w, int depth, const char *fmt, ...)
{
    emit(w, "%*s(", 2 * depth, "");
    va_list ap;
    va_start(ap, fmt);
    emit_v(w, fmt, ap);
    va_end(ap);
    emit(w, ")\n");
}

static char *join(walk *w, const char *branch, const char *name)
{
    size_t n = (branch ? strlen(branch) + 1 : 0) + strlen(name) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", branch ? branch : "", branch ? "." : "", name);
    else
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
    return s;
}

static int is_terminal(const rn_node *n)
{
    return n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL;
}

/* ------------------------------------------------------------------ */
/* What is known                                                       */
/* ------------------------------------------------------------------ */

static void add_returns(const rn_node *n, json_t *into)
{
    size_t k;
    json_t *r;
    if (n->type != RN_NODE_TASK)
        return;
    json_array_foreach(n->returns, k, r) {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name)
            json_object_set_new(into, name, json_true());
    }
}

static void collect_returns(const rn_graph *g, json_t *into)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const rn_node *n = g->nodes[i];
        add_returns(n, into);
        for (size_t b = 0; b < n->n_branches; b++)
            collect_returns(n->branches[b], into);
        collect_returns(n->branch, into);
        collect_returns(n->default_graph, into);
    }
}

/* Every name a task anywhere inside `g` returns (collected once per
 * graph: a map's body is printed once per item). */
static const json_t *graph_returns(walk *w, const rn_graph *g)
{
    char key[2 * sizeof(void *) + 8];
    snprintf(key, sizeof key, "%p", (const void *)g);
    json_t *names = json_object_get(w->graph_returns, key);
    if (names)
        return names;
    names = json_object();
    if (!names || json_object_set_new(w->graph_returns, key, names) < 0) {
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        return NULL;
    }
    collect_returns(g, names);
    return names;
}

static param_state lookup(const walk *w, const layer *ly, const char *name, const json_t **value)
{
    for (const layer *l = ly; l; l = l->parent)
        if (json_object_get(l->produced, name) || json_object_get(l->carried, name))
            return P_PRODUCED;
    const json_t *p = json_object_get(w->params, name);
    if (!p)
        return P_UNSET;
    *value = json_object_get(p, "value");
    return P_KNOWN;
}

static void merge(walk *w, json_t *into, const json_t *names)
{
    if (names && !w->rc && json_object_update(into, (json_t *)names) < 0)
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
}

/* ------------------------------------------------------------------ */
/* Graphs                                                              */
/* ------------------------------------------------------------------ */

static void walk_graph(walk *w, const rn_graph *g, const char *branch, int depth, layer *ly);

/* One branch run in its own scope layer; what it returned is added to
 * `acc` (the composite's fan-in) when given. */
static void walk_branch(walk *w, const rn_graph *g, const char *branch, int depth,
                        const layer *parent, const json_t *carried, json_t *acc)
{
    layer bl = {json_object(), carried, parent};
    if (!bl.produced) {
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    walk_graph(w, g, branch, depth, &bl);
    if (acc)
        merge(w, acc, bl.produced);
    json_decref(bl.produced);
}

/* After a chained graph's step fails, the run goes to on_failure and
 * then along `next`; list that path until it rejoins the success path
 * (or ends), since those steps are not listed otherwise. */
static const rn_node *next_of(const rn_graph *g, const rn_node *n)
{
    return n->next_node ? n->next_node : rn_graph_find(g, "success");
}

static void failure_note(walk *w, const rn_graph *g, const rn_node *n, const char *branch,
                         int depth, const json_t *on_path)
{
    if (!n->on_failure_node || !on_path)
        return;
    emit(w, "%*s(on failure: ", 2 * (depth + 1), "");
    size_t k = 0;
    for (const rn_node *m = n->on_failure_node; m && k <= g->n_nodes; m = next_of(g, m), k++) {
        emit(w, "%s%s%s%s", k ? " -> " : "", branch ? branch : "", branch ? "." : "", m->name);
        if (is_terminal(m) || json_object_get(on_path, m->name))
            break;
    }
    emit(w, ")\n");
}

static void walk_parallel(walk *w, const rn_node *n, const char *name, int depth, layer *ly)
{
    json_t *acc = json_object();
    if (!acc) {
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    for (size_t i = 0; i < n->n_branches && !w->rc; i++) {
        char *b = join(w, name, n->branch_keys[i]);
        if (b)
            walk_branch(w, n->branches[i], b, depth + 1, ly, NULL, acc);
        free(b);
    }
    merge(w, ly->produced, acc);
    json_decref(acc);
}

/* A known list: one branch per item, named as composite.c names them;
 * the items that would stop the map are reported instead. */
static void walk_map_items(walk *w, const rn_node *n, const char *branch, const char *name,
                           int depth, layer *ly, const json_t *on_path, const json_t *items)
{
    size_t count = json_array_size(items);
    char **labels = calloc(count ? count : 1, sizeof *labels);
    json_t *seen = json_object();
    const char *problem = NULL;
    size_t bad = 0;
    if (!labels || !seen) {
        free(labels);
        json_decref(seen);
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    for (size_t i = 0; i < count && !w->rc && !problem; i++) {
        labels[i] = rn_py_str(json_array_get(items, i));
        if (!labels[i])
            fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        else if (strchr(labels[i], '.'))
            problem = "contains '.', which cannot be part of a branch name";
        else if (json_object_get(seen, labels[i]))
            problem = "appears twice; each item names its own branch";
        else if (json_object_set_new(seen, labels[i], json_true()) < 0)
            fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        bad = i;
    }
    json_decref(seen);
    if (!w->rc)
        step_line(w, depth, NULL, name, "map over %s: %zu item%s", n->iterate_on, count,
                  count == 1 ? "" : "s");
    failure_note(w, n->graph, n, branch, depth, on_path);
    if (problem)
        note(w, depth + 1, "will fail: item %s of %s %s", labels[bad], n->iterate_on, problem);
    for (size_t i = 0; i < count; i++) {
        if (!problem && !w->rc) {
            char *b = join(w, name, labels[i]);
            if (b)
                walk_branch(w, n->branch, b, depth + 1, ly, NULL, NULL);
            free(b);
        }
        free(labels[i]);
    }
    free(labels);
}

/* Prints the composite's own line and notes, then its branches.  `on_path`
 * and `branch` are for the on_failure note, which goes right under the
 * step's line. */
static void walk_composite(walk *w, const rn_node *n, const char *branch, const char *name,
                           int depth, layer *ly, const json_t *on_path)
{
    const rn_graph *g = n->graph;
    const json_t *v = NULL;
    switch (n->type) {
    case RN_NODE_PARALLEL:
        step_line(w, depth, NULL, name, "parallel");
        failure_note(w, g, n, branch, depth, on_path);
        walk_parallel(w, n, name, depth, ly);
        return;

    case RN_NODE_MAP: {
        param_state st = lookup(w, ly, n->iterate_on, &v);
        if (st == P_KNOWN && json_is_array(v)) {
            walk_map_items(w, n, branch, name, depth, ly, on_path, v);
        } else {
            step_line(w, depth, NULL, name, "map over %s", n->iterate_on);
            failure_note(w, g, n, branch, depth, on_path);
            if (st == P_KNOWN) {
                note(w, depth + 1, "will fail: %s is %s, not a list to iterate on",
                     n->iterate_on, rn_json_kind_name(v));
            } else if (st == P_UNSET) {
                note(w, depth + 1, "will fail: %s is neither an initial parameter nor "
                     "returned by an earlier step", n->iterate_on);
            } else {
                note(w, depth + 1, "the list %s is produced at run time: one branch per item",
                     n->iterate_on);
                size_t len = strlen(name) + strlen(n->iterate_on) + 16;
                char *b = malloc(len);
                if (!b) {
                    fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
                } else {
                    snprintf(b, len, "%s.<items of %s>", name, n->iterate_on);
                    walk_branch(w, n->branch, b, depth + 1, ly, NULL, NULL);
                    free(b);
                }
            }
        }
        /* The reducer sets every name the body returns, even for no items. */
        merge(w, ly->produced, graph_returns(w, n->branch));
        return;
    }

    case RN_NODE_CONDITIONAL: {
        param_state st = lookup(w, ly, n->parameter, &v);
        if (st == P_KNOWN && (json_is_string(v) || json_is_number(v) || json_is_boolean(v))) {
            char *value = rn_py_str(v);
            if (!value) {
                fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
                return;
            }
            const char *key;
            const rn_graph *chosen = rn_conditional_choose(n, value, &key);
            if (chosen) {
                step_line(w, depth, NULL, name, "conditional: %s is %s%s", n->parameter, value,
                          chosen == n->default_graph ? ", default branch" : "");
                failure_note(w, g, n, branch, depth, on_path);
                char *b = join(w, name, key);
                if (b)
                    walk_branch(w, chosen, b, depth + 1, ly, NULL, ly->produced);
                free(b);
            } else {
                step_line(w, depth, NULL, name, "conditional on %s", n->parameter);
                failure_note(w, g, n, branch, depth, on_path);
                note(w, depth + 1, "will fail: no branch matches %s = %s and there is no "
                     "default branch", n->parameter, value);
            }
            free(value);
            return;
        }
        step_line(w, depth, NULL, name, "conditional on %s", n->parameter);
        failure_note(w, g, n, branch, depth, on_path);
        if (st == P_KNOWN) {
            note(w, depth + 1, "will fail: %s is %s, not text, a number or a boolean",
                 n->parameter, rn_json_kind_name(v));
            return;
        }
        if (st == P_UNSET) {
            note(w, depth + 1, "will fail: %s is neither an initial parameter nor returned "
                 "by an earlier step", n->parameter);
            return;
        }
        note(w, depth + 1, "%s is produced at run time: every branch shown", n->parameter);
        json_t *acc = json_object();
        if (!acc) {
            fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
            return;
        }
        for (size_t i = 0; i <= n->n_branches && !w->rc; i++) {
            const rn_graph *bg = i < n->n_branches ? n->branches[i] : n->default_graph;
            const char *key = i < n->n_branches ? n->branch_keys[i] : "default";
            if (!bg)
                break;
            if (i < n->n_branches)
                note(w, depth + 1, "if %s is %s", n->parameter, key);
            else
                note(w, depth + 1, "otherwise");
            char *b = join(w, name, key);
            if (b)
                walk_branch(w, bg, b, depth + 1, ly, NULL, acc);
            free(b);
        }
        merge(w, ly->produced, acc);
        json_decref(acc);
        return;
    }

    case RN_NODE_LOOP: {
        long long times = n->max_iterations > 0 ? n->max_iterations : 1;
        step_line(w, depth, NULL, name, "loop");
        failure_note(w, g, n, branch, depth, on_path);
        note(w, depth + 1, "repeated up to %lld time%s, until %s", times, times == 1 ? "" : "s",
             n->break_on ? n->break_on : "?");
        /* Shown once, as iteration 0; what the body returns is set from
         * the second iteration on, so with more than one it is not known
         * inside the body. */
        const json_t *body = graph_returns(w, n->branch);
        char *b = join(w, name, "0");
        if (b && body)
            walk_branch(w, n->branch, b, depth + 1, ly, times > 1 ? body : NULL, NULL);
        free(b);
        merge(w, ly->produced, body);
        return;
    }

    default:
        return;
    }
}

/* `branch` is the resolved name of the branch holding `n` (NULL at the
 * root); `on_path` the names on a chained graph's success path. */
static void walk_node(walk *w, const rn_node *n, const char *branch, int depth, layer *ly,
                      const json_t *on_path)
{
    if (w->rc)
        return;
    switch (n->type) {
    case RN_NODE_TASK:
        step_line(w, depth, branch, n->name, "task (%s)", n->command_type);
        failure_note(w, n->graph, n, branch, depth, on_path);
        if (!w->rc)
            add_returns(n, ly->produced);
        return;
    case RN_NODE_STUB:
    case RN_NODE_SUCCESS:
    case RN_NODE_FAIL:
        step_line(w, depth, branch, n->name, "%s", rn_node_type_name(n->type));
        failure_note(w, n->graph, n, branch, depth, on_path);
        return;
    default: {
        char *name = join(w, branch, n->name);
        if (name)
            walk_composite(w, n, branch, name, depth, ly, on_path);
        free(name);
        return;
    }
    }
}

static void walk_chain(walk *w, const rn_graph *g, const char *branch, int depth, layer *ly)
{
    json_t *on_path = json_object();
    if (!on_path) {
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    /* The success path first: an on_failure note stops where the failure
     * path rejoins it, which may be further down. */
    const rn_node *n = g->start;
    size_t k = 0;
    for (; n && k <= g->n_nodes; n = next_of(g, n), k++) {
        if (json_object_set_new(on_path, n->name, json_true()) < 0)
            fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        if (is_terminal(n))
            break;
    }
    if (!n || k > g->n_nodes) {
        fail(w, rn_error_set(RN_EINVAL, "graph '%s' does not reach a terminal step along "
                             "next", g->internal_name ? g->internal_name : ""));
    }
    for (n = g->start, k = 0; n && !w->rc && k <= g->n_nodes; n = next_of(g, n), k++) {
        walk_node(w, n, branch, depth, ly, on_path);
        if (is_terminal(n))
            break;
    }
    json_decref(on_path);
}

/* Steps by level (the longest chain of depends_on before them), file
 * order within a level, then the graph's success step.  The run's own
 * order is not fixed: with enable_parallel a step starts as soon as what
 * it waits for is done, and one at a time the local executor takes steps
 * as they became ready, which can interleave two levels.  By level
 * respects depends_on, reads best and does not depend on timing. */
static void walk_dag(walk *w, const rn_graph *g, const char *branch, int depth, layer *ly)
{
    size_t n = g->n_nodes, edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += g->nodes[i]->n_depends_on;
    size_t *waiting = calloc(n + 1, sizeof *waiting);
    size_t *level = calloc(n + 1, sizeof *level);
    size_t *dep_at = calloc(n + 2, sizeof *dep_at);
    size_t *deps = malloc((edges + 1) * sizeof *deps);
    size_t *queue = malloc((n + 1) * sizeof *queue);
    size_t *at = calloc(n + 2, sizeof *at);
    /* Everything the graph's steps return may be set before any one of
     * them starts: with enable_parallel the order is not fixed. */
    layer dl = {json_object(), graph_returns(w, g), ly};
    if (!waiting || !level || !dep_at || !deps || !queue || !at || !dl.produced) {
        fail(w, rn_error_set(RN_ENOMEM, "out of memory"));
        goto out;
    }
    if (w->rc)
        goto out;
    /* Dependents as a compact adjacency list (as frame.c builds it). */
    for (size_t i = 0; i < n; i++) {
        const rn_node *u = g->nodes[i];
        waiting[i] = u->n_depends_on;
        for (size_t k = 0; k < u->n_depends_on; k++)
            dep_at[u->depends_on_nodes[k]->index + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        dep_at[i + 1] += dep_at[i];
    for (size_t i = 0; i < n; i++) {
        const rn_node *u = g->nodes[i];
        for (size_t k = 0; k < u->n_depends_on; k++) {
            size_t d = u->depends_on_nodes[k]->index;
            deps[dep_at[d] + at[d]++] = i;
        }
    }
    size_t head = 0, tail = 0, steps = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_terminal(g->nodes[i]))
            continue;
        steps++;
        if (waiting[i] == 0)
            queue[tail++] = i;
    }
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t k = dep_at[u]; k < dep_at[u + 1]; k++) {
            size_t d = deps[k];
            if (level[d] < level[u] + 1)
                level[d] = level[u] + 1;
            if (level[d] > top)
                top = level[d];
            if (--waiting[d] == 0)
                queue[tail++] = d;
        }
    }
    if (tail != steps) {
        fail(w, rn_error_set(RN_EINVAL, "graph '%s' has a cycle in depends_on",
                             g->internal_name ? g->internal_name : ""));
        goto out;
    }
    /* Counting sort by level; file order kept within a level. */
    memset(at, 0, (n + 2) * sizeof *at);
    for (size_t q = 0; q < tail; q++)
        at[level[queue[q]] + 1]++;
    for (size_t l = 0; l <= top; l++)
        at[l + 1] += at[l];
    for (size_t i = 0; i < n; i++)
        if (!is_terminal(g->nodes[i]))
            queue[at[level[i]]++] = i;
    for (size_t q = 0; q < tail && !w->rc; q++)
        walk_node(w, g->nodes[queue[q]], branch, depth, &dl, NULL);
    const rn_node *done = rn_graph_find(g, "success");
    if (done)
        walk_node(w, done, branch, depth, &dl, NULL);
    merge(w, ly->produced, dl.produced);
out:
    json_decref(dl.produced);
    free(waiting);
    free(level);
    free(dep_at);
    free(deps);
    free(queue);
    free(at);
}

static void walk_graph(walk *w, const rn_graph *g, const char *branch, int depth, layer *ly)
{
    if (!g || w->rc)
        return;
    if (g->is_dag)
        walk_dag(w, g, branch, depth, ly);
    else
        walk_chain(w, g, branch, depth, ly);
}

int rn_dry_run(rn_buf *out, const rn_pipeline *p, const json_t *params)
{
    walk w = {out, params, json_object(), 0};
    layer root = {json_object(), NULL, NULL};
    if (!w.graph_returns || !root.produced)
        fail(&w, rn_error_set(RN_ENOMEM, "out of memory"));
    else
        walk_graph(&w, p->dag, NULL, 0, &root);
    json_decref(root.produced);
    json_decref(w.graph_returns);
    return w.rc;
}
