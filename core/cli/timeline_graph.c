/* The pipeline's graph (run_config.dag of the run log) as inline SVG for
 * the HTML timeline, drawn here rather than by Graphviz so that the page
 * is complete on any machine.  Inline SVG in HTML needs no xmlns, and the
 * page keeps no URL at all (tests/cli/t_timeline.sh checks).  Layout by levels, as `runnable visualize`
 * lists them: a step sits one level below the longest path leading to it;
 * the steps of a level side by side; a composite is a box holding its
 * branch graphs side by side, each laid out the same way.  Steps are
 * coloured by what happened to them in the run. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "timeline.h"

enum { LEAF_H = 30, GAP_X = 16, GAP_Y = 28, PAD = 10, HEAD = 22, CHAR_W = 7 };

typedef struct gnode {
    const char *name;
    const json_t *node;
    const char *type;
    int level;
    double w, h, x, y; /* x, y: top left within the graph */
} gnode;

typedef struct gedge {
    size_t from, to;
    int kind; /* 0 next/depends_on, 1 on_failure, 2 to success of a DAG */
} gedge;

typedef struct glayout {
    gnode *n;
    size_t cnt;
    gedge *e;
    size_t ne;
    double w, h;
} glayout;

static const char *sv(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static void glayout_free(glayout *L)
{
    free(L->n);
    free(L->e);
    memset(L, 0, sizeof *L);
}

static long find(const glayout *L, const char *name)
{
    for (size_t i = 0; i < L->cnt; i++)
        if (!strcmp(L->n[i].name, name))
            return (long)i;
    return -1;
}

static int add_edge(glayout *L, long from, long to, int kind, size_t *cap)
{
    if (from < 0 || to < 0 || from == to)
        return 0;
    if (L->ne == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        gedge *e = realloc(L->e, c * sizeof *e);
        if (!e)
            return -1;
        L->e = e;
        *cap = c;
    }
    L->e[L->ne++] = (gedge){(size_t)from, (size_t)to, kind};
    return 0;
}

static int is_composite(const char *type)
{
    return !strcmp(type, "parallel") || !strcmp(type, "map") || !strcmp(type, "conditional") ||
           !strcmp(type, "loop");
}

/* Branch graphs of a composite node: {label: graph}.  map and loop have
 * one ("branch"), shown under the name "*" as their iterations are keyed. */
static const json_t *branches_of(const json_t *node, json_t **single)
{
    *single = NULL;
    const json_t *b = json_object_get(node, "branches");
    if (json_object_size(b))
        return b;
    const json_t *one = json_object_get(node, "branch");
    if (json_is_object(one)) {
        *single = json_object();
        json_object_set(*single, "*", (json_t *)one);
        return *single;
    }
    return NULL;
}

static double text_w(const char *s)
{
    return (double)strlen(s) * CHAR_W;
}

static int measure(const json_t *graph, glayout *L);

/* The size of one node: a box for a step, a frame around the branches for
 * a composite. */
static int node_size(gnode *g)
{
    char label[300];
    snprintf(label, sizeof label, "%s [%s]", g->name, g->type);
    if (!is_composite(g->type)) {
        g->w = text_w(strcmp(g->type, "task") ? label : g->name) + 2 * PAD;
        if (g->w < 70)
            g->w = 70;
        g->h = LEAF_H;
        return 0;
    }
    json_t *single;
    const json_t *brs = branches_of(g->node, &single);
    double w = PAD, h = 0;
    const char *bk;
    json_t *br;
    json_object_foreach((json_t *)brs, bk, br) {
        glayout sub = {0};
        if (measure(br, &sub) < 0) {
            glayout_free(&sub);
            json_decref(single);
            return -1;
        }
        double bw = sub.w + 2 * PAD;
        if (bw < text_w(bk) + 2 * PAD)
            bw = text_w(bk) + 2 * PAD;
        w += bw + PAD;
        if (sub.h + HEAD + PAD > h)
            h = sub.h + HEAD + PAD;
        glayout_free(&sub);
    }
    json_decref(single);
    if (w < text_w(label) + 2 * PAD)
        w = text_w(label) + 2 * PAD;
    g->w = w;
    g->h = HEAD + h + PAD;
    return 0;
}

/* Nodes, edges, levels, sizes and positions of one graph. */
static int measure(const json_t *graph, glayout *L)
{
    const json_t *nodes = json_object_get(graph, "nodes");
    size_t total = json_object_size(nodes), ecap = 0;
    L->n = calloc(total ? total : 1, sizeof *L->n);
    if (!L->n)
        return -1;
    const char *k;
    json_t *nd;
    json_object_foreach((json_t *)nodes, k, nd) {
        gnode *g = &L->n[L->cnt++];
        g->name = k;
        g->node = nd;
        g->type = sv(nd, "node_type");
    }
    int dag = !json_is_string(json_object_get(graph, "start_at"));
    for (size_t i = 0; i < L->cnt; i++) {
        const json_t *nd2 = L->n[i].node;
        if (add_edge(L, (long)i, find(L, sv(nd2, "next_node")), 0, &ecap) < 0 ||
            add_edge(L, (long)i, find(L, sv(nd2, "on_failure")), 1, &ecap) < 0)
            return -1;
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(nd2, "depends_on"), j, d)
            if (add_edge(L, find(L, json_string_value(d) ? json_string_value(d) : ""), (long)i,
                         0, &ecap) < 0)
                return -1;
    }
    /* In a depends_on graph success follows every step nothing waits for. */
    long succ = find(L, "success");
    if (dag && succ >= 0) {
        size_t ne = L->ne;
        for (size_t i = 0; i < L->cnt; i++) {
            if (!strcmp(L->n[i].type, "success") || !strcmp(L->n[i].type, "fail"))
                continue;
            int waited = 0;
            for (size_t e = 0; e < ne && !waited; e++)
                waited = L->e[e].from == i;
            if (!waited && add_edge(L, (long)i, succ, 2, &ecap) < 0)
                return -1;
        }
    }
    /* success and fail appear only when something leads to them */
    size_t kept = 0;
    long *map = malloc((L->cnt ? L->cnt : 1) * sizeof *map);
    if (!map)
        return -1;
    for (size_t i = 0; i < L->cnt; i++) {
        int in = 0;
        for (size_t e = 0; e < L->ne && !in; e++)
            in = L->e[e].to == i;
        int terminal = !strcmp(L->n[i].type, "success") || !strcmp(L->n[i].type, "fail");
        map[i] = terminal && !in ? -1 : (long)kept;
        if (map[i] >= 0)
            L->n[kept++] = L->n[i];
    }
    size_t ek = 0;
    for (size_t e = 0; e < L->ne; e++)
        if (map[L->e[e].from] >= 0 && map[L->e[e].to] >= 0)
            L->e[ek++] = (gedge){(size_t)map[L->e[e].from], (size_t)map[L->e[e].to],
                                 L->e[e].kind};
    free(map);
    L->cnt = kept;
    L->ne = ek;
    /* longest path; at most cnt rounds, so a cycle cannot hang us */
    for (size_t round = 0; round < L->cnt; round++) {
        int changed = 0;
        for (size_t e = 0; e < L->ne; e++)
            if (L->n[L->e[e].to].level < L->n[L->e[e].from].level + 1) {
                L->n[L->e[e].to].level = L->n[L->e[e].from].level + 1;
                changed = 1;
            }
        if (!changed)
            break;
    }
    int levels = 0;
    for (size_t i = 0; i < L->cnt; i++) {
        if (node_size(&L->n[i]) < 0)
            return -1;
        if (L->n[i].level + 1 > levels)
            levels = L->n[i].level + 1;
    }
    double y = 0;
    L->w = 0;
    for (int lv = 0; lv < levels; lv++) {
        double w = 0, h = 0;
        for (size_t i = 0; i < L->cnt; i++)
            if (L->n[i].level == lv) {
                w += (w > 0 ? GAP_X : 0) + L->n[i].w;
                if (L->n[i].h > h)
                    h = L->n[i].h;
            }
        if (w > L->w)
            L->w = w;
        for (size_t i = 0; i < L->cnt; i++)
            if (L->n[i].level == lv)
                L->n[i].y = y;
        y += h + GAP_Y;
    }
    L->h = levels ? y - GAP_Y : 0;
    /* each level centred */
    for (int lv = 0; lv < levels; lv++) {
        double w = 0;
        for (size_t i = 0; i < L->cnt; i++)
            if (L->n[i].level == lv)
                w += (w > 0 ? GAP_X : 0) + L->n[i].w;
        double x = (L->w - w) / 2;
        for (size_t i = 0; i < L->cnt; i++)
            if (L->n[i].level == lv) {
                L->n[i].x = x;
                x += L->n[i].w + GAP_X;
            }
    }
    return 0;
}

