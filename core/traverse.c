/*
 * Sequential traversal of a graph (spec/services.md §4.3): follow `next` on
 * SUCCESS and `on_failure` (or the graph's `fail`) on FAIL until a terminal
 * node ends the graph.
 */
#include "config.h"

#include <string.h>

#include "engine.h"

/* Resolved internal name: the static one with the scope's branch prefix. */
static void resolved_name(const rn_scope *scope, const rn_node *node, char *out, size_t n)
{
    if (scope->branch_name)
        snprintf(out, n, "%s.%s", scope->branch_name, node->name);
    else
        snprintf(out, n, "%s", node->name);
}

static int run_graph(rn_engine *e, rn_graph *g, rn_scope *scope)
{
    rn_node *cur = g->start;
    if (g->is_dag) {
        /* depends_on graphs arrive with the scheduler; until then the graph
         * fails visibly instead of doing nothing. */
        char name[4096];
        rn_node *first = g->nodes[0];
        resolved_name(scope, first, name, sizeof name);
        int rc = rn_step_record_unsupported(e, first, name, scope,
                                            "depends_on graphs are not supported by this "
                                            "executor yet");
        if (rc < 0)
            return rc;
        cur = rn_graph_find(g, "fail");
    }
    while (cur) {
        char name[4096];
        resolved_name(scope, cur, name, sizeof name);
        int status;
        switch (cur->type) {
        case RN_NODE_TASK:
        case RN_NODE_STUB:
        case RN_NODE_SUCCESS:
        case RN_NODE_FAIL:
            status = rn_step_execute_leaf(e, cur, name, scope);
            break;
        default: {
            char why[256];
            snprintf(why, sizeof why,
                     "%s nodes are not supported by this executor yet",
                     rn_node_type_name(cur->type));
            status = rn_step_record_unsupported(e, cur, name, scope, why);
            break;
        }
        }
        if (status < 0)
            return status;
        if (cur->type == RN_NODE_SUCCESS || cur->type == RN_NODE_FAIL)
            break;
        if (status == 1)
            cur = cur->next_node;
        else
            cur = cur->on_failure_node ? cur->on_failure_node : rn_graph_find(g, "fail");
    }
    return 0;
}

int rn_engine_traverse(rn_engine *e, const rn_traverse_opts *opts)
{
    (void)opts; /* concurrency arrives with the composites issue */
    rn_scope root = {
        .branch_name = NULL,
        .steps = json_object_get(e->runlog, "steps"),
        .params = json_object_get(e->runlog, "parameters"),
        .branch_log = NULL,
        .map_variables = NULL,
    };
    return run_graph(e, e->pipeline->dag, &root);
}
