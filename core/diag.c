/* A list of input problems, so a user sees all of them in one go. */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static char *vformat(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/* Out of memory while recording a diagnostic drops the diagnostic: the
 * function has no way to report it, and callers already fail on n > 0 in
 * every case where a diagnostic could be added. */
void rn_diag_add(rn_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        rn_diag_item *items = realloc(d->items, ncap * sizeof *items);
        if (!items)
            return;
        d->items = items;
        d->cap = ncap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    if (!msg)
        return;
    char *f = NULL;
    if (file && !(f = strdup(file))) {
        free(msg);
        return;
    }
    rn_diag_item *it = &d->items[d->n++];
    it->file = f;
    it->line = line;
    it->col = col;
    it->message = msg;
}

void rn_diag_free(rn_diag *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    d->items = NULL;
    d->n = d->cap = 0;
}

void rn_diag_truncate(rn_diag *d, size_t n)
{
    for (; d && d->n > n; d->n--) {
        free(d->items[d->n - 1].file);
        free(d->items[d->n - 1].message);
    }
}

char *rn_diag_format(const rn_diag_item *it)
{
    char pos[64] = "";
    const char *msg = it->message ? it->message : "";
    const char *file = it->file;
    char *out;
    int n;

    /* A column without a line means nothing to a reader; drop both. */
    if (it->line > 0 && it->col > 0)
        snprintf(pos, sizeof pos, ":%d:%d", it->line, it->col);
    else if (it->line > 0)
        snprintf(pos, sizeof pos, ":%d", it->line);

    if (file)
        n = snprintf(NULL, 0, "%s%s: %s", file, pos, msg);
    else if (pos[0])
        n = snprintf(NULL, 0, "%s: %s", pos + 1, msg);
    else
        n = snprintf(NULL, 0, "%s", msg);
    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    if (file)
        snprintf(out, (size_t)n + 1, "%s%s: %s", file, pos, msg);
    else if (pos[0])
        snprintf(out, (size_t)n + 1, "%s: %s", pos + 1, msg);
    else
        snprintf(out, (size_t)n + 1, "%s", msg);
    return out;
}

const char *rn_json_kind_name(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "text";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

typedef struct diag_sort {
    rn_diag_item item;
    size_t order;
} diag_sort;

static int diag_cmp(const void *a, const void *b)
{
    const diag_sort *x = a, *y = b;
    if (x->item.line != y->item.line)
        return x->item.line < y->item.line ? -1 : 1;
    if (x->item.col != y->item.col)
        return x->item.col < y->item.col ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void rn_diag_sort_from(rn_diag *d, size_t from)
{
    size_t n = d->n - from;
    if (n < 2)
        return;
    diag_sort *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return; /* unsorted is still correct */
    for (size_t i = 0; i < n; i++) {
        tmp[i].item = d->items[from + i];
        tmp[i].order = i;
    }
    qsort(tmp, n, sizeof *tmp, diag_cmp);
    for (size_t i = 0; i < n; i++)
        d->items[from + i] = tmp[i].item;
    free(tmp);
}
