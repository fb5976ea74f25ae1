/* YAML -> JSON with the YAML 1.2 core schema (spec/pipeline-format.md 1.1).
 *
 * libyaml implements YAML 1.1 tag resolution only in its document loader,
 * and that loader forgets whether a tag was written explicitly, so this
 * file composes its own small tree from libyaml's *events* and resolves
 * scalars itself.  Working on a tree rather than straight from events is
 * what makes merge keys possible: `<<` may come after the keys it is
 * overridden by, and its source is a node seen earlier.
 *
 * Aliases are expanded by converting the anchored node again at the new
 * place, so every position recorded under the alias points at the lines
 * the user actually wrote, and the result never shares json_t values
 * between two places (callers may modify one without surprising the
 * other). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>
#include <yaml.h>

#include "runnable/plugin.h"
#include "pipeline.h"
#include "yaml_skip.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Deeper nesting than this is never a pipeline; refusing it keeps the
 * recursive conversion far from the end of the stack. */
#define MAX_DEPTH 512

/* ------------------------------------------------------------------ */
/* The composed tree                                                   */
/* ------------------------------------------------------------------ */

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } yn_kind;

typedef struct ynode ynode;
struct ynode {
    yn_kind kind;
    int line, col;          /* 1-based */
    int plain;              /* plain (unquoted, non-block) scalar */
    int complete;           /* collection end seen: aliasing it is safe */
    char *tag;              /* as resolved by libyaml, NULL when none */
    char *value;            /* scalars */
    size_t len;
    ynode **items;          /* seq: items; map: key0, val0, key1, ...
                               (set at the collection's end) */
    size_t n;
    size_t start;           /* while open: its first item in composer.pend */
};

/* The tree (nodes, texts, item lists) lives in a few large blocks freed
 * together: a malloc per YAML node made a thousand-step file cost tens of
 * thousands of allocations, and their page faults. */
typedef struct ablock {
    struct ablock *next;
    size_t used, cap;
    max_align_t data[];
} ablock;

typedef struct anchor {
    char *name;
    ynode *node;
} anchor;

typedef struct composer {
    const char *file;
    const char *text;
    size_t text_len;
    rn_diag *diag;
    size_t diag_start;      /* diagnostics before ours are not compared */
    int errors;
    int syntax;             /* libyaml gave up: the tree is partial */
    int nomem;
    ablock *blocks;
    size_t n_nodes;
    ynode **pend;           /* the items of the open collections, in order */
    size_t pend_n, pend_cap;
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    ynode **stack;
    size_t depth, cap_stack;
    ynode *root;
    /* Composing one step of the top-level graph (see rn_yaml_load_step):
     * the other values of /dag/steps are skipped event by event. */
    const char *only;
    ynode *dag_map, *steps_map;
    int skipping;           /* inside a skipped value */
    size_t skip_depth;      /* its collections still open */
    int skipped;            /* some step was left out */
    int kept;               /* the step's name was read: stop after its value */
    int filter_off;         /* skipping proved unsafe: compose it all */
} composer;

