/*
 * Catalog patterns, matched the way Python 3.11's pathlib.Path.glob does:
 * one path component at a time, `*` `?` `[...]` within a component (dot
 * files included), `**` as a whole component for "this folder and every
 * folder below it" (symlinked folders are not descended into, as in
 * pathlib), and a component without wildcards as a plain name.
 * Unlike pathlib, results are sorted and only regular files are reported,
 * which is what every caller (catalog get/put) wants.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnable/plugin.h"

struct glob_state {
    const char *base;
    char **parts;
    size_t nparts;
    char **found;
    size_t nfound, capfound;
};

/* One code point of a file name or pattern.  Bytes that are not valid
 * UTF-8 become U+DC80..U+DCFF, as Python's surrogateescape makes them, so
 * `?` still consumes exactly one of them. */
static unsigned next_cp(const unsigned char **sp)
{
    const unsigned char *s = *sp;
    unsigned c = s[0], cp, min;
    size_t len;
    if (c < 0x80) {
        *sp = s + 1;
        return c;
    }
    if (c >= 0xc2 && c < 0xe0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c < 0xf0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c < 0xf5) { len = 4; cp = c & 0x07; min = 0x10000; }
    else goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            goto bad;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        goto bad;
    *sp = s + len;
    return cp;
bad:
    *sp = s + 1;
    return 0xdc00 + c;
}

/*
 * fnmatch's bracket expression: `[!...]` negates, a `]` right after `[`
 * or `[!` is a member, `a-z` is a range, and a `[` without a closing `]`
 * is an ordinary character.  Returns 1 match, 0 no match, -1 not a class;
 * *end is set past the `]`.
 */
static int match_class(const unsigned char *p, unsigned c, const unsigned char **end)
{
    const unsigned char *q = p + 1;
    int neg = 0, hit = 0;
    if (*q == '!') {
        neg = 1;
        q++;
    }
    const unsigned char *close = q;
    if (*close == ']')
        close++;
    while (*close && *close != ']')
        close++;
    if (!*close)
        return -1;

    while (q < close) {
        unsigned lo = next_cp(&q);
        unsigned hi = lo;
        if (q + 1 < close && *q == '-') {
            q++;
            hi = next_cp(&q);
        }
        if (lo <= c && c <= hi)
            hit = 1;
    }
    *end = close + 1;
    return hit != neg;
}

/* Wildcard match of one component; `*` never crosses a `/` because
 * components carry none. */
static int match_name(const char *pattern, const char *name)
{
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *s = (const unsigned char *)name;
    const unsigned char *star_p = NULL, *star_s = NULL;

    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_s = s;
            continue;
        }
        if (*p) {
            const unsigned char *s2 = s;
            unsigned c = next_cp(&s2);
            if (*p == '?') {
                p++;
                s = s2;
                continue;
            }
            if (*p == '[') {
                const unsigned char *end;
                int m = match_class(p, c, &end);
                if (m == 1) {
                    p = end;
                    s = s2;
                    continue;
                }
                if (m == -1 && c == '[') {
                    p++;
                    s = s2;
                    continue;
                }
            } else {
                const unsigned char *p2 = p;
                if (next_cp(&p2) == c) {
                    p = p2;
                    s = s2;
                    continue;
                }
            }
        }
        /* Mismatch: let the last `*` swallow one more character. */
        if (!star_p)
            return 0;
        p = star_p;
        next_cp(&star_s);
        s = star_s;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static int is_wild(const char *part)
{
    return strpbrk(part, "*?[") != NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    size_t o = la;
    if (la && lb && a[la - 1] != '/')
        s[o++] = '/';
    memcpy(s + o, b, lb + 1);
    return s;
}

/* base_dir + "/" + rel, for the system calls. */
static char *full_path(const struct glob_state *g, const char *rel)
{
    return rel[0] ? join(g->base, rel) : strdup(g->base);
}

/* stat() following links: pathlib's is_dir()/exists() follow them too. */
static int stat_rel(const struct glob_state *g, const char *rel, struct stat *st)
{
    char *p = full_path(g, rel);
    if (!p)
        return RN_ENOMEM;
    int r = stat(p, st);
    free(p);
    return r == 0 ? 0 : 1;
}

static int add_found(struct glob_state *g, const char *rel)
{
    struct stat st;
    int r = stat_rel(g, rel, &st);
    if (r < 0)
        return r;
    if (r > 0 || !S_ISREG(st.st_mode))
        return 0;
    if (g->nfound == g->capfound) {
        size_t ncap = g->capfound ? g->capfound * 2 : 16;
        char **f = realloc(g->found, ncap * sizeof *f);
        if (!f)
            return RN_ENOMEM;
        g->found = f;
        g->capfound = ncap;
    }
    if (!(g->found[g->nfound] = strdup(rel)))
        return RN_ENOMEM;
    g->nfound++;
    return 0;
}

/* Names in a folder (without "." and ".."), with whether each is a
 * folder that `**` may descend into (a real one, not a symlink). */
struct entry {
    char *name;
    int is_dir;      /* following symlinks */
    int is_link;
};

