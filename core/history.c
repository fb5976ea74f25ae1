/*
 * Run history (docs/runs.md).  Reading 10,000 run logs to list them would
 * cost as much as the logs weigh, so every run leaves a small summary in
 * its store (run-log-store ops version 3) when it starts and when it ends;
 * listing reads summaries, and only runs without one (written by runnable,
 * or a store without summaries) have their log read and summarised here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "history.h"
#include "spawn.h"

const char rn_history_sort_fields[] =
    "started, ended, duration, run_id, status, tag, pipeline, steps, failed";

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* Every distinct step name of a graph, at any depth: what --search
 * matches (internal names of map iterations would be unbounded). */
static void collect_names(const rn_graph *g, json_t *seen, json_t *out)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const rn_node *n = g->nodes[i];
        if (n->type != RN_NODE_SUCCESS && n->type != RN_NODE_FAIL &&
            !json_object_get(seen, n->name)) {
            json_object_set_new(seen, n->name, json_true());
            json_array_append_new(out, json_string(n->name));
        }
        for (size_t b = 0; b < n->n_branches; b++)
            collect_names(n->branches[b], seen, out);
        collect_names(n->branch, seen, out);
        collect_names(n->default_graph, seen, out);
    }
}

void rn_history_put(rn_engine *e, int ended)
{
    rn_provider *store = e->svc[RN_SVC_RUN_LOG_STORE];
    const rn_run_log_store_ops *so = store ? store->ops : NULL;
    if (!so || so->version < 3 || !so->put_summary || !so->list_runs)
        return;
    const char *status = json_string_value(json_object_get(e->runlog, "status"));
    char now[40];
    rn_timestamp(now, sizeof now);
    json_t *names = json_array(), *seen = json_object();
    collect_names(e->pipeline->dag, seen, names);
    json_decref(seen);
    int total = e->leaves_estimate > e->leaves_known ? e->leaves_estimate : e->leaves_known;
    if (total < e->leaves_done)
        total = e->leaves_done;
    json_t *s = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:i, s:s, s:s, s:o}", "run_id",
        e->run_id, "status", status ? status : "PROCESSING", "tag", e->tag, "pipeline",
        e->pipeline->file, "description", e->pipeline->dag->description
                                              ? e->pipeline->dag->description : "",
        "started", e->started, "ended", ended ? json_string(now) : json_null(),
        "duration_seconds", ended ? json_real(rn_mono_now() - e->t_start) : json_null(),
        "steps_done", ended ? e->leaves_done : 0, "steps_total", total, "steps_failed",
        ended ? e->steps_failed : 0, "failed_step", e->first_failed ? e->first_failed : "",
        "dag_hash", rn_pipeline_dag_hash(e->pipeline), "step_names", names);
    if (!s) {
        rn_engine_log(e, 30, "run %s: cannot build its summary (out of memory)", e->run_id);
        return;
    }
    if (e->retrying)
        json_object_set_new(s, "retried", json_true());
    if (so->put_summary(store->self, e->run_id, s) < 0)
        rn_engine_log(e, 30, "run %s: its summary for `runnable runs` was not stored: %s",
                      e->run_id, rn_error_last());
    json_decref(s);
}

/* ------------------------------------------------------------------ */
/* Summaries of run logs without one                                   */
/* ------------------------------------------------------------------ */

typedef struct walk {
    const char *first, *last;   /* earliest attempt start, latest end */
    int done, total, failed;
    const char *failed_step;
    json_t *seen, *names;
} walk;

static void walk_steps(walk *w, const json_t *steps)
{
    const char *key;
    json_t *st;
    json_object_foreach((json_t *)steps, key, st) {
        const char *type = json_string_value(json_object_get(st, "step_type"));
        const char *status = json_string_value(json_object_get(st, "status"));
        const char *name = json_string_value(json_object_get(st, "name"));
        int leaf = !json_object_size(json_object_get(st, "branches")) && type &&
                   strcmp(type, "parallel") && strcmp(type, "map") &&
                   strcmp(type, "conditional") && strcmp(type, "loop");
        if (leaf) {
            w->total++;
            if (status && strcmp(status, "PROCESSING") && strcmp(status, "CREATED"))
                w->done++;
        }
        if (status && strcmp(status, "FAIL") == 0) {
            w->failed++;
            if (leaf && !w->failed_step)
                w->failed_step = key;
        }
        if (name && type && strcmp(type, "success") && strcmp(type, "fail") &&
            !json_object_get(w->seen, name)) {
            json_object_set_new(w->seen, name, json_true());
            json_array_append_new(w->names, json_string(name));
        }
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(st, "attempts"), i, a) {
            const char *t0 = json_string_value(json_object_get(a, "start_time"));
            const char *t1 = json_string_value(json_object_get(a, "end_time"));
            if (t0 && (!w->first || strcmp(t0, w->first) < 0))
                w->first = t0;
            if (t1 && (!w->last || strcmp(t1, w->last) > 0))
                w->last = t1;
        }
        const char *bk;
        json_t *b;
        json_object_foreach(json_object_get(st, "branches"), bk, b)
            walk_steps(w, json_object_get(b, "steps"));
    }
}

