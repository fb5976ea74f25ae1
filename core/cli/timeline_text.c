/* The text timeline: a Gantt chart of rows, one bar per attempt and one
 * span per composite, scaled to the width the caller gives (the terminal's,
 * or a fixed one on a pipe).  Plain ASCII so that it reads the same in a
 * log file, a CI page or a terminal; colour only adds to it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

/* Iterations shown of a map or loop before the rest are folded into one
 * row: a 10,000-item map must not print 10,000 lines by default. */
enum { FOLD_FIRST = 3, FOLD_OVER = 6 };

typedef struct text {
    FILE *out;
    const rn_tl *tl;
    const rn_tl_text_opts *o;
    int name_w, att_w, bar_w;
    int folded; /* something was folded: say how to see it */
} text;

static const char *colour_of(const char *status, rn_tl_kind kind)
{
    if (!strcmp(status, "FAIL"))
        return "\033[31m";
    if (!strcmp(status, "RUNNING") || !strcmp(status, "PROCESSING"))
        return "\033[33m";
    return kind == RN_TL_GROUP ? "\033[36m" : "\033[32m";
}

static int is_iterated(const rn_tl_row *r)
{
    return r->kind == RN_TL_GROUP && (!strcmp(r->type, "map") || !strcmp(r->type, "loop"));
}

static int hidden(const text *t, const rn_tl_row *r)
{
    /* success steps end every branch and take no time: noise in a chart */
    return !t->o->all && r->kind == RN_TL_ATTEMPT && !strcmp(r->type, "success");
}

/* The label as drawn: indented, composites with their type. */
static void label_of(char *buf, size_t n, const rn_tl_row *r)
{
    if (r->kind == RN_TL_GROUP)
        snprintf(buf, n, "%*s%s [%s]", r->depth * 2, "", r->label, r->type);
    else
        snprintf(buf, n, "%*s%s", r->depth * 2, "", r->label);
}

/* Columns of the bar area that [start, end] covers: at least one, so that
 * a 1 ms step among minutes is still seen. */
static void bar_cols(const text *t, int64_t start, int64_t end, int *a, int *b)
{
    double scale = (double)t->bar_w / (double)t->tl->span;
    *a = (int)((double)start * scale);
    *b = (int)((double)end * scale + 0.999);
    if (*a >= t->bar_w)
        *a = t->bar_w - 1;
    if (*b > t->bar_w)
        *b = t->bar_w;
    if (*b <= *a)
        *b = *a + 1;
}

static void put_bar(const text *t, int a, int b, char fill, char first, char last,
                    const char *colour)
{
    FILE *out = t->out;
    fputc('|', out);
    for (int i = 0; i < a; i++)
        fputc(' ', out);
    if (t->o->colour)
        fputs(colour, out);
    for (int i = a; i < b; i++) {
        char c = fill;
        if (i == a && first)
            c = first;
        else if (i == b - 1 && last)
            c = last;
        fputc(c, out);
    }
    if (t->o->colour)
        fputs("\033[0m", out);
    for (int i = b; i < t->bar_w; i++)
        fputc(' ', out);
    fputs("|\n", out);
}

static void put_cols(const text *t, const char *label, const char *att, const char *status,
                     int64_t dur)
{
    char d[32];
    rn_tl_fmt_us(d, sizeof d, dur);
    int len = (int)strlen(label);
    if (len > t->name_w)
        /* cut long names at the end: the indentation and the start of
         * the name are what place the row in the tree */
        fprintf(t->out, "%.*s.. ", t->name_w - 2, label);
    else
        fprintf(t->out, "%-*s ", t->name_w, label);
    if (t->att_w)
        fprintf(t->out, "%*s ", t->att_w, att);
    fprintf(t->out, "%-7s %9s ", status, d);
}

