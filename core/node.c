/*
 * The node protocol (spec/cli.md §2.2-2.3, spec/services.md §4.1, §4.9.4):
 * one node of a stored run, run by its own process — a container, an Argo
 * pod, a Slurm job.  The node is named by its static internal name and an
 * iteration context; the scopes that enclose it are rebuilt from the run
 * log (each branch's parameter layer, its map and loop variables), the
 * node runs there exactly as under `execute`, and what it changed goes
 * back to the store.  Parameters travel only through the store.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "py_str.h"
#include "sched.h"
#include "spawn.h"

/* The iteration context: map item values, outermost first, and loop
 * indices, outermost first.  runnable's form is {"map_variable":
 * {name: {"value": v}}, "loop_variable": [{"value": i}]}; a bare value in
 * place of {"value": v} is accepted too. */
typedef struct iter_ctx {
    json_t *maps;   /* array of values */
    json_t *loops;  /* array of integers */
} iter_ctx;

static json_t *unwrap(json_t *v)
{
    json_t *inner = json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "value")
                                                                   : NULL;
    return inner ? inner : v;
}

static int iter_parse(const char *text, iter_ctx *it)
{
    it->maps = json_array();
    it->loops = json_array();
    if (!text || !*text)
        return 0;
    json_error_t err;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return rn_error_set(RN_EINVAL, "--iter-variable must be a JSON object like "
                            "{\"map_variable\": {\"chunk\": {\"value\": 1}}, \"loop_variable\": "
                            "[{\"value\": 0}]}%s%s", doc ? "" : ": ", doc ? "" : err.text);
    }
    const json_t *mv = json_object_get(doc, "map_variable");
    const json_t *lv = json_object_get(doc, "loop_variable");
    int rc = 0;
    if (mv && !json_is_object(mv) && !json_is_null(mv))
        rc = rn_error_set(RN_EINVAL, "--iter-variable: map_variable must be an object of "
                          "iterate_as names to {\"value\": item}");
    if (lv && !json_is_array(lv) && !json_is_null(lv))
        rc = rn_error_set(RN_EINVAL, "--iter-variable: loop_variable must be a list of "
                          "{\"value\": index}");
    const char *k;
    json_t *v;
    size_t i;
    if (!rc)
        json_object_foreach((json_t *)mv, k, v)
            json_array_append(it->maps, unwrap(v));
    json_array_foreach(lv, i, v) {
        json_t *u = unwrap(v);
        if (!rc && !json_is_integer(u))
            rc = rn_error_set(RN_EINVAL, "--iter-variable: loop indices must be integers");
        json_array_append(it->loops, u);
    }
    json_decref(doc);
    return rc;
}

/* The composites enclosing a node, outermost first. */
static size_t enclosing(const rn_node *node, const rn_node **out, const rn_graph **graphs,
                        size_t max)
{
    size_t n = 0;
    for (const rn_graph *g = node->graph; g && g->parent && n < max; g = g->parent->graph)
        n++;
    size_t k = n;
    for (const rn_graph *g = node->graph; g && g->parent && k > 0; g = g->parent->graph) {
        k--;
        out[k] = g->parent;
        graphs[k] = g;
    }
    return n;
}

/* The segment after `comp.` naming branch graph g of composite comp. */
static const char *branch_key(const rn_node *comp, const rn_graph *g)
{
    const char *dot = strrchr(g->internal_name, '.');
    (void)comp;
    return dot ? dot + 1 : g->internal_name;
}

typedef struct chain {
    rn_scope *scopes;   /* [0] the root, [depth] the node's graph */
    size_t depth;
} chain;

static void chain_free(chain *ch)
{
    for (size_t i = 0; ch->scopes && i <= ch->depth; i++) {
        free(ch->scopes[i].branch_name);
        json_decref(ch->scopes[i].params);
        json_decref(ch->scopes[i].map_variables);
    }
    free(ch->scopes);
}

