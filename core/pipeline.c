/* The pipeline model: a YAML document turned into validated graphs
 * (spec/pipeline-format.md Part 1 and 2.1, DESIGN.md 2).
 *
 * Validation keeps going after a problem: the user should see every
 * mistake of the file in one run, each at the line and column of the key
 * it is about, with what to do about it. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "pipeline.h"

#define MAP_PLACEHOLDER "map_variable_placeholder"
#define LOOP_PLACEHOLDER "loop_variable_placeholder"

static const char *const node_type_names[] = {
    [RN_NODE_TASK] = "task", [RN_NODE_STUB] = "stub",
    [RN_NODE_SUCCESS] = "success", [RN_NODE_FAIL] = "fail",
    [RN_NODE_PARALLEL] = "parallel", [RN_NODE_MAP] = "map",
    [RN_NODE_CONDITIONAL] = "conditional", [RN_NODE_LOOP] = "loop",
};

#define N_NODE_TYPES (sizeof node_type_names / sizeof node_type_names[0])

const char *rn_node_type_name(rn_node_type t)
{
    if ((unsigned)t < N_NODE_TYPES)
        return node_type_names[t];
    return "unknown";
}

static int node_type_from_name(const char *s, rn_node_type *out)
{
    for (size_t i = 0; i < N_NODE_TYPES; i++) {
        if (!strcmp(s, node_type_names[i])) {
            *out = (rn_node_type)i;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Name index: graphs reach 10,000 steps, so lookups must not scan.     */
/* ------------------------------------------------------------------ */

typedef struct name_index {
    size_t cap;             /* power of two */
    size_t *slots;          /* node index + 1; 0 is empty */
} name_index;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int index_build(rn_graph *g)
{
    name_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return -1;
    ix->cap = 16;
    while (ix->cap < g->n_nodes * 2)
        ix->cap *= 2;
    if (!(ix->slots = calloc(ix->cap, sizeof *ix->slots))) {
        free(ix);
        return -1;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        size_t h = (size_t)hash_name(g->nodes[i]->name) & (ix->cap - 1);
        while (ix->slots[h])
            h = (h + 1) & (ix->cap - 1);
        ix->slots[h] = i + 1;
    }
    g->name_index = ix;
    return 0;
}

/* Index of the node called `name` in g->nodes, or SIZE_MAX. */
static size_t index_find(const rn_graph *g, const char *name)
{
    const name_index *ix = g->name_index;
    if (!ix || !name)
        return SIZE_MAX;
    size_t h = (size_t)hash_name(name) & (ix->cap - 1);
    while (ix->slots[h]) {
        size_t i = ix->slots[h] - 1;
        if (!strcmp(g->nodes[i]->name, name))
            return i;
        h = (h + 1) & (ix->cap - 1);
    }
    return SIZE_MAX;
}

rn_node *rn_graph_find(const rn_graph *g, const char *name)
{
    size_t i = g ? index_find(g, name) : SIZE_MAX;
    return i == SIZE_MAX ? NULL : g->nodes[i];
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

static void graph_free(rn_graph *g);

static void node_free(rn_node *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->internal_name);
    json_decref(n->raw);
    free(n->next);
    free(n->on_failure);
    json_decref(n->overrides);
    free(n->command);
    free(n->command_type);
    json_decref(n->returns);
    json_decref(n->secrets);
    json_decref(n->catalog);
    for (size_t i = 0; i < n->n_branches; i++) {
        free(n->branch_keys ? n->branch_keys[i] : NULL);
        graph_free(n->branches ? n->branches[i] : NULL);
    }
    free(n->branch_keys);
    free(n->branches);
    graph_free(n->branch);
    free(n->iterate_on);
    free(n->iterate_as);
    free(n->reducer);
    free(n->parameter);
    json_decref(n->default_branch);
    free(n->break_on);
    free(n->index_as);
    graph_free(n->default_graph);
    for (size_t i = 0; i < n->n_depends_on; i++)
        free(n->depends_on[i]);
    free(n->depends_on);
    free(n->depends_on_nodes);
    json_decref(n->retry);
    free(n);
}

static void graph_free(rn_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++)
        node_free(g->nodes[i]);
    free(g->nodes);
    free(g->start_at);
    free(g->description);
    free(g->internal_name);
    name_index *ix = g->name_index;
    if (ix) {
        free(ix->slots);
        free(ix);
    }
    free(g);
}