static void put_row(text *t, const rn_tl_row *r)
{
    char label[512], att[32] = "";
    label_of(label, sizeof label, r);
    if (r->kind == RN_TL_ATTEMPT && r->n_attempts > 1)
        snprintf(att, sizeof att, "%d/%d", r->attempt, r->n_attempts);
    int64_t dur = r->start >= 0 ? r->end - r->start : -1;
    put_cols(t, label, att, r->status, dur);
    if (r->start < 0) { /* a composite nothing of which ran */
        put_bar(t, 0, 0, ' ', 0, 0, "");
        return;
    }
    int a, b;
    bar_cols(t, r->start, r->end, &a, &b);
    const char *colour = colour_of(r->status, r->kind);
    if (r->kind == RN_TL_GROUP)
        put_bar(t, a, b, '-', b - a > 1 ? '[' : 0, r->open ? '>' : ']', colour);
    else if (!strcmp(r->status, "FAIL"))
        put_bar(t, a, b, 'x', 0, 0, colour);
    else
        put_bar(t, a, b, '=', 0, r->open ? '>' : 0, colour);
}

static void emit(text *t, size_t from, size_t to);

/* A branch "matters" when it failed or is still running: never folded. */
static int branch_matters(const rn_tl *tl, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (!strcmp(tl->rows[i].status, "FAIL") || tl->rows[i].open)
            return 1;
    return 0;
}

/* The rows of a map/loop's branches, all but a few folded into one row. */
static void emit_iterations(text *t, const rn_tl_row *g, size_t from, size_t to)
{
    const rn_tl *tl = t->tl;
    size_t folded = 0, att = 0, failed = 0;
    int64_t s = -1, e = -1;
    size_t i = from;
    while (i < to) {
        /* one branch: rows up to the next direct child of another branch */
        size_t bi = tl->rows[i].branch_idx, j = i + 1;
        while (j < to && !(tl->rows[j].depth == g->depth + 1 && tl->rows[j].branch_idx != bi))
            j++;
        if (bi < FOLD_FIRST || bi + 1 == g->n_branches || branch_matters(tl, i, j)) {
            emit(t, i, j);
        } else {
            folded++;
            for (size_t k = i; k < j; k++) {
                const rn_tl_row *r = &tl->rows[k];
                if (r->kind != RN_TL_ATTEMPT || r->start < 0 || hidden(t, r))
                    continue;
                att++;
                failed += !strcmp(r->status, "FAIL");
                if (s < 0 || r->start < s)
                    s = r->start;
                if (r->end > e)
                    e = r->end;
            }
        }
        i = j;
    }
    if (!folded)
        return;
    t->folded = 1;
    char label[256];
    snprintf(label, sizeof label, "%*s(%zu more iterations, %zu attempts)", (g->depth + 1) * 2,
             "", folded, att);
    put_cols(t, label, "", failed ? "FAIL" : "SUCCESS", s >= 0 ? e - s : -1);
    int a = 0, b = 0;
    if (s >= 0)
        bar_cols(t, s, e, &a, &b);
    put_bar(t, a, b, '.', 0, 0, "\033[2m");
}

static void emit(text *t, size_t from, size_t to)
{
    const rn_tl *tl = t->tl;
    for (size_t i = from; i < to; i++) {
        const rn_tl_row *r = &tl->rows[i];
        if (r->kind == RN_TL_GROUP) {
            put_row(t, r);
            size_t end = r->first_child + r->n_desc;
            if (!t->o->all && is_iterated(r) && r->n_branches > FOLD_OVER)
                emit_iterations(t, r, r->first_child, end);
            else
                emit(t, r->first_child, end);
            i = end - 1;
        } else if (!hidden(t, r)) {
            put_row(t, r);
        }
    }
}

/* Phrases joined by two spaces, a new line where the next would not fit:
 * the header and legend keep to the width like the rows. */
static void put_phrases(FILE *out, int width, const char *const *p, int n)
{
    int col = 0;
    for (int i = 0; i < n; i++) {
        if (!p[i] || !*p[i])
            continue;
        int len = (int)strlen(p[i]);
        if (col && col + 2 + len > width) {
            fputc('\n', out);
            col = 0;
        }
        fprintf(out, "%s%s", col ? "  " : "", p[i]);
        col += (col ? 2 : 0) + len;
    }
    fputc('\n', out);
}

