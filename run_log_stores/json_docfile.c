/*
 * Incremental writer for one run-log JSON file (see json_docfile.h and
 * docs/run-log-layout.md).
 *
 * In memory the document is a tree of nodes (the root, its steps, their
 * branches, ...).  Each node keeps the text of its own members, formatted
 * exactly like Python's json.dumps(indent=4, ensure_ascii=True), cut into
 * four parts around the places that change independently:
 *
 *     open  = [",\n<indent>"<name>": ]{ ...members before status... "status":
 *     slot  = "PROCESSING"            the status, padded with spaces to a
 *                                     fixed width so a new status fits
 *     mid   = , ...more members... "steps": {
 *     (children, each a node)
 *     close = } , ...members after the children... }
 *
 * The file is the concatenation of all parts in document order, and every
 * part knows its byte offset.  A change re-serialises only the nodes it
 * touches; a part whose length is unchanged is rewritten where it is (a
 * status), and from the first part whose length changed (or where a node
 * was inserted) the rest of the file is rewritten.  Steps are appended at
 * the end of their map and members that change often sit after it, so
 * that rest is normally one step and the closing members: O(step), not
 * O(document).
 *
 * Writes never touch the visible file in place, because no write of more
 * than one page is atomic when the process is killed: the kernel copies a
 * write page by page and stops between pages for SIGKILL, and a power
 * loss can persist any subset of the pages.  Instead the file has a hidden
 * twin (the shadow, ".<name>.shadow") that holds the previous version.
 * A flush brings the shadow up to date with the same incremental writes,
 * then swaps the two names with renameat2(RENAME_EXCHANGE), which is
 * atomic: the visible name always holds a complete document, and what was
 * visible becomes the new shadow, one version behind.  The next flush
 * rewrites in the shadow what changed in the last two flushes.
 *
 * Where the file system cannot exchange names, the writer falls back to
 * rewriting the visible file in place (one pwrite per flush, small suffixes
 * only; anything else through a complete copy and rename()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "json_docfile.h"

enum { P_OPEN, P_SLOT, P_MID, P_CLOSE, P_N };

/* "PROCESSING" with its quotes: every status of spec §4 fits. */
#define SLOT_MIN 12
/* Shrinking by more than this truncates instead of padding with spaces. */
#define PAD_MAX (64 * 1024)
/* In-place fallback: larger suffixes go through a complete copy. */
#define INPLACE_MAX (64 * 1024)
#define NONE_OFF SIZE_MAX

typedef struct df_node {
    rn_df_kind kind;
    char *name;              /* key in the parent's map; NULL for the root */
    json_t *fields;          /* own members, without the children member */
    struct df_node *parent;
    struct df_node **kids;
    size_t nkids, kids_cap;
    size_t index;            /* position among the parent's kids */
    int level;               /* JSON nesting depth of the node's '{' */
    char *text;              /* the four parts, back to back */
    size_t len[P_N];
    size_t off[P_N];         /* in the file; meaningless while is_new */
    size_t slot_w;           /* reserved width of the status slot */
    unsigned is_new : 1;     /* not laid out in the file yet */
    unsigned regen;          /* parts (1 << P_*) to regenerate; 0: clean */
} df_node;

#define ALL_PARTS ((1u << P_N) - 1)

typedef struct df_ref {
    df_node *node;
    int part;
} df_ref;

typedef struct df_refs {
    df_ref *v;
    size_t n, cap;
} df_refs;

enum { VIS_NONE, VIS_FOREIGN, VIS_OURS };
enum { MODE_EXCHANGE, MODE_INPLACE };

struct rn_docfile {
    char *path, *shadow, *dir;
    rn_df_kind root_kind;
    int nested, fsync_it;
    df_node *root;
    df_node **index;         /* name -> node, open addressing */
    size_t index_cap, index_n;
    df_node **dirty;
    size_t ndirty, dirty_cap;
    size_t end;              /* length of the document text */
    int need_full;           /* lay out and write everything next time */
    int mode;
    /* The visible file as this process last saw it. */
    int vis;
    dev_t vis_dev;
    ino_t vis_ino;
    off_t vis_size;
    struct timespec vis_mtime;
    /* The shadow: valid only when sh_known; it then equals the document
     * except from offset sh_from on and in the parts of sh_pending. */
    int sh_known;
    dev_t sh_dev;
    ino_t sh_ino;
    size_t sh_phys;
    size_t sh_from;
    df_refs sh_pending;
    df_refs cur;             /* in-place parts of the flush in progress */
    /* The caller's run_config object last seen (a held reference, so
     * its address cannot be reused): see update_fields(). */
    json_t *rc_seen;
    rn_buf scratch;          /* reused: one allocation, not one per flush */
};

#define TRY(expr) do { if (!rc) rc = (expr); } while (0)

static int oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

/* ---- key order ----------------------------------------------------- */

/*
 * RunLog: run_config is placed BEFORE steps, unlike runnable (which writes
 * run_id, dag_hash, tag, status, steps, job, parameters, run_config).  It
 * is the one large member that never changes, so ahead of the steps it is
 * never rewritten; job and parameters, which change, stay after them
 * where rewriting them is cheap.  JSON readers do not depend on key order
 * (spec §2), runnable's own included.
 */
static const char *const run_keys[] = {"run_id", "dag_hash", "tag", "status", "run_config",
                                       "steps", "job", "parameters", NULL};
static const char *const step_keys[] = {"name", "internal_name", "status", "step_type",
                                        "message", "mock", "attempts", "branches",
                                        "data_catalog", NULL};
