/*
 * The steps of /dag/steps before a node's step, found line by line.
 *
 * A node's process composes one top-level step (rn_yaml_load_step); libyaml
 * still had to scan every step in front of it, building an event per
 * scalar: for the 500th step of a thousand-step file, 2 ms of a process
 * that should cost a few.  In block-style YAML a key of the steps mapping
 * is a line indented exactly as the first step's key, and no line indented
 * that little can belong to a step's value, except inside a quoted scalar
 * or flow collection spanning lines.  So the lines in front of the step can
 * be told apart by looking at each once, provided every line is read as
 * libyaml would read it where it matters: where scalars and collections
 * start and end on the line.
 *
 * Anything this reader is not sure of (a quote or flow collection left open
 * at a line's end, an anchor in a step left out, an explicit key, a merge
 * key among the steps, a tab in an indentation, a quoted key where the
 * structure is looked for, a second document, line breaks other than
 * "\n") makes it give up: the caller then lets libyaml read those steps as
 * before.  Giving up costs time, never a different document.  What it
 * does not do is check the steps it leaves out: a line libyaml would
 * refuse there (a key indented one space off) goes unseen, as does any
 * other problem of those steps; the run's maker read the whole file.
 */
#include "config.h"

#include <string.h>

#include "yaml_skip.h"

/* One line as block-context YAML. */
typedef struct yline {
    const char *next;     /* the line after it */
    int indent;           /* spaces before the content; -1: blank or comment */
    int dash;             /* starts with a sequence entry "- " */
    const char *key;      /* a plain key at the indentation (not after "- ") */
    size_t key_len;
    int quoted_key;       /* another key at the indentation (quoted, with an anchor) */
    int anchor;           /* an anchor is defined on the line */
    int opens_below;      /* "key:" with the value on the lines below */
    int block_parent;     /* a block scalar starts: its parent's column; -1 */
} yline;