double rn_history_ts_seconds(const char *ts)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = ts ? strptime(ts, "%Y-%m-%d %H:%M:%S", &tm) : NULL;
    if (!rest)
        return -1;
    tm.tm_isdst = -1;
    double frac = *rest == '.' ? atof(rest) : 0;
    return (double)mktime(&tm) + frac;
}

json_t *rn_history_from_log(const char *run_id, const json_t *runlog)
{
    walk w = {0};
    w.seen = json_object();
    w.names = json_array();
    walk_steps(&w, json_object_get(runlog, "steps"));
    const json_t *rc = json_object_get(runlog, "run_config");
    const char *status = json_string_value(json_object_get(runlog, "status"));
    const char *tag = json_string_value(json_object_get(runlog, "tag"));
    const char *file = json_string_value(json_object_get(rc, "pipeline_definition_file"));
    const char *desc = json_string_value(
        json_object_get(json_object_get(rc, "dag"), "description"));
    int over = status && strcmp(status, "PROCESSING") != 0;
    double t0 = rn_history_ts_seconds(w.first), t1 = rn_history_ts_seconds(w.last);
    json_t *s = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:i, s:i, s:s, s:s, s:o, s:b}",
        "run_id", run_id, "status", status ? status : "PROCESSING", "tag", tag ? tag : "",
        "pipeline", file ? file : "", "description", desc ? desc : "", "started",
        w.first ? json_string(w.first) : json_null(), "ended",
        over && w.last ? json_string(w.last) : json_null(), "duration_seconds",
        over && t0 >= 0 && t1 >= t0 ? json_real(t1 - t0) : json_null(), "steps_done", w.done,
        "steps_total", w.total, "steps_failed", w.failed, "failed_step",
        w.failed_step ? w.failed_step : "", "dag_hash",
        json_string_value(json_object_get(runlog, "dag_hash"))
            ? json_string_value(json_object_get(runlog, "dag_hash")) : "",
        "step_names", w.names, "from_log", 1);
    json_decref(w.seen);
    return s;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