static const char *const branch_keys[] = {"internal_name", "status", "steps", "parameters",
                                          NULL};

static const char *const *kind_keys(rn_df_kind k)
{
    return k == RN_DF_RUN ? run_keys : k == RN_DF_STEP ? step_keys : branch_keys;
}

static const char *children_key(rn_df_kind k)
{
    return k == RN_DF_STEP ? "branches" : "steps";
}

static rn_df_kind child_kind(rn_df_kind k)
{
    return k == RN_DF_STEP ? RN_DF_BRANCH : RN_DF_STEP;
}

static const char *kind_name(rn_df_kind k)
{
    return k == RN_DF_RUN ? "run log" : k == RN_DF_STEP ? "step" : "branch";
}

static int is_known(const char *const *keys, const char *key)
{
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(keys[i], key))
            return 1;
    return 0;
}

enum { M_PLAIN, M_SLOT, M_KIDS };

typedef struct df_member {
    const char *key;
    json_t *value;
    int role;
} df_member;

/* Members in the order they are written: the kind's known keys (always
 * including the children member), then any others in insertion order.
 * `m` has room for json_object_size(fields) + 1 entries. */
static size_t order_members(const df_node *n, df_member *m)
{
    const char *const *keys = kind_keys(n->kind);
    const char *ck = children_key(n->kind);
    size_t k = 0;
    for (size_t i = 0; keys[i]; i++) {
        if (!strcmp(keys[i], ck)) {
            m[k++] = (df_member){ck, NULL, M_KIDS};
            continue;
        }
        json_t *v = json_object_get(n->fields, keys[i]);
        if (!v)
            continue;
        int role = !strcmp(keys[i], "status") && json_is_string(v) ? M_SLOT : M_PLAIN;
        m[k++] = (df_member){keys[i], v, role};
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)n->fields, key, v) {
        if (!is_known(keys, key))
            m[k++] = (df_member){key, v, M_PLAIN};
    }
    return k;
}

/* ---- name index ---------------------------------------------------- */

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static df_node *index_get(const rn_docfile *df, const char *name)
{
    if (!df->index_cap)
        return NULL;
    size_t mask = df->index_cap - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        df_node *n = df->index[i];
        if (!n)
            return NULL;
        if (!strcmp(n->name, name))
            return n;
    }
}

static int index_put(rn_docfile *df, df_node *node)
{
    if ((df->index_n + 1) * 4 >= df->index_cap * 3) {
        size_t ncap = df->index_cap ? df->index_cap * 2 : 64;
        df_node **nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return oom();
        for (size_t i = 0; i < df->index_cap; i++) {
            df_node *n = df->index[i];
            if (!n)
                continue;
            size_t j = hash_str(n->name) & (ncap - 1);
            while (nv[j])
                j = (j + 1) & (ncap - 1);
            nv[j] = n;
        }
        free(df->index);
        df->index = nv;
        df->index_cap = ncap;
    }
    size_t mask = df->index_cap - 1;
    size_t i = hash_str(node->name) & mask;
    while (df->index[i])
        i = (i + 1) & mask;
    df->index[i] = node;
    df->index_n++;
    return 0;
}

/* ---- nodes --------------------------------------------------------- */

static void node_free(df_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->text);
    json_decref(n->fields);
    free(n);
}

static df_node *node_new(rn_df_kind kind, const char *name)
{
    df_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->is_new = 1;
    if (name && !(n->name = strdup(name))) {
        free(n);
        return NULL;
    }
    return n;
}

static int mark_dirty(rn_docfile *df, df_node *n, unsigned parts)
{
    if (n->regen) {
        n->regen |= parts;
        return 0;
    }
    if (df->ndirty == df->dirty_cap) {
        size_t ncap = df->dirty_cap ? df->dirty_cap * 2 : 16;
        df_node **nv = realloc(df->dirty, ncap * sizeof *nv);
        if (!nv)
            return oom();
        df->dirty = nv;
        df->dirty_cap = ncap;
    }
    df->dirty[df->ndirty++] = n;
    n->regen = parts;
    return 0;
}

static int add_kid(rn_docfile *df, df_node *parent, df_node *kid)
{
    if (parent->nkids == parent->kids_cap) {
        size_t ncap = parent->kids_cap ? parent->kids_cap * 2 : 4;
        df_node **nv = realloc(parent->kids, ncap * sizeof *nv);
        if (!nv)
            return oom();
        parent->kids = nv;
        parent->kids_cap = ncap;
    }
    int rc = index_put(df, kid);
    if (rc)
        return rc;
    kid->parent = parent;
    kid->index = parent->nkids;
    kid->level = parent->level + 2;
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/* A copy of `obj` without `skip`; values deep-copied because the caller
 * keeps mutating its own document after handing it over. */
static json_t *copy_without(const json_t *obj, const char *skip)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!strcmp(key, skip))
            continue;
        if (json_object_set_new(out, key, json_deep_copy(v)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* ---- text ---------------------------------------------------------- */

static int put_lit(rn_buf *b, const char *s)
{
    return rn_buf_append(b, s, strlen(s));
}

static int put_indent(rn_buf *b, int level)
{
    static const char spaces[] = "                                                                ";
    int rc = rn_buf_append(b, "\n", 1);
    size_t n = (size_t)level * 4;
    while (!rc && n) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        rc = rn_buf_append(b, spaces, k);
        n -= k;
    }
    return rc;
}

static int put_spaces(rn_buf *b, size_t n)
{
    static const char spaces[] = "                                                                ";
    int rc = 0;
    while (!rc && n) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        rc = rn_buf_append(b, spaces, k);
        n -= k;
    }
    return rc;
}