void rn_pipeline_free(rn_pipeline *p)
{
    if (!p)
        return;
    free(p->file);
    graph_free(p->dag);
    json_decref(p->dag_json);
    json_decref(p->document);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Build context, positions and diagnostics                            */
/* ------------------------------------------------------------------ */

typedef struct ctx {
    const char *file;
    rn_diag *diag;
    size_t errors;
    int nomem;
    const json_t *positions;
    rn_task_check_fn check;
    void *check_data;
    int partial;            /* the top-level graph has only some of its steps */
} ctx;

static char *xstrdup(ctx *c, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        c->nomem = 1;
    return d;
}

static char *xprintf(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *xprintf(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        c->nomem = 1;
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* JSON pointer of `seg` under `base` (RFC 6901 escaping). */
static char *ptr_join(ctx *c, const char *base, const char *seg)
{
    size_t bl = strlen(base), sl = strlen(seg), extra = 0;
    for (size_t i = 0; i < sl; i++)
        extra += seg[i] == '~' || seg[i] == '/';
    char *p = malloc(bl + 1 + sl + extra + 1);
    if (!p) {
        c->nomem = 1;
        return NULL;
    }
    memcpy(p, base, bl);
    size_t o = bl;
    p[o++] = '/';
    for (size_t i = 0; i < sl; i++) {
        if (seg[i] == '~') {
            p[o++] = '~';
            p[o++] = '0';
        } else if (seg[i] == '/') {
            p[o++] = '~';
            p[o++] = '1';
        } else {
            p[o++] = seg[i];
        }
    }
    p[o] = '\0';
    return p;
}

static int pos_lookup(const ctx *c, const char *ptr, rn_pos *out, const char **marker)
{
    json_t *e = c->positions && ptr ? json_object_get(c->positions, ptr) : NULL;
    return rn_yaml_pos_get(e, &out->line, &out->col, marker);
}

/* Position of `base`/`key`, or of `base` when the key is not written. */
static rn_pos pos_of(ctx *c, const char *base, const char *key)
{
    rn_pos p = {0, 0};
    if (key) {
        char *k = ptr_join(c, base, key);
        int found = k && pos_lookup(c, k, &p, NULL) == 0;
        free(k);
        if (found)
            return p;
    }
    pos_lookup(c, base, &p, NULL);
    return p;
}

static void report(ctx *c, rn_pos at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void report(ctx *c, rn_pos at, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_diag_add(c->diag, c->file, at.line, at.col, "%s", msg);
    c->errors++;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "text";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* What the node is called in messages: the internal name says where a
 * nested step is without the user having to count indentation. */
typedef struct who {
    const char *name;      /* internal name */
    const char *ptr;       /* JSON pointer of the node */
} who;

/* Optional text field: 0 absent (or null), 1 set, -1 reported. */
static int get_text(ctx *c, const who *w, const json_t *obj, const char *key,
                    int allow_empty, const char *hint, char **out)
{
    json_t *j = json_object_get(obj, key);
    *out = NULL;
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_string(j)) {
        report(c, pos_of(c, w->ptr, key), "%s: '%s' must be text, not %s; %s",
               w->name, key, json_kind(j), hint);
        return -1;
    }
    if (!allow_empty && json_string_length(j) == 0) {
        report(c, pos_of(c, w->ptr, key), "%s: '%s' is empty; %s", w->name, key, hint);
        return -1;
    }
    *out = xstrdup(c, json_string_value(j));
    return *out ? 1 : -1;
}

static int require_text(ctx *c, const who *w, const json_t *obj, const char *key,
                        const char *hint, char **out)
{
    int r = get_text(c, w, obj, key, 0, hint, out);
    if (r == 0) {
        report(c, pos_of(c, w->ptr, NULL), "%s: '%s' is missing; %s", w->name, key, hint);
        return -1;
    }
    return r;
}

/* An integer field with a lower bound: 0 absent, 1 set, -1 reported. */
static int get_int_min(ctx *c, const who *w, const json_t *obj, const char *key,
                       long long min, long long *out)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < min) {
        char got[64];
        if (json_is_integer(j))
            snprintf(got, sizeof got, "%lld", (long long)json_integer_value(j));
        else
            snprintf(got, sizeof got, "%s", json_kind(j));
        report(c, pos_of(c, w->ptr, key), "%s: '%s' must be a whole number of at least "
               "%lld, not %s", w->name, key, min, got);
        return -1;
    }
    *out = json_integer_value(j);
    return 1;
}

static int get_bool(ctx *c, const who *w, const json_t *obj, const char *key, int *out)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return 0;
    if (!json_is_boolean(j)) {
        report(c, pos_of(c, w->ptr, key), "%s: '%s' must be true or false, not %s%s",
               w->name, key, json_kind(j),
               json_is_string(j) ? " (only true/false are booleans in YAML 1.2; "
                                   "'yes'/'no'/'on'/'off' are text)" : "");
        return -1;
    }
    *out = json_is_true(j);
    return 1;
}

/* A list of non-empty strings; `what` names one entry in messages. */
static int check_text_list(ctx *c, const who *w, const json_t *list, const char *ptr,
                           const char *key, const char *what)
{
    int bad = 0;
    if (!json_is_array(list)) {
        report(c, pos_of(c, ptr, NULL), "%s: '%s' must be a list of %ss, not %s; write "
               "it as '%s: [a, b]'", w->name, key, what, json_kind(list), key);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            report(c, pos_of(c, ptr, idx), "%s: entry %zu of '%s' must be a %s (non-empty "
                   "text), not %s", w->name, i + 1, key, what,
                   json_is_string(e) ? "empty text" : json_kind(e));
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */
/* ------------------------------------------------------------------ */

/* Accepted by every step that is not success/fail. */
static const char *const traversal_keys[] = {
    "type", "next", "on_failure", "overrides", "depends_on", "skip_on_error", NULL
};
static const char *const executable_keys[] = {
    "catalog", "max_attempts", "timeout", "retry", NULL
};
static const char *const task_keys[] = {
    "command_type", "command", "returns", "secrets", NULL
};
static const char *const parallel_keys[] = {"branches", NULL};
static const char *const conditional_keys[] = {"parameter", "branches", "default", NULL};
static const char *const map_keys[] = {"iterate_on", "iterate_as", "reducer", "branch", NULL};
static const char *const loop_keys[] = {"branch", "max_iterations", "break_on", "index_as", NULL};

static void list_keys(char *buf, size_t cap, const char *const *a, const char *const *b,
                      const char *const *d, const char *extra)
{
    const char *const *lists[] = {a, b, d};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t l = 0; l < 3; l++)
        for (const char *const *k = lists[l]; k && *k; k++)
            o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s", o ? ", " : "", *k);
    if (extra && o < cap)
        snprintf(buf + o, cap - o, ", %s", extra);
}

static void check_unknown_fields(ctx *c, const who *w, const rn_node *n, const json_t *obj)
{
    const char *const *specific = NULL;
    const char *const *exec = NULL;
    const char *extra = NULL;
    const char *key;
    json_t *val;

    switch (n->type) {
    case RN_NODE_STUB:
        return; /* a stub is a placeholder: anything else is ignored */
    case RN_NODE_SUCCESS:
    case RN_NODE_FAIL:
        json_object_foreach((json_t *)obj, key, val) {
            if (strcmp(key, "type") != 0)
                report(c, pos_of(c, w->ptr, key), "%s: a %s step takes only 'type'; remove "
                       "'%s'", w->name, rn_node_type_name(n->type), key);
        }
        return;
    case RN_NODE_TASK:
        exec = executable_keys;
        specific = task_keys;
        if (n->command_type && !strcmp(n->command_type, "notebook"))
            extra = "optional_ploomber_args";
        else if (n->command_type && !strcmp(n->command_type, "async-python"))
            extra = "stream_end_type";
        break;
    case RN_NODE_PARALLEL: specific = parallel_keys; break;
    case RN_NODE_CONDITIONAL: specific = conditional_keys; break;
    case RN_NODE_MAP: specific = map_keys; break;
    case RN_NODE_LOOP: specific = loop_keys; break;
    }

    json_object_foreach((json_t *)obj, key, val) {
        if (in_list(key, traversal_keys) || (exec && in_list(key, exec)) ||
            in_list(key, specific) || (extra && !strcmp(key, extra)))
            continue;
        rn_pos at = pos_of(c, w->ptr, key);
        if (n->type == RN_NODE_TASK && !strcmp(key, "optional_ploomber_args")) {
            report(c, at, "%s: 'optional_ploomber_args' is only for notebook tasks "
                   "(command_type: notebook); remove it", w->name);
        } else if (n->type == RN_NODE_TASK && !strcmp(key, "stream_end_type")) {
            report(c, at, "%s: 'stream_end_type' is only for async-python tasks "
                   "(command_type: async-python); remove it", w->name);
        } else if (!strcmp(key, "terminate_with_success") ||
                   !strcmp(key, "terminate_with_failure")) {
            report(c, at, "%s: '%s' exists only in the Python SDK; in YAML write "
                   "'next: %s'", w->name, key,
                   !strcmp(key, "terminate_with_success") ? "success" : "fail");
        } else {
            char accepted[512];
            list_keys(accepted, sizeof accepted, traversal_keys, exec, specific, extra);
            report(c, at, "%s: unknown field '%s' for a %s step; remove it or fix its "
                   "spelling (a %s accepts %s)", w->name, key, rn_node_type_name(n->type),
                   rn_node_type_name(n->type), accepted);
        }
    }
}

static void parse_overrides(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    json_t *j = json_object_get(obj, "overrides");
    const char *key;
    json_t *val;

    if (!j || json_is_null(j))
        return;
    if (!json_is_object(j)) {
        report(c, pos_of(c, w->ptr, "overrides"), "%s: 'overrides' must be a mapping from "
               "executor type to override name (e.g. 'argo: gpu'), not %s", w->name,
               json_kind(j));
        return;
    }
    char *ptr = ptr_join(c, w->ptr, "overrides");
    if (!ptr)
        return;
    json_object_foreach(j, key, val) {
        if (!json_is_string(val))
            report(c, pos_of(c, ptr, key), "%s: overrides '%s' must name an override (text), "
                   "not %s", w->name, key, json_kind(val));
    }
    free(ptr);
    json_decref(n->overrides);
    n->overrides = json_incref(j);
}

static void parse_catalog(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    json_t *j = json_object_get(obj, "catalog");
    const char *key;
    json_t *val;
    int bad = 0;

    if (!j || json_is_null(j))
        return;
    if (!json_is_object(j)) {
        report(c, pos_of(c, w->ptr, "catalog"), "%s: 'catalog' must be a mapping with get, "
               "put and store_copy, not %s", w->name, json_kind(j));
        return;
    }
    char *ptr = ptr_join(c, w->ptr, "catalog");
    if (!ptr)
        return;
    who cw = {w->name, ptr};
    json_object_foreach(j, key, val) {
        if (!strcmp(key, "get") || !strcmp(key, "put")) {
            if (json_is_null(val))
                continue;
            char *kp = ptr_join(c, ptr, key);
            if (kp && check_text_list(c, &cw, val, kp, key, "file pattern") < 0)
                bad = 1;
            free(kp);
        } else if (!strcmp(key, "store_copy")) {
            int b;
            if (get_bool(c, &cw, j, key, &b) < 0)
                bad = 1;
        } else {
            report(c, pos_of(c, ptr, key), "%s: unknown catalog key '%s'; the catalog "
                   "accepts get, put and store_copy%s", w->name, key,
                   !strcmp(key, "no_copy") ? " (use 'store_copy: false')" : "");
            bad = 1;
        }
    }
    free(ptr);
    if (bad)
        return;

    /* Normalised: the run log and the dag hash record all three keys. */
    json_t *get = json_object_get(j, "get"), *put = json_object_get(j, "put");
    json_t *sc = json_object_get(j, "store_copy");
    n->catalog = json_pack("{s:o,s:o,s:b}",
                           "get", json_is_array(get) ? json_deep_copy(get) : json_array(),
                           "put", json_is_array(put) ? json_deep_copy(put) : json_array(),
                           "store_copy", sc ? json_is_true(sc) : 1);
    if (!n->catalog)
        c->nomem = 1;
}

static int get_number_min(ctx *c, const who *w, const json_t *obj, const char *key,
                          double min, int strict, double *out)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return 0;
    if (!json_is_number(j) || (strict ? json_number_value(j) <= min
                                      : json_number_value(j) < min)) {
        char got[64];
        if (json_is_number(j))
            snprintf(got, sizeof got, "%g", json_number_value(j));
        else
            snprintf(got, sizeof got, "%s", json_kind(j));
        report(c, pos_of(c, w->ptr, key), "%s: '%s' must be a number %s %g, not %s",
               w->name, key, strict ? "greater than" : "of at least", min, got);
        return -1;
    }
    *out = json_number_value(j);
    return 1;
}

static void parse_retry(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    json_t *j = json_object_get(obj, "retry");
    const char *key;
    json_t *val;
    int bad = 0;
    double d;

    if (!j || json_is_null(j))
        return;
    if (!json_is_object(j)) {
        report(c, pos_of(c, w->ptr, "retry"), "%s: 'retry' must be a mapping with delay, "
               "factor, max_delay and jitter, not %s", w->name, json_kind(j));
        return;
    }
    char *ptr = ptr_join(c, w->ptr, "retry");
    if (!ptr)
        return;
    who rw = {w->name, ptr};
    json_object_foreach(j, key, val) {
        if (!strcmp(key, "delay") || !strcmp(key, "max_delay")) {
            bad |= get_number_min(c, &rw, j, key, 0, 0, &d) < 0;
        } else if (!strcmp(key, "factor")) {
            bad |= get_number_min(c, &rw, j, key, 1, 0, &d) < 0;
        } else if (!strcmp(key, "jitter")) {
            /* true/false, or the fraction of each delay to randomise. */
            if (!json_is_boolean(val) &&
                !(json_is_number(val) && json_number_value(val) >= 0 &&
                  json_number_value(val) <= 1)) {
                report(c, pos_of(c, ptr, key), "%s: retry 'jitter' must be true, false or "
                       "a fraction between 0 and 1, not %s", w->name, json_kind(val));
                bad = 1;
            }
        } else {
            report(c, pos_of(c, ptr, key), "%s: unknown retry key '%s'; retry accepts "
                   "delay, factor, max_delay and jitter", w->name, key);
            bad = 1;
        }
    }
    free(ptr);
    if (!bad)
        n->retry = json_incref(j);
}

static void parse_returns(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    static const char *const kinds[] = {"json", "metric", "object", NULL};
    json_t *j = json_object_get(obj, "returns");
    json_t *seen = NULL;

    if (!(n->returns = json_array())) {
        c->nomem = 1;
        return;
    }
    if (!j || json_is_null(j))
        return;
    char *ptr = ptr_join(c, w->ptr, "returns");
    if (!ptr)
        return;
    if (!json_is_array(j)) {
        report(c, pos_of(c, ptr, NULL), "%s: 'returns' must be a list of mappings such as "
               "'- name: x', not %s", w->name, json_kind(j));
        goto out;
    }
    if (!(seen = json_object())) {
        c->nomem = 1;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        char *ep = ptr_join(c, ptr, idx);
        if (!ep)
            break;
        who ew = {w->name, ep};
        const char *key;
        json_t *val;
        char *name = NULL, *kind = NULL;

        if (!json_is_object(e)) {
            report(c, pos_of(c, ep, NULL), "%s: return %zu must be a mapping "
                   "'{name: ..., kind: json|metric|object}', not %s%s", w->name, i + 1,
                   json_kind(e), json_is_string(e) ? " (write '- name: <it>')" : "");
            free(ep);
            continue;
        }
        json_object_foreach(e, key, val) {
            if (strcmp(key, "name") != 0 && strcmp(key, "kind") != 0)
                report(c, pos_of(c, ep, key), "%s: unknown key '%s' in return %zu; a "
                       "return has name and kind", w->name, key, i + 1);
        }
        require_text(c, &ew, e, "name", "give the parameter's name", &name);
        if (get_text(c, &ew, e, "kind", 0, "use json, metric or object", &kind) > 0 &&
            !in_list(kind, kinds)) {
            report(c, pos_of(c, ep, "kind"), "%s: return kind '%s' is not known; use json, "
                   "metric or object", w->name, kind);
        }
        if (name) {
            json_t *first = json_object_get(seen, name);
            if (first) {
                report(c, pos_of(c, ep, "name"), "%s: '%s' is returned twice (also return "
                       "%d); remove one", w->name, name, (int)json_integer_value(first));
            } else {
                json_object_set_new(seen, name, json_integer((json_int_t)i + 1));
                json_t *r = json_pack("{s:s,s:s}", "name", name, "kind", kind ? kind : "json");
                if (!r || json_array_append_new(n->returns, r) < 0)
                    c->nomem = 1;
            }
        }
        free(name);
        free(kind);
        free(ep);
    }
out:
    json_decref(seen);
    free(ptr);
}

static void parse_task(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    int r = get_text(c, w, obj, "command_type", 0,
                     "use shell, python, notebook or async-python", &n->command_type);
    if (r == 0)
        n->command_type = xstrdup(c, "python");
    require_text(c, w, obj, "command", "add the command to run (for command_type "
                 "python, a dotted path to a function)", &n->command);
    parse_returns(c, w, n, obj);

    json_t *sec = json_object_get(obj, "secrets");
    if (sec && !json_is_null(sec)) {
        char *ptr = ptr_join(c, w->ptr, "secrets");
        if (ptr && check_text_list(c, w, sec, ptr, "secrets", "secret name") == 0)
            n->secrets = json_incref(sec);
        free(ptr);
    }
    if (!n->secrets && !(n->secrets = json_array()))
        c->nomem = 1;

    json_t *opa = json_object_get(obj, "optional_ploomber_args");
    if (opa && !json_is_null(opa) && !json_is_object(opa))
        report(c, pos_of(c, w->ptr, "optional_ploomber_args"), "%s: "
               "'optional_ploomber_args' must be a mapping, not %s", w->name, json_kind(opa));
    json_t *set = json_object_get(obj, "stream_end_type");
    if (set && !json_is_string(set))
        report(c, pos_of(c, w->ptr, "stream_end_type"), "%s: 'stream_end_type' must be "
               "text, not %s", w->name, json_kind(set));
}

/* Fields shared by tasks and stubs. */
static void parse_executable(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    long long ma;
    parse_catalog(c, w, n, obj);
    if (get_int_min(c, w, obj, "max_attempts", 1, &ma) > 0) {
        if (ma > INT_MAX)
            report(c, pos_of(c, w->ptr, "max_attempts"), "%s: 'max_attempts' %lld is too "
                   "large; use at most %d", w->name, ma, INT_MAX);
        else
            n->max_attempts = (int)ma;
    }
    get_number_min(c, w, obj, "timeout", 0, 1, &n->timeout);
    parse_retry(c, w, n, obj);
}

static void parse_traversal(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    json_t *j;

    /* `next` being required is decided with the whole graph in view: a
     * graph of depends_on steps has none. */
    get_text(c, w, obj, "next", 0, "name the step to run next, or success / fail",
             &n->next);
    get_text(c, w, obj, "on_failure", 1, "name the step to run when this one fails",
             &n->on_failure);
    if (n->on_failure && !n->on_failure[0]) {
        free(n->on_failure);
        n->on_failure = NULL;
    }
    parse_overrides(c, w, n, obj);

    int b;
    if (get_bool(c, w, obj, "skip_on_error", &b) > 0)
        n->skip_on_error = b;

    if ((j = json_object_get(obj, "depends_on")) && !json_is_null(j)) {
        char *ptr = ptr_join(c, w->ptr, "depends_on");
        if (ptr && check_text_list(c, w, j, ptr, "depends_on", "step name") == 0) {
            size_t k = json_array_size(j);
            n->depends_on = calloc(k ? k : 1, sizeof *n->depends_on);
            n->depends_on_nodes = calloc(k ? k : 1, sizeof *n->depends_on_nodes);
            if (!n->depends_on || !n->depends_on_nodes)
                c->nomem = 1;
            for (size_t i = 0; i < k && !c->nomem; i++) {
                n->depends_on[i] = xstrdup(c, json_string_value(json_array_get(j, i)));
                n->n_depends_on = i + 1;
            }
        }
        free(ptr);
    }
}

/* ------------------------------------------------------------------ */
/* Graphs and nodes                                                    */
/* ------------------------------------------------------------------ */

static rn_graph *build_graph(ctx *c, const json_t *gj, const char *internal_name,
                             rn_node *parent, const char *ptr);

/* Checks a name used to build internal names (a step name, a branch key). */
static int check_name(ctx *c, const char *ptr, const char *name, const char *what,
                      const char *where)
{
    rn_pos at = {0, 0};
    const char *marker = NULL;
    pos_lookup(c, ptr, &at, &marker);
    if (marker) {
        report(c, at, "%s name %s%s is read by YAML as %s, not as text; quote it "
               "(\"%s\")", what, name, where,
               !strcmp(marker, "int") ? "an integer" : !strcmp(marker, "float") ? "a number"
               : !strcmp(marker, "bool") ? "a boolean" : "null", name);
        return -1;
    }
    if (!name[0]) {
        report(c, at, "%s name%s is empty; give it a name", what, where);
        return -1;
    }
    if (strchr(name, '.') || strchr(name, '%')) {
        report(c, at, "%s name '%s'%s contains '%c'; names cannot contain '.' or '%%' "
               "(they are separators in internal names): rename it", what, name, where,
               strchr(name, '.') ? '.' : '%');
        return -1;
    }
    return 0;
}

static rn_graph *branch_graph(ctx *c, rn_node *n, const json_t *gj, const char *key,
                              const char *ptr)
{
    char *iname = xprintf(c, "%s.%s", n->internal_name, key);
    rn_graph *g = iname ? build_graph(c, gj, iname, n, ptr) : NULL;
    free(iname);
    return g;
}

static void parse_branches(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    json_t *j = json_object_get(obj, "branches");
    const char *key;
    json_t *val;

    if (!j || json_is_null(j)) {
        report(c, pos_of(c, w->ptr, NULL), "%s: a %s step needs 'branches', a mapping of "
               "branch name to graph (start_at, steps); add at least one", w->name,
               rn_node_type_name(n->type));
        return;
    }
    char *ptr = ptr_join(c, w->ptr, "branches");
    if (!ptr)
        return;
    if (!json_is_object(j) || json_object_size(j) == 0) {
        report(c, pos_of(c, ptr, NULL), "%s: 'branches' must be a mapping of branch name "
               "to graph with at least one branch, not %s", w->name,
               json_is_object(j) ? "an empty mapping" : json_kind(j));
        free(ptr);
        return;
    }
    size_t k = json_object_size(j);
    n->branch_keys = calloc(k, sizeof *n->branch_keys);
    n->branches = calloc(k, sizeof *n->branches);
    if (!n->branch_keys || !n->branches) {
        c->nomem = 1;
        free(ptr);
        return;
    }
    char where[300];
    snprintf(where, sizeof where, " (in %s)", w->name);
    json_object_foreach(j, key, val) {
        char *bp = ptr_join(c, ptr, key);
        if (!bp)
            break;
        if (check_name(c, bp, key, "branch", where) == 0) {
            size_t i = n->n_branches++;
            n->branch_keys[i] = xstrdup(c, key);
            n->branches[i] = branch_graph(c, n, val, key, bp);
        }
        free(bp);
        if (c->nomem)
            break;
    }
    free(ptr);
}

static void parse_one_branch(ctx *c, const who *w, rn_node *n, const json_t *obj,
                             const char *placeholder)
{
    json_t *j = json_object_get(obj, "branch");
    if (!j || json_is_null(j)) {
        report(c, pos_of(c, w->ptr, NULL), "%s: a %s step needs 'branch', the graph "
               "(start_at, steps) to run %s; add it", w->name, rn_node_type_name(n->type),
               n->type == RN_NODE_MAP ? "for each item" : "in each iteration");
        return;
    }
    char *bp = ptr_join(c, w->ptr, "branch");
    if (bp)
        n->branch = branch_graph(c, n, j, placeholder, bp);
    free(bp);
}

static void parse_composite(ctx *c, const who *w, rn_node *n, const json_t *obj)
{
    switch (n->type) {
    case RN_NODE_PARALLEL:
        parse_branches(c, w, n, obj);
        break;
    case RN_NODE_CONDITIONAL: {
        require_text(c, w, obj, "parameter", "name the parameter whose value picks the branch",
                     &n->parameter);
        parse_branches(c, w, n, obj);
        json_t *d = json_object_get(obj, "default");
        if (d && !json_is_null(d)) {
            for (size_t i = 0; i < n->n_branches; i++) {
                if (!strcmp(n->branch_keys[i], "default")) {
                    char *bp = ptr_join(c, w->ptr, "branches");
                    char *kp = bp ? ptr_join(c, bp, "default") : NULL;
                    report(c, pos_of(c, kp ? kp : w->ptr, NULL), "%s: a branch named "
                           "'default' clashes with the step's 'default' branch (both would "
                           "be %s.default); rename the branch", w->name, n->internal_name);
                    free(kp);
                    free(bp);
                }
            }
            char *dp = ptr_join(c, w->ptr, "default");
            if (dp) {
                n->default_branch = json_incref(d);
                n->default_graph = branch_graph(c, n, d, "default", dp);
            }
            free(dp);
        }
        break;
    }
    case RN_NODE_MAP:
        require_text(c, w, obj, "iterate_on", "name the parameter holding the list to "
                     "iterate on", &n->iterate_on);
        require_text(c, w, obj, "iterate_as", "name the variable each item is given as",
                     &n->iterate_as);
        get_text(c, w, obj, "reducer", 0, "give a reducer such as \"lambda *x: max(x)\", "
                 "or remove it", &n->reducer);
        parse_one_branch(c, w, n, obj, MAP_PLACEHOLDER);
        break;
    case RN_NODE_LOOP: {
        long long mi;
        int r = get_int_min(c, w, obj, "max_iterations", 1, &mi);
        if (r > 0)
            n->max_iterations = mi;
        else if (r == 0)
            report(c, pos_of(c, w->ptr, NULL), "%s: 'max_iterations' is missing; add the "
                   "upper bound on iterations (a whole number of at least 1)", w->name);
        require_text(c, w, obj, "break_on", "name the boolean parameter that ends the loop",
                     &n->break_on);
        require_text(c, w, obj, "index_as", "name the variable receiving the iteration index",
                     &n->index_as);
        parse_one_branch(c, w, n, obj, LOOP_PLACEHOLDER);
        break;
    }
    default:
        break;
    }
}

static rn_node *build_node(ctx *c, rn_graph *g, const char *name, json_t *nj, const char *ptr)
{
    rn_node *n = calloc(1, sizeof *n);
    if (!n) {
        c->nomem = 1;
        return NULL;
    }
    n->name = xstrdup(c, name);
    n->internal_name = g->internal_name[0] ? xprintf(c, "%s.%s", g->internal_name, name)
                                           : xstrdup(c, name);
    n->graph = g;
    n->pos = pos_of(c, ptr, NULL);
    n->raw = json_incref(nj);
    n->overrides = json_object();
    n->max_attempts = 1;
    n->type = RN_NODE_STUB;
    if (!n->name || !n->internal_name || !n->overrides) {
        c->nomem = 1;
        return n;
    }

    char label[1024];
    snprintf(label, sizeof label, "step '%s'", n->internal_name);
    who w = {label, ptr};

    check_name(c, ptr, name, "step", "");

    if (!json_is_object(nj)) {
        report(c, n->pos, "%s must be a mapping with at least 'type' (and usually 'next'), "
               "not %s", label, json_kind(nj));
        return n;
    }

    json_t *tj = json_object_get(nj, "type");
    int type_ok = 0;
    if (!tj || json_is_null(tj)) {
        report(c, n->pos, "%s has no 'type'; add one of task, stub, parallel, map, "
               "conditional, loop", label);
    } else if (!json_is_string(tj) || node_type_from_name(json_string_value(tj), &n->type) < 0) {
        report(c, pos_of(c, ptr, "type"), "%s: type %s%s%s is not a node type; use one of "
               "task, stub, parallel, map, conditional, loop (success and fail exist already)",
               label, json_is_string(tj) ? "'" : "",
               json_is_string(tj) ? json_string_value(tj) : json_kind(tj),
               json_is_string(tj) ? "'" : "");
        n->type = RN_NODE_STUB;
    } else {
        type_ok = 1;
    }

    /* runnable silently replaces a user step called success/fail by the
     * terminal node; that hides a mistake, so it is an error here. */
    int is_term_name = !strcmp(name, "success") || !strcmp(name, "fail");
    if (type_ok && is_term_name && strcmp(name, rn_node_type_name(n->type)) != 0) {
        report(c, n->pos, "%s: the name '%s' is reserved for the graph's %s end, but this "
               "step has type %s; rename the step", label, name, name,
               rn_node_type_name(n->type));
    } else if (type_ok && !is_term_name &&
               (n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL)) {
        report(c, pos_of(c, ptr, "type"), "%s has type %s, but every graph already has its "
               "'%s' step; remove this step and write 'next: %s' where it is used",
               label, rn_node_type_name(n->type), rn_node_type_name(n->type),
               rn_node_type_name(n->type));
    }

    if (n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL) {
        check_unknown_fields(c, &w, n, nj);
        return n;
    }

    parse_traversal(c, &w, n, nj);
    if (!type_ok)
        return n;
    if (n->type == RN_NODE_TASK)
        parse_task(c, &w, n, nj);
    if (n->type == RN_NODE_STUB) {
        /* Stubs return nothing and need no secrets; empty lists spare
         * every consumer a NULL check. */
        n->returns = json_array();
        n->secrets = json_array();
        if (!n->returns || !n->secrets)
            c->nomem = 1;
    }
    if (n->type == RN_NODE_TASK || n->type == RN_NODE_STUB)
        parse_executable(c, &w, n, nj);
    else
        parse_composite(c, &w, n, nj);
    check_unknown_fields(c, &w, n, nj);

    /* A command missing or not text is reported above: the task type's
     * own check would say it again, at another line. */
    if (n->type == RN_NODE_TASK && c->check && n->command_type && n->command) {
        rn_error_set(0, "%s", "");
        if (c->check(n->command_type, nj, c->check_data) < 0) {
            const char *why = rn_error_last();
            report(c, pos_of(c, ptr, json_object_get(nj, "command_type") ? "command_type"
                                                                          : NULL),
                   "%s: %s", label, why[0] ? why : "the task was rejected by its task type");
        }
    }
    return n;
}

static int graph_append(ctx *c, rn_graph *g, rn_node *n, size_t *cap)
{
    if (g->n_nodes == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        rn_node **a = realloc(g->nodes, ncap * sizeof *a);
        if (!a) {
            c->nomem = 1;
            node_free(n);
            return -1;
        }
        g->nodes = a;
        *cap = ncap;
    }
    n->index = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return 0;
}

static int is_terminal(const rn_node *n)
{
    return n->type == RN_NODE_SUCCESS || n->type == RN_NODE_FAIL;
}

/* A step written with depends_on (an empty list counts: it is a step
 * that waits for nothing) makes its graph a DAG graph. */
static int uses_depends_on(const rn_node *n)
{
    json_t *d = json_is_object(n->raw) ? json_object_get(n->raw, "depends_on") : NULL;
    return d && !json_is_null(d) && !is_terminal(n);
}

/* Edge `e` of node `u` for cycle detection: next/on_failure edges in a
 * chained graph, depends_on edges in a DAG graph.  Returns the target
 * or NULL, and the key holding the edge. */
static rn_node *edge_at(const rn_graph *g, const rn_node *u, size_t e, char *key, size_t kcap)
{
    if (g->is_dag) {
        if (e >= u->n_depends_on)
            return NULL;
        snprintf(key, kcap, "%zu", e);
        return u->depends_on_nodes[e];
    }
    if (e == 0) {
        snprintf(key, kcap, "next");
        return u->next_node;
    }
    snprintf(key, kcap, "on_failure");
    return e == 1 ? u->on_failure_node : NULL;
}

static size_t edge_count(const rn_graph *g, const rn_node *u)
{
    return g->is_dag ? u->n_depends_on : 2;
}

/* Every back edge found by a depth-first search is one cycle, reported at
 * the key that closes it. */
static void check_cycles(ctx *c, rn_graph *g, char **ptrs, const char *glabel)
{
    size_t n = g->n_nodes;
    unsigned char *state = calloc(n ? n : 1, 1);
    size_t *stack = malloc((n ? n : 1) * sizeof *stack);
    size_t *edge = malloc((n ? n : 1) * sizeof *edge);
    char key[32];

    if (!state || !stack || !edge) {
        c->nomem = 1;
        goto out;
    }
    for (size_t s = 0; s < n; s++) {
        if (state[s])
            continue;
        size_t depth = 0;
        stack[depth] = s;
        edge[depth++] = 0;
        state[s] = 1;
        while (depth) {
            size_t u = stack[depth - 1];
            if (edge[depth - 1] >= edge_count(g, g->nodes[u])) {
                state[u] = 2;
                depth--;
                continue;
            }
            size_t e = edge[depth - 1]++;
            rn_node *t = edge_at(g, g->nodes[u], e, key, sizeof key);
            if (!t)
                continue;
            size_t v = index_find(g, t->name);
            if (v == SIZE_MAX)
                continue;
            if (state[v] == 0) {
                state[v] = 1;
                stack[depth] = v;
                edge[depth++] = 0;
                continue;
            }
            if (state[v] != 1)
                continue;

            /* The cycle is the stack from v up to u, then v again. */
            char path[1024];
            size_t o = 0, from = depth;
            while (from > 0 && stack[from - 1] != v)
                from--;
            for (size_t i = from ? from - 1 : 0; i < depth && o < sizeof path; i++)
                o += (size_t)snprintf(path + o, sizeof path - o, "'%s' -> ",
                                      g->nodes[stack[i]]->name);
            if (o < sizeof path)
                snprintf(path + o, sizeof path - o, "'%s'", g->nodes[v]->name);

            char *kp = NULL;
            if (g->is_dag) {
                char *dp = ptr_join(c, ptrs[u], "depends_on");
                kp = dp ? ptr_join(c, dp, key) : NULL;
                free(dp);
            } else {
                kp = ptr_join(c, ptrs[u], key);
            }
            rn_pos at = pos_of(c, kp ? kp : ptrs[u], NULL);
            free(kp);
            if (g->is_dag)
                report(c, at, "in %s, depends_on forms a cycle: %s (each waits for the "
                       "next); remove one of these dependencies", glabel, path);
            else
                report(c, at, "in %s, steps form a cycle through next/on_failure: %s; a "
                       "graph must not lead back to a step (use a loop step to repeat "
                       "work): point '%s' of step '%s' elsewhere", glabel, path, key,
                       g->nodes[u]->name);
        }
    }
out:
    free(state);
    free(stack);
    free(edge);
}

/* References of a chained (next/on_failure) graph. */
static int resolve_chained(ctx *c, rn_graph *g, char **ptrs, const char *glabel)
{
    int missing = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        rn_node *n = g->nodes[i];
        /* A step that is not a mapping was reported already. */
        if (is_terminal(n) || !json_is_object(n->raw))
            continue;
        if (!n->next) {
            json_t *nx = json_is_object(n->raw) ? json_object_get(n->raw, "next") : NULL;
            /* A wrong-typed `next` was reported already. */
            if (!nx || json_is_null(nx))
                report(c, n->pos, "step '%s' has no 'next'; add 'next: <step>', or "
                       "'next: success' / 'next: fail' to end %s here", n->internal_name,
                       glabel);
            continue;
        }
        const char *keys[2] = {"next", "on_failure"};
        char *targets[2] = {n->next, n->on_failure};
        rn_node **slots[2] = {&n->next_node, &n->on_failure_node};
        for (int k = 0; k < 2; k++) {
            if (!targets[k])
                continue;
            *slots[k] = rn_graph_find(g, targets[k]);
            if (!*slots[k]) {
                report(c, pos_of(c, ptrs[i], keys[k]), "step '%s': %s points to '%s', "
                       "which is not a step of %s; add it or fix the name",
                       n->internal_name, keys[k], targets[k], glabel);
                missing++;
            }
        }
    }
    return missing;
}

