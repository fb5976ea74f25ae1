/* Drawing a pipeline for people.  Each graph is laid out once (its edges,
 * each step's level, what start_at reaches) and then written in the chosen
 * format; a composite step recurses into its branch graphs, so nesting has
 * no depth limit other than the stack. */

#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visualize.h"

int rn_vis_format_parse(rn_vis_format *out, const char *name)
{
    static const struct {
        const char *name;
        rn_vis_format fmt;
    } formats[] = {{"text", RN_VIS_TEXT}, {"dot", RN_VIS_DOT}, {"mermaid", RN_VIS_MERMAID}};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (name && !strcmp(name, formats[i].name)) {
            *out = formats[i].fmt;
            return 0;
        }
    }
    return rn_error_set(RN_EINVAL, "unknown format '%s'; use text, dot or mermaid",
                        name ? name : "");
}

/* ------------------------------------------------------------------ */
/* Layout                                                              */
/* ------------------------------------------------------------------ */

typedef enum edge_kind {
    EDGE_NEXT,
    EDGE_ON_FAILURE,
    EDGE_DEPENDS,
    EDGE_IMPLICIT    /* a DAG graph's sink -> its success node */
} edge_kind;

typedef struct edge {
    size_t from, to; /* node indexes in the graph; `to` waits for `from` */
    edge_kind kind;
} edge;

typedef struct layout {
    const rn_graph *g;
    size_t n;
    /* In the order found: the source's file order (chained graphs), the
     * order depends_on lists them (DAG graphs).  Readers see that order. */
    edge *edges;
    size_t n_edges;
    size_t *in, *in_at;   /* edges into v: in[in_at[v] .. in_at[v+1]) */
    size_t *out, *out_at; /* edges out of u, the same way */
    int *level;           /* longest path from a step that waits for nothing */
    unsigned char *drawn; /* every step; a terminal only when reached */
    unsigned char *unreachable; /* chained graphs: start_at never leads here */
    size_t *order;        /* drawn steps by level, file order within a level */
    size_t n_order;
} layout;

static int is_terminal(const rn_node *n)
{
    return n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL;
}

static int is_composite(const rn_node *n)
{
    return n->type == RN_NODE_PARALLEL || n->type == RN_NODE_MAP ||
           n->type == RN_NODE_CONDITIONAL || n->type == RN_NODE_LOOP;
}

/* Edges name nodes by pointer; a sorted pointer table turns them into
 * indexes without a quadratic search on long chains. */
typedef struct node_ix {
    uintptr_t key;
    size_t ix;
} node_ix;