static int put_key(rn_buf *b, const char *key)
{
    /* Plain keys (all of the run log's own) skip the generic encoder. */
    const unsigned char *s = (const unsigned char *)key;
    for (; *s; s++)
        if (*s < 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
            break;
    if (!*s) {
        int rc = rn_buf_append(b, "\"", 1);
        TRY(put_lit(b, key));
        TRY(rn_buf_append(b, "\"", 1));
        return rc;
    }
    json_t *k = json_string(key);
    if (!k)
        return rn_error_set(RN_EINVAL, "key is not valid UTF-8");
    int rc = rn_json_append_py(b, k, 0, 0);
    json_decref(k);
    return rc;
}

static size_t part_start(const df_node *n, int p);

/*
 * Serialise node `n`'s own parts into `b`; lens receives their sizes.
 * Parts not in `mask` are copied from the node's current text instead of
 * being generated: a step appended to the root must not re-serialise the
 * root's run_config (megabytes for a large pipeline).
 */
static int regen(df_node *n, rn_buf *b, size_t lens[P_N], unsigned mask)
{
    df_member stack_m[16], *m = stack_m;
    size_t cap = json_object_size(n->fields) + 1;
    if (cap > sizeof stack_m / sizeof *stack_m && !(m = malloc(cap * sizeof *m)))
        return oom();
    size_t nm = order_members(n, m);
    size_t mark = b->len;
    int cur = P_OPEN, rc = 0, L = n->level;
#define GEN (mask & (1u << cur))
#define OLD(p) rn_buf_append(b, n->text + part_start(n, (p)), n->len[(p)])
#define ENTER(p)                                  \
    do {                                          \
        lens[cur] = b->len - mark;                \
        mark = b->len;                            \
        cur = (p);                                \
        if (!GEN)                                 \
            TRY(OLD(cur));                        \
    } while (0)

    if (!GEN) {
        TRY(OLD(P_OPEN));
    } else {
        if (n->parent) {
            if (n->index)
                TRY(rn_buf_append(b, ",", 1));
            TRY(put_indent(b, L));
            TRY(put_key(b, n->name));
            TRY(rn_buf_append(b, ": ", 2));
        }
        TRY(rn_buf_append(b, "{", 1));
    }
    for (size_t i = 0; !rc && i < nm; i++) {
        if (GEN) {
            if (i)
                TRY(rn_buf_append(b, ",", 1));
            TRY(put_indent(b, L + 1));
            TRY(put_key(b, m[i].key));
            TRY(rn_buf_append(b, ": ", 2));
        }
        if (m[i].role == M_SLOT && cur == P_OPEN) {
            ENTER(P_SLOT);
            if (GEN) {
                size_t s0 = b->len;
                TRY(rn_json_append_py(b, m[i].value, 0, 0));
                size_t w = b->len - s0;
                if (w > n->slot_w)
                    n->slot_w = w < SLOT_MIN ? SLOT_MIN : w;
                /* Spaces between a value and the next ',' are valid JSON. */
                TRY(put_spaces(b, n->slot_w - w));
            }
            ENTER(P_MID);
        } else if (m[i].role == M_KIDS) {
            if (cur == P_OPEN) {
                ENTER(P_SLOT); /* no status slot: an empty part */
                ENTER(P_MID);
            }
            if (GEN)
                TRY(rn_buf_append(b, "{", 1));
            ENTER(P_CLOSE);
            /* Python writes an empty map as {} and a full one with its
             * closing brace on a line of its own. */
            if (GEN && n->nkids)
                TRY(put_indent(b, L + 1));
            if (GEN)
                TRY(rn_buf_append(b, "}", 1));
        } else if (GEN) {
            TRY(rn_json_append_py(b, m[i].value, RN_JSON_INDENT4, L + 1));
        }
    }
    if (GEN) {
        TRY(put_indent(b, L));
        TRY(rn_buf_append(b, "}", 1));
        if (!n->parent)
            TRY(rn_buf_append(b, "\n", 1));
    }
    lens[P_CLOSE] = b->len - mark;
#undef GEN
#undef OLD
#undef ENTER
    if (m != stack_m)
        free(m);
    return rc;
}

static size_t part_start(const df_node *n, int p)
{
    size_t s = 0;
    for (int i = 0; i < p; i++)
        s += n->len[i];
    return s;
}

/* Index of the last laid-out kid starting at or before `at` (0 if none):
 * the first kid that can hold anything at or after `at`.  Kids not laid
 * out yet are always at the end. */
static size_t first_kid_at(const df_node *n, size_t at)
{
    size_t nold = n->nkids;
    while (nold && n->kids[nold - 1]->is_new)
        nold--;
    size_t lo = 0, hi = nold; /* answer in [lo, hi) */
    if (!nold || n->kids[0]->off[P_OPEN] > at)
        return 0;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->kids[mid]->off[P_OPEN] <= at)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int place_part(df_node *n, int p, size_t *cursor, rn_buf *out)
{
    n->off[p] = *cursor;
    *cursor += n->len[p];
    return rn_buf_append(out, n->text + part_start(n, p), n->len[p]);
}

/* Give new offsets to every part at or after `x` (all parts of new nodes)
 * and append their text to `out`: the document from `x` to its end. */
static int place(df_node *n, size_t x, size_t *cursor, rn_buf *out)
{
    int rc = 0, all = n->is_new;
    for (int p = P_OPEN; p < P_CLOSE && !rc; p++)
        if (all || n->off[p] >= x)
            rc = place_part(n, p, cursor, out);
    for (size_t i = all ? 0 : first_kid_at(n, x); !rc && i < n->nkids; i++)
        rc = place(n->kids[i], x, cursor, out);
    if (!rc && (all || n->off[P_CLOSE] >= x))
        rc = place_part(n, P_CLOSE, cursor, out);
    n->is_new = 0;
    return rc;
}

/* Append the text of the parts in [lo, hi), both part boundaries. */
static int collect(const df_node *n, size_t lo, size_t hi, rn_buf *out)
{
    int rc = 0;
    if (n->off[P_OPEN] >= hi)
        return 0;
    for (int p = P_OPEN; p < P_CLOSE && !rc; p++)
        if (n->off[p] >= lo && n->off[p] < hi)
            rc = rn_buf_append(out, n->text + part_start(n, p), n->len[p]);
    for (size_t i = first_kid_at(n, lo); !rc && i < n->nkids; i++) {
        if (n->kids[i]->off[P_OPEN] >= hi)
            break;
        rc = collect(n->kids[i], lo, hi, out);
    }
    if (!rc && n->off[P_CLOSE] >= lo && n->off[P_CLOSE] < hi)
        rc = rn_buf_append(out, n->text + part_start(n, P_CLOSE), n->len[P_CLOSE]);
    return rc;
}

static int refs_add(df_refs *r, df_node *n, int part)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        df_ref *nv = realloc(r->v, ncap * sizeof *nv);
        if (!nv)
            return oom();
        r->v = nv;
        r->cap = ncap;
    }
    r->v[r->n++] = (df_ref){n, part};
    return 0;
}