static void cerr(composer *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cerr(composer *c, int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->errors++;
    /* Content under an anchor is converted once per alias; say each
     * problem once. */
    for (size_t i = c->diag_start; i < c->diag->n; i++) {
        const rn_diag_item *it = &c->diag->items[i];
        if (it->line == line && it->col == col && it->message && !strcmp(it->message, msg))
            return;
    }
    rn_diag_add(c->diag, c->file, line, col, "%s", msg);
}

static void *arena_alloc(composer *c, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    ablock *b = c->blocks;
    if (!b || b->cap - b->used < n) {
        /* Below malloc's mmap threshold: freed, the blocks' pages serve
         * the allocations after the tree instead of going back to the
         * system (a fresh page costs a fault). */
        size_t cap = 64 * 1024;
        if (cap < n)
            cap = n;
        ablock *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            c->nomem = 1;
            return NULL;
        }
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        c->blocks = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

/* `len` bytes of `text` and a NUL, in the arena. */
static char *arena_text(composer *c, const void *text, size_t len)
{
    char *t = arena_alloc(c, len + 1);
    if (t) {
        memcpy(t, text, len);
        t[len] = '\0';
    }
    return t;
}

static ynode *node_new(composer *c, yn_kind kind, const yaml_mark_t *mark, const yaml_char_t *tag)
{
    ynode *n = arena_alloc(c, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    if (tag && !(n->tag = arena_text(c, tag, strlen((const char *)tag))))
        return NULL;
    c->n_nodes++;
    return n;
}

static void arena_free(ablock *b)
{
    while (b) {
        ablock *next = b->next;
        free(b);
        b = next;
    }
}

static int add_child(composer *c, ynode *child)
{
    if (c->depth == 0) {
        c->root = child;
        return 0;
    }
    if (c->pend_n == c->pend_cap) {
        size_t ncap = c->pend_cap ? c->pend_cap * 2 : 64;
        ynode **v = realloc(c->pend, ncap * sizeof *v);
        if (!v) {
            c->nomem = 1;
            return -1;
        }
        c->pend = v;
        c->pend_cap = ncap;
    }
    c->pend[c->pend_n++] = child;
    c->stack[c->depth - 1]->n++;
    return 0;
}

/* The collection on top of the stack ends: its items move to the arena. */
static void pop(composer *c)
{
    ynode *n = c->stack[--c->depth];
    n->complete = 1;
    if (n->n && (n->items = arena_alloc(c, n->n * sizeof *n->items)))
        memcpy(n->items, c->pend + n->start, n->n * sizeof *n->items);
    else if (n->n)
        n->n = 0; /* out of memory, said by nomem */
    c->pend_n = n->start;
}

static int push(composer *c, ynode *n)
{
    if (c->depth == c->cap_stack) {
        size_t ncap = c->cap_stack ? c->cap_stack * 2 : 16;
        ynode **s = realloc(c->stack, ncap * sizeof *s);
        if (!s) {
            c->nomem = 1;
            return -1;
        }
        c->stack = s;
        c->cap_stack = ncap;
    }
    n->start = c->pend_n;
    c->stack[c->depth++] = n;
    return 0;
}

static int register_anchor(composer *c, const yaml_char_t *name, ynode *n)
{
    if (!name)
        return 0;
    if (c->n_anchors == c->cap_anchors) {
        size_t ncap = c->cap_anchors ? c->cap_anchors * 2 : 8;
        anchor *a = realloc(c->anchors, ncap * sizeof *a);
        if (!a) {
            c->nomem = 1;
            return -1;
        }
        c->anchors = a;
        c->cap_anchors = ncap;
    }
    char *dup = strdup((const char *)name);
    if (!dup) {
        c->nomem = 1;
        return -1;
    }
    c->anchors[c->n_anchors].name = dup;
    c->anchors[c->n_anchors].node = n;
    c->n_anchors++;
    return 0;
}

/* YAML lets an anchor be redefined; an alias means the latest one. */
static ynode *find_anchor(composer *c, const char *name)
{
    for (size_t i = c->n_anchors; i-- > 0;)
        if (strcmp(c->anchors[i].name, name) == 0)
            return c->anchors[i].node;
    return NULL;
}

/* Line/column of a byte offset, for reader errors that carry no mark. */
static void offset_to_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    int l = 1, cl = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            l++;
            cl = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            cl++;
        }
    }
    *line = l;
    *col = cl;
}

static void syntax_error(composer *c, const yaml_parser_t *p)
{
    int line, col;
    if (p->error == YAML_MEMORY_ERROR) {
        c->nomem = 1;
        return;
    }
    c->syntax = 1;
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(c->text, c->text_len, p->problem_offset, &line, &col);
        cerr(c, line, col, "the file is not valid YAML text: %s (byte offset %zu); "
             "save it as UTF-8",
             p->problem ? p->problem : "unreadable input", p->problem_offset);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "syntax error";

    /* libyaml's wording for a tab is obscure; tabs are the commonest
     * cause of it, so say so. */
    size_t idx = p->problem_mark.index;
    if (idx < c->text_len && c->text[idx] == '\t') {
        cerr(c, line, col, "invalid YAML: a tab character cannot be used here "
             "(YAML indentation must use spaces); replace the tab with spaces");
        return;
    }
    if (p->context)
        cerr(c, line, col, "invalid YAML: %s (%s started at line %d, column %d); "
             "check the indentation and quoting of this line and the ones above it",
             problem, p->context, (int)p->context_mark.line + 1,
             (int)p->context_mark.column + 1);
    else
        cerr(c, line, col, "invalid YAML: %s; check the indentation and quoting "
             "of this line", problem);
}

/* ---- composing one step ------------------------------------------ */

/* The collection a new node is added to, when it is a mapping's key. */
static ynode *key_parent(const composer *c)
{
    if (!c->depth)
        return NULL;
    ynode *p = c->stack[c->depth - 1];
    return p->kind == YN_MAP && p->n % 2 == 0 ? p : NULL;
}

/* The mapping a new node is the value of, and that value's key. */
static const ynode *value_key(const composer *c, const ynode **map)
{
    *map = NULL;
    if (!c->depth)
        return NULL;
    ynode *p = c->stack[c->depth - 1];
    if (p->kind != YN_MAP || p->n % 2 == 0)
        return NULL;
    *map = p;
    return c->pend[c->pend_n - 1]; /* an open collection's last item */
}

static int scalar_is(const ynode *n, const char *text)
{
    return n && n->kind == YN_SCALAR && n->len == strlen(text) && !strcmp(n->value, text);
}

/* A mapping starts: note the root's `dag` and its `steps`. */
static void note_graph_maps(composer *c, ynode *n)
{
    const ynode *map, *key = value_key(c, &map);
    if (!key)
        return;
    ynode **slot = map == c->root && scalar_is(key, "dag")           ? &c->dag_map
                   : map == c->dag_map && scalar_is(key, "steps") ? &c->steps_map
                                                                  : NULL;
    if (!slot)
        return;
    if (*slot)
        c->filter_off = 1; /* written twice: let the full load say so */
    *slot = n;
}

