/*
 * Run log store "chunked-fs": one folder per run, <log_folder>/<run_id>/,
 * holding RunLog.json (the root document with every step's "branches"
 * left empty) and one BranchLog-<branch>.json per branch at any depth,
 * stored flat (spec run-log.md §6.2).  get_run reassembles the nested
 * document exactly as runnable does.
 *
 * Several processes may write one run at once as long as each writes only
 * its own files (a branch's steps, status and parameters go to that
 * branch's file only), which is what the engine's executors do: hence
 * supports_parallel_writes.  Each file is a json_docfile: written
 * incrementally (a branch may hold thousands of steps), replaced
 * atomically, and re-read when another process has replaced it.  Two
 * processes putting root steps (a DAG's independent steps, each in its own
 * execute-single-node process) both rewrite RunLog.json: every writer
 * takes its turn through an flock on the run's folder (see ck_turn).
 *
 * While the engine defers a run's writes (ops v2), puts only change the
 * files' documents in memory; flush() writes each file that changed once,
 * parents before children (RunLog.json first, then branch files in the
 * order they were met), as the puts themselves would have.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "json_docfile.h"
#include "summaries.h"

#define BRANCH_PREFIX "BranchLog-"
#define ROOT_FILE "RunLog.json"

struct ck_branch {
    char *name;
    rn_docfile *df;
    unsigned long seen;     /* batch in which it was last refreshed */
    int queued;             /* listed in the run's dirty list */
    int final;              /* its last put_branch had a final status */
};

struct ck_run {
    char *run_id;
    char *dir;
    rn_docfile *root;
    struct ck_branch *br;   /* in the order this process met them */
    size_t nbr, brcap;
    size_t *map;            /* name -> index + 1 in br, open addressing */
    size_t mapcap;
    /* Deferred writes: the branch files changed since the last flush (as
     * indexes into br, in the order they changed), the root's flag, and
     * a batch counter that limits refreshes to one per file per batch. */
    int deferred;
    int root_dirty;
    unsigned long batch, root_seen;
    size_t *dirty;
    size_t ndirty, dirtycap;
    /* Spare files (hidden, in dir): finished branches' shadows, written
     * over by new branch files instead of creating files (see ck_write). */
    char **spare;
    size_t nspare, sparecap;
    unsigned long spare_seq;
    /* In the spares' names: several processes (containers, pods on other
     * machines) may write one run's folder, and must never share one. */
    char spare_tag[24];
    /* This process's turn on the run's folder, while held (ck_turn). */
    rn_df_turn *turn;
};

struct ck_store {
    char *folder;
    int fsync_it;
    int parallel;
    struct ck_run **runs;
    size_t nruns, cap;
};

static int ck_oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

static char *ck_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", a, b, c);
    return p;
}

/* runnable's file name: a name already ending in "json" gets no ".json". */
static char *ck_branch_path(const struct ck_run *r, const char *name)
{
    size_t n = strlen(name);
    int has = n >= 4 && !strcmp(name + n - 4, "json");
    size_t len = strlen(BRANCH_PREFIX) + n + 6;
    char *base = malloc(len);
    if (!base)
        return NULL;
    snprintf(base, len, "%s%s%s", BRANCH_PREFIX, name, has ? "" : ".json");
    char *p = ck_join(r->dir, base, "");
    free(base);
    return p;
}

/* ---- branch table ---------------------------------------------------- */

static size_t ck_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static struct ck_branch *ck_branch_get(const struct ck_run *r, const char *name)
{
    if (!r->mapcap)
        return NULL;
    for (size_t i = ck_hash(name) & (r->mapcap - 1);; i = (i + 1) & (r->mapcap - 1)) {
        size_t k = r->map[i];
        if (!k)
            return NULL;
        if (!strcmp(r->br[k - 1].name, name))
            return &r->br[k - 1];
    }
}

static void ck_map_insert(size_t *map, size_t cap, const char *name, size_t value)
{
    size_t i = ck_hash(name) & (cap - 1);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = value;
}