/* ---- files --------------------------------------------------------- */

static int pwrite_all(int fd, const char *p, size_t len, size_t off)
{
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
        off += (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int io_error(const char *what, const char *path)
{
    return rn_error_set(RN_EIO, "cannot %s %s: %s", what, path, strerror(errno));
}

/* Write the in-place parts of `refs` that lie before `limit`. */
static int write_refs(int fd, const df_refs *refs, size_t limit)
{
    for (size_t i = 0; i < refs->n; i++) {
        const df_node *n = refs->v[i].node;
        int p = refs->v[i].part;
        if (n->off[p] >= limit)
            continue;
        if (pwrite_all(fd, n->text + part_start(n, p), n->len[p], n->off[p]) != 0)
            return -1;
    }
    return 0;
}

/*
 * Bring the shadow up to date (incrementally when it is known, otherwise
 * from scratch), then make it the visible file.  `x` is where this flush's
 * rewritten tail starts (NONE_OFF: only in-place parts), `suf` that tail.
 */
static int write_via_shadow(rn_docfile *df, size_t x, const rn_buf *suf)
{
    int known = df->sh_known && df->mode == MODE_EXCHANGE;
    int fd = -1, rc = 0;
    struct stat st;

    if (known) {
        fd = open(df->shadow, O_WRONLY | O_CLOEXEC);
        /* Gone or replaced (another process of the same run wrote this
         * file since): start it again. */
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_ino != df->sh_ino || st.st_dev != df->sh_dev)
            known = 0;
    }
    if (!known) {
        if (fd >= 0)
            close(fd);
        fd = open(df->shadow, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 && errno == ENOENT) {
            if ((rc = rn_mkdir_p(df->dir, 0777)) != 0)
                return rc;
            fd = open(df->shadow, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        }
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = io_error("create", df->shadow);
            if (fd >= 0)
                close(fd);
            return rc;
        }
    }

    size_t phys = known ? df->sh_phys : 0;
    size_t from = known ? (df->sh_from < x ? df->sh_from : x) : 0;
    rn_buf w = {0};
    size_t newphys = phys;
    if (from != NONE_OFF) {
        size_t upto = x == NONE_OFF ? df->end : x;
        if (from < upto)
            TRY(collect(df->root, from, upto, &w));
        if (x != NONE_OFF)
            TRY(rn_buf_append(&w, suf->data, suf->len));
        newphys = df->end;
        if (phys > df->end && phys - df->end <= PAD_MAX) {
            /* Cheaper than a truncate, and trailing spaces are valid. */
            TRY(put_spaces(&w, phys - df->end));
            newphys = phys;
        } else if (!rc && phys > df->end && ftruncate(fd, (off_t)df->end) != 0) {
            rc = io_error("truncate", df->shadow);
        }
    }
    if (!rc && w.len && pwrite_all(fd, w.data, w.len, from) != 0)
        rc = io_error("write", df->shadow);
    rn_buf_free(&w);
    if (!rc && known) {
        if (write_refs(fd, &df->sh_pending, from) != 0 || write_refs(fd, &df->cur, from) != 0)
            rc = io_error("write", df->shadow);
    }
    if (!rc && df->fsync_it && fsync(fd) != 0)
        rc = io_error("sync", df->shadow);
    /* After the writes: the modification time is part of the identity
     * refresh() checks (inode numbers get reused). */
    if (!rc && fstat(fd, &st) != 0)
        rc = io_error("stat", df->shadow);
    if (close(fd) != 0 && !rc)
        rc = io_error("write", df->shadow);
    if (rc)
        return rc;

    dev_t new_dev = st.st_dev;
    ino_t new_ino = st.st_ino;
    int exchanged = 0;
#ifdef RENAME_EXCHANGE
    if (df->vis == VIS_OURS && df->mode == MODE_EXCHANGE) {
        if (renameat2(AT_FDCWD, df->shadow, AT_FDCWD, df->path, RENAME_EXCHANGE) == 0)
            exchanged = 1;
        else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)
            df->mode = MODE_INPLACE; /* this file system cannot swap names */
        else if (errno != ENOENT)
            return io_error("replace", df->path);
    }
#else
    df->mode = MODE_INPLACE;
#endif
    if (exchanged) {
        /* What was visible is now the shadow, one version behind. */
        df->sh_known = 1;
        df->sh_dev = df->vis_dev;
        df->sh_ino = df->vis_ino;
        df->sh_phys = (size_t)df->vis_size;
        df->sh_from = x;
        df_refs t = df->sh_pending;
        df->sh_pending = df->cur;
        df->cur = t;
        df->cur.n = 0;
    } else {
        if (rename(df->shadow, df->path) != 0)
            return io_error("replace", df->path);
        df->sh_known = 0;
        df->sh_pending.n = 0;
    }
    df->vis = VIS_OURS;
    df->vis_dev = new_dev;
    df->vis_ino = new_ino;
    df->vis_size = (off_t)(known ? newphys : df->end);
    df->vis_mtime = st.st_mtim;
    if (df->fsync_it && fsync_dir(df->dir) != 0)
        return io_error("sync folder", df->dir);
    return 0;
}