static int node_ix_cmp(const void *a, const void *b)
{
    const node_ix *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static size_t index_of(const node_ix *tab, size_t n, const rn_node *node)
{
    node_ix want = {(uintptr_t)node, 0};
    const node_ix *hit = node ? bsearch(&want, tab, n, sizeof *tab, node_ix_cmp) : NULL;
    return hit ? hit->ix : n;
}

static void add_edge(layout *l, size_t from, size_t to, edge_kind kind)
{
    if (from >= l->n || to >= l->n)
        return; /* a target outside the graph cannot pass validation */
    l->edges[l->n_edges++] = (edge){from, to, kind};
}

/* Stable counting sort of the edge indexes by target (or source). */
static int group_edges(layout *l, int by_target, size_t **items, size_t **at)
{
    *at = calloc(l->n + 1, sizeof **at);
    *items = malloc((l->n_edges ? l->n_edges : 1) * sizeof **items);
    if (!*at || !*items)
        return RN_ENOMEM;
    for (size_t k = 0; k < l->n_edges; k++)
        (*at)[(by_target ? l->edges[k].to : l->edges[k].from) + 1]++;
    for (size_t v = 0; v < l->n; v++)
        (*at)[v + 1] += (*at)[v];
    /* Fill by advancing each start, then shift the starts back. */
    for (size_t k = 0; k < l->n_edges; k++)
        (*items)[(*at)[by_target ? l->edges[k].to : l->edges[k].from]++] = k;
    for (size_t v = l->n; v > 0; v--)
        (*at)[v] = (*at)[v - 1];
    (*at)[0] = 0;
    return 0;
}

static void layout_free(layout *l)
{
    free(l->edges);
    free(l->in);
    free(l->in_at);
    free(l->out);
    free(l->out_at);
    free(l->level);
    free(l->drawn);
    free(l->unreachable);
    free(l->order);
}

static int find_edges(layout *l, const node_ix *tab)
{
    const rn_graph *g = l->g;
    size_t cap = 0;
    for (size_t i = 0; i < l->n; i++)
        cap += g->is_dag ? g->nodes[i]->n_depends_on + 1 : 2;
    if (!(l->edges = malloc((cap ? cap : 1) * sizeof *l->edges)))
        return RN_ENOMEM;

    if (!g->is_dag) {
        for (size_t u = 0; u < l->n; u++) {
            const rn_node *n = g->nodes[u];
            if (is_terminal(n))
                continue;
            if (n->next_node)
                add_edge(l, u, index_of(tab, l->n, n->next_node), EDGE_NEXT);
            if (n->on_failure_node)
                add_edge(l, u, index_of(tab, l->n, n->on_failure_node), EDGE_ON_FAILURE);
        }
        return 0;
    }

    /* A DAG graph ends in success once every step is done: success waits
     * for the steps nothing else waits for. */
    unsigned char *waited = calloc(l->n ? l->n : 1, 1);
    if (!waited)
        return RN_ENOMEM;
    size_t success = l->n;
    for (size_t v = 0; v < l->n; v++) {
        const rn_node *n = g->nodes[v];
        if (n->type == RN_NODE_SUCCESS && success == l->n)
            success = v;
        if (is_terminal(n))
            continue;
        for (size_t k = 0; k < n->n_depends_on; k++) {
            size_t u = index_of(tab, l->n, n->depends_on_nodes[k]);
            add_edge(l, u, v, EDGE_DEPENDS);
            if (u < l->n)
                waited[u] = 1;
        }
    }
    for (size_t u = 0; u < l->n; u++)
        if (!waited[u] && !is_terminal(g->nodes[u]))
            add_edge(l, u, success, EDGE_IMPLICIT);
    free(waited);
    return 0;
}

/* Levels by Kahn's algorithm: a step's level is one more than the highest
 * level among the steps it waits for. */
static int find_levels(layout *l)
{
    size_t n = l->n;
    size_t *indeg = malloc((n ? n : 1) * sizeof *indeg);
    size_t *queue = malloc((n ? n : 1) * sizeof *queue);
    if (!indeg || !queue) {
        free(indeg);
        free(queue);
        return RN_ENOMEM;
    }
    size_t head = 0, tail = 0;
    for (size_t v = 0; v < n; v++) {
        indeg[v] = l->in_at[v + 1] - l->in_at[v];
        l->level[v] = 0;
        if (!indeg[v])
            queue[tail++] = v;
    }
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t k = l->out_at[u]; k < l->out_at[u + 1]; k++) {
            size_t v = l->edges[l->out[k]].to;
            if (l->level[u] + 1 > l->level[v])
                l->level[v] = l->level[u] + 1;
            if (--indeg[v] == 0)
                queue[tail++] = v;
        }
    }
    free(indeg);
    free(queue);
    if (tail != n)
        return rn_error_set(RN_EINVAL, "%s%s has a cycle; run 'runnable validate' on it",
                            *l->g->internal_name ? "branch " : "the pipeline",
                            l->g->internal_name);
    return 0;
}

/* start_at reaches nodes through next and on_failure; DAG graphs run
 * every step, so nothing there is unreachable. */
static int find_unreachable(layout *l, const node_ix *tab)
{
    size_t start = l->g->is_dag ? l->n : index_of(tab, l->n, l->g->start);
    if (start >= l->n)
        return 0;
    unsigned char *seen = calloc(l->n, 1);
    size_t *stack = malloc(l->n * sizeof *stack);
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return RN_ENOMEM;
    }
    size_t top = 0;
    seen[start] = 1;
    stack[top++] = start;
    while (top) {
        size_t u = stack[--top];
        for (size_t k = l->out_at[u]; k < l->out_at[u + 1]; k++) {
            size_t v = l->edges[l->out[k]].to;
            if (!seen[v]) {
                seen[v] = 1;
                stack[top++] = v;
            }
        }
    }
    for (size_t v = 0; v < l->n; v++)
        l->unreachable[v] = l->drawn[v] && !seen[v];
    free(seen);
    free(stack);
    return 0;
}