/* Takes ownership of df (also on failure). */
static int ck_branch_add(struct ck_run *r, const char *name, rn_docfile *df)
{
    int rc = 0;
    char *nm = strdup(name);
    if (!nm)
        rc = ck_oom();
    if (!rc && r->nbr == r->brcap) {
        size_t ncap = r->brcap ? r->brcap * 2 : 8;
        struct ck_branch *nv = realloc(r->br, ncap * sizeof *nv);
        if (!nv)
            rc = ck_oom();
        else {
            r->br = nv;
            r->brcap = ncap;
        }
    }
    if (!rc && (r->nbr + 1) * 4 >= r->mapcap * 3) {
        size_t ncap = r->mapcap ? r->mapcap * 2 : 32;
        size_t *nm2 = calloc(ncap, sizeof *nm2);
        if (!nm2)
            rc = ck_oom();
        else {
            for (size_t i = 0; i < r->nbr; i++)
                ck_map_insert(nm2, ncap, r->br[i].name, i + 1);
            free(r->map);
            r->map = nm2;
            r->mapcap = ncap;
        }
    }
    if (rc) {
        free(nm);
        rn_docfile_free(df);
        return rc;
    }
    r->br[r->nbr] = (struct ck_branch){nm, df, 0, 0, 0};
    r->nbr++;
    ck_map_insert(r->map, r->mapcap, nm, r->nbr);
    return 0;
}

/* ---- runs -------------------------------------------------------------- */

static void ck_run_free(struct ck_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbr; i++) {
        rn_docfile_free(r->br[i].df);
        free(r->br[i].name);
    }
    free(r->br);
    free(r->map);
    free(r->dirty);
    for (size_t i = 0; i < r->nspare; i++) {
        unlink(r->spare[i]);
        free(r->spare[i]);
    }
    free(r->spare);
    rn_docfile_free(r->root);
    rn_df_turn_give(r->turn); /* a turn still held */
    free(r->dir);
    free(r->run_id);
    free(r);
}