/* The fallback where names cannot be exchanged: patch the visible file.
 * Returns 1 when the change is too large for that (caller copies). */
static int write_in_place(rn_docfile *df, size_t x, const rn_buf *suf)
{
    if (df->vis != VIS_OURS || x == 0 || (x != NONE_OFF && suf->len > INPLACE_MAX))
        return 1;
    int fd = open(df->path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_ino != df->vis_ino || st.st_dev != df->vis_dev) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    int rc = 0;
    size_t phys = (size_t)df->vis_size, newphys = phys;
    if (write_refs(fd, &df->cur, x) != 0)
        rc = io_error("write", df->path);
    if (!rc && x != NONE_OFF) {
        rn_buf w = {0};
        TRY(rn_buf_append(&w, suf->data, suf->len));
        newphys = df->end;
        if (phys > df->end) {
            TRY(put_spaces(&w, phys - df->end));
            newphys = phys;
        }
        if (!rc && pwrite_all(fd, w.data, w.len, x) != 0)
            rc = io_error("write", df->path);
        rn_buf_free(&w);
    }
    if (!rc && df->fsync_it && fsync(fd) != 0)
        rc = io_error("sync", df->path);
    if (!rc && fstat(fd, &st) != 0)
        rc = io_error("stat", df->path);
    if (close(fd) != 0 && !rc)
        rc = io_error("write", df->path);
    if (!rc) {
        df->vis_size = (off_t)newphys;
        df->vis_mtime = st.st_mtim;
    }
    return rc;
}

int rn_docfile_flush(rn_docfile *df)
{
    if (!df->ndirty && !df->need_full)
        return 0;
    int rc = 0;
    size_t x = df->need_full ? 0 : NONE_OFF;
    rn_buf *tmp = &df->scratch, suf = {0};
    df->cur.n = 0;

    /* 1. New text for every touched node; find where lengths change. */
    for (size_t i = 0; !rc && i < df->ndirty; i++) {
        df_node *n = df->dirty[i];
        size_t lens[P_N] = {0};
        tmp->len = 0;
        rc = regen(n, tmp, lens, n->is_new ? ALL_PARTS : n->regen);
        if (rc)
            break;
        if (n->is_new) {
            /* Kids are appended: the node goes where its parent's map
             * closes. */
            if (n->parent && !n->parent->is_new && n->parent->off[P_CLOSE] < x)
                x = n->parent->off[P_CLOSE];
        } else {
            size_t o = 0, t = 0;
            for (int p = 0; p < P_N && !rc; p++) {
                if (lens[p] != n->len[p]) {
                    if (n->off[p] < x)
                        x = n->off[p];
                } else if (memcmp(n->text + o, tmp->data + t, lens[p]) != 0) {
                    rc = refs_add(&df->cur, n, p);
                }
                o += n->len[p];
                t += lens[p];
            }
        }
        char *text = malloc(tmp->len ? tmp->len : 1);
        if (!text) {
            rc = oom();
            break;
        }
        memcpy(text, tmp->data, tmp->len);
        free(n->text);
        n->text = text;
        memcpy(n->len, lens, sizeof lens);
    }
    /* Keep a reasonable scratch buffer, not the largest one ever used. */
    if (tmp->cap > (1u << 20))
        rn_buf_free(tmp);
    for (size_t i = 0; i < df->ndirty; i++)
        df->dirty[i]->regen = 0;
    df->ndirty = 0;
    if (rc) {
        df->need_full = 1;
        return rc;
    }

    /* In-place parts at or after x are rewritten with the tail anyway. */
    size_t k = 0;
    for (size_t i = 0; i < df->cur.n; i++)
        if (df->cur.v[i].node->off[df->cur.v[i].part] < x)
            df->cur.v[k++] = df->cur.v[i];
    df->cur.n = k;
    if (x == NONE_OFF && !df->cur.n)
        return 0;

    /* 2. Lay out the tail that moved. */
    if (x != NONE_OFF) {
        size_t cursor = x;
        rc = place(df->root, x, &cursor, &suf);
        df->end = cursor;
    }

    /* 3. Write it. */
    if (!rc) {
        int r = 1;
        if (df->mode == MODE_INPLACE)
            r = write_in_place(df, x, &suf);
        rc = r == 1 ? write_via_shadow(df, x, &suf) : r;
    }
    rn_buf_free(&suf);
    df->cur.n = 0;
    if (rc) {
        /* Memory is ahead of the disk: write everything next time. */
        df->need_full = 1;
        df->sh_known = 0;
        df->sh_pending.n = 0;
        return rc;
    }
    df->need_full = 0;
    return 0;
}