static int list_dir(const struct glob_state *g, const char *rel, struct entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *p = full_path(g, rel);
    if (!p)
        return RN_ENOMEM;
    DIR *d = opendir(p);
    if (!d) {
        free(p);
        /* pathlib ignores folders it cannot read (PermissionError) and
         * ones that vanished meanwhile. */
        return 0;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            struct entry *e = realloc(*out, ncap * sizeof *e);
            if (!e) {
                rc = RN_ENOMEM;
                break;
            }
            *out = e;
            cap = ncap;
        }
        struct entry *e = &(*out)[*n];
        if (!(e->name = strdup(de->d_name))) {
            rc = RN_ENOMEM;
            break;
        }
        (*n)++;
        e->is_dir = 0;
        e->is_link = de->d_type == DT_LNK;
        if (de->d_type == DT_DIR) {
            e->is_dir = 1;
        } else if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
            struct stat st;
            char *fp = join(p, de->d_name);
            if (!fp) {
                rc = RN_ENOMEM;
                break;
            }
            if (de->d_type == DT_UNKNOWN && lstat(fp, &st) == 0 && S_ISLNK(st.st_mode))
                e->is_link = 1;
            e->is_dir = stat(fp, &st) == 0 && S_ISDIR(st.st_mode);
            free(fp);
        }
    }
    closedir(d);
    free(p);
    return rc;
}

static void free_entries(struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

static int select_from(struct glob_state *g, const char *rel, size_t idx);

/* `**`: the folder itself, then every real folder below it. */
static int select_recursive(struct glob_state *g, const char *rel, size_t idx)
{
    int rc = select_from(g, rel, idx + 1);
    if (rc)
        return rc;
    struct entry *ents;
    size_t n;
    if ((rc = list_dir(g, rel, &ents, &n)))
        return rc;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!ents[i].is_dir || ents[i].is_link)
            continue;
        char *child = join(rel, ents[i].name);
        rc = child ? select_recursive(g, child, idx) : RN_ENOMEM;
        free(child);
    }
    free_entries(ents, n);
    return rc;
}

static int select_from(struct glob_state *g, const char *rel, size_t idx)
{
    if (idx == g->nparts)
        return add_found(g, rel);

    const char *part = g->parts[idx];
    int last = idx + 1 == g->nparts;
    int rc = 0;

    if (!strcmp(part, "**"))
        return select_recursive(g, rel, idx);

    if (!is_wild(part)) {
        char *child = join(rel, part);
        if (!child)
            return RN_ENOMEM;
        struct stat st;
        int r = last ? 0 : stat_rel(g, child, &st);
        if (r < 0)
            rc = r;
        else if (last)
            rc = add_found(g, child);
        else if (r == 0 && S_ISDIR(st.st_mode))
            rc = select_from(g, child, idx + 1);
        free(child);
        return rc;
    }

    struct entry *ents;
    size_t n;
    if ((rc = list_dir(g, rel, &ents, &n)))
        return rc;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!last && !ents[i].is_dir)
            continue;
        if (!match_name(part, ents[i].name))
            continue;
        char *child = join(rel, ents[i].name);
        rc = child ? select_from(g, child, idx + 1) : RN_ENOMEM;
        free(child);
    }
    free_entries(ents, n);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split into components, dropping empty ones and "." as PurePath does. */
static int split_pattern(const char *pattern, char **buf, char ***parts, size_t *n)
{
    *buf = strdup(pattern);
    *parts = calloc(strlen(pattern) / 2 + 2, sizeof **parts);
    *n = 0;
    if (!*buf || !*parts)
        return RN_ENOMEM;
    char *save = NULL;
    for (char *t = strtok_r(*buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, "."))
            continue;
        if (!strcmp(t, ".."))
            return rn_error_set(RN_EINVAL, "glob pattern '%s' may not contain '..'", pattern);
        if (strstr(t, "**") && strcmp(t, "**"))
            return rn_error_set(RN_EINVAL,
                                "glob pattern '%s': '**' can only be an entire path component",
                                pattern);
        (*parts)[(*n)++] = t;
    }
    return 0;
}

int rn_glob(const char *base_dir, const char *pattern, rn_glob_fn fn, void *data)
{
    if (!pattern || !*pattern)
        return rn_error_set(RN_EINVAL, "empty glob pattern");
    if (pattern[0] == '/')
        return rn_error_set(RN_EINVAL, "glob pattern '%s' must be relative", pattern);

    struct glob_state g = { .base = base_dir && *base_dir ? base_dir : "." };
    char *buf = NULL;
    int rc = split_pattern(pattern, &buf, &g.parts, &g.nparts);
    if (rc == RN_ENOMEM)
        rn_error_set(rc, "out of memory");
    if (!rc && g.nparts == 0)
        rc = rn_error_set(RN_EINVAL, "glob pattern '%s' names no file", pattern);

    struct stat st;
    if (!rc && (stat(g.base, &st) != 0 || !S_ISDIR(st.st_mode)))
        goto done; /* like pathlib: a missing folder matches nothing */

    if (!rc && (rc = select_from(&g, "", 0)) == RN_ENOMEM)
        rn_error_set(rc, "out of memory");

    if (!rc && g.nfound) {
        qsort(g.found, g.nfound, sizeof *g.found, cmp_str);
        /* `**` more than once can reach a file by several routes. */
        for (size_t i = 0; i < g.nfound; i++) {
            if (i > 0 && !strcmp(g.found[i], g.found[i - 1]))
                continue;
            if ((rc = fn(g.found[i], data)))
                break;
        }
    }
done:
    for (size_t i = 0; i < g.nfound; i++)
        free(g.found[i]);
    free(g.found);
    free(g.parts);
    free(buf);
    return rc;
}