/* "0 s", the middle and the end of the axis over the bar area. */
static void put_axis(const text *t, int lead)
{
    char mid[32], end[32];
    rn_tl_fmt_us(mid, sizeof mid, t->tl->span / 2);
    rn_tl_fmt_us(end, sizeof end, t->tl->span);
    char *line = malloc((size_t)t->bar_w + 3);
    if (!line)
        return;
    memset(line, ' ', (size_t)t->bar_w + 2);
    line[t->bar_w + 2] = '\0';
    line[0] = '0';
    int ml = (int)strlen(mid), el = (int)strlen(end);
    int mpos = 1 + t->bar_w / 2 - ml / 2;
    if (mpos > 3 && mpos + ml < t->bar_w - el)
        memcpy(line + mpos, mid, (size_t)ml);
    if (el < t->bar_w)
        memcpy(line + t->bar_w + 2 - el, end, (size_t)el);
    fprintf(t->out, "%*s%s\n", lead, "", line);
    free(line);
}

int rn_tl_write_text(FILE *out, const rn_tl *tl, const rn_tl_text_opts *o)
{
    text t = {.out = out, .tl = tl, .o = o};
    int name_w = 4, any_retry = 0;
    size_t steps = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const rn_tl_row *r = &tl->rows[i];
        char label[512];
        label_of(label, sizeof label, r);
        if ((int)strlen(label) > name_w && !hidden(&t, r))
            name_w = (int)strlen(label);
        if (r->kind == RN_TL_ATTEMPT && r->n_attempts > 1)
            any_retry = 1;
        if (!o->all && is_iterated(r) && r->n_branches > FOLD_OVER) {
            /* room for the folded row's label (counts at their largest) */
            int n = snprintf(label, sizeof label, "%*s(%zu more iterations, %zu attempts)",
                             (r->depth + 1) * 2, "", r->n_branches, r->n_desc);
            if (n > name_w)
                name_w = n;
        }
        if (r->kind == RN_TL_ATTEMPT && r->attempt == 1)
            steps++;
    }
    /* the name column gives way to the bars on narrow screens, never below
     * what still tells steps apart */
    int width = o->width > 0 ? o->width : 100;
    int max_name = width * 2 / 5;
    if (max_name < 16)
        max_name = 16;
    t.name_w = name_w < max_name ? name_w : max_name;
    t.att_w = any_retry ? 5 : 0;
    int lead = t.name_w + 1 + (t.att_w ? t.att_w + 1 : 0) + 8 + 10;
    t.bar_w = width - lead - 2;
    if (t.bar_w < 10)
        t.bar_w = 10;

    char took[40], dur[32], head[300], started[80], counts[80];
    rn_tl_fmt_us(dur, sizeof dur, tl->span);
    snprintf(took, sizeof took, "%s%s", dur, tl->running ? " so far" : "");
    snprintf(head, sizeof head, "run %s: %s", tl->run_id, tl->running ? "RUNNING" : tl->status);
    /* to the second: the chart's own axis carries the finer times */
    snprintf(started, sizeof started, "started %.19s", tl->started ? tl->started : "-");
    snprintf(counts, sizeof counts, "%zu steps, %zu attempts", steps, tl->n_attempts);
    const char *header[] = {head, started, took, counts};
    put_phrases(out, width, header, 4);
    if (!tl->n) {
        fputs("(no step has run)\n", out);
        return ferror(out) ? -1 : 0;
    }
    fprintf(out, "%-*s ", t.name_w, "STEP");
    if (t.att_w)
        fprintf(out, "%*s ", t.att_w, "TRY");
    fprintf(out, "%-7s %9s ", "STATUS", "DURATION");
    put_axis(&t, 0);
    emit(&t, 0, tl->n);
    const char *legend[] = {"legend: = ran", "x failed", tl->running ? "> still running" : NULL,
                            "[--] composite step",
                            t.folded ? "(--all shows every iteration)" : NULL};
    put_phrases(out, width, legend, 5);
    return ferror(out) ? -1 : 0;
}