#define UNSURE (-1)

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Nothing more on the line from q: spaces and tabs, maybe a comment (a
 * '#' at the line's start `ls` or after whitespace). */
static int rest_is_empty(const char *q, const char *le, const char *ls)
{
    while (q < le && is_blank(*q))
        q++;
    return q == le || (*q == '#' && (q == ls || is_blank(q[-1])));
}

/* A quoted scalar at q ('"' or '\''), closed on this line: its end. */
static const char *quoted_end(const char *q, const char *le)
{
    char quote = *q++;
    while (q < le) {
        if (quote == '"' && *q == '\\') {
            q += 2;
            continue;
        }
        if (*q == quote) {
            if (quote == '\'' && q + 1 < le && q[1] == '\'') {
                q += 2;
                continue;
            }
            return q + 1;
        }
        q++;
    }
    return NULL;
}

/* A flow collection at q, closed on this line, without anchors, aliases,
 * tags or comments: its end.  A quote counts only where a scalar starts
 * (after "{", "[", "," or ": "); anywhere else it may be the first of a
 * plain scalar's bytes or not, which is not decided here. */
static const char *flow_end(const char *q, const char *le)
{
    int depth = 0, at_start = 1;
    for (; q < le; q++) {
        char ch = *q;
        if (is_blank(ch))
            continue;
        int start = at_start;
        at_start = 0;
        switch (ch) {
        case '[':
        case '{':
        case ',':
            depth += ch != ',';
            at_start = 1;
            break;
        case ']':
        case '}':
            if (--depth == 0)
                return q + 1;
            break;
        case ':':
            at_start = q + 1 < le && is_blank(q[1]);
            break;
        case '"':
        case '\'':
            if (!start || !(q = quoted_end(q, le)))
                return NULL;
            q--;
            break;
        case '&':
        case '*':
        case '!':
            return NULL;
        case '#':
            if (is_blank(q[-1]))
                return NULL;
            break;
        default:
            break;
        }
    }
    return NULL;
}

/* A block scalar header at q ("|", ">-", "|+"...): 1 if well formed
 * without an explicit indentation. */
static int block_header(const char *q, const char *le)
{
    q++;
    while (q < le && (*q == '-' || *q == '+'))
        q++;
    return rest_is_empty(q, le, NULL);
}

/* Where a plain scalar starting at q ends: at a ':' followed by
 * whitespace or the line's end (*colon set), at a comment, or at the
 * line's end. */
static const char *plain_end(const char *q, const char *le, const char **colon)
{
    *colon = NULL;
    for (const char *s = q; q < le; q++) {
        if (*q == ':' && (q + 1 == le || is_blank(q[1]))) {
            *colon = q;
            return q;
        }
        if (*q == '#' && q > s && is_blank(q[-1]))
            return q;
    }
    return le;
}

/* A node that cannot be read here: explicit keys, directives and
 * reserved indicators. */
static int unsure_start(const char *q, const char *le)
{
    switch (*q) {
    case '?':
        return q + 1 == le || is_blank(q[1]);
    case '%':
    case '@':
    case '`':
    case '\t':
        return 1;
    default:
        return 0;
    }
}

/* The end of a token (an anchor, a tag, an alias name). */
static const char *token_end(const char *q, const char *le)
{
    while (q < le && !is_blank(*q))
        q++;
    return q;
}

/* Past a node's anchor and tag, noting an anchor. */
static const char *skip_props(const char *q, const char *le, yline *l)
{
    while (q < le && (*q == '&' || *q == '!')) {
        l->anchor |= *q == '&';
        q = token_end(q, le);
        while (q < le && is_blank(*q))
            q++;
    }
    return q;
}

/* An alias at q and nothing after it (an alias as a key is not read). */
static int alias_alone(const char *p, const char *q, const char *le)
{
    return rest_is_empty(token_end(q, le), le, p) ? 0 : UNSURE;
}

/* The value after "key:" at q (whitespace skipped). */
static int read_value(const char *p, const char *q, const char *le, yline *l, int parent)
{
    q = skip_props(q, le, l);
    if (rest_is_empty(q, le, p)) {
        l->opens_below = 1;
        return 0;
    }
    if (*q == '*')
        return alias_alone(p, q, le);
    if (unsure_start(q, le) || (*q == '-' && (q + 1 == le || is_blank(q[1]))))
        return UNSURE;
    const char *e, *colon;
    switch (*q) {
    case '"':
    case '\'':
        e = quoted_end(q, le);
        break;
    case '[':
    case '{':
        e = flow_end(q, le);
        break;
    case '|':
    case '>':
        if (!block_header(q, le))
            return UNSURE;
        l->block_parent = parent;
        return 0;
    default:
        /* A plain value: a ": " in it is libyaml's error, not ours to judge. */
        e = plain_end(q, le, &colon);
        if (colon)
            return UNSURE;
        break;
    }
    return e && rest_is_empty(e, le, p) ? 0 : UNSURE;
}

/* Past the spaces at *q: 1 if content follows, 0 if nothing (or a
 * comment) does, UNSURE for a tab where an indentation could be. */
static int content_at(const char **q, const char *le, const char *p)
{
    while (*q < le && **q == ' ')
        (*q)++;
    if (rest_is_empty(*q, le, p))
        return 0;
    return **q == '\t' ? UNSURE : 1;
}

/* The line from p to le (its "\n" or the text's end); `next` follows it. */
static int read_line(const char *p, const char *le, const char *next, yline *l)
{
    const char *q = p;
    *l = (yline){.next = next, .indent = -1, .block_parent = -1};
    int c = content_at(&q, le, p);
    if (c <= 0)
        return c;
    l->indent = (int)(q - p);
    if (q == p && le - q >= 3 && (!memcmp(q, "---", 3) || !memcmp(q, "...", 3)) &&
        (le - q == 3 || is_blank(q[3])))
        return UNSURE; /* a document marker */
    int parent = l->indent;
    while (*q == '-' && (q + 1 == le || is_blank(q[1]))) {
        l->dash = 1;
        parent = (int)(q - p);
        q++;
        if ((c = content_at(&q, le, p)) <= 0)
            return c;
    }
    const char *props = q;
    q = skip_props(q, le, l);
    if (rest_is_empty(q, le, p))
        return 0;
    if (*q == '*')
        return alias_alone(p, q, le);
    if (unsure_start(q, le))
        return UNSURE;
    const char *e, *colon = NULL, *ks = q;
    int quoted = 0;
    switch (*q) {
    case '"':
    case '\'':
        if (!(e = quoted_end(q, le)))
            return UNSURE;
        quoted = 1;
        for (const char *c = e; c < le; c++) {
            if (*c == ':' && (c + 1 == le || is_blank(c[1])))
                colon = c;
            if (!is_blank(*c))
                break;
        }
        break;
    case '[':
    case '{':
        /* A flow collection as a key is too rare to read here. */
        return (e = flow_end(q, le)) && rest_is_empty(e, le, p) ? 0 : UNSURE;
    case '|':
    case '>':
        if (!block_header(q, le) || !l->dash)
            return UNSURE;
        l->block_parent = parent;
        return 0;
    default:
        e = plain_end(q, le, &colon);
        break;
    }
    if (!colon)
        return rest_is_empty(e, le, p) ? 0 : UNSURE;
    /* A key: the mapping it belongs to is at its column. */
    if (!l->dash) {
        if (quoted || q != props) {
            l->quoted_key = 1;
        } else {
            const char *ke = colon;
            while (ke > q && is_blank(ke[-1]))
                ke--;
            l->key = q;
            l->key_len = (size_t)(ke - q);
        }
    }
    q = colon + 1;
    while (q < le && is_blank(*q))
        q++;
    return read_value(p, q, le, l, (int)(ks - p));
}

/* A block scalar's lines: while inside one, *in is set; `parent` is the
 * column its lines must be indented past, `indent` (0 until its first
 * line) their indentation.  1 if the line at p is the scalar's. */
typedef struct block_state {
    int in, parent, indent;
} block_state;

static int in_block(block_state *b, const char *p, const char *le)
{
    if (!b->in)
        return 0;
    const char *q = p;
    while (q < le && *q == ' ')
        q++;
    int n = (int)(q - p);
    if (q == le)
        return 1; /* all spaces: part of it, whatever the count */
    if (!b->indent && n > b->parent)
        b->indent = n;
    if (b->indent && n >= b->indent)
        return 1;
    b->in = 0;
    return 0;
}

static int key_is(const yline *l, const char *name, size_t len)
{
    return l->key && l->key_len == len && !memcmp(l->key, name, len);
}

/* The end of the line at p: its "\n", or the text's end. */
static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

/*
 * The line at p into *l (l->next set in every case), a block scalar's
 * lines followed through *b: 1 for a line with content to look at, 0 for
 * one to pass over (blank, a comment, a block scalar's text), UNSURE.
 */
static int next_line(const char *p, const char *end, yline *l, block_state *b)
{
    const char *le = line_end(p, end), *next = le < end ? le + 1 : end;
    if (in_block(b, p, le)) {
        l->next = next;
        return 0;
    }
    if (read_line(p, le, next, l) == UNSURE)
        return UNSURE;
    if (l->indent < 0)
        return 0;
    if (l->block_parent >= 0)
        *b = (block_state){1, l->block_parent, 0};
    return 1;
}

/*
 * Where the step whose key line `l` starts at p ends: the start of the next
 * line indented `indent` or less that is not blank or a comment (what
 * libyaml reads after the value only to see that it ended), or the text's
 * end (also when a line cannot be read for sure).
 */
static const char *step_ends(yline *l, const char *end, int indent, block_state *b)
{
    for (const char *p = l->next; p < end; p = l->next) {
        int r = next_line(p, end, l, b);
        if (r == UNSURE)
            return end;
        if (r && l->indent <= indent)
            return p;
    }
    return end;
}

/* Line breaks other than "\n" (YAML 1.1 has five: "\r", NEL, LS and PS
 * too) or NUL bytes (another encoding).  memchr, a pass each, is a small
 * part of the cost of looking at every line. */
static int other_breaks(const char *text, const char *end)
{
    size_t len = (size_t)(end - text);
    if (memchr(text, '\r', len) || memchr(text, '\0', len))
        return 1;
    for (const char *q = text; (q = memchr(q, 0xC2, (size_t)(end - q))); q++)
        if (end - q >= 2 && (unsigned char)q[1] == 0x85)
            return 1;
    for (const char *q = text; (q = memchr(q, 0xE2, (size_t)(end - q))); q++)
        if (end - q >= 3 && (unsigned char)q[1] == 0x80 &&
            ((unsigned char)q[2] == 0xA8 || (unsigned char)q[2] == 0xA9))
            return 1;
    return 0;
}

/* "---" alone, as the first line of a file may be. */
static int is_doc_start(const char *p, const char *le)
{
    return le - p >= 3 && !memcmp(p, "---", 3) && rest_is_empty(p + 3, le, NULL);
}

/* Where the structure is looked for, only a plain key that is not a merge
 * key will do. */
static int plain_key(const yline *l)
{
    return !l->dash && !l->quoted_key && l->key && !key_is(l, "<<", 2);
}

int rn_yaml_steps_before(const char *text, size_t len, const char *only, size_t *from,
                         size_t *to, size_t *step_end)
{
    const char *end = text + len;
    if (!len || (unsigned char)text[0] >= 0xEF || other_breaks(text, end))
        return 0;
    /* The keys looked for, one mapping inside the other: dag, its steps,
     * the step; indent[k] is the indentation of the mapping holding key k
     * (-1 until its first line). */
    const char *const keys[] = {"dag", "steps", only};
    int indent[] = {0, -1, -1}, k = 0, seen = 0;
    const char *first = NULL;
    block_state b = {0};
    yline l;
    for (const char *p = text; p < end; p = l.next) {
        if (!seen && is_doc_start(p, line_end(p, end))) {
            const char *le = line_end(p, end);
            seen = 1;
            l.next = le < end ? le + 1 : end;
            continue;
        }
        int r = next_line(p, end, &l, &b);
        if (r == UNSURE)
            return 0;
        if (!r)
            continue;
        seen = 1;
        if (indent[k] < 0) {
            /* The first line of a mapping opened on the line above. */
            if (l.indent <= indent[k - 1])
                return 0;
            indent[k] = l.indent;
            if (k == 2)
                first = p;
        }
        if (l.indent < indent[k])
            return 0; /* the mapping ended without the key: libyaml says why */
        if (l.indent == indent[k]) {
            if (!plain_key(&l))
                return 0;
            if (key_is(&l, keys[k], strlen(keys[k]))) {
                if (k < 2) {
                    if (!l.opens_below)
                        return 0; /* a flow mapping, or no mapping */
                    k++;
                    continue;
                }
                if (p == first)
                    return 0;
                *from = (size_t)(first - text);
                *to = (size_t)(p - text);
                *step_end = (size_t)(step_ends(&l, end, indent[2], &b) - text);
                return 1;
            }
        }
        /* A step left out cannot hold what the kept one may use. */
        if (k == 2 && l.anchor)
            return 0;
    }
    return 0;
}