static int layout_build(layout *l, const rn_graph *g)
{
    memset(l, 0, sizeof *l);
    l->g = g;
    l->n = g->n_nodes;
    size_t n = l->n, n1 = n ? n : 1;

    node_ix *tab = malloc(n1 * sizeof *tab);
    l->level = malloc(n1 * sizeof *l->level);
    l->drawn = calloc(n1, 1);
    l->unreachable = calloc(n1, 1);
    l->order = malloc(n1 * sizeof *l->order);
    int rc = RN_ENOMEM;
    if (!tab || !l->level || !l->drawn || !l->unreachable || !l->order)
        goto out;
    for (size_t i = 0; i < n; i++)
        tab[i] = (node_ix){(uintptr_t)g->nodes[i], i};
    qsort(tab, n, sizeof *tab, node_ix_cmp);

    if ((rc = find_edges(l, tab)) < 0 || (rc = group_edges(l, 1, &l->in, &l->in_at)) < 0 ||
        (rc = group_edges(l, 0, &l->out, &l->out_at)) < 0 || (rc = find_levels(l)) < 0)
        goto out;

    int max_level = -1;
    for (size_t v = 0; v < n; v++) {
        l->drawn[v] = !is_terminal(g->nodes[v]) || l->in_at[v + 1] > l->in_at[v];
        if (l->drawn[v] && l->level[v] > max_level)
            max_level = l->level[v];
    }
    /* By level, stable: a counting sort, as a long chain has as many
     * levels as steps. */
    size_t *at = calloc((size_t)max_level + 2, sizeof *at);
    if (!at) {
        rc = RN_ENOMEM;
        goto out;
    }
    for (size_t v = 0; v < n; v++)
        if (l->drawn[v])
            at[l->level[v] + 1]++;
    for (int lv = 0; lv <= max_level; lv++)
        at[lv + 1] += at[lv];
    for (size_t v = 0; v < n; v++)
        if (l->drawn[v])
            l->order[at[l->level[v]]++] = v;
    l->n_order = max_level < 0 ? 0 : at[max_level];
    free(at);
    rc = find_unreachable(l, tab);
out:
    free(tab);
    if (rc == RN_ENOMEM)
        rn_error_set(RN_ENOMEM, "out of memory");
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

typedef struct vis {
    rn_buf *out;
    /* DOT and Mermaid put a node in the cluster where it is first named,
     * edge statements included; edges are therefore held back and written
     * after every node has been declared in its own cluster. */
    rn_buf edges;
    int rc;          /* first error; later writes do nothing */
    size_t next_id;  /* Mermaid ids */
} vis;

static void put(vis *v, rn_buf *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(vis *v, rn_buf *b, const char *fmt, ...)
{
    if (v->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    int rc = 0;
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        rc = rn_error_set(RN_EINVAL, "bad format string");
    } else if ((size_t)n < sizeof small) {
        rc = rn_buf_append(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big) {
            rc = RN_ENOMEM;
        } else {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            rc = rn_buf_append(b, big, (size_t)n);
            free(big);
        }
    }
    if (rc < 0)
        v->rc = rc;
}

static void indent(vis *v, rn_buf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        put(v, b, "  ");
}

static void put_mark(vis *v, rn_buf *b, const rn_node *n, int unreachable)
{
    if (n->type != RN_NODE_TASK)
        put(v, b, " [%s]", rn_node_type_name(n->type));
    if (unreachable)
        put(v, b, " (unreachable)");
}

/* Text that has to go through an escaper is built here first. */
static char *label_of(vis *v, const rn_node *n, int with_type, int unreachable)
{
    rn_buf b = {0};
    put(v, &b, "%s", n->name);
    if (with_type)
        put_mark(v, &b, n, unreachable);
    else if (unreachable)
        put(v, &b, " (unreachable)");
    if (v->rc) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static size_t n_branch_graphs(const rn_node *n)
{
    switch (n->type) {
    case RN_NODE_PARALLEL:
        return n->n_branches;
    case RN_NODE_CONDITIONAL:
        return n->n_branches + (n->default_graph != NULL);
    case RN_NODE_MAP:
    case RN_NODE_LOOP:
        return n->branch != NULL;
    default:
        return 0;
    }
}

static const rn_graph *branch_graph(const rn_node *n, size_t i)
{
    if (n->type == RN_NODE_MAP || n->type == RN_NODE_LOOP)
        return n->branch;
    return i < n->n_branches ? n->branches[i] : n->default_graph;
}

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

/* "branch left", "branch (map over xs as x)", ...: what runs the branch. */
static char *branch_title(vis *v, const rn_node *n, size_t i)
{
    rn_buf b = {0};
    switch (n->type) {
    case RN_NODE_MAP:
        put(v, &b, "branch (map over %s as %s", or_q(n->iterate_on), or_q(n->iterate_as));
        if (n->reducer)
            put(v, &b, ", reduced by %s", n->reducer);
        put(v, &b, ")");
        break;
    case RN_NODE_LOOP:
        put(v, &b, "branch (loop, at most %lld iteration%s, break on %s", n->max_iterations,
            n->max_iterations == 1 ? "" : "s", or_q(n->break_on));
        if (n->index_as)
            put(v, &b, ", index as %s", n->index_as);
        put(v, &b, ")");
        break;
    case RN_NODE_CONDITIONAL:
        if (i < n->n_branches)
            put(v, &b, "branch %s (when %s is %s)", n->branch_keys[i], or_q(n->parameter),
                n->branch_keys[i]);
        else
            put(v, &b, "branch default (when %s matches no branch)", or_q(n->parameter));
        break;
    default:
        put(v, &b, "branch %s", n->branch_keys[i]);
        break;
    }
    if (v->rc) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---------------------------------------------------------------- text */

static void text_graph(vis *v, const rn_graph *g, int depth)
{
    layout l;
    int rc = layout_build(&l, g);
    if (rc < 0) {
        v->rc = rc;
        layout_free(&l);
        return;
    }
    rn_buf *o = v->out;
    int shown = -1;
    for (size_t k = 0; k < l.n_order && !v->rc; k++) {
        size_t i = l.order[k];
        const rn_node *n = g->nodes[i];
        if (l.level[i] != shown) {
            shown = l.level[i];
            indent(v, o, depth);
            put(v, o, "level %d:\n", shown);
        }
        indent(v, o, depth + 1);
        put(v, o, "%s", n->name);
        put_mark(v, o, n, l.unreachable[i]);
        for (size_t e = l.in_at[i]; e < l.in_at[i + 1]; e++) {
            const edge *ed = &l.edges[l.in[e]];
            put(v, o, "%s%s", e == l.in_at[i] ? " <- " : ", ", g->nodes[ed->from]->name);
            if (ed->kind == EDGE_ON_FAILURE)
                put(v, o, " (on failure)");
        }
        put(v, o, "\n");
        for (size_t b = 0; b < n_branch_graphs(n) && !v->rc; b++) {
            char *title = branch_title(v, n, b);
            indent(v, o, depth + 2);
            put(v, o, "%s:\n", title ? title : "");
            free(title);
            text_graph(v, branch_graph(n, b), depth + 3);
        }
    }
    layout_free(&l);
}

/* ----------------------------------------------------------------- dot */

/* A DOT double-quoted string prefix + s + suffix: `"` and `\` escaped, and
 * a line break written as \n, which labels show as one. */
static void dot_str(vis *v, rn_buf *b, const char *prefix, const char *s, const char *suffix)
{
    put(v, b, "\"%s", prefix);
    for (const char *p = s ? s : ""; *p && !v->rc; p++) {
        if (*p == '"' || *p == '\\')
            put(v, b, "\\%c", *p);
        else if (*p == '\n')
            put(v, b, "\\n");
        else if (*p != '\r')
            put(v, b, "%c", *p);
    }
    put(v, b, "%s\"", suffix);
}

/* A composite is drawn as a cluster holding its own node (at the top,
 * where edges enter) and an invisible exit point (at the bottom, where
 * edges leave), so that what follows a composite is drawn below it.  No
 * step name contains '%', so the exit's id is never a step's. */
#define DOT_EXIT "%exit"

static const char *dot_shape(rn_node_type t)
{
    switch (t) {
    case RN_NODE_STUB: return "style=\"rounded,dashed\"";
    case RN_NODE_SUCCESS: return "shape=ellipse, style=filled, fillcolor=palegreen";
    case RN_NODE_FAIL: return "shape=ellipse, style=filled, fillcolor=lightpink";
    case RN_NODE_PARALLEL: return "shape=trapezium, style=solid";
    case RN_NODE_MAP: return "shape=box3d, style=solid";
    case RN_NODE_CONDITIONAL: return "shape=diamond, style=solid";
    case RN_NODE_LOOP: return "shape=hexagon, style=solid";
    default: return NULL; /* tasks: the graph's default node */
    }
}

static void dot_node(vis *v, const rn_node *n, int unreachable, int depth)
{
    rn_buf *o = v->out;
    /* A composite's cluster already says its type. */
    char *label = label_of(v, n, !is_composite(n), unreachable);
    indent(v, o, depth);
    dot_str(v, o, "", n->internal_name, "");
    put(v, o, " [label=");
    dot_str(v, o, "", label, "");
    free(label);
    const char *shape = dot_shape(n->type);
    if (shape)
        put(v, o, ", %s", shape);
    put(v, o, "];\n");
}

/* `entry`: the edge from a composite to where one of its branches begins,
 * drawn inside the composite's own cluster. */
static void dot_edge(vis *v, const rn_node *a, const rn_node *b, const char *attrs, int entry)
{
    rn_buf *e = &v->edges;
    int leaves = is_composite(a) && !entry;
    put(v, e, "  ");
    dot_str(v, e, "", a->internal_name, leaves ? DOT_EXIT : "");
    put(v, e, " -> ");
    dot_str(v, e, "", b->internal_name, "");
    const char *sep = " [";
    if (attrs) {
        put(v, e, "%s%s", sep, attrs);
        sep = ", ";
    }
    /* With compound=true the arrow stops at the composite's cluster, so it
     * reads as entering or leaving the whole composite. */
    if (leaves) {
        put(v, e, "%sltail=", sep);
        dot_str(v, e, "cluster_", a->internal_name, "");
        sep = ", ";
    }
    if (is_composite(b)) {
        put(v, e, "%slhead=", sep);
        dot_str(v, e, "cluster_", b->internal_name, "");
        sep = ", ";
    }
    put(v, e, "%s;\n", *sep == ',' ? "]" : "");
}

static const char *dot_edge_attrs(edge_kind k)
{
    switch (k) {
    case EDGE_ON_FAILURE: return "style=dashed, label=\"on failure\"";
    case EDGE_IMPLICIT: return "style=dotted";
    default: return NULL;
    }
}

/* The steps a branch begins with: start_at, or every step of a DAG
 * graph that waits for nothing. */
static int is_entry(const layout *l, size_t i)
{
    const rn_node *n = l->g->nodes[i];
    if (!l->drawn[i] || is_terminal(n))
        return 0;
    return l->g->is_dag ? l->in_at[i + 1] == l->in_at[i] : n == l->g->start;
}

static void dot_graph(vis *v, const rn_graph *g, int depth, const rn_node *parent)
{
    layout l;
    int rc = layout_build(&l, g);
    if (rc < 0) {
        v->rc = rc;
        layout_free(&l);
        return;
    }
    rn_buf *o = v->out;
    for (size_t i = 0; i < l.n && !v->rc; i++) {
        const rn_node *n = g->nodes[i];
        if (!l.drawn[i])
            continue;
        if (!is_composite(n)) {
            dot_node(v, n, l.unreachable[i], depth);
            continue;
        }
        indent(v, o, depth);
        put(v, o, "subgraph ");
        dot_str(v, o, "cluster_", n->internal_name, "");
        put(v, o, " {\n");
        char *label = label_of(v, n, 1, l.unreachable[i]);
        indent(v, o, depth + 1);
        put(v, o, "label=");
        dot_str(v, o, "", label, "");
        put(v, o, ";\n");
        free(label);
        dot_node(v, n, 0, depth + 1);
        indent(v, o, depth + 1);
        dot_str(v, o, "", n->internal_name, DOT_EXIT);
        put(v, o, " [shape=point, style=invis, label=\"\"];\n");
        for (size_t b = 0; b < n_branch_graphs(n) && !v->rc; b++) {
            const rn_graph *bg = branch_graph(n, b);
            char *title = branch_title(v, n, b);
            indent(v, o, depth + 1);
            put(v, o, "subgraph ");
            dot_str(v, o, "cluster_", bg->internal_name, "");
            put(v, o, " {\n");
            indent(v, o, depth + 2);
            put(v, o, "label=");
            dot_str(v, o, "", title, "");
            put(v, o, ";\n");
            free(title);
            dot_graph(v, bg, depth + 2, n);
            indent(v, o, depth + 1);
            put(v, o, "}\n");
        }
        indent(v, o, depth);
        put(v, o, "}\n");
    }
    for (size_t i = 0; parent && i < l.n; i++) {
        const rn_node *n = g->nodes[i];
        if (is_entry(&l, i))
            dot_edge(v, parent, n, "style=dotted", 1);
        /* Where a branch ends, an invisible edge pulls the composite's
         * exit below it. */
        if (l.drawn[i] && l.out_at[i + 1] == l.out_at[i]) {
            put(v, &v->edges, "  ");
            dot_str(v, &v->edges, "", n->internal_name, is_composite(n) ? DOT_EXIT : "");
            put(v, &v->edges, " -> ");
            dot_str(v, &v->edges, "", parent->internal_name, DOT_EXIT);
            put(v, &v->edges, " [style=invis];\n");
        }
    }
    for (size_t k = 0; k < l.n_edges; k++)
        dot_edge(v, g->nodes[l.edges[k].from], g->nodes[l.edges[k].to],
                 dot_edge_attrs(l.edges[k].kind), 0);
    layout_free(&l);
}

/* ------------------------------------------------------------- mermaid */

/* Mermaid ids allow [A-Za-z0-9_] only, and `end` and friends are
 * keywords: a number prefix keeps them unique and never a keyword, and
 * the name after it keeps them readable. */
static void mmd_id(vis *v, rn_buf *b, char kind, size_t num, const char *name)
{
    put(v, b, "%c%zu_", kind, num);
    for (const unsigned char *p = (const unsigned char *)name; *p && !v->rc; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_';
        put(v, b, "%c", ok ? *p : '_');
    }
}

/* Inside Mermaid's quotes, `"` ends the label and `#...;` is an entity:
 * those, and what Mermaid could read as HTML or Markdown, go as entities. */
static void mmd_label(vis *v, rn_buf *b, const char *s)
{
    put(v, b, "\"");
    for (const char *p = s ? s : ""; *p && !v->rc; p++) {
        switch (*p) {
        case '"': put(v, b, "#quot;"); break;
        case '#': put(v, b, "#35;"); break;
        case '<': put(v, b, "#lt;"); break;
        case '>': put(v, b, "#gt;"); break;
        case '&': put(v, b, "#amp;"); break;
        case '`': put(v, b, "#96;"); break;
        case '\n': put(v, b, " "); break;
        case '\r': break;
        default: put(v, b, "%c", *p); break;
        }
    }
    put(v, b, "\"");
}

static void mmd_node(vis *v, const rn_node *n, size_t num, int unreachable, int depth)
{
    static const char *const shapes[][2] = {
        [RN_NODE_TASK] = {"[", "]"},         [RN_NODE_STUB] = {"([", "])"},
        [RN_NODE_SUCCESS] = {"((", "))"},    [RN_NODE_FAIL] = {"((", "))"},
        [RN_NODE_PARALLEL] = {"[/", "\\]"},  [RN_NODE_MAP] = {"[[", "]]"},
        [RN_NODE_CONDITIONAL] = {"{", "}"},  [RN_NODE_LOOP] = {"{{", "}}"},
    };
    rn_buf *o = v->out;
    size_t t = (size_t)n->type < sizeof shapes / sizeof shapes[0] ? (size_t)n->type : 0;
    char *label = label_of(v, n, !is_composite(n), unreachable);
    indent(v, o, depth);
    mmd_id(v, o, 'n', num, n->name);
    put(v, o, "%s", shapes[t][0]);
    mmd_label(v, o, label);
    put(v, o, "%s\n", shapes[t][1]);
    free(label);
    if (is_terminal(n)) {
        /* Held back with the edges: a class statement names the node. */
        put(v, &v->edges, "  class ");
        mmd_id(v, &v->edges, 'n', num, n->name);
        put(v, &v->edges, " %s\n", n->type == RN_NODE_SUCCESS ? "rn_success" : "rn_fail");
    }
}

static void mmd_edge(vis *v, const rn_node *a, size_t an, const rn_node *b, size_t bn,
                     const char *arrow)
{
    put(v, &v->edges, "  ");
    mmd_id(v, &v->edges, 'n', an, a->name);
    put(v, &v->edges, " %s ", arrow);
    mmd_id(v, &v->edges, 'n', bn, b->name);
    put(v, &v->edges, "\n");
}

static void mmd_graph(vis *v, const rn_graph *g, int depth, const rn_node *parent,
                      size_t parent_num)
{
    layout l;
    int rc = layout_build(&l, g);
    if (rc < 0) {
        v->rc = rc;
        layout_free(&l);
        return;
    }
    rn_buf *o = v->out;
    /* Node i of this graph is number base + i, known before its branches
     * take numbers of their own. */
    size_t base = v->next_id;
    v->next_id += l.n;
    for (size_t i = 0; i < l.n && !v->rc; i++) {
        const rn_node *n = g->nodes[i];
        if (!l.drawn[i])
            continue;
        if (!is_composite(n)) {
            mmd_node(v, n, base + i, l.unreachable[i], depth);
            continue;
        }
        char *label = label_of(v, n, 1, l.unreachable[i]);
        indent(v, o, depth);
        put(v, o, "subgraph ");
        mmd_id(v, o, 's', v->next_id++, n->name);
        put(v, o, " [");
        mmd_label(v, o, label);
        put(v, o, "]\n");
        free(label);
        mmd_node(v, n, base + i, 0, depth + 1);
        for (size_t b = 0; b < n_branch_graphs(n) && !v->rc; b++) {
            const rn_graph *bg = branch_graph(n, b);
            const char *key = strrchr(bg->internal_name, '.');
            char *title = branch_title(v, n, b);
            indent(v, o, depth + 1);
            put(v, o, "subgraph ");
            mmd_id(v, o, 'b', v->next_id++, key ? key + 1 : bg->internal_name);
            put(v, o, " [");
            mmd_label(v, o, title);
            put(v, o, "]\n");
            free(title);
            mmd_graph(v, bg, depth + 2, n, base + i);
            indent(v, o, depth + 1);
            put(v, o, "end\n");
        }
        indent(v, o, depth);
        put(v, o, "end\n");
    }
    for (size_t i = 0; parent && i < l.n; i++)
        if (is_entry(&l, i))
            mmd_edge(v, parent, parent_num, g->nodes[i], base + i, "-.->");
    for (size_t k = 0; k < l.n_edges; k++) {
        const edge *e = &l.edges[k];
        const char *arrow = e->kind == EDGE_ON_FAILURE ? "-. on failure .->"
                            : e->kind == EDGE_IMPLICIT ? "-.->"
                                                       : "-->";
        mmd_edge(v, g->nodes[e->from], base + e->from, g->nodes[e->to], base + e->to, arrow);
    }
    layout_free(&l);
}

/* ------------------------------------------------------------------ */

int rn_visualize(rn_buf *out, const rn_pipeline *p, rn_vis_format fmt)
{
    vis v = {.out = out};
    if (!p || !p->dag)
        return rn_error_set(RN_EINVAL, "no pipeline to draw");
    switch (fmt) {
    case RN_VIS_TEXT:
        text_graph(&v, p->dag, 0);
        break;
    case RN_VIS_DOT:
        put(&v, out, "digraph pipeline {\n"
                     "  compound=true;\n"
                     "  node [shape=box, style=rounded];\n");
        dot_graph(&v, p->dag, 1, NULL);
        put(&v, out, "%s}\n", v.edges.data ? v.edges.data : "");
        break;
    case RN_VIS_MERMAID:
        put(&v, out, "flowchart TD\n"
                     "  classDef rn_success fill:#d7f5d7,stroke:#2e7d32\n"
                     "  classDef rn_fail fill:#f9d6d6,stroke:#c62828\n");
        mmd_graph(&v, p->dag, 1, NULL, 0);
        put(&v, out, "%s", v.edges.data ? v.edges.data : "");
        break;
    default:
        v.rc = rn_error_set(RN_EINVAL, "unknown visualize format %d", (int)fmt);
        break;
    }
    rn_buf_free(&v.edges);
    if (v.rc == RN_ENOMEM)
        rn_error_set(RN_ENOMEM, "out of memory");
    return v.rc;
}