/*
 * Scalar `n` is about to be added.  Returns 1 when it is the name of a
 * step of /dag/steps other than the one wanted: the name is dropped and
 * its value skipped.  Anything that would make skipping change the
 * document (a merge key where steps could come from, a step name that is
 * not a plain scalar) turns skipping off.
 */
static int skip_step(composer *c, const ynode *n)
{
    ynode *p = key_parent(c);
    if (!p || (p != c->root && p != c->dag_map && p != c->steps_map))
        return 0;
    if (scalar_is(n, "<<")) {
        c->filter_off = 1;
        return 0;
    }
    if (p != c->steps_map)
        return 0;
    if (scalar_is(n, c->only)) {
        c->kept = 1;
        return 0;
    }
    c->skipping = 1;
    c->skip_depth = 0;
    c->skipped = 1;
    return 1;
}

/* An event inside a skipped value: 1 while the value goes on.  An anchor
 * there could be used by a step that is kept: compose it all then. */
static void skip_event(composer *c, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor)
            c->filter_off = 1;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                  : ev->data.mapping_start.anchor)
            c->filter_off = 1;
        c->skip_depth++;
        return;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        c->skip_depth--;
        break;
    default:
        break;
    }
    if (!c->skip_depth)
        c->skipping = 0;
}

/* Runs libyaml's parser over the text and builds the tree.  Returns 0 when
 * a tree (possibly NULL for an empty stream) was composed. */
static int compose(composer *c)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int docs = 0, done = 0;

    if (!yaml_parser_initialize(&parser)) {
        c->nomem = 1;
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)c->text, c->text_len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(c, &parser);
            break;
        }
        const yaml_mark_t *m = &ev.start_mark;
        ynode *n = NULL;
        if (c->skipping) {
            skip_event(c, &ev);
            yaml_event_delete(&ev);
            if (c->filter_off)
                break;
            continue;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                c->syntax = 1;
                cerr(c, (int)m->line + 1, (int)m->column + 1,
                     "a second YAML document starts here; a pipeline file holds "
                     "one document: remove the '---' and what follows, or split the file");
                done = 1;
            }
            break;
        case YAML_SCALAR_EVENT:
            if (!(n = node_new(c, YN_SCALAR, m, ev.data.scalar.tag)))
                break;
            if (!(n->value = arena_text(c, ev.data.scalar.value, ev.data.scalar.length)))
                break;
            n->len = ev.data.scalar.length;
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            n->complete = 1;
            if (c->only && skip_step(c, n))
                break;
            if (add_child(c, n) == 0)
                register_anchor(c, ev.data.scalar.anchor, n);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            int is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
            if (c->depth >= MAX_DEPTH) {
                c->syntax = 1;
                cerr(c, (int)m->line + 1, (int)m->column + 1,
                     "the YAML nests more than %d levels deep here; flatten it", MAX_DEPTH);
                done = 1;
                break;
            }
            n = node_new(c, is_seq ? YN_SEQ : YN_MAP, m,
                         is_seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag);
            if (c->only && n) {
                if (key_parent(c) == c->steps_map && c->steps_map)
                    c->filter_off = 1; /* a step named by a collection */
                else if (!is_seq)
                    note_graph_maps(c, n);
            }
            if (!n || add_child(c, n) < 0 || push(c, n) < 0)
                break;
            register_anchor(c, is_seq ? ev.data.sequence_start.anchor
                                      : ev.data.mapping_start.anchor, n);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (c->depth > 0)
                pop(c);
            break;
        case YAML_ALIAS_EVENT: {
            const char *name = (const char *)ev.data.alias.anchor;
            if (c->only && key_parent(c) && key_parent(c) == c->steps_map)
                c->filter_off = 1; /* a step named by an alias */
            ynode *target = find_anchor(c, name);
            if (!target) {
                cerr(c, (int)m->line + 1, (int)m->column + 1,
                     "alias '*%s' refers to no anchor defined before it; define "
                     "'&%s' earlier in the file or fix the name", name, name);
            } else if (!target->complete) {
                cerr(c, (int)m->line + 1, (int)m->column + 1,
                     "alias '*%s' is used inside the value it names, which would "
                     "be infinitely deep; refer to something else", name);
                target = NULL;
            }
            if (!target) {
                /* Keep the mapping's key/value pairing intact so that
                 * later problems are still found. */
                target = node_new(c, YN_SCALAR, m, NULL);
                if (target && !(target->value = arena_text(c, "", 0)))
                    target = NULL;
                if (target) {
                    target->plain = 1;
                    target->complete = 1;
                }
            }
            if (target)
                add_child(c, target);
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (c->nomem || c->filter_off)
            break;
        /* The step's value is complete: nothing after it is needed (what
         * follows can neither change an explicit key nor be used by it),
         * so libyaml does not read the rest of the file. */
        if (c->kept && c->depth && c->stack[c->depth - 1] == c->steps_map &&
            c->steps_map->n % 2 == 0) {
            c->skipped = 1;
            break;
        }
    }
    yaml_parser_delete(&parser);
    /* What is still open (a step's load stopped early, a syntax error). */
    while (c->depth > 0)
        pop(c);
    return c->nomem ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* YAML 1.2 core schema scalars                                        */
