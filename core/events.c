/* Progress events for the program embedding the engine (runnable.h): the
 * library never prints, it tells a subscriber. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "engine.h"
#include "spawn.h"

void rn_engine_emit(rn_engine *e, rn_event *ev)
{
    if (!e->on_event)
        return;
    ev->version = 1;
    ev->run_id = e->run_id;
    ev->elapsed = rn_mono_now() - e->t_start;
    /* The estimate may be short (an on_failure detour, a retry) or long
     * (a run that failed early); what has started is certainly known. */
    int known = e->leaves_estimate > e->leaves_known ? e->leaves_estimate : e->leaves_known;
    ev->steps_done = e->leaves_done;
    ev->steps_known = known > e->leaves_done ? known : e->leaves_done;
    e->on_event(ev, e->event_data);
}

void rn_engine_log(rn_engine *e, int level, const char *fmt, ...)
{
    if (!e->on_event || level < e->log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_engine_emit(e, &(rn_event){.kind = RN_EVENT_LOG, .level = level, .message = msg});
}

/*
 * How many leaf steps a graph will run if all goes well: what the progress
 * bar measures against before maps and conditionals have decided (they
 * correct it when they fan out: rn_engine_estimate_add).  Chains count the
 * `next` path from start_at (on_failure detours are not expected); a map or
 * loop counts its branch once, a conditional its largest branch.
 */
static int graph_estimate(const rn_graph *g);

static int node_estimate(const rn_node *n)
{
    int m = 0;
    switch (n->type) {
    case RN_NODE_TASK:
    case RN_NODE_STUB:
    case RN_NODE_SUCCESS:
    case RN_NODE_FAIL:
        return 1;
    case RN_NODE_PARALLEL:
        for (size_t i = 0; i < n->n_branches; i++)
            m += graph_estimate(n->branches[i]);
        return m;
    case RN_NODE_CONDITIONAL:
        for (size_t i = 0; i < n->n_branches; i++) {
            int b = graph_estimate(n->branches[i]);
            m = b > m ? b : m;
        }
        if (n->default_graph) {
            int b = graph_estimate(n->default_graph);
            m = b > m ? b : m;
        }
        return m;
    case RN_NODE_MAP:
    case RN_NODE_LOOP:
        return graph_estimate(n->branch);
    }
    return 0;
}

static int graph_estimate(const rn_graph *g)
{
    int n = 0;
    if (!g)
        return 0;
    if (g->is_dag) {
        for (size_t i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->type != RN_NODE_FAIL)
                n += node_estimate(g->nodes[i]);
        return n;
    }
    /* A validated chain has no cycle; the bound only guards the count. */
    size_t steps = 0;
    for (const rn_node *x = g->start; x && steps <= g->n_nodes; x = x->next_node, steps++)
        n += node_estimate(x);
    return n;
}

int rn_graph_leaf_estimate(const rn_graph *g)
{
    return graph_estimate(g);
}

int rn_node_leaf_estimate(const rn_node *n)
{
    return node_estimate(n);
}
