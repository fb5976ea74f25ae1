/*
 * Run log store "file-system": one JSON file per run,
 * <log_folder>/<run_id>.json, holding the whole nested document
 * (spec run-log.md §6.1), indent=4 and ASCII-only like runnable's.
 *
 * Each run in use is kept in memory by a json_docfile, which rewrites only
 * what changed: putting a step costs O(that step), so a 10,000-step run
 * does not rewrite 10,000 steps 20,000 times.  The file on disk is
 * replaced atomically on every write (see json_docfile.c), so it is valid
 * JSON at every instant.
 *
 * While the engine defers a run's writes (ops v2), puts only change the
 * document in memory and flush() writes what changed in one go: one write
 * of the file per batch, however many steps and branches it touched.
 *
 * Steps run in processes of their own (execute-single-node) write the
 * file too; every writer takes its turn through an flock on the log
 * folder (fs_turn), so no update is lost between a refresh and a write.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "json_docfile.h"
#include "summaries.h"

struct fs_run {
    char *run_id;
    rn_docfile *df;
    int deferred;      /* puts stay in memory until flush() */
    rn_df_turn *turn;  /* held while set (see fs_turn) */
};

struct fs_store {
    char *folder;
    int fsync_it;
    struct fs_run *runs;   /* runs this process has open: a handful */
    size_t nruns, cap;
};

static int fs_oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

static int fs_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    const char *folder;
    int fsync_it, parallel;
    int rc = rn_config_string(config, "log_folder", ".run_log_store", &folder);
    if (!rc)
        rc = rn_config_bool(config, "fsync", 0, &fsync_it);
    if (!rc)
        rc = rn_config_bool(config, "supports_parallel_writes", 0, &parallel);
    if (rc)
        return rc;
    if (!folder[0])
        return rn_error_set(RN_EINVAL, "log_folder must not be empty");
    /* Two processes rewriting one file lose each other's updates. */
    if (parallel)
        return rn_error_set(RN_EINVAL, "the file-system run log store cannot take parallel "
                            "writes (supports_parallel_writes: true); use chunked-fs");
    struct fs_store *s = calloc(1, sizeof *s);
    if (!s)
        return fs_oom();
    s->folder = rn_df_resolve(env ? env->work_dir : NULL, folder);
    if (!s->folder) {
        free(s);
        return fs_oom();
    }
    s->fsync_it = fsync_it;
    *self = s;
    return 0;
}

/* ---- writers taking turns ---- */

/* As chunked-fs's ck_turn: from a put's refresh to its write, or a
 * deferred batch's first put to its flush. */
static int fs_turn(struct fs_store *s, struct fs_run *r)
{
    return r->turn ? 0 : rn_df_turn_take(s->folder, &r->turn);
}

static void fs_turn_end(struct fs_run *r)
{
    rn_df_turn_give(r->turn);
    r->turn = NULL;
}

static void fs_destroy(void *self)
{
    struct fs_store *s = self;
    if (!s)
        return;
    /* Freeing removes shadows: in a turn (see fs_close_run). */
    struct fs_run all = {0};
    if (s->nruns)
        fs_turn(s, &all);
    for (size_t i = 0; i < s->nruns; i++) {
        rn_docfile_free(s->runs[i].df);
        fs_turn_end(&s->runs[i]);
        free(s->runs[i].run_id);
    }
    fs_turn_end(&all);
    free(s->runs);
    free(s->folder);
    free(s);
}

static int fs_supports_parallel_writes(void *self)
{
    (void)self;
    return 0;
}

static char *fs_path(const struct fs_store *s, const char *run_id)
{
    size_t n = strlen(s->folder) + strlen(run_id) + 7;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s.json", s->folder, run_id);
    return p;
}

static struct fs_run *fs_find(struct fs_store *s, const char *run_id)
{
    for (size_t i = 0; i < s->nruns; i++)
        if (!strcmp(s->runs[i].run_id, run_id))
            return &s->runs[i];
    return NULL;
}

static int fs_add(struct fs_store *s, const char *run_id, rn_docfile *df, struct fs_run **out)
{
    if (s->nruns == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        struct fs_run *nv = realloc(s->runs, ncap * sizeof *nv);
        if (!nv)
            return fs_oom();
        s->runs = nv;
        s->cap = ncap;
    }
    char *id = strdup(run_id);
    if (!id)
        return fs_oom();
    s->runs[s->nruns] = (struct fs_run){id, df, 0, 0};
    *out = &s->runs[s->nruns++];
    return 0;
}

/*
 * The run in memory, as its last writer left it: read from disk if this
 * process has not opened it, else looked at again at the start of a turn
 * (a deferred batch looks once: its later puts would find only the file
 * this process left).  Reading happens in a turn too, since a file being
 * read may become its writer's shadow at any moment and be written over
 * by that writer's next write.  With `keep` the turn is still held on
 * success.
 */