/* ------------------------------------------------------------------ */

typedef enum { SC_STR, SC_NULL, SC_BOOL, SC_INT, SC_FLOAT, SC_NONFINITE } sc_kind;

static int is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static int bool_text(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return -1;
}

static int all_in(const char *s, const char *set)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!strchr(set, *s))
            return 0;
    return 1;
}

/* 1: an integer of the core schema; -1: one, but too large for JSON's
 * 64-bit integers here; 0: not an integer. */
static int parse_int(const char *s, long long *out)
{
    int base = 10;
    const char *digits = s;
    int neg = 0;

    if (s[0] == '0' && s[1] == 'o') {
        base = 8;
        digits = s + 2;
        if (!all_in(digits, "01234567"))
            return 0;
    } else if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        digits = s + 2;
        if (!all_in(digits, "0123456789abcdefABCDEF"))
            return 0;
    } else {
        if (*digits == '-' || *digits == '+') {
            neg = *digits == '-';
            digits++;
        }
        if (!all_in(digits, "0123456789"))
            return 0;
    }
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, base);
    if (errno == ERANGE)
        return -1;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    }
    return 1;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static int float_syntax(const char *s)
{
    const char *p = s;
    int mant = 0;
    if (*p == '-' || *p == '+')
        p++;
    while (*p >= '0' && *p <= '9') {
        p++;
        mant++;
    }
    if (*p == '.') {
        p++;
        int frac = 0;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac++;
        }
        if (!mant && !frac)
            return 0;
    } else if (!mant) {
        return 0;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int nonfinite_text(const char *s)
{
    const char *p = s;
    if (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))
        return 1;
    if (*p == '-' || *p == '+')
        p++;
    return !strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF");
}

/* Number text must not depend on the host program's LC_NUMERIC. */
static locale_t c_numeric;
static once_flag c_numeric_once = ONCE_FLAG_INIT;