/* What happened to the steps of `key` (every iteration of it). */
static const char *status_of(const rn_tl *tl, const char *key)
{
    int any = 0, fail = 0, running = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const rn_tl_row *r = &tl->rows[i];
        if (!r->graph_key || strcmp(r->graph_key, key))
            continue;
        any = 1;
        running |= r->open;
        /* a failed attempt that was retried is not a failed step */
        fail |= !strcmp(r->status, "FAIL") &&
                (r->kind == RN_TL_GROUP || r->attempt >= r->n_attempts);
    }
    return running ? "RUNNING" : fail ? "FAIL" : any ? "SUCCESS" : "NOT_RUN";
}

static const char *fill_of(const char *status, int composite)
{
    if (!strcmp(status, "FAIL"))
        return "#f8d0d0";
    if (!strcmp(status, "RUNNING"))
        return "#fcefc0";
    if (!strcmp(status, "SUCCESS"))
        return composite ? "#eef7ee" : "#cdebd0";
    return composite ? "#f6f6f6" : "#e8e8e8";
}

static int draw(rn_buf *o, const rn_tl *tl, const json_t *graph, const char *prefix, double ox,
                double oy)
{
    glayout L = {0};
    if (measure(graph, &L) < 0) {
        glayout_free(&L);
        return -1;
    }
    int rc = 0;
    for (size_t e = 0; e < L.ne && !rc; e++) {
        const gnode *a = &L.n[L.e[e].from], *b = &L.n[L.e[e].to];
        double x1 = ox + a->x + a->w / 2, y1 = oy + a->y + a->h;
        double x2 = ox + b->x + b->w / 2, y2 = oy + b->y;
        if (b->y <= a->y) /* an edge back up: leave from the side */
            y1 = oy + a->y + a->h / 2, x1 = ox + a->x + a->w;
        rc = rn_buf_printf(o, "<path class=\"edge%s\" d=\"M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f\""
                              " fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"%s"
                              " marker-end=\"url(#rn-arrow)\"/>\n",
                           L.e[e].kind == 1 ? " on-failure" : "", x1, y1, x1,
                           (y1 + y2) / 2, x2, (y1 + y2) / 2, x2, y2,
                           L.e[e].kind == 1 ? "#c0392b" : "#666",
                           L.e[e].kind == 1 ? " stroke-dasharray=\"5 3\""
                           : L.e[e].kind == 2 ? " stroke-dasharray=\"2 3\"" : "");
    }
    for (size_t i = 0; i < L.cnt && !rc; i++) {
        const gnode *g = &L.n[i];
        size_t pl = strlen(prefix), nl = strlen(g->name);
        char *key = malloc(pl + nl + 2);
        if (!key) {
            rc = -1;
            break;
        }
        snprintf(key, pl + nl + 2, "%s%s%s", prefix, pl ? "." : "", g->name);
        const char *st = status_of(tl, key);
        int comp = is_composite(g->type);
        double x = ox + g->x, y = oy + g->y;
        rc |= rn_buf_printf(o, "<g class=\"node st-%s\" data-step=\"", st);
        rc |= rn_tl_xml_escape(o, key);
        rc |= rn_buf_printf(o, "\"><title>");
        rc |= rn_tl_xml_escape(o, key);
        rc |= rn_buf_printf(o, " [%s]: %s</title>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                               "height=\"%.1f\" rx=\"%d\" fill=\"%s\" stroke=\"%s\"/>\n",
                            g->type, st, x, y, g->w, g->h, comp ? 6 : 4, fill_of(st, comp),
                            !strcmp(st, "FAIL") ? "#c0392b" : "#555");
        rc |= rn_buf_printf(o, "<text x=\"%.1f\" y=\"%.1f\"%s>", comp ? x + PAD : x + g->w / 2,
                            comp ? y + 15 : y + LEAF_H / 2 + 4,
                            comp ? "" : " text-anchor=\"middle\"");
        rc |= rn_tl_xml_escape(o, g->name);
        if (strcmp(g->type, "task"))
            rc |= rn_buf_printf(o, " [%s]", g->type);
        rc |= rn_buf_printf(o, "</text></g>\n");
        if (comp && !rc) {
            json_t *single;
            const json_t *brs = branches_of(g->node, &single);
            double bx = x + PAD;
            const char *bk;
            json_t *br;
            json_object_foreach((json_t *)brs, bk, br) {
                glayout sub = {0};
                if (measure(br, &sub) < 0) {
                    glayout_free(&sub);
                    rc = -1;
                    break;
                }
                double bw = sub.w + 2 * PAD;
                if (bw < text_w(bk) + 2 * PAD)
                    bw = text_w(bk) + 2 * PAD;
                char *bkey = malloc(strlen(key) + strlen(bk) + 2);
                if (!bkey) {
                    glayout_free(&sub);
                    rc = -1;
                    break;
                }
                sprintf(bkey, "%s.%s", key, bk);
                rc |= rn_buf_printf(o, "<rect class=\"branch\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
                                       " height=\"%.1f\" fill=\"#fff\" stroke=\"#aaa\""
                                       " stroke-dasharray=\"3 2\"/>\n<text class=\"branch-name\""
                                       " x=\"%.1f\" y=\"%.1f\" fill=\"#777\">",
                                    bx, y + HEAD, bw, sub.h + PAD + 14, bx + 4, y + HEAD + 12);
                rc |= rn_tl_xml_escape(o, strcmp(bk, "*") ? bk : "each iteration");
                rc |= rn_buf_printf(o, "</text>\n");
                rc |= draw(o, tl, br, bkey, bx + (bw - sub.w) / 2, y + HEAD + 18);
                free(bkey);
                bx += bw + PAD;
                glayout_free(&sub);
            }
            json_decref(single);
        }
        free(key);
    }
    glayout_free(&L);
    return rc ? -1 : 0;
}