static int fs_open(struct fs_store *s, const char *run_id, int keep, struct fs_run **out)
{
    int rc = rn_df_check_run_id(run_id);
    if (rc)
        return rc;
    struct fs_run *r = fs_find(s, run_id);
    if (r) {
        *out = r;
        if (r->turn)
            return 0;
        if ((rc = fs_turn(s, r)) != 0)
            return rc;
        rc = rn_docfile_refresh(r->df, NULL);
        if (rc || !keep)
            fs_turn_end(r);
        return rc;
    }
    char *path = fs_path(s, run_id);
    rn_docfile *df = NULL;
    struct fs_run tmp = {0};
    if (!path)
        return fs_oom();
    rc = rn_docfile_new(&df, path, RN_DF_RUN, 1, s->fsync_it);
    if (!rc) {
        fs_turn(s, &tmp); /* no folder: nothing to read, as the load says */
        rc = rn_docfile_load(df);
        if (rc == RN_ENOENT)
            rc = rn_error_set(RN_ENOENT, "run log for run %s not found (%s does not exist)",
                              run_id, path);
    }
    if (!rc)
        rc = fs_add(s, run_id, df, out);
    if (rc)
        rn_docfile_free(df);
    else if (keep && tmp.turn)
        fs_turn(s, *out); /* held by tmp already: only counted */
    fs_turn_end(&tmp);
    free(path);
    return rc;
}

/* After a put: a put outside a batch ends its turn. */
static int fs_put_done(struct fs_store *s, struct fs_run *r, int rc)
{
    if (!r->deferred)
        fs_turn_end(r);
    return rc;
}

/* Steps and branches of a nested document, parents before children. */
static int fs_import(rn_docfile *df, const char *parent, rn_df_kind kind, const json_t *map)
{
    const char *name;
    json_t *v;
    int rc = 0;
    if (!map || json_is_null(map))
        return 0;
    if (!json_is_object(map))
        return rn_error_set(RN_EINVAL, "\"%s\" must be a JSON object",
                            kind == RN_DF_STEP ? "steps" : "branches");
    json_object_foreach((json_t *)map, name, v) {
        rc = rn_docfile_put(df, parent, kind, name, v);
        if (rc)
            break;
        rn_df_kind sub = kind == RN_DF_STEP ? RN_DF_BRANCH : RN_DF_STEP;
        rc = fs_import(df, name, sub, json_object_get(v, kind == RN_DF_STEP ? "branches" : "steps"));
        if (rc)
            break;
    }
    return rc;
}

static int fs_create_run(void *self, const char *run_id, const json_t *run_log)
{
    struct fs_store *s = self;
    struct stat st;
    int rc = rn_df_check_run_id(run_id);
    if (rc)
        return rc;
    if (!json_is_object(run_log))
        return rn_error_set(RN_EINVAL, "the run log of run %s must be a JSON object", run_id);
    char *path = fs_path(s, run_id);
    if (!path)
        return fs_oom();
    if (fs_find(s, run_id) || stat(path, &st) == 0) {
        rc = rn_error_set(RN_EEXIST, "run log for run %s already exists: %s", run_id, path);
        free(path);
        return rc;
    }
    rn_docfile *df = NULL;
    rc = rn_docfile_new(&df, path, RN_DF_RUN, 1, s->fsync_it);
    free(path);
    if (!rc)
        rc = rn_docfile_set_root(df, run_log);
    if (!rc)
        rc = fs_import(df, NULL, RN_DF_STEP, json_object_get(run_log, "steps"));
    if (!rc)
        rc = rn_docfile_flush(df);
    struct fs_run *r;
    if (!rc)
        rc = fs_add(s, run_id, df, &r);
    if (rc)
        rn_docfile_free(df);
    return rc;
}

static int fs_get_part(void *self, const char *run_id, const char *name, rn_df_kind kind,
                       json_t **out);

static int fs_get_run(void *self, const char *run_id, json_t **out)
{
    return fs_get_part(self, run_id, NULL, (rn_df_kind)-1, out);
}

/* One node of the run (NULL: the root) without its children (v4), or
 * with kind -1 the whole document; read in a turn (see fs_open). */
static int fs_get_part(void *self, const char *run_id, const char *name, rn_df_kind kind,
                       json_t **out)
{
    struct fs_run *r;
    *out = NULL;
    struct fs_run *f = fs_find(self, run_id);
    int had_turn = f && f->turn != NULL;
    int rc = fs_open(self, run_id, 1, &r);
    if (rc)
        return rc;
    if ((int)kind == -1)
        rc = rn_docfile_json(out, r->df);
    else if (name && !rn_docfile_has(r->df, name, kind))
        rc = rn_error_set(RN_ENOENT, "run %s has no %s %s", run_id,
                          kind == RN_DF_STEP ? "step" : "branch", name);
    else
        rc = rn_docfile_node_json(out, r->df, name, kind);
    if (!had_turn)
        fs_turn_end(r);
    return rc;
}

static int fs_get_run_head(void *self, const char *run_id, json_t **out)
{
    return fs_get_part(self, run_id, NULL, RN_DF_RUN, out);
}

static int fs_get_step(void *self, const char *run_id, const char *name, json_t **out)
{
    return fs_get_part(self, run_id, name, RN_DF_STEP, out);
}

