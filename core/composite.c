/*
 * Composite steps (spec/services.md §4.4, with DESIGN §2's fixes):
 * fan-out into branch graphs, each in its own scope layer over the
 * enclosing one, then fan-in: the step succeeds when every branch that had
 * to run succeeded, and only then are the branches' parameters merged back
 * (parallel in branch order, map through its reducer, conditional the
 * branch that ran, loop the last iteration).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_str.h"
#include "reduce.h"
#include "sched.h"
#include "spawn.h"

void rn_comp_free(rn_comp *c)
{
    if (!c)
        return;
    if (c->names)
        for (size_t i = 0; i < c->n; i++)
            free(c->names[i]);
    free(c->names);
    free(c->graphs);
    free(c->internal_name);
    json_decref(c->items);
    json_decref(c->carry);
    free(c);
}

static json_t *param_value(const json_t *p)
{
    return json_object_get(p, "value");
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.%s", a, b);
    return s;
}

static int alloc_branches(rn_comp *c, size_t n)
{
    c->n = n;
    c->names = calloc(n ? n : 1, sizeof *c->names);
    c->graphs = calloc(n ? n : 1, sizeof *c->graphs);
    if (!c->names || !c->graphs)
        return rn_error_set(RN_ENOMEM, "out of memory");
    return 0;
}

static int setup_parallel(rn_comp *c)
{
    rn_node *node = c->node;
    if (alloc_branches(c, node->n_branches) < 0)
        return RN_ENOMEM;
    for (size_t i = 0; i < node->n_branches; i++) {
        c->graphs[i] = node->branches[i];
        if (!(c->names[i] = join(c->internal_name, node->branch_keys[i])))
            return rn_error_set(RN_ENOMEM, "out of memory");
    }
    return 0;
}

static int setup_map(rn_comp *c)
{
    rn_node *node = c->node;
    json_t *p = rn_scope_get(&c->frame->scope, node->iterate_on);
    if (!p) {
        snprintf(c->msg, sizeof c->msg, "map '%s': parameter '%s' (iterate_on) is not set; "
                 "produce it in an earlier step or pass it with -p", c->internal_name,
                 node->iterate_on);
        return 0;
    }
    json_t *items = param_value(p);
    if (!json_is_array(items)) {
        snprintf(c->msg, sizeof c->msg, "map '%s': parameter '%s' (iterate_on) must be a list "
                 "to iterate on, not %s", c->internal_name, node->iterate_on,
                 rn_json_kind_name(items));
        return 0;
    }
    size_t n = json_array_size(items);
    if (alloc_branches(c, n) < 0)
        return RN_ENOMEM;
    c->items = json_incref(items);
    /* Items name their branches: a '.' would split the name, and two
     * equal names would share one branch log. */
    json_t *seen = json_object();
    if (!seen)
        return rn_error_set(RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        c->graphs[i] = node->branch;
        char *label = rn_py_str(json_array_get(items, i));
        if (!label) {
            json_decref(seen);
            return rn_error_set(RN_ENOMEM, "out of memory");
        }
        if (strchr(label, '.')) {
            snprintf(c->msg, sizeof c->msg, "map '%s': item %s of '%s' contains '.', which "
                     "cannot be part of a branch name; use items without '.' (an index, for "
                     "instance)", c->internal_name, label, node->iterate_on);
        } else if (json_object_get(seen, label)) {
            snprintf(c->msg, sizeof c->msg, "map '%s': item %s appears twice in '%s'; each "
                     "item names its own branch, so items must be distinct", c->internal_name,
                     label, node->iterate_on);
        } else {
            json_object_set_new(seen, label, json_true());
            c->names[i] = join(c->internal_name, label);
        }
        free(label);
        if (c->msg[0])
            break;
        if (!c->names[i]) {
            json_decref(seen);
            return rn_error_set(RN_ENOMEM, "out of memory");
        }
    }
    json_decref(seen);
    return 0;
}

