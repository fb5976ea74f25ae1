/* run_config.dag and dag_hash (spec/run-log.md 5.2).
 *
 * The layout copies what runnable's pydantic models dump, field for field
 * and in the same order, because runnable's `retry` compares the SHA-1 of
 * this document: matching it byte for byte is what lets a run started by
 * one engine be retried by the other.
 *
 * Keys the C engine accepts but runnable does not (depends_on,
 * skip_on_error, timeout, retry) appear only when the author wrote them,
 * and a graph's stop_on_first_failure only when it is true (false being
 * the default): pipelines that do not use them hash exactly as runnable
 * hashes them, and pipelines that do hash differently when they change. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "digest.h"
#include "pipeline.h"

/* Node fields runnable keeps in its own model; every other key of a task
 * is "task configuration" and is dumped as written. */
static const char *const model_keys[] = {
    "type", "next", "on_failure", "overrides", "catalog", "max_attempts", NULL
};

/* Keys of ours that are dumped, when written, on non-task steps. */
static const char *const extension_keys[] = {
    "depends_on", "skip_on_error", "timeout", "retry", NULL
};

static int listed(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(k, *list))
            return 1;
    return 0;
}

/* Sets key to a new reference; records failure in *bad. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v) < 0)
        *bad = 1;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *graph_json(const rn_graph *g);

static void traversal_fields(json_t *o, const rn_node *n, int *bad)
{
    /* A depends_on step has no next step; null says so. */
    put(o, "next_node", n->graph && n->graph->is_dag ? json_null()
                                                     : json_string(n->next ? n->next : ""),
        bad);
    put(o, "on_failure", json_string(n->on_failure ? n->on_failure : ""), bad);
    put(o, "overrides", n->overrides ? json_deep_copy(n->overrides) : json_object(), bad);
}

static void written_keys(json_t *o, const rn_node *n, const char *const *skip,
                         const char *const *only, int *bad)
{
    const char *k;
    json_t *v;
    if (!json_is_object(n->raw))
        return;
    json_object_foreach(n->raw, k, v) {
        if (skip && listed(k, skip))
            continue;
        if (only && !listed(k, only))
            continue;
        put(o, k, json_deep_copy(v), bad);
    }
}

static json_t *node_json(const rn_node *n)
{
    json_t *o = json_object();
    int bad = !o;
    if (bad)
        return NULL;

    put(o, "node_type", json_string(rn_node_type_name(n->type)), &bad);
    put(o, "name", json_string(n->name), &bad);

    switch (n->type) {
    case RN_NODE_SUCCESS:
    case RN_NODE_FAIL:
        break;
    case RN_NODE_TASK:
    case RN_NODE_STUB:
        traversal_fields(o, n, &bad);
        put(o, "catalog", n->catalog ? json_deep_copy(n->catalog) : json_null(), &bad);
        put(o, "max_attempts", json_integer(n->max_attempts), &bad);
        if (n->type == RN_NODE_TASK)
            written_keys(o, n, model_keys, NULL, &bad);
        else
            written_keys(o, n, NULL, extension_keys, &bad);
        break;
    case RN_NODE_PARALLEL:
    case RN_NODE_CONDITIONAL: {
        put(o, "is_composite", json_true(), &bad);
        traversal_fields(o, n, &bad);
        if (n->type == RN_NODE_CONDITIONAL) {
            put(o, "parameter", text_or_null(n->parameter), &bad);
            put(o, "default", n->default_graph ? graph_json(n->default_graph) : json_null(),
                &bad);
        }
        json_t *br = json_object();
        for (size_t i = 0; br && i < n->n_branches; i++)
            put(br, n->branch_keys[i], graph_json(n->branches[i]), &bad);
        put(o, "branches", br, &bad);
        written_keys(o, n, NULL, extension_keys, &bad);
        break;
    }
    case RN_NODE_MAP:
        put(o, "is_composite", json_true(), &bad);
        traversal_fields(o, n, &bad);
        put(o, "iterate_on", text_or_null(n->iterate_on), &bad);
        put(o, "iterate_as", text_or_null(n->iterate_as), &bad);
        put(o, "reducer", text_or_null(n->reducer), &bad);
        put(o, "branch", n->branch ? graph_json(n->branch) : json_null(), &bad);
        written_keys(o, n, NULL, extension_keys, &bad);
        break;
    case RN_NODE_LOOP:
        put(o, "is_composite", json_true(), &bad);
        traversal_fields(o, n, &bad);
        put(o, "branch", n->branch ? graph_json(n->branch) : json_null(), &bad);
        put(o, "max_iterations", json_integer(n->max_iterations), &bad);
        put(o, "break_on", text_or_null(n->break_on), &bad);
        put(o, "index_as", text_or_null(n->index_as), &bad);
        written_keys(o, n, NULL, extension_keys, &bad);
        break;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *graph_json(const rn_graph *g)
{
    json_t *o = json_object(), *nodes = json_object();
    int bad = !o || !nodes;

    if (bad) {
        json_decref(o);
        json_decref(nodes);
        return NULL;
    }
    put(o, "start_at", text_or_null(g->start_at), &bad);
    /* runnable names every graph "", branches included. */
    put(o, "name", json_string(""), &bad);
    put(o, "description", text_or_null(g->description), &bad);
    for (size_t i = 0; i < g->n_nodes; i++)
        put(nodes, g->nodes[i]->name, node_json(g->nodes[i]), &bad);
    put(o, "nodes", nodes, &bad);
    if (g->stop_on_first_failure)
        put(o, "stop_on_first_failure", json_true(), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *rn_dag_serialise(const rn_graph *g)
{
    return g ? graph_json(g) : NULL;
}

int rn_dag_hash(const json_t *dag, char out_hex[41])
{
    char *text = rn_json_dumps_py(dag, RN_JSON_SORT_KEYS);
    if (!text)
        return rn_error_set(RN_ENOMEM, "cannot serialise the dag for its hash");
    rn_sha1_hex(text, strlen(text), out_hex);
    free(text);
    return 0;
}