static void c_numeric_init(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static double parse_double(const char *s)
{
    call_once(&c_numeric_once, c_numeric_init);
    if (c_numeric)
        return strtod_l(s, NULL, c_numeric);
    return strtod(s, NULL);
}

/* How a plain, untagged scalar resolves. */
static sc_kind plain_kind(const char *s)
{
    long long iv;
    if (is_null_text(s))
        return SC_NULL;
    if (bool_text(s) >= 0)
        return SC_BOOL;
    if (parse_int(s, &iv) != 0)
        return SC_INT;
    if (float_syntax(s))
        return SC_FLOAT;
    if (nonfinite_text(s))
        return SC_NONFINITE;
    return SC_STR;
}

static const char *sc_kind_name(sc_kind k)
{
    switch (k) {
    case SC_NULL: return "null";
    case SC_BOOL: return "bool";
    case SC_INT: return "int";
    case SC_FLOAT: case SC_NONFINITE: return "float";
    default: return "str";
    }
}

/* ------------------------------------------------------------------ */
/* Tree -> JSON                                                        */
/* ------------------------------------------------------------------ */

typedef struct conv {
    composer *c;
    json_t *positions;      /* NULL when the caller does not want them */
    int markers_only;       /* only positions that carry a marker */
    char *path;             /* current JSON pointer */
    size_t path_len, path_cap;
    size_t values, budget;  /* alias expansion guard */
    int stop;               /* out of memory or budget: unwind */
} conv;

static size_t path_push(conv *v, const char *seg, size_t seg_len)
{
    size_t old = v->path_len;
    /* Worst case every byte is escaped to two. */
    size_t need = v->path_len + 1 + 2 * seg_len + 1;
    if (need > v->path_cap) {
        size_t ncap = v->path_cap ? v->path_cap : 64;
        while (ncap < need)
            ncap *= 2;
        char *p = realloc(v->path, ncap);
        if (!p) {
            v->c->nomem = 1;
            v->stop = 1;
            return old;
        }
        v->path = p;
        v->path_cap = ncap;
    }
    v->path[v->path_len++] = '/';
    for (size_t i = 0; i < seg_len; i++) {
        if (seg[i] == '~') {
            v->path[v->path_len++] = '~';
            v->path[v->path_len++] = '0';
        } else if (seg[i] == '/') {
            v->path[v->path_len++] = '~';
            v->path[v->path_len++] = '1';
        } else {
            v->path[v->path_len++] = seg[i];
        }
    }
    v->path[v->path_len] = '\0';
    return old;
}

static void path_pop(conv *v, size_t old)
{
    v->path_len = old;
    if (v->path)
        v->path[old] = '\0';
}

static void record_pos(conv *v, const ynode *n, const char *marker)
{
    if (!v->positions || v->stop || (v->markers_only && !marker))
        return;
    json_t *pos = rn_yaml_pos_new(n->line, n->col, marker);
    if (!pos || json_object_set_new(v->positions, v->path ? v->path : "", pos) < 0) {
        v->c->nomem = 1;
        v->stop = 1;
    }
}

static json_t *convert(conv *v, const ynode *n);

static const char *const pos_markers[] = {NULL, "int", "float", "bool", "null"};
#define POS_COL_BITS 21

json_t *rn_yaml_pos_new(int line, int col, const char *marker)
{
    json_int_t kind = 0;
    for (size_t i = 1; marker && i < sizeof pos_markers / sizeof *pos_markers; i++)
        if (strcmp(marker, pos_markers[i]) == 0)
            kind = (json_int_t)i;
    if (col < 0 || col >= (1 << POS_COL_BITS))
        col = 0; /* a column past two million is not worth telling */
    return json_integer(((json_int_t)(line < 0 ? 0 : line) << (POS_COL_BITS + 3)) |
                        ((json_int_t)col << 3) | kind);
}

int rn_yaml_pos_get(const json_t *pos, int *line, int *col, const char **marker)
{
    if (!json_is_integer(pos))
        return -1;
    json_int_t v = json_integer_value(pos);
    size_t kind = (size_t)(v & 7);
    *line = (int)(v >> (POS_COL_BITS + 3));
    *col = (int)((v >> 3) & ((1 << POS_COL_BITS) - 1));
    if (marker)
        *marker = kind < sizeof pos_markers / sizeof *pos_markers ? pos_markers[kind] : NULL;
    return 0;
}

static json_t *nonfinite_error(conv *v, const ynode *n)
{
    cerr(v->c, n->line, n->col, "'%s' is not a finite number and JSON cannot hold it; "
         "quote it (\"%s\") if you meant text, or use a finite number", n->value, n->value);
    return json_null();
}

static json_t *scalar_value(conv *v, const ynode *n)
{
    const char *s = n->value;
    long long iv;
    int r;

    if (n->tag && strcmp(n->tag, "!") != 0) {
        const char *t = n->tag;
        if (strncmp(t, TAG_PREFIX, sizeof TAG_PREFIX - 1) != 0)
            goto unsupported;
        t += sizeof TAG_PREFIX - 1;
        if (!strcmp(t, "str"))
            return json_stringn(s, n->len);
        if (!strcmp(t, "null"))
            return json_null();
        if (!strcmp(t, "bool")) {
            if ((r = bool_text(s)) >= 0)
                return json_boolean(r);
            cerr(v->c, n->line, n->col, "'%s' is tagged !!bool but is not true or false; "
                 "write true or false", s);
            return json_null();
        }
        if (!strcmp(t, "int")) {
            if ((r = parse_int(s, &iv)) > 0)
                return json_integer(iv);
            if (r < 0)
                goto too_big;
            cerr(v->c, n->line, n->col, "'%s' is tagged !!int but is not an integer; "
                 "fix the value or drop the tag", s);
            return json_null();
        }
        if (!strcmp(t, "float")) {
            if (parse_int(s, &iv) != 0 || float_syntax(s)) {
                double d = parse_double(s);
                if (!isfinite(d))
                    return nonfinite_error(v, n);
                return json_real(d);
            }
            if (nonfinite_text(s))
                return nonfinite_error(v, n);
            cerr(v->c, n->line, n->col, "'%s' is tagged !!float but is not a number; "
                 "fix the value or drop the tag", s);
            return json_null();
        }
    unsupported:
        cerr(v->c, n->line, n->col, "the YAML tag '%s' is not supported (only !!str, "
             "!!int, !!float, !!bool, !!null, !!map and !!seq are); remove it", n->tag);
        return json_null();
    }
    if (!n->plain || n->tag)
        return json_stringn(s, n->len);

    switch (plain_kind(s)) {
    case SC_NULL:
        return json_null();
    case SC_BOOL:
        return json_boolean(bool_text(s));
    case SC_INT:
        if (parse_int(s, &iv) > 0)
            return json_integer(iv);
        goto too_big;
    case SC_FLOAT: {
        double d = parse_double(s);
        if (!isfinite(d))
            return nonfinite_error(v, n);
        return json_real(d);
    }
    case SC_NONFINITE:
        return nonfinite_error(v, n);
    default:
        return json_stringn(s, n->len);
    }
too_big:
    cerr(v->c, n->line, n->col, "the integer %s does not fit in 64 bits; quote it "
         "(\"%s\") to keep it as text", s, s);
    return json_null();
}

static int collection_tag_ok(conv *v, const ynode *n, const char *want)
{
    if (!n->tag || !strcmp(n->tag, "!"))
        return 1;
    if (!strncmp(n->tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) &&
        !strcmp(n->tag + sizeof TAG_PREFIX - 1, want))
        return 1;
    cerr(v->c, n->line, n->col, "the YAML tag '%s' is not supported here; remove it", n->tag);
    return 0;
}

static int is_merge_key(const ynode *k)
{
    if (k->kind != YN_SCALAR || strcmp(k->value, "<<") != 0)
        return 0;
    if (k->tag)
        return !strcmp(k->tag, TAG_PREFIX "merge");
    return k->plain;
}

/* One key/value of a mapping after merge keys are applied. */
typedef struct pair {
    const ynode *key;
    const ynode *val;
} pair;

typedef struct pairs {
    pair *p;
    size_t n, cap;
} pairs;

static int pairs_add(conv *v, pairs *ps, const ynode *k, const ynode *val)
{
    if (ps->n == ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 8;
        pair *np = realloc(ps->p, ncap * sizeof *np);
        if (!np) {
            v->c->nomem = 1;
            v->stop = 1;
            return -1;
        }
        ps->p = np;
        ps->cap = ncap;
    }
    ps->p[ps->n].key = k;
    ps->p[ps->n].val = val;
    ps->n++;
    return 0;
}

static int flatten(conv *v, const ynode *map, pairs *out, int depth);

/* Adds the pairs of merge source `src` (already flattened) to `acc`;
 * problems are reported at the `<<` key, which is what the user wrote
 * here (the source may be an anchor far away). */
static int merge_source(conv *v, const ynode *key, const ynode *src, pairs *acc, int depth)
{
    if (src->kind != YN_MAP) {
        cerr(v->c, key->line, key->col, "a merge key '<<' takes a mapping or a list of "
             "mappings (usually an alias such as *defaults); this value is not a mapping");
        return 0;
    }
    return flatten(v, src, acc, depth + 1);
}

/* The mapping's pairs with `<<` applied, as PyYAML/ruamel do it: merged
 * pairs come first (later list entries before earlier ones), explicit
 * pairs last; a key keeps the place of its first occurrence and the value
 * of its last, so explicit keys override merged ones and earlier merge
 * sources override later ones.  The result has each key once, which also
 * keeps repeated merges of merges from growing without bound. */
static int flatten(conv *v, const ynode *map, pairs *out, int depth)
{
    pairs all = {0};
    const ynode *merge_val = NULL, *merge_key = NULL;
    json_t *slot = NULL;
    int rc = 0;

    if (depth > MAX_DEPTH) {
        cerr(v->c, map->line, map->col, "merge keys nest too deeply here");
        return 0;
    }
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->items[i];
        if (is_merge_key(k)) {
            if (merge_val)
                cerr(v->c, k->line, k->col, "this mapping has two merge keys '<<'; use "
                     "one with a list of mappings: '<<: [*a, *b]'");
            else {
                merge_key = k;
                merge_val = map->items[i + 1];
            }
        }
    }
    /* Without a merge key the pairs are the mapping's own, each key once
     * (a key written twice is an error convert_map reports): no table of
     * keys, which for a thousand small step mappings cost more than the
     * rest of the conversion. */
    int plain = !merge_val;
    if (merge_val) {
        if (merge_val->kind == YN_SEQ) {
            for (size_t i = merge_val->n; i-- > 0;)
                if ((rc = merge_source(v, merge_key, merge_val->items[i], &all, depth)) < 0)
                    goto out;
        } else if ((rc = merge_source(v, merge_key, merge_val, &all, depth)) < 0) {
            goto out;
        }
    }
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->items[i];
        if (is_merge_key(k))
            continue;
        if (k->kind != YN_SCALAR) {
            cerr(v->c, k->line, k->col, "a mapping key must be a plain value such as a "
                 "name; this one is a %s", k->kind == YN_MAP ? "mapping" : "list");
            continue;
        }
        if (strlen(k->value) != k->len) {
            cerr(v->c, k->line, k->col, "a mapping key contains a NUL character; "
                 "remove it");
            continue;
        }
        if ((rc = pairs_add(v, plain ? out : &all, k, map->items[i + 1])) < 0)
            goto out;
    }
    if (plain)
        goto out;

    if (!(slot = json_object()))
        goto nomem;
    for (size_t i = 0; i < all.n; i++) {
        json_t *at = json_object_get(slot, all.p[i].key->value);
        if (at) {
            out->p[json_integer_value(at)] = all.p[i];
            continue;
        }
        if (json_object_set_new(slot, all.p[i].key->value, json_integer((json_int_t)out->n)) < 0)
            goto nomem;
        if ((rc = pairs_add(v, out, all.p[i].key, all.p[i].val)) < 0)
            goto out;
    }
    goto out;
