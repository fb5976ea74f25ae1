/*
 * Incremental writer for one run-log JSON file (see json_docfile.h and
 * docs/run-log-layout.md).
 *
 * In memory the document is a tree of nodes (the root, its steps, their
 * branches, ...).  The text of each node's own members, formatted exactly
 * like Python's json.dumps(indent=4, ensure_ascii=True), is cut into parts
 * around the places that change independently:
 *
 *     open  = [",\n<indent>"<name>": ]{ ...members before status... "status":
 *     slot  = "PROCESSING"            the status, padded with spaces to a
 *                                     fixed width so a new status fits
 *     mid   = , ...more members... "steps": {
 *     (children, each a node)
 *     close = }                       the children map closes
 *     gap   = spaces                  the root only, see below; else empty
 *     rest  = , ...members after the children... }
 *
 * The file is the concatenation of all parts in document order, and every
 * node knows the byte offset and length of each of its parts.  That is all
 * a node keeps once it is written: neither its members nor their text stay
 * in memory (a run of 10,000 map iterations would otherwise hold the whole
 * run log twice).  A put serialises the node it is given; a part whose
 * length is unchanged is compared with what the file holds and, if
 * different, rewritten where it is (a status); from the first part whose
 * length changed (or where a node was inserted) the rest of the file is
 * rewritten, its unchanged parts read back from the file.  Steps are
 * appended at the end of their map and members that change often sit after
 * it, so that rest is normally one step and the closing members: O(step),
 * not O(document).
 *
 * The closing members of the root can be large (a map's list of items is
 * in the run's parameters), and moving them on every put would make a long
 * map quadratic.  So when they are, the root's gap holds as many spaces
 * (whitespace between "}" and "," is valid JSON): what is inserted before
 * it uses up the gap and nothing after it moves, until the gap is used up
 * and the closing members move once, with a new gap.  rn_docfile_finish()
 * removes the gap when the run is closed.
 *
 * Text not yet written is "fresh": kept on its node until a write of it
 * succeeds, so a failed write loses nothing and is simply done again by
 * the next flush.  Everything else is read from the visible file, which
 * always holds the version this process last wrote.
 *
 * Writes never touch the visible file in place, because no write of more
 * than one page is atomic when the process is killed: the kernel copies a
 * write page by page and stops between pages for SIGKILL, and a power
 * loss can persist any subset of the pages.  Instead the file has a hidden
 * twin (the shadow, ".<name>.shadow") that holds the previous version.
 * A flush brings the shadow up to date with the same incremental writes
 * (what the last flush changed is copied over from the visible file), then
 * swaps the two names with renameat2(RENAME_EXCHANGE), which is atomic:
 * the visible name always holds a complete document, and what was visible
 * becomes the new shadow, one version behind.
 *
 * Where the file system cannot exchange names, the writer falls back to
 * rewriting the visible file in place (one pwrite per flush, small changes
 * only; anything else through a complete copy and rename()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "json_docfile.h"
#include "json_layout.h"
#include "json_skip.h"

enum { P_OPEN, P_SLOT, P_MID, P_CLOSE, P_GAP, P_REST, P_N };

/* "PROCESSING" with its quotes: every status of spec §4 fits. */
#define SLOT_MIN 12
/* Shrinking by more than this truncates instead of padding with spaces. */
#define PAD_MAX (64 * 1024)
/* In-place fallback: larger suffixes go through a complete copy. */
#define INPLACE_MAX (64 * 1024)
/* The root's closing members get a gap of their own size from this size
 * on; smaller ones are cheaper to move than to leave room for. */
#define GAP_MIN (8 * 1024)
/* Copies between files go through a buffer of at most this size (when
 * the kernel cannot copy them itself). */
#define COPY_CHUNK (1024 * 1024)
/* Files from this size on are scanned through a mapping (see load). */
#define MAP_MIN (64 * 1024)
#define NONE_OFF SIZE_MAX

typedef struct df_node {
    char *name;              /* key in the parent's map; NULL for the root */
    struct df_node *parent;
    struct df_node **kids;
    uint32_t nkids, kids_cap;
    uint32_t index;          /* position among the parent's kids */
    char *text;              /* the fresh parts, back to back in part order */
    size_t len[P_N];
    size_t off[P_N];         /* in the file; meaningless while is_new */
    uint32_t slot_w;         /* reserved width of the status slot */
    unsigned short level;    /* JSON nesting depth of the node's '{' */
    unsigned char kind;      /* rn_df_kind */
    unsigned char fresh;     /* parts (BIT(P_*)) whose text is in `text`, unwritten */
    unsigned char is_new;    /* not laid out in the file yet */
    unsigned char dirty;     /* listed in df->dirty */
} df_node;

#define BIT(p) (1u << (p))
/* The parts that have text; the gap is only spaces. */
#define ALL_PARTS (((1u << P_N) - 1) & ~BIT(P_GAP))

typedef struct df_range {
    size_t off, len;
} df_range;

/* A part rewritten where it is by the flush in progress. */
typedef struct df_patch {
    size_t off, len;
    const char *text;
} df_patch;

enum { VIS_NONE, VIS_FOREIGN, VIS_OURS };
enum { MODE_EXCHANGE, MODE_INPLACE };

struct rn_docfile {
    char *path, *shadow;
    char *root_name;         /* the root's internal_name, as last loaded or set */
    rn_df_kind root_kind;
    int nested, fsync_it;
    df_node *root;
    df_node **index;         /* name -> node, open addressing */
    size_t index_cap, index_n;
    df_node **dirty;         /* nodes with fresh text */
    size_t ndirty, dirty_cap;
    size_t end;              /* length of the document text */
    size_t x;                /* where the next flush starts moving text; NONE_OFF */
    int need_full;           /* nothing of the document is in the file: write it all */
    int no_gap;              /* rn_docfile_finish() was called */
    int stale;               /* the file may not match memory: load it again */
    int mode;
    /* The visible file as this process last wrote (or read) it. */
    int vis;
    dev_t vis_dev;
    ino_t vis_ino;
    off_t vis_size;
    struct timespec vis_mtime;
    int rd_fd;               /* the visible file, open for reading during a change */
    /* The shadow: valid only when sh_known; it then equals the visible
     * file except in [sh_from, sh_to), in the ranges sh_pending, and past
     * the end of the document. */
    int sh_known;
    dev_t sh_dev;
    ino_t sh_ino;
    size_t sh_phys;
    size_t sh_from, sh_to;
    df_range *sh_pending;
    size_t sh_npending;
    /* sh_known from the layout cache (the process before left the shadow
     * equal to the file), not written by this process: not this process's
     * to remove. */
    int sh_adopted;
    /* This process set the root's status to a final one: the file will
     * not be written again, so its shadow goes when it is freed. */
    int root_final;
    /* A spare file (rn_docfile_take_spare) is the shadow's file: sh_name
     * names it (NULL: the shadow has its own name, `shadow`), and while
     * sh_spare is set the next flush writes over it instead of creating
     * a file. */
    char *sh_name;
    int sh_spare;
    /* The caller's run_config object last written (a held reference, so
     * its address cannot be reused): see rn_docfile_set_root(). */
    json_t *rc_seen;
    /* Where the root's run_config member lies inside its mid part (from
     * the comma before it to the end of its value; offsets from the mid
     * part's start, which stay right wherever a write moves that text),
     * as the last scan found it; rc_to 0 when unknown or the mid part
     * changed since.  A head read leaves those bytes in the file: for a
     * large pipeline they are hundreds of kilobytes nobody reading the
     * head needs. */
    size_t rc_from, rc_to;
    /* The document as the last load parsed it, while memory still holds
     * exactly that and the file was this writer's own text: handed to the
     * first rn_docfile_json() after the load, which would otherwise read
     * and parse the same text again (most of a one-step process's cost on
     * a large run). */
    json_t *loaded;
    /* The layout cache (json_layout.h) describes memory as it is: read
     * from it, or written, since the last change. */
    int lay_ok;
    int from_cache;          /* the last load was layout_load's */
};

#define TRY(expr) do { if (!rc) rc = (expr); } while (0)

/* Where the shadow is now: its own name, or a spare's (see sh_name). */
#define SHADOW(df) ((df)->sh_name ? (df)->sh_name : (df)->shadow)

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

/* Members of `obj` in the order they are written: the kind's known keys
 * (always including the children member, whose value in `obj` is
 * ignored), then any others in insertion order.  `m` has room for
 * json_object_size(obj) + 1 entries. */