static int setup_conditional(rn_comp *c)
{
    rn_node *node = c->node;
    json_t *p = rn_scope_get(&c->frame->scope, node->parameter);
    if (!p) {
        snprintf(c->msg, sizeof c->msg, "conditional '%s': parameter '%s' is not set; "
                 "produce it in an earlier step or pass it with -p", c->internal_name,
                 node->parameter);
        return 0;
    }
    json_t *v = param_value(p);
    if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
        snprintf(c->msg, sizeof c->msg, "conditional '%s': parameter '%s' must be text, a "
                 "number or a boolean to choose a branch, not %s", c->internal_name,
                 node->parameter, rn_json_kind_name(v));
        return 0;
    }
    char *value = rn_py_str(v);
    if (!value)
        return rn_error_set(RN_ENOMEM, "out of memory");
    const char *key;
    rn_graph *chosen = rn_conditional_choose(node, value, &key);
    if (!chosen) {
        snprintf(c->msg, sizeof c->msg, "conditional '%s': no branch matches %s = '%s' and "
                 "there is no default branch; add a branch '%s' or a 'default'",
                 c->internal_name, node->parameter, value, value);
        free(value);
        return 0;
    }
    free(value);
    if (alloc_branches(c, 1) < 0)
        return RN_ENOMEM;
    c->graphs[0] = chosen;
    if (!(c->names[0] = join(c->internal_name, key)))
        return rn_error_set(RN_ENOMEM, "out of memory");
    return 0;
}

static void finish(rn_comp *c);

static void start_branch(rn_comp *c, size_t i)
{
    rn_sched *s = c->s;
    rn_node *node = c->node;
    char idx[32];
    const char *name = c->names ? c->names[i] : NULL;
    char *loop_name = NULL;
    if (!name) {
        snprintf(idx, sizeof idx, "%zu", i);
        name = loop_name = join(c->internal_name, idx);
    }
    rn_graph *g = c->graphs ? c->graphs[i] : node->branch;
    if (i > 0 && node->type == RN_NODE_LOOP)
        s->e->leaves_estimate += rn_graph_leaf_estimate(g);
    rn_frame *bf = name ? rn_frame_new(s, g, c) : NULL;
    json_t *branches = json_object_get(c->step, "branches");
    /* A retry goes on with the branch as it was left: its steps and the
     * values they produced. */
    json_t *old = s->e->retrying && name ? json_object_get(branches, name) : NULL;
    const char *old_status = json_string_value(json_object_get(old, "status"));
    json_t *layer = NULL, *blog = NULL;
    if (old && json_is_object(json_object_get(old, "steps"))) {
        layer = json_object_get(old, "parameters");
        if (!json_is_object(layer))
            json_object_set_new(old, "parameters", layer = json_object());
        json_incref(layer);
        blog = json_incref(old);
    } else {
        /* A loop iteration starts from the previous one's values. */
        layer = c->carry ? json_copy(c->carry) : json_object();
        blog = json_pack("{s:s, s:s, s:{}, s:O}", "internal_name", name ? name : "",
                         "status", "PROCESSING", "steps", "parameters", layer);
    }
    json_t *mv = c->frame->scope.map_variables ? json_copy(c->frame->scope.map_variables)
                                               : json_object();
    if (!bf || !layer || !mv || !blog || !(bf->scope.branch_name = strdup(name))) {
        json_decref(layer);
        json_decref(mv);
        json_decref(blog);
        rn_frame_free(bf);
        free(loop_name);
        c->failed++;
        rn_sched_fail(s, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    if (node->type == RN_NODE_MAP)
        json_object_set(mv, node->iterate_as, json_array_get(c->items, i));
    else if (node->type == RN_NODE_LOOP && node->index_as)
        json_object_set_new(mv, node->index_as, json_integer((json_int_t)i));
    json_object_set_new(branches, name, blog);
    bf->scope.steps = json_object_get(blog, "steps");
    bf->scope.params = layer;
    bf->scope.parent = &c->frame->scope;
    bf->scope.branch_log = blog;
    bf->scope.map_variables = mv;
    free(loop_name);
    c->active++;
    if (old_status && strcmp(old_status, "SUCCESS") == 0) {
        /* Succeeded before: not run again, but merged like the others. */
        bf->done = bf->success = 1;
        rn_sched_post(s, RN_EV_FRAME, bf);
        return;
    }
    json_object_set_new(blog, "status", json_string("PROCESSING"));
    int rc = rn_store_put_scope(s->e, &bf->scope);
    if (rc < 0)
        rn_sched_fail(s, rc);
    rn_frame_start(bf);
}

/* Start branches while the limit allows; fan in when none is left. */
static void pump(rn_comp *c)
{
    rn_sched *s = c->s;
    while (c->next < c->n && c->active < c->limit && !c->loop_done && !c->msg[0] &&
           !rn_sched_halting(s) && !rn_frame_stopping(c->frame))
        start_branch(c, c->next++);
    if (c->active == 0)
        finish(c);
}

void rn_comp_branch_done(rn_comp *c, rn_frame *bf)
{
    rn_node *node = c->node;
    c->active--;
    if (bf->success)
        c->ok++;
    else
        c->failed++;
    if (node->type == RN_NODE_LOOP) {
        if (bf->success) {
            json_decref(c->carry);
            c->carry = json_incref(bf->scope.params);
            json_t *b = node->break_on ? rn_scope_get(&bf->scope, node->break_on) : NULL;
            if ((b && json_is_true(param_value(b))) || c->next >= c->n)
                c->loop_done = 1;
        } else {
            c->loop_done = 1;
        }
    }
    rn_frame_free(bf);
    pump(c);
}

/* Names returned by tasks anywhere inside a graph, first appearance first. */
static void returned_names(const rn_graph *g, json_t *out)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const rn_node *n = g->nodes[i];
        size_t k;
        json_t *r;
        if (n->type == RN_NODE_TASK)
            json_array_foreach(n->returns, k, r) {
                const char *name = json_string_value(json_object_get(r, "name"));
                if (name && !json_object_get(out, name))
                    json_object_set_new(out, name, json_true());
            }
        for (size_t b = 0; b < n->n_branches; b++)
            returned_names(n->branches[b], out);
        returned_names(n->branch, out);
        returned_names(n->default_graph, out);
    }
}