nomem:
    v->c->nomem = 1;
    v->stop = 1;
    rc = -1;
out:
    json_decref(slot);
    free(all.p);
    return rc;
}

/* Marker for a key that YAML reads as something other than a string:
 * the key is kept (as written) but consumers that need string keys, such
 * as step names, can tell the author to quote it. */
static const char *key_marker(const ynode *k)
{
    if (k->tag && strcmp(k->tag, "!") != 0) {
        const char *t = k->tag;
        if (!strncmp(t, TAG_PREFIX, sizeof TAG_PREFIX - 1)) {
            t += sizeof TAG_PREFIX - 1;
            if (!strcmp(t, "int") || !strcmp(t, "float") || !strcmp(t, "bool") ||
                !strcmp(t, "null"))
                return t;
        }
        return NULL;
    }
    if (!k->plain || k->tag)
        return NULL;
    sc_kind kind = plain_kind(k->value);
    return kind == SC_STR ? NULL : sc_kind_name(kind);
}

/* Mappings with at most this many keys find duplicates by comparing. */
#define SMALL_MAP 16

/* A key written as text in the mapping itself (not `<<`, no NUL). */
static int explicit_key(const ynode *k)
{
    return k->kind == YN_SCALAR && !is_merge_key(k) && strlen(k->value) == k->len;
}