static int ck_run_new(struct ck_store *s, const char *run_id, struct ck_run **out)
{
    struct ck_run *r = calloc(1, sizeof *r);
    char *root_path = NULL;
    int rc = 0;
    if (r) {
        r->batch = 1; /* `seen` 0: never refreshed */
        uint64_t tag;
        if (getrandom(&tag, sizeof tag, GRND_NONBLOCK) != (ssize_t)sizeof tag)
            tag = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r;
        snprintf(r->spare_tag, sizeof r->spare_tag, "%016llx", (unsigned long long)tag);
    }
    if (!r || !(r->run_id = strdup(run_id)) || !(r->dir = ck_join(s->folder, run_id, "")) ||
        !(root_path = ck_join(r->dir, ROOT_FILE, "")))
        rc = ck_oom();
    if (!rc)
        rc = rn_docfile_new(&r->root, root_path, RN_DF_RUN, 0, s->fsync_it);
    free(root_path);
    if (rc) {
        ck_run_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static struct ck_run *ck_find(struct ck_store *s, const char *run_id)
{
    for (size_t i = 0; i < s->nruns; i++)
        if (!strcmp(s->runs[i]->run_id, run_id))
            return s->runs[i];
    return NULL;
}

/* Takes ownership of r (also on failure). */
static int ck_add(struct ck_store *s, struct ck_run *r)
{
    if (s->nruns == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        struct ck_run **nv = realloc(s->runs, ncap * sizeof *nv);
        if (!nv) {
            ck_run_free(r);
            return ck_oom();
        }
        s->runs = nv;
        s->cap = ncap;
    }
    s->runs[s->nruns++] = r;
    return 0;
}

/* ---- writers taking turns ---------------------------------------------- */

/*
 * This process's turn to change the run's files, before the refresh a
 * put starts with: the refresh then sees every other writer's last
 * version and no one replaces a file between it and this process's
 * write, which would lose one of the two updates (or find the file
 * replaced mid-write).  A put without deferral is a turn of its own; a
 * deferred batch holds the turn from its first put to the flush that
 * ends it, and the engine flushes before it waits for anything.
 */
static int ck_turn(struct ck_run *r)
{
    return r->turn ? 0 : rn_df_turn_take(r->dir, &r->turn);
}

static void ck_turn_end(struct ck_run *r)
{
    rn_df_turn_give(r->turn);
    r->turn = NULL;
}

/* After a put: a put outside a batch ends its turn. */
static int ck_put_done(struct ck_run *r, int rc)
{
    if (!r->deferred)
        ck_turn_end(r);
    return rc;
}

/* The run in memory, RunLog.json read if this process has not opened it. */
static int ck_open(struct ck_store *s, const char *run_id, struct ck_run **out)
{
    int rc = rn_df_check_run_id(run_id);
    if (rc)
        return rc;
    if ((*out = ck_find(s, run_id)) != NULL)
        return 0;
    struct ck_run *r;
    rc = ck_run_new(s, run_id, &r);
    if (rc)
        return rc;
    /* In a turn, as every read (see ck_get_run); without a folder to
     * lock there is nothing to read, which the load reports. */
    ck_turn(r);
    rc = rn_docfile_load(r->root);
    ck_turn_end(r);
    if (rc == RN_ENOENT)
        rc = rn_error_set(RN_ENOENT, "run log for run %s not found (%s does not exist)", run_id,
                          rn_docfile_path(r->root));
    if (rc) {
        ck_run_free(r);
        return rc;
    }
    rc = ck_add(s, r);
    if (!rc)
        *out = r;
    return rc;
}

/*
 * The file of branch `name`: from memory, else from disk (another process
 * may have created it), else a new empty one when `create` is set.
 * RN_ENOENT when it exists nowhere and `create` is not set.  *out_b (may
 * be NULL) is its entry in the table, valid until the next branch is added.
 */
static int ck_branch(struct ck_store *s, struct ck_run *r, const char *name, int create,
                     rn_docfile **out, struct ck_branch **out_b)
{
    struct ck_branch *b = ck_branch_get(r, name);
    if (out_b)
        *out_b = b;
    if (b) {
        *out = b->df;
        /* A batch looks for another writer's version once, at its start:
         * later puts of the batch would find the file this process left
         * (and a reload would drop what the batch changed). */
        if (r->deferred && b->seen == r->batch)
            return 0;
        int rc = rn_docfile_refresh(b->df, NULL);
        if (!rc)
            b->seen = r->batch;
        return rc;
    }
    char *path = ck_branch_path(r, name);
    rn_docfile *df = NULL;
    if (!path)
        return ck_oom();
    int rc = rn_docfile_new(&df, path, RN_DF_BRANCH, 0, s->fsync_it);
    if (!rc) {
        rc = rn_docfile_load(df);
        if (rc == RN_ENOENT && create)
            rc = 0;
        else if (rc == RN_ENOENT)
            rc = rn_error_set(RN_ENOENT, "run %s has no branch %s (%s does not exist)",
                              r->run_id, name, path);
    }
    free(path);
    if (rc) {
        rn_docfile_free(df);
        return rc;
    }
    rc = ck_branch_add(r, name, df);
    if (!rc) {
        r->br[r->nbr - 1].seen = r->batch;
        *out = df;
        if (out_b)
            *out_b = &r->br[r->nbr - 1];
    }
    return rc;
}

/* ---- deferred writes ---------------------------------------------------- */

/* RunLog.json before a put: refreshed once per batch (see ck_branch). */
static int ck_root_refresh(struct ck_run *r)
{
    if (r->deferred && r->root_seen == r->batch)
        return 0;
    int rc = rn_docfile_refresh(r->root, NULL);
    if (!rc)
        r->root_seen = r->batch;
    return rc;
}

/*
 * Write one file (b NULL: RunLog.json).  A map of N iterations makes N
 * branch files, each written at least twice (running, then finished),
 * and each atomic replacement needs a second file: N shadows that
 * close_run would delete.  On ext4 every inode allocation walks past the
 * group's recently deleted inodes, so those deletions would make the next
 * run's file creations (and anyone's) slow, and creating the shadows
 * costs as much as the rest of the write.  So a finished branch's shadow
 * becomes a spare, and a file that needs a new shadow (or its first
 * version) is written into a spare instead, which is then exchanged with
 * (or renamed to) the visible file: about one inode per branch, no
 * rename more than before, and nothing deleted but the few spares left at
 * close_run.
 */
static int ck_write(struct ck_run *r, struct ck_branch *b)
{
    if (!b)
        return rn_docfile_flush(r->root);
    if (r->nspare && !rn_docfile_has_shadow(b->df) &&
        rn_docfile_take_spare(b->df, r->spare[r->nspare - 1]) == 0)
        r->nspare--;
    int rc = rn_docfile_flush(b->df);
    if (rc || !b->final || !rn_docfile_has_shadow(b->df))
        return rc;
    if (r->nspare == r->sparecap) {
        size_t ncap = r->sparecap ? r->sparecap * 2 : 4;
        char **nv = realloc(r->spare, ncap * sizeof *nv);
        if (!nv)
            return 0; /* the shadow stays a shadow */
        r->spare = nv;
        r->sparecap = ncap;
    }
    char num[64];
    snprintf(num, sizeof num, "%s-%lu", r->spare_tag, r->spare_seq++);
    char *name = ck_join(r->dir, ".spare-", num);
    char *path = name ? rn_docfile_give_shadow(b->df, name) : NULL;
    if (path)
        r->spare[r->nspare++] = path;
    return 0;
}

/* The file of branch `b` (NULL: RunLog.json) was changed by a put:
 * write it now, or list it for the batch's flush. */
static int ck_changed(struct ck_run *r, struct ck_branch *b)
{
    if (!r->deferred)
        return ck_write(r, b);
    if (!b) {
        r->root_dirty = 1;
        return 0;
    }
    if (b->queued)
        return 0;
    if (r->ndirty == r->dirtycap) {
        size_t ncap = r->dirtycap ? r->dirtycap * 2 : 16;
        size_t *nv = realloc(r->dirty, ncap * sizeof *nv);
        if (!nv)
            return ck_oom();
        r->dirty = nv;
        r->dirtycap = ncap;
    }
    r->dirty[r->ndirty++] = (size_t)(b - r->br);
    b->queued = 1;
    return 0;
}

/*
 * Write every file the batch changed, each once: RunLog.json first, then
 * the branch files in the order they were first changed, which puts a
 * parent (whose put came first) on disk before its children.  A file that
 * fails stays listed with the ones after it: the next flush writes them.
 */
static int ck_flush_run(struct ck_run *r)
{
    int rc = 0;
    r->batch++;
    if (r->root_dirty) {
        if ((rc = ck_write(r, NULL)) != 0) {
            ck_turn_end(r);
            return rc;
        }
        r->root_dirty = 0;
    }
    size_t i = 0;
    for (; i < r->ndirty; i++) {
        struct ck_branch *b = &r->br[r->dirty[i]];
        if ((rc = ck_write(r, b)) != 0)
            break;
        b->queued = 0;
    }
    if (i && i < r->ndirty)
        memmove(r->dirty, r->dirty + i, (r->ndirty - i) * sizeof *r->dirty);
    r->ndirty -= i;
    ck_turn_end(r);
    return rc;
}

/* ---- provider ------------------------------------------------------------ */

static int ck_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    const char *folder;
    int fsync_it, parallel;
    int rc = rn_config_string(config, "log_folder", ".run_log_store", &folder);
    if (!rc)
        rc = rn_config_bool(config, "fsync", 0, &fsync_it);
    if (!rc)
        rc = rn_config_bool(config, "supports_parallel_writes", 1, &parallel);
    if (rc)
        return rc;
    if (!folder[0])
        return rn_error_set(RN_EINVAL, "log_folder must not be empty");
    struct ck_store *s = calloc(1, sizeof *s);
    if (!s)
        return ck_oom();
    s->folder = rn_df_resolve(env ? env->work_dir : NULL, folder);
    if (!s->folder) {
        free(s);
        return ck_oom();
    }
    s->fsync_it = fsync_it;
    s->parallel = parallel;
    *self = s;
    return 0;
}

static void ck_destroy(void *self)
{
    struct ck_store *s = self;
    if (!s)
        return;
    for (size_t i = 0; i < s->nruns; i++) {
        ck_turn(s->runs[i]); /* freeing removes shadows (see ck_close_run) */
        ck_run_free(s->runs[i]);
    }
    free(s->runs);
    free(s->folder);
    free(s);
}

static int ck_supports_parallel_writes(void *self)
{
    return ((struct ck_store *)self)->parallel;
}

/*
 * Store the steps of `map` in `df` (a RunLog or BranchLog file), write it,
 * then store each of their branches, at any depth, in its own file:
 * parents reach the disk before their children, so a reader never meets
 * a branch whose step is missing.
 */
static int ck_import_steps(struct ck_store *s, struct ck_run *r, rn_docfile *df, const json_t *map)
{
    const char *name, *bname;
    json_t *step, *branch;
    int rc = 0;
    if (map && !json_is_null(map) && !json_is_object(map))
        return rn_error_set(RN_EINVAL, "\"steps\" must be a JSON object");
    json_object_foreach((json_t *)map, name, step) {
        if ((rc = rn_docfile_put(df, NULL, RN_DF_STEP, name, step)) != 0)
            return rc;
    }
    if ((rc = rn_docfile_flush(df)) != 0)
        return rc;
    json_object_foreach((json_t *)map, name, step) {
        json_t *branches = json_object_get(step, "branches");
        if (!branches || json_is_null(branches))
            continue;
        if (!json_is_object(branches))
            return rn_error_set(RN_EINVAL, "\"branches\" of step %s must be a JSON object", name);
        json_object_foreach(branches, bname, branch) {
            rn_docfile *bdf;
            if (!json_is_object(branch))
                return rn_error_set(RN_EINVAL, "branch %s must be a JSON object", bname);
            if ((rc = ck_branch(s, r, bname, 1, &bdf, NULL)) != 0)
                return rc;
            if ((rc = rn_docfile_set_root(bdf, branch)) != 0)
                return rc;
            if ((rc = ck_import_steps(s, r, bdf, json_object_get(branch, "steps"))) != 0)
                return rc;
        }
    }
    return 0;
}

static int ck_create_run(void *self, const char *run_id, const json_t *run_log)
{
    struct ck_store *s = self;
    struct ck_run *r;
    struct stat st;
    int rc = rn_df_check_run_id(run_id);
    if (rc)
        return rc;
    if (!json_is_object(run_log))
        return rn_error_set(RN_EINVAL, "the run log of run %s must be a JSON object", run_id);
    if ((rc = ck_run_new(s, run_id, &r)) != 0)
        return rc;
    const char *path = rn_docfile_path(r->root);
    if (ck_find(s, run_id) || stat(path, &st) == 0) {
        rc = rn_error_set(RN_EEXIST, "run log for run %s already exists: %s", run_id, path);
        ck_run_free(r);
        return rc;
    }
    rc = rn_docfile_set_root(r->root, run_log);
    if (!rc)
        rc = ck_import_steps(s, r, r->root, json_object_get(run_log, "steps"));
    if (rc) {
        ck_run_free(r);
        return rc;
    }
    return ck_add(s, r);
}

static int ck_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read every BranchLog file of the folder that is new or was changed by
 * another process since this one last saw it. */
static int ck_scan(struct ck_store *s, struct ck_run *r)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return errno == ENOENT ? 0 : rn_error_set(RN_EIO, "cannot list %s: %s", r->dir,
                                                  strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, BRANCH_PREFIX, strlen(BRANCH_PREFIX)) != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(names, ncap * sizeof *nv);
            if (!nv) {
                rc = ck_oom();
                break;
            }
            names = nv;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name)))
            rc = ck_oom();
        else
            n++;
    }
    closedir(d);
    /* Listing order is the file system's: sort for a stable result. */
    if (!rc && n)
        qsort(names, n, sizeof *names, ck_name_cmp);
    for (size_t i = 0; !rc && i < n; i++) {
        /* The name inside the file is authoritative: a file name cannot
         * tell "x" (BranchLog-x.json) from "x.json" (same file name). */
        const char *fname = names[i] + strlen(BRANCH_PREFIX);
        size_t fl = strlen(fname);
        char *guess = strndup(fname, fl >= 5 && !strcmp(fname + fl - 5, ".json") ? fl - 5 : fl);
        char *path = ck_join(r->dir, names[i], "");
        if (!guess || !path) {
            rc = ck_oom();
        } else {
            /* Known already?  Try the two names the file may stand for. */
            struct ck_branch *b = ck_branch_get(r, guess);
            if (!b || strcmp(rn_docfile_path(b->df), path) != 0)
                b = ck_branch_get(r, fname);
            if (b && strcmp(rn_docfile_path(b->df), path) != 0)
                b = NULL;
            if (b) {
                rc = rn_docfile_refresh(b->df, NULL);
            } else {
                rn_docfile *df;
                rc = rn_docfile_new(&df, path, RN_DF_BRANCH, 0, s->fsync_it);
                if (!rc && (rc = rn_docfile_load(df)) != 0)
                    rn_docfile_free(df);
                if (!rc) {
                    const char *nm = rn_docfile_root_name(df) ? rn_docfile_root_name(df) : guess;
                    if (ck_branch_get(r, nm))
                        rn_docfile_free(df); /* same branch under its other name */
                    else
                        rc = ck_branch_add(r, nm, df);
                }
            }
        }
        free(guess);
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* runnable's reassembly (spec §6.2): each branch goes into its step, found
 * in the step's own branch when that branch exists, else at the root. */
static int ck_assemble(struct ck_store *s, struct ck_run *r, json_t **out)
{
    int rc = rn_docfile_refresh(r->root, NULL);
    if (!rc)
        rc = ck_scan(s, r);
    if (rc)
        return rc;

    json_t *doc = NULL;
    json_t *docs = json_object(); /* branch name -> its document */
    if ((rc = rn_docfile_json(&doc, r->root)) != 0 || !docs) {
        json_decref(doc);
        json_decref(docs);
        return rc ? rc : ck_oom();
    }
    for (size_t i = 0; !rc && i < r->nbr; i++) {
        json_t *b = NULL;
        rc = rn_docfile_json(&b, r->br[i].df);
        if (!rc && json_object_set_new(docs, r->br[i].name, b) != 0)
            rc = ck_oom();
    }
    for (size_t i = 0; !rc && i < r->nbr; i++) {
        const char *name = r->br[i].name;
        int err;
        char *step = rn_df_parent_name(name, &err);
        char *pbranch = step ? rn_df_parent_name(step, &err) : NULL;
        if (err) {
            rc = err;
        } else if (step) {
            json_t *holder = pbranch ? json_object_get(docs, pbranch) : doc;
            json_t *steps = holder ? json_object_get(holder, "steps") : NULL;
            json_t *st = json_object_get(steps, step);
            /* A branch whose step was never stored has nowhere to go. */
            if (json_is_object(st)) {
                json_t *brs = json_object_get(st, "branches");
                if (!json_is_object(brs)) {
                    brs = json_object();
                    if (!brs || json_object_set_new(st, "branches", brs) != 0)
                        rc = ck_oom();
                }
                if (!rc && json_object_set(brs, name, json_object_get(docs, name)) != 0)
                    rc = ck_oom();
            }
        }
        free(step);
        free(pbranch);
    }
    json_decref(docs);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

/* Reading takes a turn too: a file read here may become its writer's
 * shadow at any moment, and be written over by that writer's next write
 * while it is read. */
static int ck_get_part(void *self, const char *run_id, const char *name, int is_step,
                       json_t **out);

static int ck_get_run(void *self, const char *run_id, json_t **out)
{
    return ck_get_part(self, run_id, NULL, -1, out);
}

static int ck_put_run_fields(void *self, const char *run_id, const json_t *run_log)
{
    struct ck_run *r;
    int rc = ck_open(self, run_id, &r);
    if (rc || (rc = ck_turn(r)) != 0)
        return rc;
    rc = ck_root_refresh(r);
    if (!rc)
        rc = rn_docfile_set_root(r->root, run_log);
    if (!rc)
        rc = ck_changed(r, NULL);
    return ck_put_done(r, rc);
}

/* The file holding the steps of branch `branch` (NULL: RunLog.json, and
 * *out_b NULL). */
static int ck_steps_file(struct ck_store *s, struct ck_run *r, const char *branch,
                         rn_docfile **out, struct ck_branch **out_b)
{
    if (!branch) {
        *out = r->root;
        *out_b = NULL;
        return ck_root_refresh(r);
    }
    return ck_branch(s, r, branch, 0, out, out_b);
}

static int ck_put_step(void *self, const char *run_id, const json_t *step_log)
{
    struct ck_store *s = self;
    struct ck_run *r;
    rn_docfile *df;
    struct ck_branch *b;
    const char *name;
    int err;
    int rc = rn_df_internal_name(step_log, "step", &name);
    if (rc)
        return rc;
    char *branch = rn_df_parent_name(name, &err);
    if (err)
        return err;
    rc = ck_open(s, run_id, &r);
    if (!rc && (rc = ck_turn(r)) == 0) {
        rc = ck_steps_file(s, r, branch, &df, &b);
        if (!rc)
            rc = rn_docfile_put(df, NULL, RN_DF_STEP, name, step_log);
        if (!rc)
            rc = ck_changed(r, b);
        rc = ck_put_done(r, rc);
    }
    free(branch);
    return rc;
}

/* put_branch in its turn.  Same rule as the nested layout: a branch
 * needs its step. */
static int ck_put_branch_in(struct ck_store *s, struct ck_run *r, const char *name,
                            const char *step, const char *pbranch, const json_t *branch_log)
{
    rn_docfile *holder, *df;
    struct ck_branch *hb, *b;
    int rc = ck_steps_file(s, r, pbranch, &holder, &hb);
    if (!rc && !rn_docfile_has(holder, step, RN_DF_STEP))
        rc = rn_error_set(RN_ENOENT, "cannot store branch %s: there is no step %s in %s", name,
                          step, rn_docfile_path(holder));
    if (!rc)
        rc = ck_branch(s, r, name, 1, &df, &b);
    if (!rc)
        rc = rn_docfile_set_root(df, branch_log);
    if (!rc) {
        const char *st = json_string_value(json_object_get(branch_log, "status"));
        b->final = st && strcmp(st, "PROCESSING") != 0;
        rc = ck_changed(r, b);
    }
    return rc;
}

/* ---- parts of a run (v4) ------------------------------------------------ */

/* The file holding step or branch `name` (NULL: the run's own fields)
 * and the node's name in it (NULL: its root), in the caller's turn. */
static int ck_part_file(struct ck_store *s, struct ck_run *r, const char *name, int is_step,
                        rn_docfile **df, const char **in_file)
{
    int err = 0, rc;
    *in_file = NULL;
    if (!name)
        return ck_steps_file(s, r, NULL, df, &(struct ck_branch *){NULL});
    if (!is_step)
        return ck_branch(s, r, name, 0, df, NULL);
    char *branch = rn_df_parent_name(name, &err);
    if (err)
        return err;
    rc = ck_steps_file(s, r, branch, df, &(struct ck_branch *){NULL});
    free(branch);
    if (rc == RN_ENOENT || (!rc && !rn_docfile_has(*df, name, RN_DF_STEP)))
        return rn_error_set(RN_ENOENT, "run %s has no step %s", r->run_id, name);
    *in_file = name;
    return rc;
}

/* Step or branch `name` (NULL: the run's own fields) without children,
 * or with is_step -1 the whole run reassembled, in a turn. */
static int ck_get_part(void *self, const char *run_id, const char *name, int is_step,
                       json_t **out)
{
    struct ck_store *s = self;
    struct ck_run *r;
    rn_docfile *df;
    const char *in_file;
    *out = NULL;
    int rc = ck_open(s, run_id, &r);
    if (rc)
        return rc;
    int had_turn = r->turn != NULL;
    rc = ck_turn(r);
    if (!rc && is_step == -1)
        rc = ck_assemble(s, r, out);
    else if (!rc)
        rc = ck_part_file(s, r, name, is_step, &df, &in_file);
    if (!rc && is_step != -1)
        rc = rn_docfile_node_json(out, df, in_file,
                                  in_file ? RN_DF_STEP : !name ? RN_DF_RUN : RN_DF_BRANCH);
    if (!had_turn)
        ck_turn_end(r);
    return rc;
}

static int ck_get_run_head(void *self, const char *run_id, json_t **out)
{
    return ck_get_part(self, run_id, NULL, 0, out);
}

static int ck_get_step(void *self, const char *run_id, const char *name, json_t **out)
{
    return ck_get_part(self, run_id, name, 1, out);
}

static int ck_get_branch(void *self, const char *run_id, const char *name, json_t **out)
{
    return ck_get_part(self, run_id, name, 0, out);
}

static int ck_put_branch(void *self, const char *run_id, const json_t *branch_log)
{
    struct ck_store *s = self;
    struct ck_run *r;
    const char *name;
    int err;
    int rc = rn_df_internal_name(branch_log, "branch", &name);
    if (rc)
        return rc;
    char *step = rn_df_parent_name(name, &err);
    if (err)
        return err;
    if (!step)
        return rn_error_set(RN_EINVAL, "branch name '%s' names no step (expected <step>.<branch>)",
                            name);
    char *pbranch = rn_df_parent_name(step, &err);
    rc = err;
    if (!rc)
        rc = ck_open(s, run_id, &r);
    if (!rc && (rc = ck_turn(r)) == 0) {
        rc = ck_put_branch_in(s, r, name, step, pbranch, branch_log);
        rc = ck_put_done(r, rc);
    }
    free(step);
    free(pbranch);
    return rc;
}

static int ck_close_run(void *self, const char *run_id)
{
    struct ck_store *s = self;
    int rc = 0;
    for (size_t i = 0; i < s->nruns; i++) {
        struct ck_run *r = s->runs[i];
        if (strcmp(r->run_id, run_id) != 0)
            continue;
        /* The batch in memory, then the room kept for growth goes (see
         * json_docfile.h). */
        rc = ck_flush_run(r);
        /* Finishing rewrites files, and freeing removes shadows still
         * this process's: both in a turn, or another writer's shadow
         * could go between its write and its exchange (ck_run_free ends
         * the turn). */
        int frc = ck_turn(r);
        if (!frc)
            frc = rn_docfile_finish(r->root);
        if (!rc)
            rc = frc;
        for (size_t k = 0; k < r->nbr; k++) {
            int brc = rn_docfile_finish(r->br[k].df);
            if (!rc)
                rc = brc;
        }
        ck_run_free(r);
        s->runs[i] = s->runs[--s->nruns];
        break;
    }
    return rc;
}

/* Deferring a run this process has not opened opens it (reads
 * RunLog.json); turning it off writes the batch. */
static int ck_defer(void *self, const char *run_id, int on)
{
    struct ck_run *r;
    int rc = ck_open(self, run_id, &r);
    if (rc)
        return rc;
    if (!on && r->deferred)
        rc = ck_flush_run(r);
    r->deferred = on != 0;
    r->batch++;
    return rc;
}

/* Writes the batch: nothing when nothing changed (no system call). */
static int ck_flush(void *self, const char *run_id)
{
    struct ck_run *r = ck_find(self, run_id);
    return r ? ck_flush_run(r) : 0;
}

static int ck_put_summary(void *self, const char *run_id, const json_t *summary)
{
    const struct ck_store *s = self;
    return rn_summary_put(s->folder, run_id, summary, s->fsync_it);
}

static int ck_list_runs(void *self, rn_summary_fn fn, void *data)
{
    const struct ck_store *s = self;
    return rn_summary_list(s->folder, RN_RUNS_AS_FOLDERS, fn, data);
}

static const rn_run_log_store_ops ck_ops = {
    .version = RN_RUN_LOG_STORE_OPS_VERSION,
    .create = ck_create,
    .destroy = ck_destroy,
    .supports_parallel_writes = ck_supports_parallel_writes,
    .create_run = ck_create_run,
    .get_run = ck_get_run,
    .put_run_fields = ck_put_run_fields,
    .put_step = ck_put_step,
    .put_branch = ck_put_branch,
    .close_run = ck_close_run,
    .defer = ck_defer,
    .flush = ck_flush,
    .put_summary = ck_put_summary,
    .list_runs = ck_list_runs,
    .get_run_head = ck_get_run_head,
    .get_step = ck_get_step,
    .get_branch = ck_get_branch,
};

static const char *const ck_config_keys[] = {"log_folder", "supports_parallel_writes", "fsync",
                                             NULL};

RN_PLUGIN_DESCRIPTOR(run_log_store_chunked_fs) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_RUN_LOG_STORE,
    .type_name = "chunked-fs",
    .version = PACKAGE_VERSION,
    .summary = "run log as a folder per run: RunLog.json plus one BranchLog file per branch",
    .config_keys = ck_config_keys,
    .ops = &ck_ops,
};