/* References of a DAG (depends_on) graph. */
static int resolve_dag(ctx *c, rn_graph *g, char **ptrs, const char *glabel)
{
    int missing = 0;
    const rn_node *user = NULL;

    for (size_t i = 0; i < g->n_nodes && !user; i++)
        if (uses_depends_on(g->nodes[i]))
            user = g->nodes[i];

    for (size_t i = 0; i < g->n_nodes; i++) {
        rn_node *n = g->nodes[i];
        if (is_terminal(n) || !json_is_object(n->raw))
            continue;
        json_t *nx = json_object_get(n->raw, "next");
        if (nx && !json_is_null(nx))
            report(c, pos_of(c, ptrs[i], "next"), "step '%s' uses next, but %s chains its "
                   "steps with depends_on (see step '%s'); a graph uses one or the other: "
                   "replace next by depends_on on the following step", n->internal_name,
                   glabel, user ? user->name : "?");
        json_t *of = json_object_get(n->raw, "on_failure");
        if (of && !json_is_null(of) && !(json_is_string(of) && !json_string_length(of)))
            report(c, pos_of(c, ptrs[i], "on_failure"), "step '%s' uses on_failure, which "
                   "has no meaning in a depends_on graph; remove it (skip_on_error lets "
                   "dependent steps run after a failure)", n->internal_name);
        free(n->next);
        n->next = NULL;
        free(n->on_failure);
        n->on_failure = NULL;

        char *dp = n->n_depends_on ? ptr_join(c, ptrs[i], "depends_on") : NULL;
        for (size_t k = 0; k < n->n_depends_on; k++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", k);
            rn_pos at = pos_of(c, dp ? dp : ptrs[i], idx);
            const char *t = n->depends_on[k];
            rn_node *tn = rn_graph_find(g, t);
            int dup = 0;
            for (size_t j = 0; j < k; j++)
                dup |= !strcmp(n->depends_on[j], t);
            if (!tn) {
                report(c, at, "step '%s': depends_on names '%s', which is not a step of %s; "
                       "add it or fix the name", n->internal_name, t, glabel);
                missing++;
            } else if (is_terminal(tn)) {
                report(c, at, "step '%s': depends_on names the end step '%s', which runs "
                       "last by itself; remove it", n->internal_name, t);
                missing++;
            } else if (tn == n) {
                report(c, at, "step '%s' depends on itself; remove '%s' from its depends_on",
                       n->internal_name, t);
                missing++;
            } else if (dup) {
                report(c, at, "step '%s' lists '%s' twice in depends_on; remove one",
                       n->internal_name, t);
            } else {
                n->depends_on_nodes[k] = tn;
            }
        }
        free(dp);
    }
    return missing;
}