static json_t *convert_map(conv *v, const ynode *n)
{
    pairs ps = {0};
    json_t *obj = json_object();
    /* key -> line of first use; small mappings are searched instead */
    json_t *explicit_seen = n->n > 2 * SMALL_MAP ? json_object() : NULL;

    if (!obj || (n->n > 2 * SMALL_MAP && !explicit_seen))
        goto nomem;
    collection_tag_ok(v, n, "map");

    /* Duplicates among the keys written in this very mapping (merged
     * keys are meant to be overridden, so they do not count). */
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const ynode *k = n->items[i];
        if (!explicit_key(k))
            continue;
        int first = 0;
        if (explicit_seen) {
            json_t *at = json_object_get(explicit_seen, k->value);
            if (at)
                first = (int)json_integer_value(at);
            else if (json_object_set_new(explicit_seen, k->value, json_integer(k->line)) < 0)
                goto nomem;
        } else {
            for (size_t j = 0; j < i && !first; j += 2) {
                const ynode *o = n->items[j];
                if (explicit_key(o) && o->len == k->len && !memcmp(o->value, k->value, k->len))
                    first = o->line;
            }
        }
        if (first)
            cerr(v->c, k->line, k->col, "duplicate key '%s' in this mapping (first at "
                 "line %d); remove or rename one of them", k->value, first);
    }

    if (flatten(v, n, &ps, 0) < 0 || v->stop)
        goto fail;

    for (size_t j = 0; j < ps.n && !v->stop; j++) {
        const pair *pr = &ps.p[j];
        size_t old = path_push(v, pr->key->value, pr->key->len);
        if (v->stop)
            break;
        record_pos(v, pr->key, key_marker(pr->key));
        json_t *val = convert(v, pr->val);
        path_pop(v, old);
        if (!val)
            goto fail;
        if (json_object_set_new(obj, pr->key->value, val) < 0)
            goto nomem;
    }
    if (v->stop)
        goto fail;
    free(ps.p);
    json_decref(explicit_seen);
    return obj;

nomem:
    v->c->nomem = 1;
    v->stop = 1;
fail:
    free(ps.p);
    json_decref(explicit_seen);
    json_decref(obj);
    return NULL;
}

