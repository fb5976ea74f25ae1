/* The run log flattened into timeline rows (timeline.h): every attempt of
 * every leaf step at any depth, composites as groups spanning their
 * branches, all on one axis starting at the run's first attempt. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeline.h"

int64_t rn_tl_parse_time(const char *s)
{
    /* mktime is slow-ish (time zone rules) and a big map has thousands of
     * timestamps within the same hour: remember the last hour's epoch. */
    static int last_ymdh[4] = {-1, -1, -1, -1};
    static int64_t last_base;
    int y, mo, d, h, mi, sec, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    int64_t frac = 0;
    const char *p = s + used;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        for (; digits < 6; digits++)
            frac *= 10;
    }
    if (*p != '\0')
        return -1;
    if (!(last_ymdh[0] == y && last_ymdh[1] == mo && last_ymdh[2] == d && last_ymdh[3] == h)) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                        .tm_isdst = -1};
        time_t t = mktime(&tm);
        if (t == (time_t)-1)
            return -1;
        last_base = (int64_t)t;
        last_ymdh[0] = y, last_ymdh[1] = mo, last_ymdh[2] = d, last_ymdh[3] = h;
    }
    return (last_base + mi * 60 + sec) * 1000000 + frac;
}

void rn_tl_fmt_us(char *out, size_t n, int64_t us)
{
    if (us < 0)
        snprintf(out, n, "-");
    else if (us < 1000)
        snprintf(out, n, "%lld us", (long long)us);
    else if (us < 999500) /* above, %.3g would round to "1e+03 ms" */
        snprintf(out, n, "%.3g ms", (double)us / 1e3);
    else if (us < 60 * 1000000LL)
        snprintf(out, n, "%.3f s", (double)us / 1e6);
    else if (us < 3600 * 1000000LL)
        snprintf(out, n, "%lldm%02llds", (long long)(us / 60000000),
                 (long long)(us / 1000000 % 60));
    else
        snprintf(out, n, "%lldh%02lldm", (long long)(us / 3600000000LL),
                 (long long)(us / 60000000 % 60));
}

/* ------------------------------------------------------------------ */

typedef struct builder {
    rn_tl *tl;
    int64_t now;
    int oom;
    size_t branch_idx; /* of the scope being added */
} builder;

static rn_tl_row *add_row(builder *b)
{
    rn_tl *tl = b->tl;
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 64;
        rn_tl_row *r = realloc(tl->rows, cap * sizeof *r);
        if (!r) {
            b->oom = 1;
            return NULL;
        }
        tl->rows = r;
        tl->cap = cap;
    }
    rn_tl_row *r = &tl->rows[tl->n++];
    memset(r, 0, sizeof *r);
    r->branch_idx = b->branch_idx;
    r->start = r->end = -1;
    r->attempt = 1;
    return r;
}