int rn_history_parse_time(const char *text, const char *now, char out[40])
{
    size_t n = strlen(text);
    char unit = n ? text[n - 1] : 0;
    char *end = NULL;
    double amount = n > 1 ? strtod(text, &end) : -1;
    if (n > 1 && end == text + n - 1 && amount >= 0 && strchr("smhdw", unit)) {
        /* Relative: that long before `now`. */
        static const struct { char u; double s; } units[] = {
            {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
        double secs = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (units[i].u == unit)
                secs = amount * units[i].s;
        double base = rn_history_ts_seconds(now);
        if (base < 0)
            return rn_error_set(RN_EINVAL, "cannot read the current time '%s'", now);
        time_t t = (time_t)(base - secs);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
        return 0;
    }
    /* Absolute: a date, optionally with hours and minutes (and seconds). */
    static const char *const forms[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                                        "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(text, forms[i], &tm);
        if (rest && !*rest) {
            strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
            return 0;
        }
    }
    return rn_error_set(RN_EINVAL, "'%s' is not a time: use a date (2026-12-01), a date and "
                        "time (2026-12-01 14:30), or a time ago (30m, 2h, 7d)", text);
}

typedef struct lister {
    const rn_provider *store;
    const rn_history_query *q;
    json_t *out;
    char since[40], until[40];
    int rc;
} lister;

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int matches(const lister *L, const json_t *s)
{
    const rn_history_query *q = L->q;
    const char *status = json_string_value(json_object_get(s, "status"));
    const char *started = json_string_value(json_object_get(s, "started"));
    const char *tag = json_string_value(json_object_get(s, "tag"));
    if (q->status && (!status || strcasecmp(status, q->status) != 0))
        return 0;
    if (q->tag && (!tag || strcmp(tag, q->tag) != 0))
        return 0;
    if (L->since[0] && (!started || strcmp(started, L->since) < 0))
        return 0;
    if (L->until[0] && (!started || strcmp(started, L->until) > 0))
        return 0;
    if (q->search) {
        if (contains(json_string_value(json_object_get(s, "run_id")), q->search) ||
            contains(tag, q->search))
            return 1;
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(s, "step_names"), i, n)
            if (contains(json_string_value(n), q->search))
                return 1;
        return 0;
    }
    return 1;
}

static int visit(const char *run_id, const json_t *summary, void *data)
{
    lister *L = data;
    json_t *s = NULL;
    if (summary) {
        s = json_incref((json_t *)summary);
    } else {
        /* No summary: the run log itself (a run of another engine). */
        const rn_run_log_store_ops *so = L->store->ops;
        json_t *doc = NULL;
        if (so->get_run(L->store->self, run_id, &doc) < 0)
            return 0; /* not a run (or unreadable): not listed */
        s = rn_history_from_log(run_id, doc);
        json_decref(doc);
        if (!s)
            return L->rc = rn_error_set(RN_ENOMEM, "out of memory");
    }
    if (matches(L, s))
        json_array_append(L->out, s);
    json_decref(s);
    return 0;
}

typedef struct sort_by {
    const char *key;
    int desc;
} sort_by;

static int cmp_values(const json_t *a, const json_t *b)
{
    if (!a || json_is_null(a))
        return b && !json_is_null(b) ? -1 : 0;
    if (!b || json_is_null(b))
        return 1;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    const char *x = json_string_value(a), *y = json_string_value(b);
    return strcmp(x ? x : "", y ? y : "");
}

static int cmp_runs(const void *pa, const void *pb, void *by)
{
    const sort_by *sb = by;
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    int c = cmp_values(json_object_get(a, sb->key), json_object_get(b, sb->key));
    if (c == 0) /* stable and total: newest first, then by id */
        c = cmp_values(json_object_get(a, "started"), json_object_get(b, "started"));
    if (c == 0)
        c = cmp_values(json_object_get(a, "run_id"), json_object_get(b, "run_id"));
    return sb->desc ? -c : c;
}

/* --sort names a column; the summary field behind it. */
static const char *sort_field(const char *name)
{
    static const struct { const char *name, *field; } map[] = {
        {"started", "started"}, {"ended", "ended"}, {"duration", "duration_seconds"},
        {"run_id", "run_id"}, {"id", "run_id"}, {"status", "status"}, {"tag", "tag"},
        {"pipeline", "pipeline"}, {"steps", "steps_total"}, {"failed", "steps_failed"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].field;
    return NULL;
}

int rn_history_list(const rn_provider *store, const rn_history_query *q, json_t **out)
{
    *out = NULL;
    const rn_run_log_store_ops *so = store->ops;
    if (so->version < 3 || !so->list_runs)
        return rn_error_set(RN_EUNSUPPORTED, "this run-log store keeps no run history to "
                            "list (buffered holds runs in memory only); configure file-system "
                            "or chunked-fs");
    const char *sort = q->sort && *q->sort ? q->sort : "-started";
    int desc = sort[0] == '-';
    const char *field = sort_field(desc ? sort + 1 : sort);
    if (!field)
        return rn_error_set(RN_EINVAL, "cannot sort by '%s'; use one of: %s (a leading '-' "
                            "sorts in descending order)", desc ? sort + 1 : sort,
                            rn_history_sort_fields);
    lister L = {.store = store, .q = q, .out = json_array()};
    char now[40];
    rn_timestamp(now, sizeof now);
    if ((q->since && rn_history_parse_time(q->since, now, L.since) < 0) ||
        (q->until && rn_history_parse_time(q->until, now, L.until) < 0)) {
        json_decref(L.out);
        return RN_EINVAL;
    }
    /* --until a date means through that day. */
    if (q->until && strlen(q->until) == 10)
        snprintf(L.until + 10, sizeof L.until - 10, " 23:59:59.999999");
    int rc = so->list_runs(store->self, visit, &L);
    if (rc == 0 && L.rc)
        rc = L.rc;
    if (rc < 0) {
        json_decref(L.out);
        return rc;
    }
    size_t n = json_array_size(L.out);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        json_decref(L.out);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(L.out, i);
    sort_by sb = {field, desc};
    qsort_r(v, n, sizeof *v, cmp_runs, &sb);
    json_t *sorted = json_array();
    size_t keep = q->limit > 0 && (size_t)q->limit < n ? (size_t)q->limit : n;
    for (size_t i = 0; i < keep; i++)
        json_array_append(sorted, v[i]);
    free(v);
    json_decref(L.out);
    *out = sorted;
    return 0;
}