static json_t *convert(conv *v, const ynode *n)
{
    if (v->stop)
        return NULL;
    if (++v->values > v->budget) {
        cerr(v->c, n->line, n->col, "aliases here expand to more than %zu values; the "
             "document is too large once expanded (is an alias used recursively?)",
             v->budget);
        v->stop = 1;
        return NULL;
    }
    json_t *out = NULL;
    switch (n->kind) {
    case YN_SCALAR:
        out = scalar_value(v, n);
        break;
    case YN_SEQ:
        collection_tag_ok(v, n, "seq");
        if (!(out = json_array()))
            break;
        for (size_t i = 0; i < n->n; i++) {
            char idx[24];
            int len = snprintf(idx, sizeof idx, "%zu", i);
            size_t old = path_push(v, idx, (size_t)len);
            if (v->stop) {
                json_decref(out);
                return NULL;
            }
            record_pos(v, n->items[i], NULL);
            json_t *item = convert(v, n->items[i]);
            path_pop(v, old);
            if (!item || json_array_append_new(out, item) < 0) {
                json_decref(out);
                if (!v->stop) {
                    v->c->nomem = 1;
                    v->stop = 1;
                }
                return NULL;
            }
        }
        return out;
    case YN_MAP:
        return convert_map(v, n);
    }
    if (!out) {
        v->c->nomem = 1;
        v->stop = 1;
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static void composer_free(composer *c)
{
    for (size_t i = 0; i < c->n_anchors; i++)
        free(c->anchors[i].name);
    free(c->anchors);
    free(c->stack);
    free(c->pend);
    arena_free(c->blocks);
}

/*
 * The text with the lines of the steps before `only` left empty (their
 * line breaks kept, so that every position libyaml reports is the file's)
 * and without what follows `only`'s lines, when those can be told apart
 * without libyaml (core/yaml_skip.c); NULL otherwise.  Composing it is
 * composing the file with skip_step leaving those steps out, at the cost
 * of a look at each line instead of libyaml's events.
 */
static char *without_steps_before(const char *text, size_t len, const char *only,
                                  size_t *out_len)
{
    size_t from, to, end;
    if (!rn_yaml_steps_before(text, len, only, &from, &to, &end))
        return NULL;
    size_t breaks = 0;
    for (const char *q = text + from; (q = memchr(q, '\n', (size_t)(text + to - q))); q++)
        breaks++;
    char *t = malloc(from + breaks + (end - to) + 1);
    if (!t)
        return NULL;
    memcpy(t, text, from);
    memset(t + from, '\n', breaks);
    memcpy(t + from + breaks, text + to, end - to);
    *out_len = from + breaks + (end - to);
    t[*out_len] = '\0';
    return t;
}

/* Composing from scratch: the text itself, `only` or the whole of it,
 * what the first attempt reported dropped. */
static int compose_again(composer *c, const char *text, size_t len, const char *only)
{
    const char *name = c->file;
    rn_diag *diag = c->diag;
    composer_free(c);
    rn_diag_truncate(diag, c->diag_start);
    *c = (composer){.file = name, .text = text, .text_len = len, .diag = diag,
                    .diag_start = diag->n, .only = only};
    return compose(c);
}

static int load_text(const char *text, size_t len, const char *name, const char *only,
                     int markers_only, json_t **out, json_t **positions, rn_diag *diag,
                     int *partial)
{
    composer c = {0};
    conv v = {0};
    json_t *doc = NULL;
    int rc = 0;

    *out = NULL;
    if (positions)
        *positions = NULL;
    c.file = name;
    c.text = text;
    c.text_len = len;
    c.diag = diag;
    c.diag_start = diag->n;
    c.only = only;

    char *lean = only ? without_steps_before(text, len, only, &c.text_len) : NULL;
    if (lean)
        c.text = lean;
    /* Undefined aliases leave a usable tree; keep going to report
     * what else is wrong.  A syntax error leaves only part of one. */
    int crc = compose(&c);
    /* Not what the lines promised: libyaml reads the file itself. */
    if (lean && !c.nomem && (c.filter_off || c.syntax || !c.kept))
        crc = compose_again(&c, text, len, only);
    if (c.filter_off && !c.nomem)
        crc = compose_again(&c, text, len, NULL);
    if (partial)
        *partial = c.skipped;
    if (crc < 0 || c.syntax) {
        rc = c.nomem ? RN_ENOMEM : RN_EINVAL;
        goto done;
    }
    v.c = &c;
    v.markers_only = markers_only;
    /* Room for every node written plus generous alias reuse, but not
     * for exponential "billion laughs" expansion. */
    v.budget = 100000 + 64 * c.n_nodes;
    if (positions && !(v.positions = json_object())) {
        rc = RN_ENOMEM;
        goto done;
    }
    if (!c.root) {
        doc = json_null();
    } else {
        record_pos(&v, c.root, NULL);
        doc = convert(&v, c.root);
    }
    if (c.nomem)
        rc = RN_ENOMEM;
    else if (c.errors || !doc)
        rc = RN_EINVAL;

done:
    rn_diag_sort_from(diag, c.diag_start);
    composer_free(&c);
    free(lean);
    free(v.path);
    if (rc == RN_ENOMEM)
        rn_error_set(RN_ENOMEM, "out of memory while reading %s", name ? name : "YAML");
    else if (rc == RN_EINVAL)
        rn_error_set(RN_EINVAL, "%s is not usable YAML (%d problem%s)", name ? name : "input",
                     c.errors, c.errors == 1 ? "" : "s");
    if (rc) {
        json_decref(doc);
        json_decref(v.positions);
        return rc;
    }
    *out = doc;
    if (positions)
        *positions = v.positions;
    return 0;
}

static int read_all(const char *path, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_error_set(errno == ENOENT ? RN_ENOENT : RN_EIO,
                            "cannot open %s: %s", path, strerror(errno));
    /* Sized once from the file (a pipe or a growing file still grows the
     * buffer): growing it by doubling took a large file through several
     * fresh allocations and copies, each page of them a fault. */
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 8192;
    size_t len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
        if (!buf) {
            close(fd);
            return rn_error_set(RN_ENOMEM, "out of memory reading %s", path);
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return rn_error_set(RN_EIO, "cannot read %s: %s", path, strerror(err));
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    *out = buf;
    *out_len = len;
    return 0;
}

int rn_yaml_load_string(const char *text, size_t len, const char *name,
                        json_t **out, json_t **positions, rn_diag *diag)
{
    return load_text(text, len, name, NULL, 0, out, positions, diag, NULL);
}

int rn_yaml_load_step(const char *path, const char *only_step, int markers_only, json_t **out,
                      json_t **positions, rn_diag *diag, int *partial)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    if (positions)
        *positions = NULL;
    if (partial)
        *partial = 0;
    int rc = read_all(path, &text, &len);
    if (rc < 0)
        return rc;
    rc = load_text(text, len, path, only_step, markers_only, out, positions, diag, partial);
    free(text);
    return rc;
}

int rn_yaml_load_file(const char *path, json_t **out, json_t **positions, rn_diag *diag)
{
    return rn_yaml_load_step(path, NULL, 0, out, positions, diag, NULL);
}
