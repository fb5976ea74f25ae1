/* Diagnostics: every input problem found, each with file, line, column. */
#ifndef RN_DIAG_H
#define RN_DIAG_H

#include <stddef.h>
#include <jansson.h>

typedef struct rn_diag_item {
    char *file;       /* may be NULL */
    int line, col;    /* 1-based; 0 when unknown */
    char *message;    /* says what is wrong and what to do */
} rn_diag_item;

typedef struct rn_diag {
    rn_diag_item *items;
    size_t n, cap;
} rn_diag;

void rn_diag_add(rn_diag *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rn_diag_free(rn_diag *d);
/* Drop the items from index `n` on. */
void rn_diag_truncate(rn_diag *d, size_t n);
/* Sort the items from index `from` on by line and column, keeping the
 * order of items at the same place: problems are found check by check, a
 * reader wants them in file order. */
void rn_diag_sort_from(rn_diag *d, size_t from);
/* "FILE:LINE:COL: message" (parts omitted when unknown); malloc'd. */
char *rn_diag_format(const rn_diag_item *it);

/* What a JSON value is, in words for a message: "a mapping", "a list",
 * "text", "an integer", "a number", "a boolean", "null" (also for NULL). */
const char *rn_json_kind_name(const json_t *v);

#endif