/* Fan-in of a successful composite; 1 if the enclosing scope changed. */
static int merge(rn_comp *c)
{
    rn_node *node = c->node;
    json_t *into = c->frame->scope.params;
    json_t *branches = json_object_get(c->step, "branches");
    int changed = 0;
    if (node->type == RN_NODE_LOOP) {
        changed = c->carry && json_object_size(c->carry) > 0;
        if (changed)
            json_object_update(into, c->carry);
        return changed;
    }
    if (node->type != RN_NODE_MAP) {
        for (size_t i = 0; i < c->next; i++) {
            json_t *layer = json_object_get(json_object_get(branches, c->names[i]),
                                            "parameters");
            if (json_object_size(layer)) {
                json_object_update(into, layer);
                changed = 1;
            }
        }
        return changed;
    }
    json_t *names = json_object();
    returned_names(node->branch, names);
    const char *name;
    json_t *unused;
    json_object_foreach(names, name, unused) {
        json_t *values = json_array();
        for (size_t i = 0; i < c->n; i++) {
            json_t *layer = json_object_get(json_object_get(branches, c->names[i]),
                                            "parameters");
            json_t *p = json_object_get(layer, name);
            if (p)
                json_array_append(values, param_value(p));
        }
        json_t *result = NULL;
        if (rn_reduce(node->reducer, values, &result) < 0) {
            snprintf(c->msg, sizeof c->msg, "map '%s': reducing '%s' failed: %s",
                     c->internal_name, name, rn_error_last());
            json_decref(values);
            break;
        }
        json_decref(values);
        json_t *old = rn_scope_get(&c->frame->scope, name);
        const char *kind = old ? json_string_value(json_object_get(old, "kind")) : NULL;
        json_object_set_new(into, name, rn_param_new(kind ? kind : "json", result));
        changed = 1;
    }
    json_decref(names);
    return changed;
}

static void finish(rn_comp *c)
{
    rn_sched *s = c->s;
    rn_engine *e = s->e;
    int complete = c->loop_done || c->next >= c->n;
    int success = !c->msg[0] && c->failed == 0 && complete && !rn_sched_halting(s);
    if (!c->msg[0] && rn_sched_halting(s)) {
        if (s->interrupted) {
            char sig[32];
            rn_signal_name(s->interrupted, sig, sizeof sig);
            snprintf(c->msg, sizeof c->msg, "interrupted by %s", sig);
        } else {
            snprintf(c->msg, sizeof c->msg, "stopped: %.900s", s->hard_msg);
        }
    } else if (!c->msg[0] && !complete) {
        snprintf(c->msg, sizeof c->msg, "stopped after a failure (stop_on_first_failure): "
                 "%zu of %zu branches did not run", c->n - c->next, c->n);
    }
    if (success && merge(c)) {
        int rc = rn_store_put_scope(e, &c->frame->scope);
        if (rc < 0)
            rn_sched_fail(s, rc);
    }
    if (c->msg[0])
        success = 0;
    c->success = success;
    json_object_set_new(c->step, "status", json_string(success ? "SUCCESS" : "FAIL"));
    json_object_set_new(c->step, "message", json_string(c->msg));
    e->steps_total++;
    if (!success) {
        e->steps_failed++;
        char what[300];
        snprintf(what, sizeof what, "step '%s'", c->internal_name);
        if (c->msg[0])
            rn_frame_note_failure(c->frame, what);
    }
    int rc = rn_store_put_step(e, c->step);
    if (rc < 0)
        rn_sched_fail(s, rc);
    rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_STEP_END, .name = c->internal_name,
                                 .step_type = rn_node_type_name(c->node->type),
                                 .status = success ? "SUCCESS" : "FAIL", .message = c->msg,
                                 .step_seconds = rn_mono_now() - c->started});
    rn_sched_post(s, RN_EV_COMP, c);
}