int rn_tl_graph_svg(rn_buf *out, const rn_tl *tl)
{
    const json_t *dag = json_object_get(json_object_get(tl->doc, "run_config"), "dag");
    if (!json_object_size(json_object_get(dag, "nodes")))
        return rn_buf_printf(out, "<p class=\"none\">The run log holds no pipeline graph "
                                  "(run_config.dag).</p>\n") < 0 ? -1 : 0;
    glayout L = {0};
    int rc = measure(dag, &L);
    double w = L.w + 2 * PAD, h = L.h + 2 * PAD;
    glayout_free(&L);
    if (rc < 0)
        return -1;
    rc = rn_buf_printf(out, "<svg class=\"graph\" "
                            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                            "font-family=\"sans-serif\" font-size=\"12\">\n"
                            "<defs><marker id=\"rn-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" "
                            "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
                            "<path d=\"M0 0L10 5L0 10z\" fill=\"#666\"/></marker></defs>\n",
                       w, h, w, h);
    if (rc < 0 || draw(out, tl, dag, "", PAD, PAD) < 0 || rn_buf_printf(out, "</svg>\n") < 0)
        return -1;
    return 0;
}

int rn_tl_xml_escape(rn_buf *out, const char *s)
{
    int rc = 0;
    for (const char *p = s; *p && !rc; p++) {
        switch (*p) {
        case '&': rc = rn_buf_append(out, "&amp;", 5); break;
        case '<': rc = rn_buf_append(out, "&lt;", 4); break;
        case '>': rc = rn_buf_append(out, "&gt;", 4); break;
        case '"': rc = rn_buf_append(out, "&quot;", 6); break;
        case '\'': rc = rn_buf_append(out, "&#39;", 5); break;
        default: rc = rn_buf_append(out, p, 1); break;
        }
    }
    return rc < 0 ? -1 : 0;
}