static char *dotted(const char *a, const char *b)
{
    size_t n = (a ? strlen(a) + 1 : 0) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a ? a : "", a ? "." : "", b);
    return s;
}

/* With `partial`, e->runlog holds only what was read so far: put the
 * stored part `name` into `into` under its name (absent: nothing). */
static int fetch_part(rn_engine *e, json_t *into, int what, const char *name)
{
    json_t *part = NULL;
    int rc = rn_store_read_part(e, what, name, &part);
    if (rc == RN_ENOENT)
        return 0;
    if (!rc && json_object_set_new(into, name, part) != 0)
        rc = rn_error_set(RN_ENOMEM, "out of memory");
    return rc;
}

/* Rebuild the scopes from the root of the run log down to the node's
 * graph: each enclosing composite's step and branch log must be there
 * (fan-out made them).  `partial`: e->runlog is the run's head only, and
 * the logs on the way down, then the node's own, are read one by one
 * (a process running one node of a large run reads what it needs). */
static int build_chain(rn_engine *e, const rn_node *node, iter_ctx *it, chain *ch, int partial)
{
    const rn_node *comps[64];
    const rn_graph *graphs[64];
    size_t depth = enclosing(node, comps, graphs, 64);
    ch->depth = depth;
    ch->scopes = calloc(depth + 1, sizeof *ch->scopes);
    if (!ch->scopes)
        return rn_error_set(RN_ENOMEM, "out of memory");
    rn_scope *root = &ch->scopes[0];
    root->steps = json_object_get(e->runlog, "steps");
    json_t *params = json_object_get(e->runlog, "parameters");
    if (!json_is_object(params))
        json_object_set_new(e->runlog, "parameters", params = json_object());
    root->params = json_incref(params);
    root->map_variables = json_object();
    size_t mi = 0, li = 0;
    for (size_t d = 0; d < depth; d++) {
        const rn_node *comp = comps[d];
        rn_scope *up = &ch->scopes[d], *sc = &ch->scopes[d + 1];
        char *step_name = dotted(up->branch_name, comp->name);
        if (!step_name)
            return rn_error_set(RN_ENOMEM, "out of memory");
        char *seg = NULL;
        json_t *mv = json_copy(up->map_variables);
        if (comp->type == RN_NODE_MAP) {
            json_t *item = json_array_get(it->maps, mi++);
            if (!item) {
                free(step_name);
                json_decref(mv);
                return rn_error_set(RN_EINVAL, "step '%s' is inside map '%s': give its item "
                                    "with --iter-variable '{\"map_variable\": {\"%s\": "
                                    "{\"value\": ...}}}'", node->internal_name,
                                    comp->internal_name, comp->iterate_as);
            }
            seg = rn_py_str(item);
            json_object_set(mv, comp->iterate_as, item);
        } else if (comp->type == RN_NODE_LOOP) {
            json_t *idx = json_array_get(it->loops, li++);
            if (!idx) {
                free(step_name);
                json_decref(mv);
                return rn_error_set(RN_EINVAL, "step '%s' is inside loop '%s': give the "
                                    "iteration with --iter-variable '{\"loop_variable\": "
                                    "[{\"value\": N}]}'", node->internal_name,
                                    comp->internal_name);
            }
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(idx));
            seg = strdup(num);
            if (comp->index_as)
                json_object_set(mv, comp->index_as, idx);
        } else {
            seg = strdup(branch_key(comp, graphs[d]));
        }
        sc->branch_name = seg ? dotted(step_name, seg) : NULL;
        free(seg);
        sc->map_variables = mv;
        sc->parent = up;
        if (!sc->branch_name || !mv) {
            free(step_name);
            return rn_error_set(RN_ENOMEM, "out of memory");
        }
        int rc = partial ? fetch_part(e, up->steps, RN_PART_STEP, step_name) : 0;
        json_t *cstep = json_object_get(up->steps, step_name);
        if (!rc && partial && cstep) {
            json_t *br = json_object_get(cstep, "branches");
            if (!json_is_object(br))
                json_object_set_new(cstep, "branches", br = json_object());
            rc = fetch_part(e, br, RN_PART_BRANCH, sc->branch_name);
        }
        if (rc) {
            free(step_name);
            return rc;
        }
        json_t *blog = json_object_get(json_object_get(cstep, "branches"), sc->branch_name);
        if (!cstep || !blog) {
            rc = rn_error_set(RN_EINVAL, "run '%s' has no %s '%s' yet: the enclosing %s "
                                  "step '%s' must be fanned out first (`runnable fan %s %s "
                                  "FILE out`)", e->run_id, cstep ? "branch" : "step",
                                  cstep ? sc->branch_name : step_name,
                                  rn_node_type_name(comp->type), step_name, e->run_id,
                                  comp->internal_name);
            free(step_name);
            return rc;
        }
        free(step_name);
        json_t *steps = json_object_get(blog, "steps");
        if (!json_is_object(steps))
            json_object_set_new(blog, "steps", steps = json_object());
        json_t *layer = json_object_get(blog, "parameters");
        if (!json_is_object(layer))
            json_object_set_new(blog, "parameters", layer = json_object());
        sc->steps = steps;
        sc->params = json_incref(layer);
        sc->branch_log = blog;
    }
    if (mi < json_array_size(it->maps) || li < json_array_size(it->loops))
        return rn_error_set(RN_EINVAL, "--iter-variable gives %zu map item(s) and %zu loop "
                            "index(es), but step '%s' is inside %zu map(s) and %zu loop(s)",
                            json_array_size(it->maps), json_array_size(it->loops),
                            node->internal_name, mi, li);
    if (!partial)
        return 0;
    /* The terminal step of a depends_on graph records the steps nobody
     * ran as SKIPPED (frame.c), so it reads its whole graph; any other
     * step only its own log. */
    rn_scope *sc = &ch->scopes[depth];
    const rn_graph *g = node->graph;
    int whole = g->is_dag && (node->type == RN_NODE_SUCCESS || node->type == RN_NODE_FAIL);
    int rc = 0;
    for (size_t i = 0; !rc && i < (whole ? g->n_nodes : 1); i++) {
        char *name = dotted(sc->branch_name, whole ? g->nodes[i]->name : node->name);
        rc = name ? fetch_part(e, sc->steps, RN_PART_STEP, name)
                  : rn_error_set(RN_ENOMEM, "out of memory");
        free(name);
    }
    return rc;
}