/* ---- building the tree ----------------------------------------------- */

static void tree_reset(rn_docfile *df)
{
    node_free(df->root);
    df->root = NULL;
    json_decref(df->rc_seen);
    df->rc_seen = NULL;
    free(df->index);
    df->index = NULL;
    df->index_cap = df->index_n = 0;
    df->ndirty = 0;
    df->sh_known = 0;
    df->sh_pending.n = 0;
    df->cur.n = 0;
    df->end = 0;
    df->need_full = 1;
}

/* Take ownership of `obj` as node `n`'s members; its children member
 * becomes child nodes (one level only unless nested). */
static int build(rn_docfile *df, df_node *n, json_t *obj, int depth)
{
    const char *ck = children_key(n->kind);
    json_t *kids = json_object_get(obj, ck);
    json_incref(kids);
    json_object_del(obj, ck);
    n->fields = obj;
    int rc = mark_dirty(df, n, ALL_PARTS);
    if (!rc && kids && !json_is_object(kids) && !json_is_null(kids))
        rc = rn_error_set(RN_EINVAL, "%s: \"%s\" of %s%s%s is not an object", df->path, ck,
                          kind_name(n->kind), n->name ? " " : "", n->name ? n->name : "");
    if (!rc && json_is_object(kids) && (depth == 0 || df->nested)) {
        const char *key;
        json_t *v;
        json_object_foreach(kids, key, v) {
            if (!json_is_object(v)) {
                rc = rn_error_set(RN_EINVAL, "%s: %s %s is not an object", df->path,
                                  kind_name(child_kind(n->kind)), key);
                break;
            }
            if (index_get(df, key)) {
                rc = rn_error_set(RN_EINVAL, "%s: %s appears twice", df->path, key);
                break;
            }
            df_node *kid = node_new(child_kind(n->kind), key);
            if (!kid) {
                rc = oom();
                break;
            }
            rc = add_kid(df, n, kid);
            if (rc) {
                node_free(kid);
                break;
            }
            json_incref(v);
            rc = build(df, kid, v, depth + 1);
            if (rc)
                break;
        }
    }
    json_decref(kids);
    return rc;
}

static int new_root(rn_docfile *df)
{
    df->root = node_new(df->root_kind, NULL);
    if (!df->root)
        return oom();
    df->root->fields = json_object();
    if (!df->root->fields)
        return oom();
    return mark_dirty(df, df->root, ALL_PARTS);
}

int rn_docfile_new(rn_docfile **out, const char *path, rn_df_kind root_kind, int nested,
                   int fsync_it)
{
    *out = NULL;
    rn_docfile *df = calloc(1, sizeof *df);
    if (!df)
        return oom();
    df->root_kind = root_kind;
    df->nested = nested;
    df->fsync_it = fsync_it;
    df->need_full = 1;
    df->mode = MODE_EXCHANGE;
    df->vis = VIS_NONE;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    df->path = strdup(path);
    df->dir = slash ? strndup(path, dlen ? dlen : 1) : strdup(".");
    size_t sl = strlen(df->dir ? df->dir : "") + strlen(base) + 16;
    df->shadow = malloc(sl);
    if (!df->path || !df->dir || !df->shadow || new_root(df)) {
        rn_docfile_free(df);
        return oom();
    }
    /* A dot name: not matched by "*.json" or "BranchLog-*" listings. */
    snprintf(df->shadow, sl, "%s/.%s.shadow", df->dir, base);
    *out = df;
    return 0;
}

void rn_docfile_free(rn_docfile *df)
{
    if (!df)
        return;
    /* The shadow only duplicates the previous version; remove it if it
     * is still the one this process left there. */
    struct stat st;
    if (df->sh_known && df->shadow && lstat(df->shadow, &st) == 0 && st.st_ino == df->sh_ino &&
        st.st_dev == df->sh_dev)
        unlink(df->shadow);
    node_free(df->root);
    free(df->index);
    free(df->dirty);
    free(df->sh_pending.v);
    free(df->cur.v);
    json_decref(df->rc_seen);
    rn_buf_free(&df->scratch);
    free(df->path);
    free(df->dir);
    free(df->shadow);
    free(df);
}

void rn_docfile_use_in_place(rn_docfile *df)
{
    df->mode = MODE_INPLACE;
    df->sh_known = 0;
}

const char *rn_docfile_path(const rn_docfile *df)
{
    return df->path;
}