static int fs_get_branch(void *self, const char *run_id, const char *name, json_t **out)
{
    return fs_get_part(self, run_id, name, RN_DF_BRANCH, out);
}

static int fs_put_run_fields(void *self, const char *run_id, const json_t *run_log)
{
    struct fs_run *r;
    int rc = fs_open(self, run_id, 1, &r);
    if (rc)
        return rc;
    rc = rn_docfile_set_root(r->df, run_log);
    if (!rc && !r->deferred)
        rc = rn_docfile_flush(r->df);
    return fs_put_done(self, r, rc);
}

/* A step goes under its branch (the name minus its last segment), a
 * one-segment step at the root; a branch goes under its step. */
static int fs_put(void *self, const char *run_id, const json_t *log, rn_df_kind kind)
{
    const char *what = kind == RN_DF_STEP ? "step" : "branch";
    const char *name;
    int err;
    struct fs_run *r;
    int rc = rn_df_internal_name(log, what, &name);
    if (rc)
        return rc;
    char *parent = rn_df_parent_name(name, &err);
    if (err)
        return err;
    if (!parent && kind == RN_DF_BRANCH)
        return rn_error_set(RN_EINVAL, "branch name '%s' names no step (expected <step>.<branch>)",
                            name);
    rc = fs_open(self, run_id, 1, &r);
    if (!rc) {
        rc = rn_docfile_put(r->df, parent, kind, name, log);
        if (!rc && !r->deferred)
            rc = rn_docfile_flush(r->df);
        rc = fs_put_done(self, r, rc);
    }
    free(parent);
    return rc;
}

static int fs_put_step(void *self, const char *run_id, const json_t *step_log)
{
    return fs_put(self, run_id, step_log, RN_DF_STEP);
}

static int fs_put_branch(void *self, const char *run_id, const json_t *branch_log)
{
    return fs_put(self, run_id, branch_log, RN_DF_BRANCH);
}

static int fs_close_run(void *self, const char *run_id)
{
    struct fs_store *s = self;
    struct fs_run *r = fs_find(s, run_id);
    if (!r)
        return 0;
    /* Every write was complete (and synced if asked) when it returned,
     * but for a deferred batch; what is left is that batch, the room kept
     * for growth, memory and the shadow. */
    int rc = rn_docfile_flush(r->df);
    /* Finishing rewrites the file, and freeing removes the shadow if it
     * is still this process's: both in a turn, or another writer's
     * shadow could go between its write and its exchange. */
    int frc = fs_turn(s, r);
    if (!frc)
        frc = rn_docfile_finish(r->df);
    if (!rc)
        rc = frc;
    rn_docfile_free(r->df);
    fs_turn_end(r);
    free(r->run_id);
    *r = s->runs[--s->nruns];
    return rc;
}

/* Deferring a run this process has not opened opens it (reads it): the
 * batch needs the document's shape in memory. */
static int fs_defer(void *self, const char *run_id, int on)
{
    struct fs_run *r;
    int rc = fs_open(self, run_id, 0, &r);
    if (rc)
        return rc;
    if (!on && r->deferred)
        rc = rn_docfile_flush(r->df);
    if (!on)
        fs_turn_end(r);
    r->deferred = on != 0;
    return rc;
}

/* Writes the batch: nothing when nothing changed (not even a stat). */
static int fs_flush(void *self, const char *run_id)
{
    struct fs_run *r = fs_find(self, run_id);
    if (!r)
        return 0;
    int rc = rn_docfile_flush(r->df);
    fs_turn_end(r);
    return rc;
}

static int fs_put_summary(void *self, const char *run_id, const json_t *summary)
{
    const struct fs_store *s = self;
    return rn_summary_put(s->folder, run_id, summary, s->fsync_it);
}

static int fs_list_runs(void *self, rn_summary_fn fn, void *data)
{
    const struct fs_store *s = self;
    return rn_summary_list(s->folder, RN_RUNS_AS_FILES, fn, data);
}

static const rn_run_log_store_ops fs_ops = {
    .version = RN_RUN_LOG_STORE_OPS_VERSION,
    .create = fs_create,
    .destroy = fs_destroy,
    .supports_parallel_writes = fs_supports_parallel_writes,
    .create_run = fs_create_run,
    .get_run = fs_get_run,
    .put_run_fields = fs_put_run_fields,
    .put_step = fs_put_step,
    .put_branch = fs_put_branch,
    .close_run = fs_close_run,
    .defer = fs_defer,
    .flush = fs_flush,
    .put_summary = fs_put_summary,
    .list_runs = fs_list_runs,
    .get_run_head = fs_get_run_head,
    .get_step = fs_get_step,
    .get_branch = fs_get_branch,
};

static const char *const fs_config_keys[] = {"log_folder", "supports_parallel_writes", "fsync",
                                             NULL};

RN_PLUGIN_DESCRIPTOR(run_log_store_file_system) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_RUN_LOG_STORE,
    .type_name = "file-system",
    .version = PACKAGE_VERSION,
    .summary = "run log as one JSON file per run: <log_folder>/<run_id>.json",
    .config_keys = fs_config_keys,
    .ops = &fs_ops,
};