static size_t order_members(rn_df_kind kind, const json_t *obj, df_member *m)
{
    const char *const *keys = kind_keys(kind);
    const char *ck = children_key(kind);
    size_t k = 0;
    for (size_t i = 0; keys[i]; i++) {
        if (!strcmp(keys[i], ck)) {
            m[k++] = (df_member){ck, NULL, M_KIDS};
            continue;
        }
        json_t *v = json_object_get(obj, keys[i]);
        if (!v)
            continue;
        int role = !strcmp(keys[i], "status") && json_is_string(v) ? M_SLOT : M_PLAIN;
        m[k++] = (df_member){keys[i], v, role};
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
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

/* Room for `more` names without growing (a load knows how many). */
static int index_grow(rn_docfile *df, size_t more)
{
    if ((df->index_n + more) * 4 < df->index_cap * 3)
        return 0;
    size_t ncap = df->index_cap ? df->index_cap * 2 : 16;
    while ((df->index_n + more) * 4 >= ncap * 3)
        ncap *= 2;
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
    return 0;
}

static int index_put(rn_docfile *df, df_node *node)
{
    int rc = index_grow(df, 1);
    if (rc)
        return rc;
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
    free(n);
}

static df_node *node_new(rn_df_kind kind, const char *name)
{
    df_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = (unsigned char)kind;
    n->is_new = 1;
    if (name && !(n->name = strdup(name))) {
        free(n);
        return NULL;
    }
    return n;
}

/* Where `n` goes among `parent`'s kids: placed before its text is made,
 * which depends on it (the leading comma, the indentation). */
static void node_attach(df_node *n, df_node *parent)
{
    n->parent = parent;
    n->index = parent->nkids;
    n->level = (unsigned short)(parent->level + 2);
}

static int add_kid(rn_docfile *df, df_node *parent, df_node *kid)
{
    if (parent->nkids == parent->kids_cap) {
        if (parent->kids_cap >= UINT32_MAX / 2)
            return rn_error_set(RN_EINVAL, "%s: too many steps or branches in one map", df->path);
        uint32_t ncap = parent->kids_cap ? parent->kids_cap * 2 : 2;
        df_node **nv = realloc(parent->kids, ncap * sizeof *nv);
        if (!nv)
            return oom();
        parent->kids = nv;
        parent->kids_cap = ncap;
    }
    int rc = index_put(df, kid);
    if (rc)
        return rc;
    node_attach(kid, parent);
    parent->kids[parent->nkids++] = kid;
    return 0;
}

static int mark_dirty(rn_docfile *df, df_node *n)
{
    json_decref(df->loaded); /* memory no longer holds what was loaded */
    df->loaded = NULL;
    if (n->dirty)
        return 0;
    if (df->ndirty == df->dirty_cap) {
        size_t ncap = df->dirty_cap ? df->dirty_cap * 2 : 8;
        df_node **nv = realloc(df->dirty, ncap * sizeof *nv);
        if (!nv)
            return oom();
        df->dirty = nv;
        df->dirty_cap = ncap;
    }
    df->dirty[df->ndirty++] = n;
    n->dirty = 1;
    return 0;
}

/* Where part p's text starts inside n->text (p must be fresh). */
static size_t fresh_at(const df_node *n, int p)
{
    size_t s = 0;
    for (int i = 0; i < p; i++)
        if (n->fresh & BIT(i))
            s += n->len[i];
    return s;
}

/* Make the parts in `which` fresh with the texts src[p] of lengths
 * lens[p]; other fresh parts keep theirs. */
static int set_parts(df_node *n, unsigned which, const char *const src[P_N],
                     const size_t lens[P_N])
{
    unsigned nf = n->fresh | which;
    size_t total = 0;
    for (int p = 0; p < P_N; p++)
        if (nf & BIT(p))
            total += which & BIT(p) ? lens[p] : n->len[p];
    char *t = malloc(total ? total : 1);
    if (!t)
        return oom();
    size_t o = 0;
    for (int p = 0; p < P_N; p++) {
        if (which & BIT(p)) {
            memcpy(t + o, src[p], lens[p]);
            o += lens[p];
        } else if (nf & BIT(p)) {
            memcpy(t + o, n->text + fresh_at(n, p), n->len[p]);
            o += n->len[p];
        }
    }
    for (int p = 0; p < P_N; p++)
        if (which & BIT(p))
            n->len[p] = lens[p];
    free(n->text);
    n->text = t;
    n->fresh = (unsigned char)nf;
    return 0;
}

static void drop_text(df_node *n)
{
    free(n->text);
    n->text = NULL;
    n->fresh = 0;
}

/* ---- text ---------------------------------------------------------- */

/* Room for `extra` more bytes (and the NUL rn_buf keeps). */
static int buf_reserve(rn_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return oom();
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return oom();
    b->data = p;
    b->cap = ncap;
    return 0;
}

static int put_lit(rn_buf *b, const char *s)
{
    return rn_buf_append(b, s, strlen(s));
}

static int put_spaces(rn_buf *b, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memset(b->data + b->len, ' ', n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int put_indent(rn_buf *b, int level)
{
    int rc = rn_buf_append(b, "\n", 1);
    return rc ? rc : put_spaces(b, (size_t)level * 4);
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

/*
 * Serialise the parts in `mask` of node `n` with the members of `obj`
 * (its children member ignored) into `b`, back to back in part order;
 * lens[p] receives the size of each part generated.  Parts not in `mask`
 * are skipped: a put of the root must not re-serialise its run_config
 * (megabytes for a large pipeline) when it did not change.  The gap is
 * never generated.  rcpos (may be NULL) receives where the root's
 * run_config member lies in its mid part, when it is generated.
 */
static int regen(df_node *n, const json_t *obj, unsigned mask, rn_buf *b, size_t lens[P_N],
                 size_t rcpos[2])
{
    df_member stack_m[16], *m = stack_m;
    size_t cap = json_object_size(obj) + 1;
    if (cap > sizeof stack_m / sizeof *stack_m && !(m = malloc(cap * sizeof *m)))
        return oom();
    size_t nm = order_members(n->kind, obj, m);
    size_t mark = b->len;
    int cur = P_OPEN, rc = 0, L = n->level;
#define GEN (mask & BIT(cur))
#define ENTER(p)                                  \
    do {                                          \
        if (GEN)                                  \
            lens[cur] = b->len - mark;            \
        mark = b->len;                            \
        cur = (p);                                \
    } while (0)

    if (GEN) {
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
        size_t before = b->len;
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
                if (!rc && w > n->slot_w)
                    n->slot_w = (uint32_t)(w < SLOT_MIN ? SLOT_MIN : w);
                /* Spaces between a value and the next ',' are valid JSON. */
                if (!rc && n->slot_w > w)
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
            ENTER(P_GAP); /* never generated: spaces the layout decides */
            ENTER(P_REST);
        } else if (GEN) {
            TRY(rn_json_append_py(b, m[i].value, RN_JSON_INDENT4, L + 1));
            /* Where a scan would find run_config (scan_node): from the
             * end of the member before to the end of its value. */
            if (rcpos && !rc && !n->parent && cur == P_MID && !strcmp(m[i].key, "run_config")) {
                rcpos[0] = before - mark;
                rcpos[1] = b->len - mark;
            }
        }
    }
    if (GEN) {
        TRY(put_indent(b, L));
        TRY(rn_buf_append(b, "}", 1));
        if (!n->parent)
            TRY(rn_buf_append(b, "\n", 1));
        lens[P_REST] = b->len - mark;
    }
#undef GEN
#undef ENTER
    if (m != stack_m)
        free(m);
    return rc;
}

/* ---- reading the visible file ---------------------------------------- */

static int io_error(const char *what, const char *path)
{
    return rn_error_set(RN_EIO, "cannot %s %s: %s", what, path, strerror(errno));
}

/* The file no longer holds what memory describes. */
static int stale_error(rn_docfile *df, const char *why)
{
    df->stale = 1;
    return rn_error_set(RN_EIO, "%s %s; it will be read again", df->path, why);
}

static void vis_close(rn_docfile *df)
{
    if (df->rd_fd >= 0)
        close(df->rd_fd);
    df->rd_fd = -1;
}

/* The visible file open for reading; it must be the one this process
 * last wrote. */
static int vis_open(rn_docfile *df)
{
    if (df->rd_fd >= 0)
        return 0;
    if (df->vis != VIS_OURS)
        return stale_error(df, "is not the file this process wrote");
    int fd = open(df->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        if (errno == ENOENT)
            return stale_error(df, "was removed while this process was writing it");
        return io_error("open", df->path);
    }
    if (fstat(fd, &st) != 0 || st.st_ino != df->vis_ino || st.st_dev != df->vis_dev) {
        close(fd);
        return stale_error(df, "was replaced by another process during a write");
    }
    df->rd_fd = fd;
    return 0;
}

static int pread_all(int fd, char *p, size_t len, size_t off)
{
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : 1;
        p += r;
        len -= (size_t)r;
        off += (size_t)r;
    }
    return 0;
}

/* Append bytes [off, off + len) of the visible file to `b`. */
static int read_visible(rn_docfile *df, size_t off, size_t len, rn_buf *b)
{
    if (!len)
        return 0;
    int rc = vis_open(df);
    TRY(buf_reserve(b, len));
    if (rc)
        return rc;
    int r = pread_all(df->rd_fd, b->data + b->len, len, off);
    if (r < 0)
        return io_error("read", df->path);
    if (r > 0)
        return stale_error(df, "is shorter than this process wrote it");
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* Append the current text of part p of `n` to `b`. */
static int part_text(rn_docfile *df, const df_node *n, int p, rn_buf *b)
{
    if (n->fresh & BIT(p))
        return rn_buf_append(b, n->text + fresh_at(n, p), n->len[p]);
    return read_visible(df, n->off[p], n->len[p], b);
}

/* ---- applying a change ------------------------------------------------ */

static void note_move(rn_docfile *df, size_t at)
{
    if (at < df->x)
        df->x = at;
}

/*
 * The parts in `mask` of node `n` are now as generated in b[0..] with
 * lengths lens[]: keep those that differ from the current text as fresh.
 * A part of another length moves everything after it: the next flush
 * rewrites from there.
 */
static int take_parts(rn_docfile *df, df_node *n, unsigned mask, const rn_buf *b,
                      const size_t lens[P_N])
{
    const char *src[P_N] = {0};
    unsigned changed = 0;
    size_t o = 0;
    int rc = 0;
    rn_buf old = {0};
    for (int p = 0; p < P_N && !rc; p++) {
        if (!(mask & BIT(p)))
            continue;
        src[p] = b->data + o;
        o += lens[p];
        if (n->is_new) {
            changed |= BIT(p);
        } else if (lens[p] != n->len[p]) {
            changed |= BIT(p);
            note_move(df, n->off[p]);
        } else if (lens[p]) {
            old.len = 0;
            rc = part_text(df, n, p, &old);
            if (!rc && memcmp(old.data, src[p], lens[p]) != 0)
                changed |= BIT(p);
        }
    }
    rn_buf_free(&old);
    if (!n->parent && (changed & BIT(P_MID)))
        df->rc_to = 0;
    /* Listed first: fresh text that no flush knows of would be lost. */
    if (!rc && changed)
        rc = mark_dirty(df, n);
    if (!rc && changed)
        rc = set_parts(n, changed, src, lens);
    return rc;
}

/* Regenerate the parts in `mask` of `n` from `obj` and take them;
 * rcpos (may be NULL): see regen(). */
static int apply_at(rn_docfile *df, df_node *n, const json_t *obj, unsigned mask,
                    size_t rcpos[2])
{
    rn_buf b = {0};
    size_t lens[P_N] = {0};
    int rc = regen(n, obj, mask, &b, lens, rcpos);
    if (!rc)
        rc = take_parts(df, n, mask, &b, lens);
    rn_buf_free(&b);
    return rc;
}

static int apply(rn_docfile *df, df_node *n, const json_t *obj, unsigned mask)
{
    return apply_at(df, n, obj, mask, NULL);
}

/* `parent` got its first kid: its children map, written {} so far, now
 * closes on a line of its own. */
static int first_kid(rn_docfile *df, df_node *parent)
{
    rn_buf b = {0};
    size_t lens[P_N] = {0};
    int rc = put_indent(&b, parent->level + 1);
    TRY(rn_buf_append(&b, "}", 1));
    lens[P_CLOSE] = b.len;
    if (!rc) {
        /* A put of the parent after this regenerates the same text. */
        const char *src[P_N] = {NULL, NULL, NULL, b.data, NULL, NULL};
        if (!parent->is_new)
            note_move(df, parent->off[P_CLOSE]);
        rc = mark_dirty(df, parent);
        TRY(set_parts(parent, BIT(P_CLOSE), src, lens));
    }
    rn_buf_free(&b);
    return rc;
}

/* ---- laying out --------------------------------------------------------- */

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

/*
 * A walk over the parts at or after `x` (and all parts of new nodes), in
 * document order: the text a flush rewrites, [x, cursor).  With `out`, it
 * is appended there (unwritten parts from memory, the others read from
 * the visible file, adjacent ones in one read); with `assign`, the parts
 * get their new offsets.  Both kinds of walk take the same decisions.
 */
/*
 * The text a flush rewrites, as pieces in order: unwritten text in
 * memory, spaces, or a range of the visible file (which moves).  Written
 * to the shadow with copy_file_range, the ranges never pass through this
 * process's memory: a step written in the middle of a large run moves
 * the half of the file after it, and reading that into a buffer cost a
 * page fault per 4 kB.
 */
enum { SEG_FILE, SEG_MEM, SEG_SPACES };

typedef struct df_seg {
    int kind;
    size_t off, len;         /* SEG_FILE: where in the visible file */
    const char *mem;         /* SEG_MEM: valid until the flush commits */
} df_seg;

typedef struct df_segs {
    df_seg *v;
    size_t n, cap;
    size_t len;              /* bytes in all */
} df_segs;

static int segs_add(df_segs *s, int kind, size_t off, size_t len, const char *mem)
{
    df_seg *last = s->n ? &s->v[s->n - 1] : NULL;
    s->len += len;
    if (last && last->kind == kind &&
        ((kind == SEG_FILE && last->off + last->len == off) || kind == SEG_SPACES)) {
        last->len += len;
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        df_seg *nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv)
            return oom();
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = (df_seg){kind, off, len, mem};
    return 0;
}

typedef struct df_walk {
    rn_docfile *df;
    size_t x, cursor;
    int assign;
    rn_buf *out;
    df_segs *segs;           /* instead of out: the text as pieces */
    size_t gap;              /* the root's gap; SIZE_MAX: as the layout decides */
    size_t end;              /* the new length of the document */
    size_t rd_off, rd_len;   /* file bytes still to append to out */
    int rc;
} df_walk;

static void walk_drain(df_walk *w)
{
    if (w->rd_len && !w->rc)
        w->rc = read_visible(w->df, w->rd_off, w->rd_len, w->out);
    w->rd_len = 0;
}

static void walk_part(df_walk *w, df_node *n, int p)
{
    size_t len = n->len[p];
    if (w->segs && len && !w->rc)
        w->rc = n->fresh & BIT(p) ? segs_add(w->segs, SEG_MEM, 0, len, n->text + fresh_at(n, p))
                                  : segs_add(w->segs, SEG_FILE, n->off[p], len, NULL);
    if (w->out && len && !w->rc) {
        if (n->fresh & BIT(p)) {
            walk_drain(w);
            if (!w->rc)
                w->rc = rn_buf_append(w->out, n->text + fresh_at(n, p), len);
        } else if (w->rd_len && w->rd_off + w->rd_len == n->off[p]) {
            w->rd_len += len;
        } else {
            walk_drain(w);
            w->rd_off = n->off[p];
            w->rd_len = len;
        }
    }
    if (w->assign)
        n->off[p] = w->cursor;
    w->cursor += len;
}

static void walk_spaces(df_walk *w, size_t k)
{
    if (w->segs && k && !w->rc)
        w->rc = segs_add(w->segs, SEG_SPACES, 0, k, NULL);
    if (w->out && k && !w->rc) {
        walk_drain(w);
        if (!w->rc)
            w->rc = put_spaces(w->out, k);
    }
    w->cursor += k;
}

/* The gap the root's closing members of `rest` bytes should have: their
 * own size, so that moving them costs O(1) per byte put in front. */
static size_t gap_for(const rn_docfile *df, size_t rest)
{
    return df->no_gap || rest < GAP_MIN ? 0 : rest;
}

/*
 * The root's gap and closing members, its children walked.  When what
 * comes before still fits in front of where the closing members are (and
 * leaves a gap of reasonable size), they stay: the walk ends in the gap,
 * or rewrites them where they are if they changed.  Otherwise they move,
 * with a new gap.
 */
static void walk_tail(df_walk *w, df_node *n)
{
    int all = n->is_new;
    size_t rest = n->len[P_REST];
    if (!all && n->off[P_GAP] < w->x) {
        /* Only the closing members changed: x is where they start. */
        if (n->off[P_REST] >= w->x)
            walk_part(w, n, P_REST);
        w->end = n->off[P_REST] >= w->x ? w->cursor : n->off[P_REST] + rest;
        return;
    }
    size_t gs = w->cursor; /* where the gap starts now */
    size_t want = w->gap != SIZE_MAX ? w->gap : gap_for(w->df, rest);
    size_t old_gs = n->off[P_GAP], old_ge = old_gs + n->len[P_GAP];
    if (!all && w->gap == SIZE_MAX && gs <= old_ge && old_ge - gs <= 2 * want) {
        if (w->assign) {
            n->off[P_GAP] = gs;
            n->len[P_GAP] = old_ge - gs;
        }
        if (n->fresh & BIT(P_REST)) {
            walk_spaces(w, old_ge - gs);
            walk_part(w, n, P_REST);
            w->end = w->cursor;
        } else {
            /* Spaces where text was; the rest of the gap is spaces. */
            if (gs < old_gs)
                walk_spaces(w, old_gs - gs);
            w->end = old_ge + rest;
        }
        return;
    }
    if (w->assign) {
        n->off[P_GAP] = gs;
        n->len[P_GAP] = want;
    }
    walk_spaces(w, want);
    walk_part(w, n, P_REST);
    w->end = w->cursor;
}

static void walk(df_walk *w, df_node *n)
{
    int all = n->is_new;
    for (int p = P_OPEN; p < P_CLOSE; p++)
        if (all || n->off[p] >= w->x)
            walk_part(w, n, p);
    for (size_t i = all ? 0 : first_kid_at(n, w->x); i < n->nkids; i++)
        walk(w, n->kids[i]);
    if (all || n->off[P_CLOSE] >= w->x)
        walk_part(w, n, P_CLOSE);
    if (!n->parent) {
        walk_tail(w, n);
    } else {
        for (int p = P_GAP; p < P_N; p++)
            if (all || n->off[p] >= w->x)
                walk_part(w, n, p);
    }
    if (w->assign)
        n->is_new = 0;
}

/* Walk from `x` (see df_walk); *y receives where the text rewritten ends,
 * *end the new length of the document. */
static int walk_doc(rn_docfile *df, size_t x, rn_buf *out, int assign, size_t gap, size_t *y,
                    size_t *end)
{
    df_walk w = {df, x, x, assign, out, NULL, gap, x, 0, 0, 0};
    walk(&w, df->root);
    walk_drain(&w);
    *y = w.cursor;
    *end = w.end;
    return w.rc;
}

/* walk_doc's text as pieces (no assignment, the layout's own gap). */
static int walk_doc_segs(rn_docfile *df, size_t x, df_segs *segs, size_t *y, size_t *end)
{
    df_walk w = {df, x, x, 0, NULL, segs, SIZE_MAX, x, 0, 0, 0};
    walk(&w, df->root);
    *y = w.cursor;
    *end = w.end;
    return w.rc;
}

/* The pieces' text in one buffer (for a write in place, whose ranges
 * would overlap their destination). */
static int segs_text(rn_docfile *df, const df_segs *segs, rn_buf *out)
{
    int rc = buf_reserve(out, segs->len);
    for (size_t i = 0; !rc && i < segs->n; i++) {
        const df_seg *g = &segs->v[i];
        rc = g->kind == SEG_FILE  ? read_visible(df, g->off, g->len, out)
             : g->kind == SEG_MEM ? rn_buf_append(out, g->mem, g->len)
                                  : put_spaces(out, g->len);
    }
    return rc;
}

/* ---- files --------------------------------------------------------- */

int rn_df_pwrite_all(int fd, const char *p, size_t len, size_t off)
{
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;   /* no progress: never loop on it */
            return -1;
        }
        p += w;
        len -= (size_t)w;
        off += (size_t)w;
    }
    return 0;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int fsync_dir(const char *path)
{
    char *dir = dir_of(path);
    if (!dir)
        return oom();
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd < 0 ? -1 : fsync(fd);
    int rc = r != 0 ? io_error("sync folder", dir) : 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

static int write_patches(int fd, const df_patch *cur, size_t ncur)
{
    for (size_t i = 0; i < ncur; i++)
        if (rn_df_pwrite_all(fd, cur[i].text, cur[i].len, cur[i].off) != 0)
            return -1;
    return 0;
}

/* Spaces over [end, phys) (what a shorter document leaves behind), or a
 * truncation when that is long or the file is being finished.  Returns
 * the new physical size. */
static int pad_tail(rn_docfile *df, int fd, size_t end, size_t phys, size_t *newphys,
                    const char *path)
{
    *newphys = end > phys ? end : phys;
    if (phys <= end)
        return 0;
    if (phys - end > PAD_MAX || df->no_gap) {
        *newphys = end;
        return ftruncate(fd, (off_t)end) != 0 ? io_error("truncate", path) : 0;
    }
    /* Cheaper than a truncate, and trailing spaces are valid. */
    rn_buf b = {0};
    int rc = put_spaces(&b, phys - end);
    if (!rc && rn_df_pwrite_all(fd, b.data, b.len, end) != 0)
        rc = io_error("write", path);
    rn_buf_free(&b);
    return rc;
}

/* Copy `len` bytes at `src` of the visible file to `dst` in `fd` (the
 * shadow). */
static int copy_range(rn_docfile *df, int fd, size_t src, size_t dst, size_t len)
{
    int rc = vis_open(df);
    /* The kernel copies page-cache pages without a buffer here (whose
     * every page would be a fault); some file-system pairs refuse. */
    while (!rc && len) {
        loff_t in = (loff_t)src, out = (loff_t)dst;
        ssize_t n = copy_file_range(df->rd_fd, &in, fd, &out, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        src += (size_t)n;
        dst += (size_t)n;
        len -= (size_t)n;
    }
    rn_buf buf = {0};
    while (!rc && len) {
        size_t k = len < COPY_CHUNK ? len : COPY_CHUNK;
        buf.len = 0;
        rc = read_visible(df, src, k, &buf);
        if (!rc && rn_df_pwrite_all(fd, buf.data, k, dst) != 0)
            rc = io_error("write", SHADOW(df));
        src += k;
        dst += k;
        len -= k;
    }
    rn_buf_free(&buf);
    return rc;
}

/* The pieces of `segs` into `fd` (the shadow) from offset `at`. */
static int write_segs(rn_docfile *df, int fd, const df_segs *segs, size_t at)
{
    static const char spaces[4096] = {[0 ... 4095] = ' '};
    int rc = 0;
    for (size_t i = 0; !rc && i < segs->n; i++) {
        const df_seg *g = &segs->v[i];
        if (g->kind == SEG_FILE) {
            rc = copy_range(df, fd, g->off, at, g->len);
        } else if (g->kind == SEG_MEM) {
            if (rn_df_pwrite_all(fd, g->mem, g->len, at) != 0)
                rc = io_error("write", SHADOW(df));
        } else {
            for (size_t k = 0; !rc && k < g->len; k += sizeof spaces) {
                size_t m = g->len - k < sizeof spaces ? g->len - k : sizeof spaces;
                if (rn_df_pwrite_all(fd, spaces, m, at + k) != 0)
                    rc = io_error("write", SHADOW(df));
            }
        }
        at += g->len;
    }
    return rc;
}

/* Copy [a, b) of the visible file to the same place in `fd` (the
 * shadow), leaving out [x, y), which is written afterwards. */
static int copy_out(rn_docfile *df, int fd, size_t a, size_t b, size_t x, size_t y)
{
    if (x != NONE_OFF && x < y) {
        int rc = copy_out(df, fd, a, b < x ? b : x, NONE_OFF, 0);
        return rc ? rc : copy_out(df, fd, a > y ? a : y, b, NONE_OFF, 0);
    }
    return a < b ? copy_range(df, fd, a, a, b - a) : 0;
}

static int open_shadow(rn_docfile *df, int flags, int *fd)
{
    *fd = open(SHADOW(df), flags, 0666);
    if (*fd < 0 && errno == ENOENT && (flags & O_CREAT)) {
        char *dir = dir_of(SHADOW(df));
        int rc = dir ? rn_mkdir_p(dir, 0777) : oom();
        free(dir);
        if (rc)
            return rc;
        *fd = open(SHADOW(df), flags, 0666);
    }
    return *fd < 0 ? io_error("create", SHADOW(df)) : 0;
}

/* Copy to the known shadow what the last flush changed (from the visible
 * file, which holds it), except [x, y), which this flush rewrites. */
static int shadow_catch_up(rn_docfile *df, int fd, size_t end, size_t x, size_t y)
{
    int rc = 0;
    if (df->sh_from != NONE_OFF)
        rc = copy_out(df, fd, df->sh_from, df->sh_to < end ? df->sh_to : end, x, y);
    for (size_t i = 0; !rc && i < df->sh_npending; i++) {
        const df_range *r = &df->sh_pending[i];
        size_t b = r->off + r->len < end ? r->off + r->len : end;
        rc = copy_out(df, fd, r->off, b, x, y);
    }
    return rc;
}

/* The shadow `st` equals the visible file (up to the document's end). */
static void shadow_level(rn_docfile *df, const struct stat *st)
{
    free(df->sh_pending);
    df->sh_pending = NULL;
    df->sh_npending = 0;
    df->sh_known = 1;
    df->sh_dev = st->st_dev;
    df->sh_ino = st->st_ino;
    df->sh_phys = (size_t)st->st_size;
    df->sh_from = df->sh_to = NONE_OFF;
}

/*
 * Bring the shadow up to date (incrementally when it is known, otherwise
 * from scratch), then make it the visible file.  This flush rewrites
 * [x, y) with `suf` (x = NONE_OFF: nothing) and the patches `cur`; `end`
 * is the new length of the document.  What else the shadow lacks is
 * copied from the visible file, which holds the version before this
 * flush.  *done is set once the new version is visible (a later failure
 * to sync the folder does not undo that).
 */
static int write_via_shadow(rn_docfile *df, size_t x, size_t y, const df_segs *suf,
                            const df_patch *cur, size_t ncur, size_t end, int *done)
{
    int known = df->sh_known && df->mode == MODE_EXCHANGE;
    int fd = -1, rc = 0;
    struct stat st;

    df->sh_adopted = 0;
    if (known) {
        fd = open(SHADOW(df), O_WRONLY | O_CLOEXEC);
        /* Gone or replaced (another process of the same run wrote this
         * file since): start it again. */
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_ino != df->sh_ino || st.st_dev != df->sh_dev)
            known = 0;
    }
    size_t spare_size = 0;
    if (!known) {
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (df->sh_spare) {
            /* A spare is written over, not truncated first: freeing its
             * blocks only to allocate them again costs more (a discard
             * per block on some mounts); what lies past the new end is
             * cut below.  No new file, so no inode to allocate. */
            fd = open(SHADOW(df), O_WRONLY | O_CLOEXEC);
            if (fd >= 0 && fstat(fd, &st) == 0) {
                spare_size = (size_t)st.st_size;
            } else if (fd >= 0) {
                close(fd);
                fd = -1;
            }
            df->sh_spare = 0;
        }
        if (fd < 0 && (rc = open_shadow(df, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, &fd)) != 0)
            return rc;
    }

    size_t phys = known ? df->sh_phys : 0, newphys = end;
    /* All of it, or what the last flush changed; then what this one
     * changes. */
    rc = known ? shadow_catch_up(df, fd, end, x, y) : copy_out(df, fd, 0, end, x, y);
    if (!rc && x != NONE_OFF)
        rc = write_segs(df, fd, suf, x);
    if (!rc && write_patches(fd, cur, ncur) != 0)
        rc = io_error("write", SHADOW(df));
    TRY(pad_tail(df, fd, end, phys, &newphys, SHADOW(df)));
    if (!rc && spare_size > end && ftruncate(fd, (off_t)end) != 0)
        rc = io_error("truncate", SHADOW(df));
    if (!rc && df->fsync_it && fsync(fd) != 0)
        rc = io_error("sync", SHADOW(df));
    /* After the writes: the modification time is part of the identity
     * refresh() checks (inode numbers get reused). */
    if (!rc && fstat(fd, &st) != 0)
        rc = io_error("stat", SHADOW(df));
    if (close(fd) != 0 && !rc)
        rc = io_error("write", SHADOW(df));
    if (rc) {
        df->sh_known = 0;
        return rc;
    }

    /* The patches become ranges the next flush copies to the shadow. */
    df_range *pend = NULL;
    if (ncur && !(pend = malloc(ncur * sizeof *pend))) {
        df->sh_known = 0;
        return oom();
    }
    for (size_t i = 0; i < ncur; i++)
        pend[i] = (df_range){cur[i].off, cur[i].len};

    dev_t new_dev = st.st_dev;
    ino_t new_ino = st.st_ino;
    int exchanged = 0;
#ifdef RENAME_EXCHANGE
    if (df->vis == VIS_OURS && df->mode == MODE_EXCHANGE) {
        if (renameat2(AT_FDCWD, SHADOW(df), AT_FDCWD, df->path, RENAME_EXCHANGE) == 0)
            exchanged = 1;
        else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)
            df->mode = MODE_INPLACE; /* this file system cannot swap names */
        else if (errno != ENOENT)
            rc = io_error("replace", df->path);
    }
#else
    df->mode = MODE_INPLACE;
#endif
    if (!rc && !exchanged && rename(SHADOW(df), df->path) != 0)
        rc = io_error("replace", df->path);
    if (rc) {
        free(pend);
        df->sh_known = 0;
        return rc;
    }
    free(df->sh_pending);
    df->sh_pending = NULL;
    df->sh_npending = 0;
    if (exchanged) {
        /* What was visible is now the shadow, one version behind. */
        df->sh_known = 1;
        df->sh_dev = df->vis_dev;
        df->sh_ino = df->vis_ino;
        df->sh_phys = (size_t)df->vis_size;
        df->sh_from = x;
        df->sh_to = x == NONE_OFF ? NONE_OFF : y;
        df->sh_pending = pend;
        df->sh_npending = ncur;
    } else {
        free(pend);
        df->sh_known = 0;
    }
    df->vis = VIS_OURS;
    df->vis_dev = new_dev;
    df->vis_ino = new_ino;
    df->vis_size = (off_t)newphys;
    df->vis_mtime = st.st_mtim;
    *done = 1;
    return df->fsync_it ? fsync_dir(df->path) : 0;
}

/* The fallback where names cannot be exchanged: patch the visible file.
 * Returns 1 when the change is too large for that (caller copies). */
static int write_in_place(rn_docfile *df, size_t x, const df_segs *segs, const df_patch *cur,
                          size_t ncur, size_t end)
{
    if (df->vis != VIS_OURS || x == 0 || (x != NONE_OFF && segs->len > INPLACE_MAX))
        return 1;
    /* Read before anything is written: the text moves within the file. */
    rn_buf text = {0}, *suf = &text;
    if (x != NONE_OFF && segs_text(df, segs, &text) != 0) {
        rn_buf_free(&text);
        return 1;
    }
    int fd = open(df->path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_ino != df->vis_ino || st.st_dev != df->vis_dev) {
        if (fd >= 0)
            close(fd);
        rn_buf_free(&text);
        return 1;
    }
    /* From here on a failure leaves the file partly written. */
    int rc = 0;
    size_t newphys = end;
    if (write_patches(fd, cur, ncur) != 0)
        rc = io_error("write", df->path);
    if (!rc && x != NONE_OFF && suf->len && rn_df_pwrite_all(fd, suf->data, suf->len, x) != 0)
        rc = io_error("write", df->path);
    rn_buf_free(&text);
    TRY(pad_tail(df, fd, end, (size_t)df->vis_size, &newphys, df->path));
    if (!rc && df->fsync_it && fsync(fd) != 0)
        rc = io_error("sync", df->path);
    if (!rc && fstat(fd, &st) != 0)
        rc = io_error("stat", df->path);
    if (close(fd) != 0 && !rc)
        rc = io_error("write", df->path);
    if (rc) {
        df->stale = 1;
        return rc;
    }
    df->vis_size = (off_t)newphys;
    df->vis_mtime = st.st_mtim;
    return 0;
}

/* A write of the layout from `x` (gap as in walk_doc) succeeded: what
 * memory holds is in the file now. */
static void commit(rn_docfile *df, size_t x, size_t gap, size_t end)
{
    if (x != NONE_OFF) {
        size_t y, e;
        walk_doc(df, x, NULL, 1, gap, &y, &e);
    }
    for (size_t i = 0; i < df->ndirty; i++) {
        drop_text(df->dirty[i]);
        df->dirty[i]->dirty = 0;
    }
    df->ndirty = 0;
    if (df->dirty_cap > 64) {
        free(df->dirty);
        df->dirty = NULL;
        df->dirty_cap = 0;
    }
    df->end = end;
    df->x = NONE_OFF;
    df->need_full = 0;
    df->lay_ok = 0;
}

int rn_docfile_flush(rn_docfile *df)
{
    if (df->stale)
        return rn_error_set(RN_EIO, "%s must be read again before it is written", df->path);
    if (!df->ndirty && !df->need_full)
        return 0;
    int rc = 0;
    size_t x = df->need_full ? 0 : df->x, y = 0, end = df->end;
    df_patch *cur = NULL;
    size_t ncur = 0, cap = 0;
    df_segs suf = {0};

    /* 1. Unwritten parts before x are rewritten where they are. */
    for (size_t i = 0; !rc && i < df->ndirty; i++) {
        df_node *n = df->dirty[i];
        for (int p = 0; !rc && !n->is_new && p < P_N; p++) {
            if (!(n->fresh & BIT(p)) || n->off[p] >= x || !n->len[p])
                continue;
            if (ncur == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                df_patch *nv = realloc(cur, ncap * sizeof *nv);
                if (!nv) {
                    rc = oom();
                    break;
                }
                cur = nv;
                cap = ncap;
            }
            cur[ncur++] = (df_patch){n->off[p], n->len[p], n->text + fresh_at(n, p)};
        }
    }

    /* 2. What moves, unchanged parts read back from the file. */
    if (!rc && x != NONE_OFF)
        rc = walk_doc_segs(df, x, &suf, &y, &end);

    /* 3. Write it. */
    int done = 0;
    if (!rc && (x != NONE_OFF || ncur)) {
        int r = 1;
        if (df->mode == MODE_INPLACE && (r = write_in_place(df, x, &suf, cur, ncur, end)) == 0)
            done = 1;
        rc = r == 1 ? write_via_shadow(df, x, y, &suf, cur, ncur, end, &done) : r;
    } else if (!rc) {
        done = 1;
    }
    /* On failure memory keeps every unwritten part, and the visible file
     * the previous version (unless patching it in place failed: stale). */
    if (done)
        commit(df, x, SIZE_MAX, end);
    free(suf.v);
    free(cur);
    vis_close(df);
    return rc;
}

/* `st` (of the visible name) is the file this process last wrote or read. */
static int same_file(const rn_docfile *df, const struct stat *st)
{
    return df->vis != VIS_NONE && st->st_ino == df->vis_ino && st->st_dev == df->vis_dev &&
           st->st_size == df->vis_size && st->st_mtim.tv_sec == df->vis_mtime.tv_sec &&
           st->st_mtim.tv_nsec == df->vis_mtime.tv_nsec;
}

int rn_docfile_finish(rn_docfile *df)
{
    df->no_gap = 1;
    /* A file only read, whose last write failed (and said so), or that
     * another process wrote since, is left as it is. */
    df_node *r = df->root;
    struct stat st;
    if (df->stale || df->need_full || r->is_new || !r->len[P_GAP] ||
        stat(df->path, &st) != 0 || !same_file(df, &st))
        return 0;
    note_move(df, r->off[P_GAP]);
    int rc = mark_dirty(df, r);
    return rc ? rc : rn_docfile_flush(df);
}

/* ---- building the tree ----------------------------------------------- */

static void tree_reset(rn_docfile *df)
{
    vis_close(df);
    node_free(df->root);
    df->root = NULL;
    json_decref(df->rc_seen);
    df->rc_seen = NULL;
    json_decref(df->loaded);
    df->loaded = NULL;
    free(df->index);
    df->index = NULL;
    df->index_cap = df->index_n = 0;
    df->ndirty = 0;
    df->sh_known = 0;
    df->sh_adopted = 0;
    df->sh_npending = 0;
    df->end = 0;
    df->x = NONE_OFF;
    df->need_full = 1;
    df->stale = 0;
    df->lay_ok = 0;
}

/* Node `n` from `obj`: its children member becomes child nodes (one
 * level only unless nested), its own members fresh text. */
static int build(rn_docfile *df, df_node *n, const json_t *obj, int depth)
{
    const char *ck = children_key(n->kind);
    json_t *kids = json_object_get(obj, ck);
    int rc = 0;
    if (kids && !json_is_object(kids) && !json_is_null(kids))
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
            rc = build(df, kid, v, depth + 1);
            if (rc)
                break;
        }
    }
    TRY(apply(df, n, obj, ALL_PARTS));
    return rc;
}

static int new_root(rn_docfile *df)
{
    df->root = node_new(df->root_kind, NULL);
    json_t *empty = json_object();
    int rc = df->root && empty ? apply(df, df->root, empty, ALL_PARTS) : oom();
    json_decref(empty);
    return rc;
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
    df->x = NONE_OFF;
    df->mode = MODE_EXCHANGE;
    df->vis = VIS_NONE;
    df->rd_fd = -1;
    df->path = strdup(path);
    df->shadow = rn_df_hidden_path(path, ".shadow");
    if (!df->path || !df->shadow || new_root(df)) {
        rn_docfile_free(df);
        return oom();
    }
    *out = df;
    return 0;
}

static void layout_save(rn_docfile *df, const struct stat *shadow);
static int shadow_keep(rn_docfile *df, struct stat *st);

void rn_docfile_free(rn_docfile *df)
{
    if (!df)
        return;
    struct stat st;
    int keep = shadow_keep(df, &st);
    layout_save(df, keep ? &st : NULL);
    vis_close(df);
    /* The shadow only duplicates the previous version; remove it if it
     * is still the one this process left there, unless it was left for
     * the next process. */
    if (!keep && !df->sh_adopted && df->sh_known && df->shadow && lstat(SHADOW(df), &st) == 0 &&
        st.st_ino == df->sh_ino && st.st_dev == df->sh_dev)
        unlink(SHADOW(df));
    else if (df->sh_spare && df->sh_name)
        unlink(df->sh_name); /* a spare taken but never written */
    free(df->sh_name);
    node_free(df->root);
    free(df->index);
    free(df->dirty);
    free(df->sh_pending);
    json_decref(df->rc_seen);
    json_decref(df->loaded);
    free(df->root_name);
    free(df->path);
    free(df->shadow);
    free(df);
}

int rn_docfile_has_shadow(const rn_docfile *df)
{
    return df->sh_known && df->mode == MODE_EXCHANGE;
}

char *rn_docfile_give_shadow(rn_docfile *df, char *spare_name)
{
    struct stat st;
    char *out = NULL;
    /* Only if it is still the file this process left there. */
    if (rn_docfile_has_shadow(df) && lstat(SHADOW(df), &st) == 0 && st.st_ino == df->sh_ino &&
        st.st_dev == df->sh_dev) {
        if (df->sh_name) {
            out = df->sh_name; /* a spare already: no rename */
            df->sh_name = NULL;
        } else if (rename(df->shadow, spare_name) == 0) {
            out = spare_name;
            spare_name = NULL;
        }
    }
    free(spare_name);
    if (out) {
        df->sh_known = 0;
        free(df->sh_pending);
        df->sh_pending = NULL;
        df->sh_npending = 0;
    }
    return out;
}

int rn_docfile_take_spare(rn_docfile *df, char *path)
{
    if (rn_docfile_has_shadow(df) || df->mode != MODE_EXCHANGE || df->sh_spare)
        return 1;
    free(df->sh_name);
    df->sh_name = path;
    df->sh_spare = 1;
    return 0;
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

const char *rn_docfile_root_name(const rn_docfile *df)
{
    return df->root_name;
}

/* The whole file, NUL-terminated. */
static int slurp_fd(int fd, const struct stat *st, const char *path, char **out, size_t *len)
{
    size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : oom();
    while (!rc) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = oom();
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = io_error("read", path);
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static json_t *parse_doc(const char *text, size_t len)
{
    json_t *doc = rn_json_loads_py(text, len);
    /* minio double-encodes (spec §6.4); accept that shape too. */
    if (json_is_string(doc)) {
        json_t *inner = rn_json_loads_py(json_string_value(doc), json_string_length(doc));
        json_decref(doc);
        doc = inner;
    }
    return doc;
}

/*
 * After a load: if the file is exactly what this writer would write (one
 * it wrote: any gap, trailing spaces), memory only needs the offsets, and
 * later writes go on incrementally.  Otherwise every part stays unwritten:
 * the first flush writes it all.
 */
static int adopt_if_ours(rn_docfile *df, const char *text, size_t len)
{
    rn_buf all = {0};
    size_t y, end;
    int rc = walk_doc(df, 0, &all, 0, 0, &y, &end);
    size_t rest = df->root->len[P_REST], gs = end - rest, ge = gs;
    int ours = !rc && gs <= len && !memcmp(all.data, text, gs);
    /* The closing members start with "," or a newline, never a space. */
    while (ours && ge < len && text[ge] == ' ')
        ge++;
    ours = ours && rest <= len - ge && !memcmp(all.data + gs, text + ge, rest);
    for (size_t i = ge + rest; ours && i < len; i++)
        ours = text[i] == ' ';
    rn_buf_free(&all);
    if (!rc && ours)
        commit(df, 0, ge - gs, ge + rest);
    return rc;
}

/* A shadow under a spare's name (rn_docfile_take_spare) is a file no
 * other process knows of: a reload forgets the shadow, which would leave
 * it behind for good. */
static void forget_spare(rn_docfile *df)
{
    if (df->sh_name) {
        unlink(df->sh_name);
        free(df->sh_name);
        df->sh_name = NULL;
        df->sh_spare = 0;
    }
}

/* ---- the fast load: scanning a file in this writer's layout ------------ */

/*
 * A load must find where every node's parts are in the file.  Parsing the
 * whole document into values only to throw them away costs a process
 * that touches one step of a large run most of its time (a pod, a Slurm
 * job: 1.5 MB of RunLog.json for a 1,000-step run), so a file is first
 * scanned: one pass over the bytes that checks the JSON grammar, skips
 * every member value without building it, and records the part
 * boundaries as regen() would cut them:
 *
 *   open  from where the node starts (for a kid: right after the previous
 *         kid, so its leading comma) to the status value, or to the
 *         children member's "{" when no status string comes before it;
 *   slot  the status string and the spaces after it;
 *   mid   from there to the children member's "{", included;
 *   (kids)
 *   close from after the last kid to the children map's "}";
 *   gap   the root's spaces after it;
 *   rest  the remaining members and the node's "}" (the root's newline).
 *
 * The parts need not hold exactly regen()'s text: a put regenerates a
 * node's parts and rewrites those that differ, and the file stays the
 * concatenation of all parts either way.  What the scan cannot place
 * (no children member, escaped names, non-ASCII bytes, a minio string, a
 * nested layout where one level is expected) makes it give up, and the
 * full parse handles the file as before.
 */
typedef struct scan_ctx {
    rn_docfile *df;
    const char *base, *end;
    const char *root_name;   /* the root's internal_name value, quoted */
    size_t root_name_len;
} scan_ctx;

#define SCAN_GIVE_UP 1

static void set_part(df_node *n, int p, const scan_ctx *c, const char *from, const char *to)
{
    n->off[p] = (size_t)(from - c->base);
    n->len[p] = (size_t)(to - from);
}

/* A key at p: its bytes (without quotes) and the value after the colon. */
static const char *scan_key(const scan_ctx *c, const char *p, const char **key, size_t *klen,
                            int *esc)
{
    rn_jskip why;
    if (p >= c->end || *p != '"')
        return NULL;
    const char *ke = rn_json_skip_string(p, c->end, esc, &why);
    if (!ke)
        return NULL;
    *key = p + 1;
    *klen = (size_t)(ke - p) - 2;
    p = rn_json_skip_ws(ke, c->end);
    if (p >= c->end || *p != ':')
        return NULL;
    p = rn_json_skip_ws(p + 1, c->end);
    return p < c->end ? p : NULL;
}

static int scan_node(scan_ctx *c, df_node *n, const char *start, const char *obj, int depth,
                     const char **after);

/* The children map of `n`, its "{" at `open`: each kid a node.  *after
 * is the byte after the map's "}". */
static int scan_kids(scan_ctx *c, df_node *n, const char *open, int depth, const char **after)
{
    const char *q = open + 1;
    for (int first = 1;; first = 0) {
        const char *ks = q, *r = rn_json_skip_ws(q, c->end), *name;
        size_t nlen;
        int esc, rc;
        if (r >= c->end)
            return SCAN_GIVE_UP;
        if (*r == '}') {
            set_part(n, P_CLOSE, c, ks, r + 1);
            *after = r + 1;
            return 0;
        }
        if (!first) {
            if (*r != ',')
                return SCAN_GIVE_UP;
            r = rn_json_skip_ws(r + 1, c->end);
        }
        /* Kids below the top level are nodes only in the nested layout. */
        if (!(r = scan_key(c, r, &name, &nlen, &esc)) || esc || *r != '{' ||
            (depth > 0 && !c->df->nested))
            return SCAN_GIVE_UP;
        char *nm = strndup(name, nlen);
        if (!nm)
            return oom();
        if (index_get(c->df, nm)) {
            free(nm); /* the full parse reports the duplicate */
            return SCAN_GIVE_UP;
        }
        df_node *kid = node_new(child_kind(n->kind), NULL);
        if (!kid) {
            free(nm);
            return oom();
        }
        kid->name = nm;
        if ((rc = add_kid(c->df, n, kid)) != 0) {
            node_free(kid);
            return rc;
        }
        if ((rc = scan_node(c, kid, ks, r, depth + 1, &q)) != 0)
            return rc;
    }
}

/* Node `n`, its text starting at `start` and its object's "{" at `obj`. */
static int scan_node(scan_ctx *c, df_node *n, const char *start, const char *obj, int depth,
                     const char **after)
{
    const char *ck = children_key(n->kind), *slot = NULL, *slot_end = NULL, *rest = NULL;
    size_t cklen = strlen(ck);
    const char *p = rn_json_skip_ws(obj + 1, c->end);
    rn_jskip why;
    int rc;
    if (p < c->end && *p == '}')
        return SCAN_GIVE_UP; /* no children member */
    const char *prev = NULL; /* the end of the member before */
    for (;;) {
        const char *key, *v;
        size_t klen;
        int esc;
        if (!(v = scan_key(c, p, &key, &klen, &esc)))
            return SCAN_GIVE_UP;
        if (!rest && !esc && klen == cklen && !memcmp(key, ck, cklen)) {
            if (*v != '{')
                return SCAN_GIVE_UP;
            if (slot) {
                set_part(n, P_OPEN, c, start, slot);
                set_part(n, P_SLOT, c, slot, slot_end);
                set_part(n, P_MID, c, slot_end, v + 1);
            } else {
                set_part(n, P_OPEN, c, start, v);
                set_part(n, P_SLOT, c, v, v);
                set_part(n, P_MID, c, v, v + 1);
            }
            if ((rc = scan_kids(c, n, v, depth, &p)) != 0)
                return rc;
            rest = p;
            if (!n->parent)
                while (rest < c->end && *rest == ' ')
                    rest++;
            set_part(n, P_GAP, c, p, rest);
            p = rest;
        } else {
            const char *ve = rn_json_skip_value(v, c->end, &why);
            if (!ve)
                return SCAN_GIVE_UP;
            if (!slot && !rest && !esc && *v == '"' && klen == 6 && !memcmp(key, "status", 6)) {
                slot = v;
                for (slot_end = ve; slot_end < c->end && *slot_end == ' ';)
                    slot_end++;
            }
            if (!n->parent && !esc && *v == '"' && klen == 13 &&
                !memcmp(key, "internal_name", 13)) {
                c->root_name = v;
                c->root_name_len = (size_t)(ve - v);
            }
            if (!n->parent && slot && prev && !rest && !esc && klen == 10 &&
                !memcmp(key, "run_config", 10)) {
                /* The status slot's padding is not the mid part's. */
                c->df->rc_from = (size_t)((prev < slot_end ? slot_end : prev) - c->base);
                c->df->rc_to = (size_t)(ve - c->base);
            }
            p = ve;
        }
        prev = p;
        p = rn_json_skip_ws(p, c->end);
        if (p >= c->end)
            return SCAN_GIVE_UP;
        if (*p == '}')
            break;
        if (*p != ',')
            return SCAN_GIVE_UP;
        p = rn_json_skip_ws(p + 1, c->end);
    }
    if (!rest)
        return SCAN_GIVE_UP;
    p++;
    if (!n->parent && p < c->end && *p == '\n')
        p++;
    set_part(n, P_REST, c, rest, p);
    n->slot_w = (uint32_t)n->len[P_SLOT];
    n->is_new = 0;
    *after = p;
    return 0;
}

/* ---- the fast loads: a tree built beside the one memory holds ------------ */

/* A load builds its tree while memory keeps the one it has, so that a load
 * that gives up (or fails) leaves memory as it was. */
typedef struct df_tree {
    df_node *root, **index;
    size_t cap, n;
} df_tree;

/* Swap the tree in memory with `t`. */
static void tree_swap(rn_docfile *df, df_tree *t)
{
    df_tree mem = {df->root, df->index, df->index_cap, df->index_n};
    df->root = t->root;
    df->index = t->index;
    df->index_cap = t->cap;
    df->index_n = t->n;
    *t = mem;
}

static int tree_begin(rn_docfile *df, df_tree *kept)
{
    df_tree fresh = {node_new(df->root_kind, NULL), NULL, 0, 0};
    tree_swap(df, &fresh);
    *kept = fresh;
    return df->root ? 0 : oom();
}

/* Memory becomes the tree built (rc 0: with its root's name, the end of
 * the document and the visible file `st`, in this writer's layout) or
 * goes back to the one kept (rc != 0, returned). */
static int tree_end(rn_docfile *df, df_tree *kept, int rc, char *name, size_t end,
                    const struct stat *st)
{
    tree_swap(df, kept); /* *kept is now the tree built */
    if (rc) {
        node_free(kept->root);
        free(kept->index);
        free(name);
        return rc;
    }
    forget_spare(df);
    tree_reset(df);
    tree_swap(df, kept);
    free(df->root_name);
    df->root_name = name;
    df->end = end;
    df->need_full = 0;
    df->vis = VIS_OURS;
    df->vis_dev = st->st_dev;
    df->vis_ino = st->st_ino;
    df->vis_size = st->st_size;
    df->vis_mtime = st->st_mtim;
    return 0;
}

/* Memory from the file's text by scanning it: 0, SCAN_GIVE_UP (memory
 * unchanged: take the full parse), or < 0. */
static int scan_load(rn_docfile *df, const char *text, size_t len, const struct stat *st)
{
    df_tree kept;
    scan_ctx c = {df, text, text + len, NULL, 0};
    const char *p = rn_json_skip_ws(text, c.end), *after = NULL;
    int rc = tree_begin(df, &kept);
    if (!rc && !(p < c.end && *p == '{'))
        rc = SCAN_GIVE_UP;
    /* What follows the document: spaces only, as a writer leaves them. */
    if (!rc && (rc = scan_node(&c, df->root, p, p, 0, &after)) == 0)
        for (const char *q = after; q < c.end && !rc; q++)
            if (*q != ' ')
                rc = SCAN_GIVE_UP;
    char *name = NULL;
    if (!rc && c.root_name) {
        json_t *v = json_loadb(c.root_name, c.root_name_len, JSON_DECODE_ANY, NULL);
        if (!json_is_string(v) || !(name = strdup(json_string_value(v))))
            rc = json_is_string(v) ? oom() : SCAN_GIVE_UP;
        json_decref(v);
    }
    /* run_config as found by scan_node, made relative to the mid part. */
    size_t mid_at = !rc ? df->root->off[P_MID] : 0;
    if (!rc && df->rc_to && df->rc_from >= mid_at && df->rc_from < df->rc_to &&
        df->rc_to <= mid_at + df->root->len[P_MID]) {
        df->rc_from -= mid_at;
        df->rc_to -= mid_at;
    } else {
        df->rc_to = 0;
    }
    return tree_end(df, &kept, rc, name, !rc ? (size_t)(after - text) : 0, st);
}

/* ---- the layout cache --------------------------------------------------- */

/*
 * What a scan finds, kept next to the document (json_layout.h) by the
 * process that last had memory and file in step: the next process reads a
 * few kilobytes instead of scanning the document (1.5 MB for a 1,000-step
 * run, most of a pod's own cost).  Only for documents of some size: a
 * small one scans in less time than a second file takes to open, and a
 * cache per small branch file would double the inodes of a large map.
 */
#define LAYOUT_MIN (64 * 1024)

static int lay_add_tree(rn_lay_writer *w, const df_node *n)
{
    rn_lay_node r = {n->name, n->name ? (uint32_t)strlen(n->name) : 0, n->nkids, n->slot_w,
                     n->kind, {0}};
    for (int p = 0; p < P_N; p++)
        r.len[p] = n->len[p];
    int rc = rn_lay_add(w, &r);
    for (uint32_t i = 0; !rc && i < n->nkids; i++)
        rc = lay_add_tree(w, n->kids[i]);
    return rc;
}

/* Memory and the visible file are in step, as this process wrote it. */
static int in_step(rn_docfile *df, struct stat *st)
{
    const df_node *r = df->root;
    return !df->stale && !df->need_full && !df->ndirty && df->vis == VIS_OURS && r &&
           !r->is_new && df->end >= LAYOUT_MIN && stat(df->path, st) == 0 && same_file(df, st);
}

/*
 * Leave the shadow for the next process, equal to the visible file: 1 if
 * done (*st: the shadow's stat).  Only for a file the layout cache
 * describes (the next process learns from it that the shadow is in step)
 * and that is still being written (its root's status was not made final
 * here).  Otherwise the next process's first write would copy the whole
 * file into a new shadow and this one would remove it: for a 1,000-step
 * run 1.5 MB written, 0.4 ms per node.  Here only what the last write
 * changed is copied over, as the next write would have done.
 */
static int shadow_keep(rn_docfile *df, struct stat *st)
{
    struct stat vst;
    if (df->root_final || !df->sh_known || df->sh_adopted || df->mode != MODE_EXCHANGE ||
        df->sh_name || !df->shadow || !in_step(df, &vst))
        return 0;
    int fd = open(df->shadow, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = fstat(fd, st) != 0 || st->st_ino != df->sh_ino || st->st_dev != df->sh_dev;
    if (!rc)
        rc = shadow_catch_up(df, fd, df->end, NONE_OFF, 0);
    /* What lies past the end was the longer version's: spaces, so the
     * shadow is a whole document too. */
    size_t phys;
    if (!rc)
        rc = pad_tail(df, fd, df->end, (size_t)st->st_size, &phys, df->shadow) != 0;
    if (!rc && df->fsync_it && fsync(fd) != 0)
        rc = 1;
    if (!rc && fstat(fd, st) != 0)
        rc = 1;
    if (close(fd) != 0)
        rc = 1;
    if (rc)
        return 0;
    shadow_level(df, st);
    df->lay_ok = 0; /* the cache must name it */
    return 1;
}

/* Write the cache when memory and the visible file are in step and the
 * cache does not say so already; `shadow` (or NULL) is the shadow left
 * equal to the file.  Failing is harmless (the next process scans), so
 * nothing is reported. */
static void layout_save(rn_docfile *df, const struct stat *shadow)
{
    struct stat st;
    const df_node *r = df->root;
    if (df->lay_ok || !in_step(df, &st))
        return;
    rn_lay_head h = {(uint32_t)df->root_kind, (uint32_t)df->nested, r->off[P_OPEN], df->end,
                     df->rc_to ? df->rc_from : 0, df->rc_to, df->root_name,
                     df->root_name ? (uint32_t)strlen(df->root_name) : 0, df->index_n + 1,
                     shadow != NULL, {0}};
    if (shadow)
        rn_lay_identity(shadow, h.shadow_id);
    rn_lay_writer w;
    if (rn_lay_begin(&w, &st, &h) != 0)
        return;
    if (lay_add_tree(&w, r) != 0) {
        rn_lay_abandon(&w);
        return;
    }
    if (rn_lay_commit(&w, df->path) == 0)
        df->lay_ok = 1;
}

/* Offsets from the lengths: the parts lie back to back in document order
 * (see the top of this file).  Stops adding past `limit` (a damaged cache). */
static size_t lay_place(df_node *n, size_t at, size_t limit)
{
    for (int p = P_OPEN; p <= P_MID && at <= limit; p++) {
        n->off[p] = at;
        at += n->len[p];
    }
    for (uint32_t i = 0; i < n->nkids && at <= limit; i++)
        at = lay_place(n->kids[i], at, limit);
    for (int p = P_CLOSE; p < P_N && at <= limit; p++) {
        n->off[p] = at;
        at += n->len[p];
    }
    return at;
}

/* One record as a node of the tree being built; 1 if it cannot be one. */
static int lay_node(rn_docfile *df, const rn_lay_node *rec, df_node *parent, size_t size,
                    uint64_t left, df_node **out)
{
    df_node *n;
    if (rec->kind > RN_DF_BRANCH || (uint64_t)rec->slot_w > size)
        return 1;
    if (!parent) {
        if (rec->name || rec->kind != (uint32_t)df->root_kind)
            return 1;
        n = df->root;
    } else {
        /* Kids below the top level are nodes only in the nested layout. */
        if (!rec->name || !rec->name_len || rec->kind != (uint32_t)child_kind(parent->kind) ||
            (parent->parent && !df->nested) || index_get(df, rec->name))
            return 1;
        if (!(n = node_new(rec->kind, rec->name)))
            return oom();
        int rc = add_kid(df, parent, n);
        if (rc) {
            node_free(n);
            return rc;
        }
    }
    for (int p = 0; p < P_N; p++) {
        if (rec->len[p] > size)
            return 1;
        n->len[p] = (size_t)rec->len[p];
    }
    n->slot_w = rec->slot_w;
    n->is_new = 0;
    /* All its kids follow: their array at its final size. */
    if (rec->nkids) {
        if (rec->nkids > left || !(n->kids = malloc(rec->nkids * sizeof *n->kids)))
            return rec->nkids > left ? 1 : oom();
        n->kids_cap = rec->nkids;
    }
    *out = n;
    return 0;
}

/* The tree from the cache's records (pre-order: a node, then its kids). */
static int lay_build(rn_docfile *df, rn_lay_reader *rd, size_t size)
{
    df_node **stack = NULL, *n = NULL;
    uint32_t *left = NULL;
    size_t depth = 0, cap = 0;
    rn_lay_node rec;
    int rc = rd->left <= SIZE_MAX / 8 ? index_grow(df, (size_t)rd->left) : 1;
    for (int first = 1; !rc && rd->left; first = 0) {
        while (depth && !left[depth - 1])
            depth--;
        if ((!first && !depth) || rn_lay_next(rd, &rec)) {
            rc = 1;
            break;
        }
        if (depth == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            df_node **ns = realloc(stack, ncap * sizeof *ns);
            if (ns)
                stack = ns;
            uint32_t *nl = ns ? realloc(left, ncap * sizeof *nl) : NULL;
            if (!nl) {
                rc = oom();
                break;
            }
            left = nl;
            cap = ncap;
        }
        if ((rc = lay_node(df, &rec, first ? NULL : stack[depth - 1], size, rd->left, &n)) != 0)
            break;
        if (!first)
            left[depth - 1]--;
        stack[depth] = n;
        left[depth++] = rec.nkids;
    }
    while (!rc && depth && !left[depth - 1])
        depth--;
    if (!rc && depth)
        rc = 1; /* kids announced but not there */
    free(stack);
    free(left);
    return rc;
}

/* Memory from the cache: 0, 1 (no usable cache: scan), or < 0. */
static int layout_load(rn_docfile *df, const struct stat *st)
{
    rn_lay_reader rd;
    rn_lay_head h;
    size_t size = (size_t)st->st_size;
    int rc = rn_lay_open(&rd, df->path, st, &h);
    if (rc)
        return rc;
    char *name = NULL;
    if (h.root_kind != (uint32_t)df->root_kind || h.nested != (uint32_t)df->nested ||
        h.end > size || h.start > h.end || h.rc_from > h.rc_to || !h.nnodes ||
        h.nnodes > rd.len) {
        rn_lay_close(&rd);
        return 1;
    }
    if (h.root_name && !(name = strdup(h.root_name)))
        rc = oom();
    df_tree kept;
    int brc = tree_begin(df, &kept);
    if (!rc)
        rc = brc;
    if (!rc)
        rc = lay_build(df, &rd, size);
    if (!rc && lay_place(df->root, (size_t)h.start, size) != h.end)
        rc = 1;
    rn_lay_close(&rd);
    if ((rc = tree_end(df, &kept, rc, name, (size_t)h.end, st)) != 0)
        return rc;
    df->rc_from = (size_t)h.rc_from;
    df->rc_to = h.rc_to <= df->root->len[P_MID] ? (size_t)h.rc_to : 0;
    df->lay_ok = 1;
    df->from_cache = 1;
    /* The shadow the process before left equal to the file (shadow_keep),
     * if nothing touched it since. */
    struct stat sst;
    uint64_t sid[7];
    if (h.has_shadow && df->mode == MODE_EXCHANGE && !df->sh_name &&
        lstat(df->shadow, &sst) == 0 && S_ISREG(sst.st_mode)) {
        rn_lay_identity(&sst, sid);
        if (!memcmp(sid, h.shadow_id, sizeof sid)) {
            shadow_level(df, &sst);
            df->sh_adopted = 1;
        }
    }
    return 0;
}

int rn_docfile_loaded_from_cache(const rn_docfile *df)
{
    return df->from_cache;
}

int rn_docfile_load(rn_docfile *df)
{
    df->rc_to = 0;
    df->from_cache = 0;
    int fd = open(df->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return rn_error_set(RN_ENOENT, "%s does not exist", df->path);
        return io_error("open", df->path);
    }
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int rc = fstat(fd, &st) != 0 ? io_error("read", df->path) : 0, scanned = 0;
    /* What the last writer knew of the file, if it is still the file. */
    int cached = !rc && st.st_size >= LAYOUT_MIN ? layout_load(df, &st) : 1;
    if (cached != 1) {
        close(fd);
        return cached;
    }
    if (!rc && st.st_size >= MAP_MIN) {
        /* Scanned where it lies in the page cache: reading it into fresh
         * memory would cost a page fault per 4 kB, each expensive on a
         * virtual machine, for bytes looked at once.  Writers change the
         * file only in their turn, which this load is in, so it cannot
         * shrink under the mapping. */
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map != MAP_FAILED) {
            rc = scan_load(df, map, (size_t)st.st_size, &st);
            munmap(map, (size_t)st.st_size);
            if (rc != SCAN_GIVE_UP) {
                close(fd);
                return rc;
            }
            rc = 0;
            scanned = 1;
        }
    }
    TRY(slurp_fd(fd, &st, df->path, &buf, &len));
    close(fd);
    if (!rc && !scanned) {
        rc = scan_load(df, buf, len, &st);
        if (rc != SCAN_GIVE_UP) {
            free(buf);
            return rc;
        }
        rc = 0;
    }
    json_t *doc = NULL;
    if (!rc) {
        doc = parse_doc(buf, len);
        if (!doc)
            rc = rn_error_set(RN_EINVAL, "%s is not valid JSON", df->path);
        else if (!json_is_object(doc))
            rc = rn_error_set(RN_EINVAL, "%s does not hold a JSON object", df->path);
    }
    if (rc) {
        free(buf);
        json_decref(doc);
        return rc;
    }

    forget_spare(df);
    tree_reset(df);
    free(df->root_name);
    df->root_name = NULL;
    const json_t *in = json_object_get(doc, "internal_name");
    if (json_is_string(in) && !(df->root_name = strdup(json_string_value(in))))
        rc = oom();
    df->root = node_new(df->root_kind, NULL);
    if (!df->root)
        rc = oom();
    TRY(build(df, df->root, doc, 0));
    df->vis = VIS_FOREIGN;
    df->vis_dev = st.st_dev;
    df->vis_ino = st.st_ino;
    df->vis_size = st.st_size;
    df->vis_mtime = st.st_mtim;
    TRY(adopt_if_ours(df, buf, len));
    free(buf);
    if (!rc && !df->need_full && df->ndirty == 0)
        df->loaded = json_incref(doc);
    json_decref(doc);
    if (rc) {
        /* Leave an empty document rather than half of one. */
        tree_reset(df);
        df->vis = VIS_NONE;
        if (new_root(df))
            return oom();
        return rc;
    }
    df->vis = df->need_full ? VIS_FOREIGN : VIS_OURS;
    return 0;
}

int rn_docfile_refresh(rn_docfile *df, int *reloaded)
{
    struct stat st;
    if (reloaded)
        *reloaded = 0;
    if (!df->stale && stat(df->path, &st) != 0) {
        if (errno != ENOENT)
            return io_error("stat", df->path);
        if (df->vis == VIS_NONE)
            return 0;
        if (df->need_full) {
            /* Deleted under us, but nothing of it is needed: memory
             * holds all of it, and writes it again. */
            df->vis = VIS_NONE;
            df->sh_known = 0;
            return 0;
        }
        return stale_error(df, "was removed while this process was writing it");
    }
    /* Every writer of this format replaces the file (new inode) on its
     * first write, and this process is the only one that patches its own
     * files; runnable rewrites in place but changes the size. */
    if (!df->stale && same_file(df, &st))
        return 0;
    int rc = rn_docfile_load(df);
    if (rc == RN_ENOENT && !df->stale)
        return 0; /* raced with a deletion: keep memory */
    if (!rc && reloaded)
        *reloaded = 1;
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

static int check_usable(rn_docfile *df)
{
    if (df->stale)
        return rn_error_set(RN_EIO, "%s must be read again before it is changed", df->path);
    return 0;
}

/*
 * run_config is special: spec §5.1 writes it once and never changes it,
 * and with a large pipeline even serialising it costs tens of
 * milliseconds, which per step would make a run quadratic.  When the
 * caller hands over the very object it handed last time (a reference is
 * held, so the address cannot have been reused), the part holding it
 * (the root's mid part, between the status and the steps, where nothing
 * else goes) is taken as unchanged; a different object is serialised and
 * compared with the file.
 */
int rn_docfile_set_root(rn_docfile *df, const json_t *obj)
{
    if (!json_is_object(obj))
        return rn_error_set(RN_EINVAL, "a %s must be a JSON object", kind_name(df->root_kind));
    int rc = check_usable(df);
    if (rc)
        return rc;
    df_node *n = df->root;
    unsigned mask = ALL_PARTS;
    json_t *rcv = df->root_kind == RN_DF_RUN ? json_object_get(obj, "run_config") : NULL;
    /* The same run_config, or none given (a head read without it, see
     * rn_docfile_node_json): what the mid part holds stays. */
    if ((rcv ? rcv == df->rc_seen : df->root_kind == RN_DF_RUN) && n->len[P_SLOT] &&
        json_is_string(json_object_get(obj, "status")))
        mask &= ~BIT(P_MID);
    size_t rcpos[2] = {0, 0};
    rc = apply_at(df, n, obj, mask, rcpos);
    if (!rc && (mask & BIT(P_MID))) {
        /* Remembered only where the skip above is exact: a status slot
         * before it, so the mid part holds run_config alone. */
        json_decref(df->rc_seen);
        df->rc_seen = rcv && n->len[P_SLOT] ? json_incref(rcv) : NULL;
        /* A head read (rn_docfile_node_json) leaves it in the file, as
         * after a scan, and so does a process reading the layout cache. */
        if (rcpos[1] && n->len[P_SLOT]) {
            df->rc_from = rcpos[0];
            df->rc_to = rcpos[1];
        }
    }
    const char *status = json_string_value(json_object_get(obj, "status"));
    if (!rc && status)
        df->root_final = !strcmp(status, "SUCCESS") || !strcmp(status, "FAIL");
    /* What rn_docfile_root_name() says after a load. */
    const json_t *in = json_object_get(obj, "internal_name");
    if (!rc && json_is_string(in) &&
        (!df->root_name || strcmp(df->root_name, json_string_value(in)) != 0)) {
        char *nm = strdup(json_string_value(in));
        if (!nm)
            return oom();
        free(df->root_name);
        df->root_name = nm;
    }
    return rc;
}

int rn_docfile_put(rn_docfile *df, const char *parent, rn_df_kind kind, const char *name,
                   const json_t *obj)
{
    if (!json_is_object(obj))
        return rn_error_set(RN_EINVAL, "a %s must be a JSON object", kind_name(kind));
    int rc = check_usable(df);
    if (rc)
        return rc;
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
    if (n)
        return apply(df, n, obj, ALL_PARTS);

    n = node_new(kind, name);
    if (!n)
        return oom();
    node_attach(n, p);
    rn_buf b = {0};
    size_t lens[P_N] = {0};
    rc = regen(n, obj, ALL_PARTS, &b, lens, NULL);
    if (!rc) {
        const char *src[P_N];
        size_t o = 0;
        for (int k = 0; k < P_N; o += lens[k], k++)
            src[k] = b.data + o;
        rc = set_parts(n, ALL_PARTS, src, lens);
    }
    rn_buf_free(&b);
    if (rc) {
        node_free(n);
        return rc;
    }
    /* From here on the tree changes; a failure (out of memory) leaves it
     * to be read again from the file. */
    if (!p->nkids)
        rc = first_kid(df, p);
    TRY(add_kid(df, p, n));
    if (rc)
        node_free(n); /* not in the tree */
    else
        rc = mark_dirty(df, n);
    /* Kids are appended: the node goes where its parent's map closes. */
    if (!rc && !p->is_new)
        note_move(df, p->off[P_CLOSE]);
    if (rc)
        df->stale = 1;
    return rc;
}

int rn_docfile_has(const rn_docfile *df, const char *name, rn_df_kind kind)
{
    const df_node *n = index_get(df, name);
    return n && n->kind == kind;
}

int rn_docfile_json(json_t **out, rn_docfile *df)
{
    *out = NULL;
    int rc = check_usable(df);
    if (rc)
        return rc;
    if (df->loaded) {
        *out = df->loaded;
        df->loaded = NULL;
        return 0;
    }
    rn_buf all = {0};
    size_t y, end;
    rc = walk_doc(df, 0, &all, 0, 0, &y, &end);
    vis_close(df);
    if (!rc && !(*out = rn_json_loads_py(all.data, all.len)))
        rc = rn_error_set(RN_EIO, "%s: its text does not read back as JSON", df->path);
    rn_buf_free(&all);
    return rc;
}

/*
 * One node's own members: its parts read back (from memory where not
 * written yet, else from the file), the kids left out and the children
 * map closed right after its "{".  A kid's text starts with its key (and
 * a comma); that is skipped with the JSON grammar, not by looking for a
 * "{", which a key may hold (map items like {'a': 1} name branches).
 */
/*
 * Append a RunLog root's mid part (the members between its status and its
 * steps, then `"steps": {`) without its run_config member: written once
 * and never needed by a reader of the head, and by far its largest
 * member (hundreds of kilobytes for a large pipeline).  Members are found
 * with the JSON grammar; anything unexpected keeps the text whole.
 */
static int put_mid_without_run_config(rn_buf *t, const char *mid, size_t len)
{
    const char *p = mid, *end = mid + len, *keep = mid;
    rn_jskip why;
    rn_buf out = {0};
    int rc = 0;
    for (;;) {
        const char *m = p; /* the member's leading comma and whitespace */
        p = rn_json_skip_ws(p, end);
        if (p < end && *p == ',')
            p = rn_json_skip_ws(p + 1, end);
        const char *k = p, *ke = p < end && *p == '"' ? rn_json_skip_string(p, end, NULL, &why)
                                                      : NULL;
        if (!ke)
            break;
        const char *v = rn_json_skip_ws(ke, end);
        v = v < end && *v == ':' ? rn_json_skip_ws(v + 1, end) : NULL;
        const char *ve = v ? rn_json_skip_value(v, end, &why) : NULL;
        if (!ve)
            break; /* the steps member, whose map is not closed here */
        if ((size_t)(ke - k) == 12 && !memcmp(k, "\"run_config\"", 12)) {
            rc = rn_buf_append(&out, keep, (size_t)(m - keep));
            keep = ve;
        }
        p = ve;
    }
    if (!rc)
        rc = rn_buf_append(&out, keep, (size_t)(end - keep));
    if (!rc)
        rc = rn_buf_append(t, out.data, out.len);
    rn_buf_free(&out);
    return rc;
}

int rn_docfile_node_json(json_t **out, rn_docfile *df, const char *name, rn_df_kind kind)
{
    *out = NULL;
    int rc = check_usable(df);
    if (rc)
        return rc;
    const df_node *n = name ? index_get(df, name) : df->root;
    if (!n || n->kind != kind)
        return rn_error_set(RN_ENOENT, "%s has no %s %s", df->path, kind_name(kind),
                            name ? name : "");
    rn_buf t = {0};
    for (int p = P_OPEN; !rc && p <= P_SLOT; p++)
        rc = part_text(df, n, p, &t);
    size_t mid_at = n->off[P_MID], mid_end = mid_at + n->len[P_MID];
    if (!rc && kind == RN_DF_RUN && !n->parent && df->rc_to && !(n->fresh & BIT(P_MID)) &&
        df->rc_to <= n->len[P_MID]) {
        /* Around run_config, which stays in the file. */
        rc = read_visible(df, mid_at, df->rc_from, &t);
        TRY(read_visible(df, mid_at + df->rc_to, mid_end - (mid_at + df->rc_to), &t));
    } else if (!rc && kind == RN_DF_RUN && !n->parent) {
        rn_buf mid = {0};
        rc = part_text(df, n, P_MID, &mid);
        TRY(put_mid_without_run_config(&t, mid.data, mid.len));
        rn_buf_free(&mid);
    } else {
        TRY(part_text(df, n, P_MID, &t));
    }
    TRY(rn_buf_append(&t, "}", 1));
    TRY(part_text(df, n, P_REST, &t));
    vis_close(df);
    const char *from = t.data, *end = t.data + t.len;
    if (!rc && n->parent) {
        /* [,] "name" : {...  */
        rn_jskip why;
        from = rn_json_skip_ws(from, end);
        if (from < end && *from == ',')
            from = rn_json_skip_ws(from + 1, end);
        from = from < end && *from == '"' ? rn_json_skip_string(from, end, NULL, &why) : NULL;
        from = from ? rn_json_skip_ws(from, end) : NULL;
        from = from && from < end && *from == ':' ? from + 1 : NULL;
    }
    if (!rc && (!from || !(*out = rn_json_loads_py(from, (size_t)(end - from)))))
        rc = rn_error_set(RN_EIO, "%s: the text of %s %s does not read back as JSON", df->path,
                          kind_name(kind), name ? name : "");
    rn_buf_free(&t);
    return rc;
}

/* ---- naming helpers ------------------------------------------------ */

char *rn_df_hidden_path(const char *path, const char *suffix)
{
    const char *slash = strrchr(path, '/');
    size_t n = strlen(path) + strlen(suffix) + 4;
    char *p = malloc(n);
    if (p && slash)
        snprintf(p, n, "%.*s/.%s%s", (int)(slash - path), path, slash + 1, suffix);
    else if (p)
        snprintf(p, n, "./.%s%s", path, suffix);
    return p;
}

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

/* The lock file of a folder's writers; kept (removing it would let two
 * writers lock two different files of that name). */
#define TURN_FILE ".lock"

/* The folders this process holds a turn on: a handful at most. */
struct rn_df_turn {
    dev_t dev;
    ino_t ino;
    int fd;
    unsigned holders;
    struct rn_df_turn *next;
};
static rn_df_turn *turns;

int rn_df_turn_take(const char *dir, rn_df_turn **out)
{
    struct stat st;
    *out = NULL;
    if (stat(dir, &st) != 0)
        return io_error("open", dir);
    for (rn_df_turn *t = turns; t; t = t->next)
        if (t->dev == st.st_dev && t->ino == st.st_ino) {
            t->holders++;
            *out = t;
            return 0;
        }
    rn_df_turn *t = calloc(1, sizeof *t);
    size_t n = strlen(dir) + sizeof "/" TURN_FILE;
    char *path = t ? malloc(n) : NULL;
    if (!path) {
        free(t);
        return oom();
    }
    snprintf(path, n, "%s/" TURN_FILE, dir);
    /* A file, not the folder: over NFS flock becomes a POSIX lock, which
     * needs a file open for writing.  Read-only (a reader of a mount it
     * cannot write) it is opened for reading, if it exists. */
    t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (t->fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        t->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (t->fd < 0 && errno != ENOENT && errno != EACCES && errno != EROFS && errno != EPERM)
        rc = io_error("open", path);
    while (!rc && t->fd >= 0 && flock(t->fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        /* No locks on this file system (NFS without a lock service): as
         * before turns existed, safe for one writer at a time. */
        if (errno == ENOLCK || errno == EOPNOTSUPP || errno == EBADF)
            break;
        rc = rn_error_set(RN_EIO, "cannot lock %s for the run log's writers: %s", path,
                          strerror(errno));
    }
    free(path);
    if (rc) {
        if (t->fd >= 0)
            close(t->fd);
        free(t);
        return rc;
    }
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->holders = 1;
    t->next = turns;
    turns = t;
    *out = t;
    return 0;
}

void rn_df_turn_give(rn_df_turn *turn)
{
    if (!turn || --turn->holders)
        return;
    for (rn_df_turn **pp = &turns; *pp; pp = &(*pp)->next)
        if (*pp == turn) {
            *pp = turn->next;
            break;
        }
    if (turn->fd >= 0)
        close(turn->fd); /* ends the flock */
    free(turn);
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