static const char *sv(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static char *join_key(const char *prefix, const char *name)
{
    size_t lp = prefix ? strlen(prefix) : 0, ln = strlen(name);
    char *k = malloc(lp + ln + 2);
    if (!k)
        return NULL;
    if (lp) {
        memcpy(k, prefix, lp);
        k[lp] = '.';
        memcpy(k + lp + 1, name, ln + 1);
    } else {
        memcpy(k, name, ln + 1);
    }
    return k;
}

static int is_composite(const char *type)
{
    return !strcmp(type, "parallel") || !strcmp(type, "map") || !strcmp(type, "conditional") ||
           !strcmp(type, "loop");
}

/* The step's own name: "name", else the last segment of its key. */
static const char *short_name(const char *key, const json_t *st)
{
    const char *n = sv(st, "name");
    if (*n)
        return n;
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* One scope (the root's steps or a branch's): rows for every step in log
 * order, which is the order they ran in.  `est` is the earliest time
 * anything here may have started (-1: unknown), for open bars of steps
 * the log does not yet give a start. */
/* `parent` is the enclosing composite's internal name ("" at the root):
 * labels drop it, since the tree already shows it. */
static const char *label_of(const char *name, const char *parent)
{
    size_t pl = strlen(parent);
    return pl && strncmp(name, parent, pl) == 0 && name[pl] == '.' ? name + pl + 1 : name;
}

/* A new attempt row of step `name`.  The step's first row takes `gkey`
 * over (*first is then cleared), later ones a copy; NULL when out of
 * memory, after freeing `gkey` if no row took it. */
static rn_tl_row *attempt_row(builder *b, int depth, const char *name, const char *parent,
                              const char *type, char *gkey, int *first)
{
    rn_tl_row *r = add_row(b);
    if (!r) {
        if (*first)
            free(gkey);
        return NULL;
    }
    r->kind = RN_TL_ATTEMPT;
    r->depth = depth;
    r->name = name;
    r->label = label_of(name, parent);
    r->type = type;
    r->graph_key = *first ? gkey : strdup(gkey);
    *first = 0;
    if (!r->graph_key)
        b->oom = 1;
    return r;
}

static void add_scope(builder *b, const json_t *steps, int depth, const char *gprefix,
                      int64_t est, size_t branch_idx, const char *parent)
{
    int64_t last_end = est;
    b->branch_idx = branch_idx;
    const char *key;
    json_t *st;
    json_object_foreach((json_t *)steps, key, st) {
        if (b->oom)
            return;
        const char *type = sv(st, "step_type");
        const char *name = *sv(st, "internal_name") ? sv(st, "internal_name") : key;
        const char *status = sv(st, "status");
        const json_t *branches = json_object_get(st, "branches");
        char *gkey = join_key(gprefix, short_name(key, st));
        if (!gkey) {
            b->oom = 1;
            return;
        }
        if (is_composite(type) || json_object_size(branches)) {
            rn_tl_row *g = add_row(b);
            if (!g) {
                free(gkey);
                return;
            }
            size_t gi = b->tl->n - 1;
            g->kind = RN_TL_GROUP;
            g->depth = depth;
            g->name = name;
            g->label = label_of(name, parent);
            g->type = type;
            g->status = b->tl->running && !strcmp(status, "PROCESSING") ? "RUNNING" : status;
            g->graph_key = gkey;
            g->first_child = gi + 1;
            /* map and loop iterations are one branch of the graph */
            int iterated = !strcmp(type, "map") || !strcmp(type, "loop");
            size_t nl = strlen(name);
            const char *bk;
            json_t *br;
            size_t nb = 0;
            json_object_foreach((json_t *)branches, bk, br) {
                const char *bname = *sv(br, "internal_name") ? sv(br, "internal_name") : bk;
                const char *rel = strncmp(bname, name, nl) == 0 && bname[nl] == '.'
                                      ? bname + nl + 1 : bname;
                char *bkey = join_key(gkey, iterated ? "*" : rel);
                if (!bkey) {
                    b->oom = 1;
                    return;
                }
                add_scope(b, json_object_get(br, "steps"), depth + 1, bkey, last_end, nb++,
                          name);
                b->branch_idx = branch_idx;
                free(bkey);
                if (b->oom)
                    return;
            }
            g = &b->tl->rows[gi]; /* rows may have moved */
            g->n_desc = b->tl->n - gi - 1;
            g->n_branches = nb;
            for (size_t i = gi + 1; i < b->tl->n; i++) {
                const rn_tl_row *r = &b->tl->rows[i];
                if (r->start >= 0 && (g->start < 0 || r->start < g->start))
                    g->start = r->start;
                if (r->end > g->end)
                    g->end = r->end;
                if (r->open)
                    g->open = 1;
            }
            if (g->end > last_end)
                last_end = g->end;
            continue;
        }

        const json_t *attempts = json_object_get(st, "attempts");
        size_t na = json_array_size(attempts);
        int running = b->tl->running && !strcmp(status, "PROCESSING");
        /* A retry in progress: its attempt is not in the log yet. */
        const json_t *lastatt = na ? json_array_get(attempts, na - 1) : NULL;
        int add_open = running && (!lastatt || *sv(lastatt, "end_time"));
        size_t i;
        json_t *a;
        int first = 1;
        json_array_foreach(attempts, i, a) {
            rn_tl_row *r = attempt_row(b, depth, name, parent, type, gkey, &first);
            if (!r)
                return;
            r->att = a;
            json_int_t an = json_integer_value(json_object_get(a, "attempt_number"));
            r->attempt = an > 0 ? (int)an : (int)i + 1;
            r->n_attempts = (int)na + add_open;
            r->status = sv(a, "status");
            r->start = rn_tl_parse_time(sv(a, "start_time"));
            r->end = rn_tl_parse_time(sv(a, "end_time"));
            if (r->start < 0)
                r->start = r->end >= 0 ? r->end : (last_end >= 0 ? last_end : b->now);
            if (r->end < 0) {
                /* started, not ended: running, or cut short by a crash */
                r->end = running ? b->now : r->start;
                r->open = running;
                if (running)
                    r->status = "RUNNING";
            }
            if (r->end < r->start)
                r->end = r->start;
            if (r->end > last_end)
                last_end = r->end;
        }
        if (add_open) {
            rn_tl_row *r = attempt_row(b, depth, name, parent, type, gkey, &first);
            if (!r)
                return;
            r->attempt = (int)na + 1;
            r->n_attempts = (int)na + 1;
            r->status = "RUNNING";
            r->open = 1;
            r->estimated_start = 1;
            r->start = last_end >= 0 && last_end <= b->now ? last_end : b->now;
            r->end = b->now;
        }
        if (first)
            free(gkey); /* a step with nothing to draw (aborted, never ran) */
    }
}

/* Lanes: rows of one kind sorted by start, each in the lowest lane whose
 * last row ended by then, so no two overlapping rows share one (a Chrome
 * trace thread must hold properly nested slices only). */
static int by_start(const void *x, const void *y)
{
    const rn_tl_row *a = *(rn_tl_row *const *)x, *b = *(rn_tl_row *const *)y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int assign_lanes(rn_tl *tl, rn_tl_kind kind, int *n_lanes)
{
    rn_tl_row **order = malloc((tl->n ? tl->n : 1) * sizeof *order);
    int64_t *lane_end = malloc((tl->n ? tl->n : 1) * sizeof *lane_end);
    if (!order || !lane_end) {
        free(order);
        free(lane_end);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < tl->n; i++)
        if (tl->rows[i].kind == kind && tl->rows[i].start >= 0)
            order[k++] = &tl->rows[i];
    qsort(order, k, sizeof *order, by_start);
    int lanes = 0;
    for (size_t i = 0; i < k; i++) {
        int l = 0;
        while (l < lanes && lane_end[l] > order[i]->start)
            l++;
        if (l == lanes)
            lanes++;
        lane_end[l] = order[i]->end;
        order[i]->lane = l;
    }
    *n_lanes = lanes;
    free(order);
    free(lane_end);
    return 0;
}

int rn_tl_build(rn_tl *tl, const char *run_id, const json_t *doc, int64_t now_us)
{
    memset(tl, 0, sizeof *tl);
    tl->doc = doc;
    tl->run_id = run_id;
    tl->status = sv(doc, "status");
    tl->running = !strcmp(tl->status, "PROCESSING");
    builder b = {.tl = tl, .now = now_us};
    add_scope(&b, json_object_get(doc, "steps"), 0, NULL, -1, 0, "");
    if (b.oom)
        return -1;

    int64_t t0 = -1, t1 = -1;
    for (size_t i = 0; i < tl->n; i++) {
        const rn_tl_row *r = &tl->rows[i];
        if (r->kind != RN_TL_ATTEMPT)
            continue;
        tl->n_attempts++;
        if (r->start >= 0 && (t0 < 0 || r->start < t0)) {
            t0 = r->start;
            tl->started = r->att ? sv(r->att, "start_time") : NULL;
        }
        if (r->end > t1)
            t1 = r->end;
    }
    if (t0 < 0)
        t0 = t1 = now_us;
    tl->t0_us = t0;
    tl->span = t1 - t0 > 0 ? t1 - t0 : 1;
    for (size_t i = 0; i < tl->n; i++) {
        rn_tl_row *r = &tl->rows[i];
        if (r->start >= 0)
            r->start -= t0;
        if (r->end >= 0)
            r->end -= t0;
    }
    if (assign_lanes(tl, RN_TL_ATTEMPT, &tl->lanes) < 0 ||
        assign_lanes(tl, RN_TL_GROUP, &tl->group_lanes) < 0)
        return -1;
    return 0;
}

void rn_tl_free(rn_tl *tl)
{
    for (size_t i = 0; i < tl->n; i++)
        free((char *)tl->rows[i].graph_key);
    free(tl->rows);
    memset(tl, 0, sizeof *tl);
}