static void add_terminal(ctx *c, rn_graph *g, const char *name, rn_node_type type, size_t *cap)
{
    /* Looked up by scanning: the index is built after this. */
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name))
            return;
    rn_node *n = calloc(1, sizeof *n);
    if (!n) {
        c->nomem = 1;
        return;
    }
    n->name = xstrdup(c, name);
    n->internal_name = g->internal_name[0] ? xprintf(c, "%s.%s", g->internal_name, name)
                                           : xstrdup(c, name);
    n->type = type;
    n->graph = g;
    n->pos = g->pos;
    n->max_attempts = 1;
    n->overrides = json_object();
    n->raw = json_pack("{s:s}", "type", name);
    if (!n->overrides || !n->raw)
        c->nomem = 1;
    graph_append(c, g, n, cap);
}

static rn_graph *build_graph(ctx *c, const json_t *gj, const char *internal_name,
                             rn_node *parent, const char *ptr)
{
    rn_graph *g = calloc(1, sizeof *g);
    char **ptrs = NULL;     /* JSON pointer of each node, parallel to g->nodes */
    size_t cap = 0, n_ptrs = 0;

    if (!g) {
        c->nomem = 1;
        return NULL;
    }
    g->internal_name = xstrdup(c, internal_name);
    g->parent = parent;
    g->pos = pos_of(c, ptr, NULL);
    if (!g->internal_name)
        return g;

    char glabel[1024];
    if (internal_name[0])
        snprintf(glabel, sizeof glabel, "branch '%s'", internal_name);
    else
        snprintf(glabel, sizeof glabel, "the dag");
    who w = {glabel, ptr};

    if (!json_is_object(gj)) {
        report(c, g->pos, "%s must be a mapping with start_at and steps, not %s", glabel,
               json_kind(gj));
        goto terminals;
    }

    json_t *dj = json_object_get(gj, "description");
    if (dj && !json_is_null(dj) && !json_is_string(dj))
        report(c, pos_of(c, ptr, "description"), "%s: 'description' must be text, not %s; "
               "quote it", glabel, json_kind(dj));
    else if (json_is_string(dj))
        g->description = xstrdup(c, json_string_value(dj));
    get_text(c, &w, gj, "start_at", 0, "name the first step to run", &g->start_at);
    int b;
    if (get_bool(c, &w, gj, "stop_on_first_failure", &b) > 0)
        g->stop_on_first_failure = b;

    json_t *steps = json_object_get(gj, "steps");
    if (!steps || json_is_null(steps)) {
        report(c, g->pos, "%s has no 'steps'; add 'steps:' with at least one step", glabel);
    } else if (!json_is_object(steps) ||
               (json_object_size(steps) == 0 && !(c->partial && !parent))) {
        report(c, pos_of(c, ptr, "steps"), "%s: 'steps' must be a mapping of step name to "
               "step with at least one step, not %s", glabel,
               json_is_object(steps) ? "an empty mapping" : json_kind(steps));
    } else {
        char *sp = ptr_join(c, ptr, "steps");
        const char *name;
        json_t *nj;
        if (!(ptrs = calloc(json_object_size(steps) + 2, sizeof *ptrs)))
            c->nomem = 1;
        json_object_foreach(steps, name, nj) {
            if (!sp || c->nomem)
                break;
            char *np = ptr_join(c, sp, name);
            rn_node *n = np ? build_node(c, g, name, nj, np) : NULL;
            if (!n || graph_append(c, g, n, &cap) < 0) {
                free(np);
                break;
            }
            ptrs[n_ptrs++] = np;
        }
        free(sp);
    }

terminals:
    if (c->nomem)
        goto out;
    if (!ptrs && !(ptrs = calloc(2, sizeof *ptrs))) {
        c->nomem = 1;
        goto out;
    }
    add_terminal(c, g, "success", RN_NODE_SUCCESS, &cap);
    add_terminal(c, g, "fail", RN_NODE_FAIL, &cap);
    /* Implicit terminals have no text of their own: point at the graph. */
    while (n_ptrs < g->n_nodes && !c->nomem)
        ptrs[n_ptrs++] = xstrdup(c, ptr);
    if (c->nomem || index_build(g) < 0) {
        c->nomem = 1;
        goto out;
    }
    if (!json_is_object(gj))
        goto out;

    if (c->partial && !parent) {
        /* One step of the top level (rn_pipeline_load_step): what its
         * next, on_failure, depends_on and start_at name was left out, and
         * the graph is run only one step at a time. */
        g->partial = 1;
        goto out;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        if (uses_depends_on(g->nodes[i]))
            g->is_dag = 1;

    int missing = g->is_dag ? resolve_dag(c, g, ptrs, glabel)
                            : resolve_chained(c, g, ptrs, glabel);
    /* A cycle can only be judged once every edge leads somewhere. */
    if (!missing && !c->nomem)
        check_cycles(c, g, ptrs, glabel);

    if (g->start_at) {
        if (!(g->start = rn_graph_find(g, g->start_at)))
            report(c, pos_of(c, ptr, "start_at"), "%s: start_at names '%s', which is not a "
                   "step of this graph; name one of its steps", glabel, g->start_at);
    } else if (!g->is_dag && !json_object_get(gj, "start_at")) {
        report(c, g->pos, "%s has no 'start_at'; add 'start_at: <first step>'", glabel);
    }

out:
    for (size_t i = 0; i < n_ptrs; i++)
        free(ptrs[i]);
    free(ptrs);
    return g;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static int pipeline_from_document(const char *name, json_t *doc, json_t *positions,
                                  int partial, rn_task_check_fn check, void *check_data,
                                  rn_diag *diag, rn_pipeline **out)
{
    ctx c = {.file = name, .diag = diag, .positions = positions,
             .check = check, .check_data = check_data, .partial = partial};
    rn_pipeline *p = calloc(1, sizeof *p);
    size_t diag_from = diag->n;
    int rc = 0;

    if (!p || !(p->file = strdup(name))) {
        free(p);
        json_decref(doc);
        return rn_error_set(RN_ENOMEM, "out of memory loading %s", name);
    }
    p->document = doc;
    p->partial = partial;

    json_t *dag = json_is_object(doc) ? json_object_get(doc, "dag") : NULL;
    if (!json_is_object(doc)) {
        rn_pos at = pos_of(&c, "", NULL);
        report(&c, at, "the file must be a mapping with a top-level 'dag' key (start_at "
               "and steps under it), not %s", json_kind(doc));
    } else if (!dag) {
        rn_pos at = pos_of(&c, "", NULL);
        if (!at.line)
            at.line = at.col = 1;
        report(&c, at, "the file has no top-level 'dag' key; a pipeline file needs "
               "'dag:' with start_at and steps under it");
    } else {
        p->dag = build_graph(&c, dag, "", NULL, "/dag");
        if (!p->dag)
            c.nomem = 1;
    }

    rn_diag_sort_from(diag, diag_from);
    if (c.nomem) {
        rc = rn_error_set(RN_ENOMEM, "out of memory loading %s", name);
    } else if (c.errors) {
        rc = rn_error_set(RN_EINVAL, "%s: %zu problem%s in the pipeline", name, c.errors,
                          c.errors == 1 ? "" : "s");
    }
    if (rc < 0) {
        rn_pipeline_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

const json_t *rn_pipeline_dag_json(rn_pipeline *p)
{
    if (p->partial) {
        /* Never record a graph with steps missing as the run's. */
        rn_error_set(RN_EINVAL, "%s was loaded for one step only", p->file);
        return NULL;
    }
    if (!p->dag_json && !(p->dag_json = rn_dag_serialise(p->dag)))
        rn_error_set(RN_ENOMEM, "out of memory serialising %s", p->file);
    return p->dag_json;
}

const char *rn_pipeline_dag_hash(rn_pipeline *p)
{
    if (!p->dag_hash[0] && rn_pipeline_dag_json(p))
        rn_dag_hash(p->dag_json, p->dag_hash);
    return p->dag_hash;
}

int rn_pipeline_load_step(const char *path, const char *only_step, int flags,
                          rn_task_check_fn check, void *check_data, rn_diag *diag,
                          rn_pipeline **out)
{
    json_t *doc = NULL, *positions = NULL;
    int partial = 0, quick = (flags & RN_PL_QUICK) != 0;
    *out = NULL;
    int rc = rn_yaml_load_step(path, only_step, quick, &doc, &positions, diag, &partial);
    if (rc == RN_EIO)
        return rn_error_set(RN_ENOENT, "%s", rn_error_last());
    if (rc < 0)
        return rc;
    rc = pipeline_from_document(path, doc, positions, partial, check, check_data, diag, out);
    json_decref(positions);
    if (rc == 0)
        (*out)->quick = quick;
    return rc;
}

int rn_pipeline_load(const char *path, rn_task_check_fn check, void *check_data,
                     rn_diag *diag, rn_pipeline **out)
{
    return rn_pipeline_load_step(path, NULL, 0, check, check_data, diag, out);
}

int rn_pipeline_root_positions(rn_pipeline *p)
{
    if (!p->quick)
        return 0;
    json_t *doc = NULL, *positions = NULL;
    rn_diag d = {0};
    int rc = rn_yaml_load_step(p->file, NULL, 0, &doc, &positions, &d, NULL);
    rn_diag_free(&d);
    if (rc < 0)
        return rc;
    ctx c = {.file = p->file, .positions = positions};
    rn_graph *g = p->dag;
    g->pos = pos_of(&c, "/dag", NULL);
    char *sp = ptr_join(&c, "/dag", "steps");
    for (size_t i = 0; sp && i < g->n_nodes; i++) {
        rn_node *n = g->nodes[i];
        char *np = ptr_join(&c, sp, n->name);
        rn_pos at = np ? pos_of(&c, np, NULL) : (rn_pos){0, 0};
        /* Implicit terminals have no text: they point at the graph. */
        n->pos = at.line ? at : g->pos;
        free(np);
    }
    free(sp);
    json_decref(doc);
    json_decref(positions);
    if (c.nomem)
        return rn_error_set(RN_ENOMEM, "out of memory");
    p->quick = 0;
    return 0;
}

int rn_pipeline_load_string(const char *text, size_t len, const char *name,
                            rn_task_check_fn check, void *check_data, rn_diag *diag,
                            rn_pipeline **out)
{
    json_t *doc = NULL, *positions = NULL;
    *out = NULL;
    int rc = rn_yaml_load_string(text, len, name, &doc, &positions, diag);
    if (rc < 0)
        return rc;
    rc = pipeline_from_document(name, doc, positions, 0, check, check_data, diag, out);
    json_decref(positions);
    return rc;
}

/* The branch of composite `n` called `seg` in internal names. */
static rn_graph *branch_by_segment(const rn_node *n, const char *seg, size_t len)
{
    switch (n->type) {
    case RN_NODE_MAP:
        if (len == strlen(MAP_PLACEHOLDER) && !strncmp(seg, MAP_PLACEHOLDER, len))
            return n->branch;
        return NULL;
    case RN_NODE_LOOP:
        if (len == strlen(LOOP_PLACEHOLDER) && !strncmp(seg, LOOP_PLACEHOLDER, len))
            return n->branch;
        return NULL;
    case RN_NODE_PARALLEL:
    case RN_NODE_CONDITIONAL:
        for (size_t i = 0; i < n->n_branches; i++)
            if (strlen(n->branch_keys[i]) == len && !strncmp(n->branch_keys[i], seg, len))
                return n->branches[i];
        if (n->default_graph && len == 7 && !strncmp(seg, "default", 7))
            return n->default_graph;
        return NULL;
    default:
        return NULL;
    }
}

rn_node *rn_pipeline_find(const rn_pipeline *p, const char *internal_name)
{
    if (!p || !p->dag || !internal_name)
        return NULL;
    const rn_graph *g = p->dag;
    const char *s = internal_name;
    char name[1024];

    /* Segments alternate step / branch / step ... and end on a step. */
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len >= sizeof name)
            return NULL;
        memcpy(name, s, len);
        name[len] = '\0';
        rn_node *n = rn_graph_find(g, name);
        if (!n || !dot)
            return n;
        const char *bseg = dot + 1;
        const char *bdot = strchr(bseg, '.');
        if (!bdot)
            return NULL;
        if (!(g = branch_by_segment(n, bseg, (size_t)(bdot - bseg))))
            return NULL;
        s = bdot + 1;
    }
}

rn_graph *rn_conditional_choose(const rn_node *n, const char *value, const char **key)
{
    for (size_t i = 0; i < n->n_branches; i++)
        if (strcmp(n->branch_keys[i], value) == 0) {
            *key = n->branch_keys[i];
            return n->branches[i];
        }
    *key = "default";
    return n->default_graph;
}