void rn_comp_start(rn_sched *s, rn_frame *f, rn_node *node)
{
    rn_comp *c = calloc(1, sizeof *c);
    char *name = c ? rn_frame_step_name(f, node) : NULL;
    if (!name) {
        free(c);
        rn_sched_fail(s, rn_error_set(RN_ENOMEM, "out of memory"));
        rn_frame_step_done(f, node, 0);
        return;
    }
    c->s = s;
    c->frame = f;
    c->node = node;
    c->internal_name = name;
    json_t *step = json_object_get(f->scope.steps, name);
    const char *was = json_string_value(json_object_get(step, "status"));
    if (s->e->retrying && was && strcmp(was, "SUCCESS") == 0) {
        /* A retry skips what succeeded; its stored status drives on. */
        c->success = 1;
        rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_STEP_END, .name = name,
                                     .step_type = rn_node_type_name(node->type),
                                     .status = "SUCCESS", .reused = 1});
        rn_sched_post(s, RN_EV_COMP, c);
        return;
    }
    if (!step) {
        step = rn_step_log_new(node->name, name, rn_node_type_name(node->type));
        json_object_set_new(f->scope.steps, name, step);
    }
    c->step = step;
    c->started = rn_mono_now();
    rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_STEP_START, .name = name,
                                 .step_type = rn_node_type_name(node->type)});
    json_object_set_new(step, "status", json_string("PROCESSING"));
    int rc = rn_store_put_step(s->e, step);
    if (rc < 0)
        rn_sched_fail(s, rc);

    switch (node->type) {
    case RN_NODE_PARALLEL: rc = setup_parallel(c); break;
    case RN_NODE_MAP: rc = setup_map(c); break;
    case RN_NODE_CONDITIONAL: rc = setup_conditional(c); break;
    case RN_NODE_LOOP:
        c->n = node->max_iterations > 0 ? (size_t)node->max_iterations : 1;
        rc = 0;
        break;
    default:
        snprintf(c->msg, sizeof c->msg, "%s steps cannot run here",
                 rn_node_type_name(node->type));
        rc = 0;
    }
    if (rc < 0) {
        rn_sched_fail(s, rc);
        if (!c->msg[0])
            snprintf(c->msg, sizeof c->msg, "%s", rn_error_last());
    }
    /* Now that it is known how many branches run, the progress estimate
     * counted this step with one map item and the largest conditional
     * branch: correct it (loops add each iteration as it starts). */
    if (node->type == RN_NODE_MAP)
        s->e->leaves_estimate += ((int)c->n - 1) * rn_graph_leaf_estimate(node->branch);
    else if (node->type == RN_NODE_CONDITIONAL)
        s->e->leaves_estimate += (c->n ? rn_graph_leaf_estimate(c->graphs[0]) : 0) -
                                 rn_node_leaf_estimate(node);
    /* Branches run side by side only when asked; a loop's iterations and
     * a conditional's single branch never do. */
    c->limit = 1;
    if (s->parallel && (node->type == RN_NODE_PARALLEL || node->type == RN_NODE_MAP))
        c->limit = s->slots;
    pump(c);
}

/* ------------------------------------------------------------------ */
/* The node protocol: fan-out and fan-in by themselves                 */
/* ------------------------------------------------------------------ */

/* The branch logs of a fanned-out composite exist before any branch runs,
 * so the processes running its steps find where to write. */