/* The stored run, or a new one when this is its first node (an Argo
 * workflow's first pod creates the run log). */
static int read_run(rn_engine *e, int partial)
{
    return partial ? rn_store_read_part(e, RN_PART_HEAD, NULL, &e->runlog)
                   : rn_store_read_run(e, &e->runlog);
}

/*
 * Node `name` (*node) when the whole pipeline is needed after all: the
 * prepare read only the top-level step holding the node, and the run is
 * still to be made (run_config.dag), or the node ends a top-level
 * depends_on graph (it records the steps nobody ran).
 */
static int whole_pipeline(rn_engine *e, rn_node **node, const char *name)
{
    if (!e->pipeline->partial)
        return 0;
    int rc = rn_engine_load_whole_pipeline(e);
    if (rc == 0 && !(*node = rn_pipeline_find(e->pipeline, name)))
        rc = rn_error_set(RN_EINVAL, "%s has no step '%s' any more", e->pipeline->file, name);
    return rc;
}

static int open_run(rn_engine *e, int partial, rn_node **node, const char *name)
{
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    void *self = e->svc[RN_SVC_RUN_LOG_STORE]->self;
    int rc = read_run(e, partial);
    if (rc != RN_ENOENT)
        return rc;
    if ((rc = whole_pipeline(e, node, name)) < 0)
        return rc;
    json_t *params = e->initial_params;
    e->initial_params = NULL;
    e->runlog = rn_engine_new_runlog(e, params ? params : json_object());
    if (!e->runlog)
        return rn_error_set(RN_ENOMEM, "out of memory");
    rc = so->create_run(self, e->run_id, e->runlog);
    if (rc == RN_EEXIST) {
        /* Another node created it first: use theirs. */
        json_decref(e->runlog);
        e->runlog = NULL;
        rc = read_run(e, partial);
    }
    return rc;
}