int rn_docfile_load(rn_docfile *df)
{
    int fd = open(df->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return rn_error_set(RN_ENOENT, "%s does not exist", df->path);
        return io_error("open", df->path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = io_error("read", df->path);
        close(fd);
        return rc;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : oom();
    while (!rc) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = oom();
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = io_error("read", df->path);
        else if (r == 0)
            break;
        else
            len += (size_t)r;
    }
    close(fd);
    json_t *doc = NULL;
    if (!rc) {
        doc = rn_json_loads_py(buf, len);
        /* minio double-encodes (spec §6.4); accept that shape too. */
        if (json_is_string(doc)) {
            json_t *inner = rn_json_loads_py(json_string_value(doc), json_string_length(doc));
            json_decref(doc);
            doc = inner;
        }
        if (!doc)
            rc = rn_error_set(RN_EINVAL, "%s is not valid JSON", df->path);
        else if (!json_is_object(doc))
            rc = rn_error_set(RN_EINVAL, "%s does not hold a JSON object", df->path);
    }
    free(buf);
    if (rc) {
        json_decref(doc);
        return rc;
    }

    tree_reset(df);
    df->root = node_new(df->root_kind, NULL);
    if (!df->root) {
        json_decref(doc);
        rc = oom();
    } else {
        rc = build(df, df->root, doc, 0);
    }
    if (rc) {
        /* Leave an empty document rather than half of one. */
        tree_reset(df);
        if (new_root(df))
            return oom();
        df->vis = VIS_NONE;
        return rc;
    }
    df->vis = VIS_FOREIGN;
    df->vis_dev = st.st_dev;
    df->vis_ino = st.st_ino;
    df->vis_size = st.st_size;
    df->vis_mtime = st.st_mtim;
    return 0;
}

int rn_docfile_refresh(rn_docfile *df, int *reloaded)
{
    struct stat st;
    if (reloaded)
        *reloaded = 0;
    if (stat(df->path, &st) != 0) {
        if (errno != ENOENT)
            return io_error("stat", df->path);
        if (df->vis != VIS_NONE) {
            /* Deleted under us: what memory holds is written again. */
            df->vis = VIS_NONE;
            df->need_full = 1;
            df->sh_known = 0;
        }
        return 0;
    }
    /* Every writer of this format replaces the file (new inode) on its
     * first write, and this process is the only one that patches its own
     * files; runnable rewrites in place but changes the size. */
    if (df->vis != VIS_NONE && st.st_ino == df->vis_ino && st.st_dev == df->vis_dev &&
        st.st_size == df->vis_size && st.st_mtim.tv_sec == df->vis_mtime.tv_sec &&
        st.st_mtim.tv_nsec == df->vis_mtime.tv_nsec)
        return 0;
    int rc = rn_docfile_load(df);
    if (rc == RN_ENOENT)
        return 0; /* raced with a deletion: keep memory */
    if (!rc && reloaded)
        *reloaded = 1;
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

/* Which part of node `n` holds member `key`. */
static int part_of(const df_node *n, const char *key, int has_slot)
{
    const char *const *keys = kind_keys(n->kind);
    const char *ck = children_key(n->kind);
    int seen_status = 0;
    for (size_t i = 0; keys[i]; i++) {
        if (!strcmp(keys[i], ck))
            break;
        if (!strcmp(keys[i], key))
            return !has_slot ? P_OPEN : !strcmp(key, "status") ? P_SLOT
                                      : seen_status ? P_MID : P_OPEN;
        if (!strcmp(keys[i], "status"))
            seen_status = 1;
    }
    return P_CLOSE;
}

/*
 * Make `obj` (minus the children member) node `n`'s members.  Unchanged
 * members keep the stored value (no copy), changed ones are deep-copied
 * (the caller keeps mutating its own document); *parts says which parts
 * of the node's text changed.
 *
 * run_config is special: spec §5.1 writes it once and never changes it,
 * and with a large pipeline even comparing it costs tens of milliseconds,
 * which per step would make a run quadratic.  When the caller hands over
 * the very object it handed last time (a reference is held, so the
 * address cannot have been reused), it is taken as unchanged; a different
 * object is compared in full.
 */
static int update_fields(rn_docfile *df, df_node *n, const json_t *obj, unsigned *parts)
{
    const char *ck = children_key(n->kind);
    json_t *f = json_object();
    json_t *old = n->fields;
    json_t *rc_new = NULL;
    int same_order = 1, rc = 0;
    void *oit = json_object_iter(old);
    const char *key;
    json_t *v;
    const json_t *ostatus = json_object_get(old, "status");
    const json_t *nstatus = json_object_get(obj, "status");
    int has_slot = json_is_string(ostatus) && json_is_string(nstatus);

    *parts = 0;
    if (!f)
        return oom();
    json_object_foreach((json_t *)obj, key, v) {
        if (!strcmp(key, ck))
            continue;
        if (!oit || strcmp(json_object_iter_key(oit), key) != 0)
            same_order = 0;
        if (oit)
            oit = json_object_iter_next(old, oit);
        json_t *prev = json_object_get(old, key);
        json_t *keep = NULL;
        if (n->kind == RN_DF_RUN && !n->parent && !strcmp(key, "run_config")) {
            if (prev && (v == df->rc_seen || json_equal(prev, v)))
                keep = prev;
            rc_new = v;
        } else if (prev && json_equal(prev, v)) {
            keep = prev;
        }
        json_t *val = keep ? json_incref(keep) : json_deep_copy(v);
        if (!val || json_object_set_new(f, key, val) != 0) {
            rc = oom();
            break;
        }
        if (!keep)
            *parts |= 1u << part_of(n, key, has_slot);
    }
    if (oit)
        same_order = 0; /* members were removed */
    if (!rc && (!same_order || json_is_string(ostatus) != json_is_string(nstatus)))
        *parts = ALL_PARTS;
    if (rc) {
        json_decref(f);
        return rc;
    }
    if (rc_new && rc_new != df->rc_seen) {
        json_decref(df->rc_seen);
        df->rc_seen = json_incref(rc_new);
    }
    json_decref(n->fields);
    n->fields = f;
    return 0;
}

int rn_docfile_set_root(rn_docfile *df, const json_t *obj)
{
    unsigned parts;
    if (!json_is_object(obj))
        return rn_error_set(RN_EINVAL, "a %s must be a JSON object", kind_name(df->root_kind));
    int rc = update_fields(df, df->root, obj, &parts);
    if (!rc && parts)
        rc = mark_dirty(df, df->root, parts);
    return rc;
}

int rn_docfile_put(rn_docfile *df, const char *parent, rn_df_kind kind, const char *name,
                   const json_t *obj)
{
    if (!json_is_object(obj))
        return rn_error_set(RN_EINVAL, "a %s must be a JSON object", kind_name(kind));
    df_node *p = parent ? index_get(df, parent) : df->root;
    if (!p || child_kind(p->kind) != kind) {
        if (!parent)
            return rn_error_set(RN_EINVAL, "%s: a %s cannot be stored at the top level",
                                df->path, kind_name(kind));
        return rn_error_set(RN_ENOENT, "cannot store %s %s: there is no %s %s in %s",
                            kind_name(kind), name, kind_name(child_kind(kind)), parent, df->path);
    }
    if (p != df->root && !df->nested)
        return rn_error_set(RN_EINVAL, "%s keeps only top-level %ss", df->path,
                            kind_name(kind));
    df_node *n = index_get(df, name);
    if (n && (n->parent != p || n->kind != kind))
        return rn_error_set(RN_EINVAL, "cannot store %s %s: the name is already used in %s",
                            kind_name(kind), name, df->path);
    if (n) {
        unsigned parts;
        int rc = update_fields(df, n, obj, &parts);
        if (!rc && parts)
            rc = mark_dirty(df, n, parts);
        return rc;
    }
    json_t *f = copy_without(obj, children_key(kind));
    if (!f)
        return oom();
    n = node_new(kind, name);
    if (!n) {
        json_decref(f);
        return oom();
    }
    n->fields = f;
    int rc = add_kid(df, p, n);
    if (rc) {
        node_free(n);
        return rc;
    }
    TRY(mark_dirty(df, n, ALL_PARTS));
    /* The parent's map may go from {} to one with a closing line. */
    TRY(mark_dirty(df, p, 1u << P_CLOSE));
    return rc;
}

const json_t *rn_docfile_root_fields(const rn_docfile *df)
{
    return df->root->fields;
}

int rn_docfile_has(const rn_docfile *df, const char *name, rn_df_kind kind)
{
    const df_node *n = index_get(df, name);
    return n && n->kind == kind;
}

static json_t *node_json(const df_node *n)
{
    df_member stack_m[16], *m = stack_m;
    size_t cap = json_object_size(n->fields) + 1;
    if (cap > sizeof stack_m / sizeof *stack_m && !(m = malloc(cap * sizeof *m)))
        return NULL;
    size_t nm = order_members(n, m);
    json_t *o = json_object();
    for (size_t i = 0; o && i < nm; i++) {
        json_t *v;
        if (m[i].role == M_KIDS) {
            v = json_object();
            for (size_t k = 0; v && k < n->nkids; k++) {
                json_t *kid = node_json(n->kids[k]);
                if (!kid || json_object_set_new(v, n->kids[k]->name, kid) != 0) {
                    json_decref(v);
                    v = NULL;
                }
            }
        } else {
            v = json_deep_copy(m[i].value);
        }
        if (!v || json_object_set_new(o, m[i].key, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    if (m != stack_m)
        free(m);
    return o;
}

json_t *rn_docfile_json(const rn_docfile *df)
{
    json_t *o = node_json(df->root);
    if (!o)
        oom();
    return o;
}

/* ---- naming helpers ------------------------------------------------ */

char *rn_df_parent_name(const char *name, int *err)
{
    *err = 0;
    const char *dot = strrchr(name, '.');
    if (!dot)
        return NULL;
    char *p = strndup(name, (size_t)(dot - name));
    if (!p)
        *err = oom();
    return p;
}

int rn_df_check_run_id(const char *run_id)
{
    if (!run_id || !*run_id)
        return rn_error_set(RN_EINVAL, "the run id is empty");
    /* It becomes a file or folder name inside log_folder. */
    if (strchr(run_id, '/') || !strcmp(run_id, ".") || !strcmp(run_id, ".."))
        return rn_error_set(RN_EINVAL, "run id '%s' cannot be used as a file name", run_id);
    return 0;
}

char *rn_df_resolve(const char *work_dir, const char *path)
{
    if (path[0] == '/' || !work_dir || !*work_dir || !strcmp(work_dir, "."))
        return strdup(path);
    size_t n = strlen(work_dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", work_dir, path);
    return out;
}

int rn_df_internal_name(const json_t *log, const char *what, const char **out)
{
    const json_t *v = json_is_object(log) ? json_object_get(log, "internal_name") : NULL;
    if (!json_is_object(log))
        return rn_error_set(RN_EINVAL, "a %s log must be a JSON object", what);
    if (!json_is_string(v) || !json_string_length(v))
        return rn_error_set(RN_EINVAL, "a %s log needs a non-empty \"internal_name\"", what);
    *out = json_string_value(v);
    return 0;
}