static int fan_out_branches(rn_engine *e, rn_comp *c)
{
    json_t *branches = json_object_get(c->step, "branches");
    for (size_t i = 0; i < c->n; i++) {
        json_t *blog = json_object_get(branches, c->names[i]);
        if (!blog) {
            blog = json_pack("{s:s, s:s, s:{}, s:{}}", "internal_name", c->names[i], "status",
                             "PROCESSING", "steps", "parameters");
            if (!blog)
                return rn_error_set(RN_ENOMEM, "out of memory");
            json_object_set_new(branches, c->names[i], blog);
        }
        rn_scope bs = {.branch_log = blog};
        int rc = rn_store_put_scope(e, &bs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* What the orchestrator needs from a fan-out: the items a map iterates
 * on, the key of the branch a conditional takes, a parallel's keys. */
static char *fan_value(const rn_comp *c)
{
    json_t *v = NULL;
    const char *prefix_end = c->internal_name + strlen(c->internal_name) + 1;
    if (c->node->type == RN_NODE_MAP) {
        v = json_incref(c->items);
    } else if (c->node->type == RN_NODE_CONDITIONAL) {
        v = json_string(c->n ? c->names[0] + (prefix_end - c->internal_name) : "");
    } else {
        v = json_array();
        for (size_t i = 0; i < c->n; i++)
            json_array_append_new(v, json_string(c->names[i] + (prefix_end - c->internal_name)));
    }
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return text;
}

/* Record iteration `i` of a loop, starting from `layer` (taken over). */
static int loop_iteration(rn_engine *e, json_t *step, const char *name, long i, json_t *layer)
{
    char idx[32];
    snprintf(idx, sizeof idx, "%ld", i);
    char *bname = join(name, idx);
    json_t *blog = bname && layer
                       ? json_pack("{s:s, s:s, s:{}, s:o}", "internal_name", bname, "status",
                                   "PROCESSING", "steps", "parameters", layer)
                       : NULL;
    free(bname);
    if (!blog)
        return rn_error_set(RN_ENOMEM, "out of memory");
    json_object_set_new(json_object_get(step, "branches"), json_string_value(
                            json_object_get(blog, "internal_name")), blog);
    rn_scope bs = {.branch_log = blog};
    return rn_store_put_scope(e, &bs);
}

/* A loop under the node protocol, one iteration at a time (its iterations
 * depend on each other, so the orchestrator asks after each): out records
 * the step and iteration 0 and answers 0; in looks at the latest iteration
 * and, as the engine would, either records the next one (starting from
 * this one's values) and answers its index, or finishes the step and
 * answers "done". */
static int loop_fan(rn_engine *e, rn_scope *scope, rn_node *node, int out, int *ok,
                    char **value)
{
    char *name = rn_frame_step_name(&(rn_frame){.scope = *scope}, node);
    if (!name)
        return rn_error_set(RN_ENOMEM, "out of memory");
    json_t *step = json_object_get(scope->steps, name);
    int rc = 0;
    const char *answer = "\"done\"";
    char next[32];
    if (out) {
        if (!step) {
            step = rn_step_log_new(node->name, name, rn_node_type_name(node->type));
            if (!step) {
                free(name);
                return rn_error_set(RN_ENOMEM, "out of memory");
            }
            json_object_set_new(scope->steps, name, step);
        }
        json_object_set_new(step, "status", json_string("PROCESSING"));
        if ((rc = rn_store_put_step(e, step)) == 0 &&
            (rc = loop_iteration(e, step, name, 0, json_object())) == 0)
            answer = "0";
        *ok = rc == 0;
    } else if (!step) {
        rc = rn_error_set(RN_EINVAL, "step '%s' has not been fanned out in run '%s': run "
                          "`runnable fan %s ... out` first", name, e->run_id, e->run_id);
    } else {
        /* The latest iteration is the one with the highest index. */
        long last = -1;
        json_t *blog = NULL;
        const char *k;
        json_t *b;
        size_t plen = strlen(name);
        json_object_foreach(json_object_get(step, "branches"), k, b) {
            char *end = "";
            long i = strncmp(k, name, plen) == 0 && k[plen] == '.'
                         ? strtol(k + plen + 1, &end, 10) : -1;
            if (i > last && *end == '\0') {
                last = i;
                blog = b;
            }
        }
        const char *st = json_string_value(json_object_get(blog, "status"));
        json_t *layer = json_object_get(blog, "parameters");
        int success = st && strcmp(st, "SUCCESS") == 0;
        int done = !success;
        if (success) {
            rn_scope it = {.params = layer, .parent = scope};
            json_t *br = node->break_on ? rn_scope_get(&it, node->break_on) : NULL;
            long max = node->max_iterations > 0 ? node->max_iterations : 1;
            done = (br && json_is_true(param_value(br))) || last + 1 >= max;
        }
        if (!done) {
            rc = loop_iteration(e, step, name, last + 1, json_copy(layer));
            snprintf(next, sizeof next, "%ld", last + 1);
            answer = next;
            *ok = rc == 0;
        } else {
            if (success && json_object_size(layer)) {
                json_object_update(scope->params, layer);
                rc = rn_store_put_scope(e, scope);
            }
            json_object_set_new(step, "status", json_string(success ? "SUCCESS" : "FAIL"));
            json_object_set_new(step, "message", json_string(
                success ? "" : "an iteration did not succeed"));
            e->steps_total++;
            if (!success)
                e->steps_failed++;
            if (rc == 0)
                rc = rn_store_put_step(e, step);
            *ok = success && rc == 0;
        }
    }
    if (rc == 0 && value && !(*value = strdup(answer)))
        rc = rn_error_set(RN_ENOMEM, "out of memory");
    free(name);
    return rc;
}

int rn_comp_fan(rn_engine *e, rn_scope *scope, rn_node *node, int out, int *ok, char **value)
{
    *ok = 0;
    if (value)
        *value = NULL;
    if (node->type == RN_NODE_LOOP)
        return loop_fan(e, scope, node, out, ok, value);
    rn_frame f = {.scope = *scope};    /* borrowed: never freed here */
    rn_comp *c = calloc(1, sizeof *c);
    if (!c)
        return rn_error_set(RN_ENOMEM, "out of memory");
    c->frame = &f;
    c->node = node;
    c->internal_name = rn_frame_step_name(&f, node);
    int rc = c->internal_name ? 0 : rn_error_set(RN_ENOMEM, "out of memory");
    json_t *step = rc ? NULL : json_object_get(scope->steps, c->internal_name);
    if (!rc && !step && !out)
        rc = rn_error_set(RN_EINVAL, "step '%s' has not been fanned out in run '%s': run "
                          "`runnable fan %s ... out` first", c->internal_name, e->run_id,
                          e->run_id);
    if (!rc && !step) {
        step = rn_step_log_new(node->name, c->internal_name, rn_node_type_name(node->type));
        if (!step)
            rc = rn_error_set(RN_ENOMEM, "out of memory");
        else
            json_object_set_new(scope->steps, c->internal_name, step);
    }
    c->step = step;
    if (!rc) {
        switch (node->type) {
        case RN_NODE_PARALLEL: rc = setup_parallel(c); break;
        case RN_NODE_MAP: rc = setup_map(c); break;
        default: rc = setup_conditional(c); break;
        }
    }
    if (!rc && out && !c->msg[0]) {
        json_object_set_new(step, "status", json_string("PROCESSING"));
        /* The step before its branches: a store may check the parent. */
        if ((rc = rn_store_put_step(e, step)) == 0 && (rc = fan_out_branches(e, c)) == 0) {
            *ok = 1;
            if (value && !(*value = fan_value(c)))
                rc = rn_error_set(RN_ENOMEM, "out of memory");
        }
    } else if (!rc) {
        /* Fan-in (or a fan-out that cannot start: the step fails). */
        json_t *branches = json_object_get(step, "branches");
        for (size_t i = 0; !out && !c->msg[0] && i < c->n; i++) {
            const char *st = json_string_value(
                json_object_get(json_object_get(branches, c->names[i]), "status"));
            if (st && strcmp(st, "SUCCESS") == 0)
                c->ok++;
            else
                c->failed++;
        }
        c->next = c->n;
        if (!out && !c->msg[0] && c->failed)
            snprintf(c->msg, sizeof c->msg, "%d of %zu branch%s did not succeed", c->failed,
                     c->n, c->n == 1 ? "" : "es");
        int success = !c->msg[0];
        if (success && merge(c))
            rc = rn_store_put_scope(e, scope);
        if (c->msg[0])
            success = 0;   /* a reducer failed */
        json_object_set_new(step, "status", json_string(success ? "SUCCESS" : "FAIL"));
        json_object_set_new(step, "message", json_string(c->msg));
        e->steps_total++;
        if (!success)
            e->steps_failed++;
        if (!rc)
            rc = rn_store_put_step(e, step);
        *ok = success;
    }
    rn_comp_free(c);
    return rc;
}