int rn_engine_run_node(rn_engine *e, const char *step, const char *iter, const char *mode,
                       int *ok, char **fan_value)
{
    *ok = 0;
    if (fan_value)
        *fan_value = NULL;
    /* Command-friendly names write spaces as '%'. */
    char *name = strdup(step);
    if (!name)
        return rn_error_set(RN_ENOMEM, "out of memory");
    for (char *p = name; *p; p++)
        if (*p == '%')
            *p = ' ';
    rn_node *node = rn_pipeline_find(e->pipeline, name);
    if (!node) {
        rn_error_set(RN_EINVAL, "%s has no step '%s'; name a step by its static internal "
                     "name, like outer.branch.step or map.map_variable_placeholder.step, with "
                     "'%%' for spaces", e->pipeline->file, step);
        free(name);
        return RN_EINVAL;
    }
    int terminal = node->type == RN_NODE_SUCCESS || node->type == RN_NODE_FAIL;
    int rc = node->graph->partial && terminal ? whole_pipeline(e, &node, name) : 0;
    if (rc < 0) {
        free(name);
        return rc;
    }
    int composite = node->type != RN_NODE_TASK && node->type != RN_NODE_STUB &&
                    node->type != RN_NODE_SUCCESS && node->type != RN_NODE_FAIL;
    if (!mode && composite)
        rc = rn_error_set(RN_EINVAL, "'%s' is a %s step: prepare and finish it with "
                          "`runnable fan ... out` and `... in`; execute-single-node runs "
                          "task, stub, success and fail steps", step,
                          rn_node_type_name(node->type));
    else if (mode && !composite)
        rc = rn_error_set(RN_EINVAL, "'%s' is a %s step, not a composite: run it with "
                          "`runnable execute-single-node`", step,
                          rn_node_type_name(node->type));
    if (rc < 0) {
        free(name);
        return rc;
    }

    iter_ctx it = {0};
    chain ch = {0};
    /* A fan-in reads every branch; one node reads only its own way down. */
    int partial = !mode && rn_store_reads_parts(e);
    rc = iter_parse(iter, &it);
    if (rc == 0) {
        setenv("RUNNABLE_RUN_ID", e->run_id, 1);
        if (*e->tag)
            setenv("RUNNABLE_RUN_TAG", e->tag, 1);
        rc = open_run(e, partial, &node, name);
    }
    free(name);
    if (rc == 0) {
        e->created = 1;
        rc = build_chain(e, node, &it, &ch, partial);
    }
    const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
    void *sself = e->svc[RN_SVC_RUN_LOG_STORE]->self;
    if (rc == 0) {
        rn_scope *sc = &ch.scopes[ch.depth];
        if (mode) {
            rc = rn_comp_fan(e, sc, node, strcmp(mode, "out") == 0, ok, fan_value);
        } else {
            e->single_node = node;
            e->single_scope = sc;
            rc = rn_sched_run(e, NULL);
            *ok = e->single_ok;
            e->single_node = NULL;
            e->single_scope = NULL;
        }
    }
    if (e->created) {
        int crc = so->close_run(sself, e->run_id);
        if (rc == 0 && crc < 0)
            rc = crc;
    }
    chain_free(&ch);
    json_decref(it.maps);
    json_decref(it.loops);
    return rc;
}
