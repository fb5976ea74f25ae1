/*
 * Run log store "buffered": run logs held in this process's memory only
 * (spec run-log.md §6.3), for runs that need no record (tests, mocked
 * runs, the in-memory example config).
 *
 * Unlike runnable's, which keeps one document whatever run id is asked
 * for, documents are kept per run id, and create/get report an existing
 * or missing run like the file stores do: every store behaves the same to
 * the engine.  Nothing is persisted, so nothing is visible to other
 * processes: no parallel writes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"

struct buf_seen {
    char *run_id;
    json_t *run_config; /* the caller's object last handed over (held) */
};

struct buf_store {
    json_t *runs; /* run id -> nested RunLog document */
    struct buf_seen *seen;
    size_t nseen, cap;
};

static int buf_oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

static int buf_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    int fsync_it, parallel;
    (void)env;
    /* fsync is accepted for a uniform configuration; there is no file. */
    int rc = rn_config_bool(config, "fsync", 0, &fsync_it);
    if (!rc)
        rc = rn_config_bool(config, "supports_parallel_writes", 0, &parallel);
    if (rc)
        return rc;
    if (parallel)
        return rn_error_set(RN_EINVAL, "the buffered run log store cannot take parallel writes "
                            "(supports_parallel_writes: true): other processes cannot see it");
    struct buf_store *s = calloc(1, sizeof *s);
    if (!s || !(s->runs = json_object())) {
        free(s);
        return buf_oom();
    }
    *self = s;
    return 0;
}

static void buf_destroy(void *self)
{
    struct buf_store *s = self;
    if (!s)
        return;
    json_decref(s->runs);
    for (size_t i = 0; i < s->nseen; i++) {
        free(s->seen[i].run_id);
        json_decref(s->seen[i].run_config);
    }
    free(s->seen);
    free(s);
}

static int buf_supports_parallel_writes(void *self)
{
    (void)self;
    return 0;
}

/* A copy of `obj` without `skip` but with `keep` (a new reference, or a
 * fresh {} when NULL) under that name: the stored form of a node whose
 * children are managed separately. */
static json_t *buf_node(const json_t *obj, const char *skip, json_t *keep)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    if (!out)
        return NULL;
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, skip) != 0 && json_object_set_new(out, key, json_deep_copy(v)) != 0)
            goto fail;
    }
    if (json_object_set_new(out, skip, keep ? keep : json_object()) != 0) {
        keep = NULL;
        goto fail;
    }
    return out;
fail:
    json_decref(keep);
    json_decref(out);
    return NULL;
}

/* The stored copy of a nested document, with every children member
 * present (steps of the root and of branches, branches of steps), as the
 * file stores write them. */
static json_t *buf_import(const json_t *obj, int is_step, int *bad)
{
    const char *ck = is_step ? "branches" : "steps";
    const json_t *kids = json_object_get(obj, ck);
    json_t *map = json_object();
    const char *name;
    json_t *v;
    if (!map)
        return NULL;
    if (kids && !json_is_null(kids) && !json_is_object(kids)) {
        *bad = rn_error_set(RN_EINVAL, "\"%s\" must be a JSON object", ck);
        json_decref(map);
        return NULL;
    }
    json_object_foreach((json_t *)kids, name, v) {
        if (!json_is_object(v)) {
            *bad = rn_error_set(RN_EINVAL, "%s %s must be a JSON object",
                                is_step ? "branch" : "step", name);
            json_decref(map);
            return NULL;
        }
        json_t *kid = buf_import(v, !is_step, bad);
        if (!kid || json_object_set_new(map, name, kid) != 0) {
            json_decref(map);
            return NULL;
        }
    }
    return buf_node(obj, ck, map);
}

/* The same run ids as the file stores accept: they name files there. */
static int buf_check_run_id(const char *run_id)
{
    if (!run_id || !*run_id)
        return rn_error_set(RN_EINVAL, "the run id is empty");
    if (strchr(run_id, '/') || !strcmp(run_id, ".") || !strcmp(run_id, ".."))
        return rn_error_set(RN_EINVAL, "run id '%s' cannot be used as a file name", run_id);
    return 0;
}

/* Remember the caller's run_config object for run_id (see
 * buf_put_run_fields). */
static int buf_remember(struct buf_store *s, const char *run_id, json_t *rc)
{
    struct buf_seen *e = NULL;
    for (size_t i = 0; i < s->nseen && !e; i++)
        if (!strcmp(s->seen[i].run_id, run_id))
            e = &s->seen[i];
    if (!e) {
        if (s->nseen == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 4;
            struct buf_seen *nv = realloc(s->seen, ncap * sizeof *nv);
            if (!nv)
                return buf_oom();
            s->seen = nv;
            s->cap = ncap;
        }
        e = &s->seen[s->nseen];
        if (!(e->run_id = strdup(run_id)))
            return buf_oom();
        e->run_config = NULL;
        s->nseen++;
    }
    json_incref(rc);
    json_decref(e->run_config);
    e->run_config = rc;
    return 0;
}

static const json_t *buf_seen_config(const struct buf_store *s, const char *run_id)
{
    for (size_t i = 0; i < s->nseen; i++)
        if (!strcmp(s->seen[i].run_id, run_id))
            return s->seen[i].run_config;
    return NULL;
}

static int buf_create_run(void *self, const char *run_id, const json_t *run_log)
{
    struct buf_store *s = self;
    int bad = buf_check_run_id(run_id);
    if (bad)
        return bad;
    if (!json_is_object(run_log))
        return rn_error_set(RN_EINVAL, "the run log of run %s must be a JSON object", run_id);
    if (json_object_get(s->runs, run_id))
        return rn_error_set(RN_EEXIST, "run log for run %s already exists (in memory)", run_id);
    json_t *doc = buf_import(run_log, 0, &bad);
    if (!doc)
        return bad ? bad : buf_oom();
    if (json_object_set_new(s->runs, run_id, doc) != 0)
        return buf_oom();
    return buf_remember(s, run_id, json_object_get(run_log, "run_config"));
}

static int buf_find(struct buf_store *s, const char *run_id, json_t **doc)
{
    *doc = run_id ? json_object_get(s->runs, run_id) : NULL;
    if (!*doc)
        return rn_error_set(RN_ENOENT, "run log for run %s not found (buffered store: runs live "
                            "only in the process that created them)", run_id ? run_id : "");
    return 0;
}

static int buf_get_run(void *self, const char *run_id, json_t **out)
{
    json_t *doc;
    *out = NULL;
    int rc = buf_find(self, run_id, &doc);
    if (rc)
        return rc;
    /* A copy: the engine changes its document after reading it. */
    *out = json_deep_copy(doc);
    return *out ? 0 : buf_oom();
}

/*
 * Members are compared and only changed ones copied.  run_config (written
 * once, spec §5.1; megabytes for a large pipeline) is not even compared
 * when the caller hands over the very object it handed last time: per
 * step, that comparison alone would make a long run quadratic.
 */
static int buf_put_run_fields(void *self, const char *run_id, const json_t *run_log)
{
    struct buf_store *s = self;
    json_t *doc;
    int rc = buf_find(s, run_id, &doc);
    if (rc)
        return rc;
    if (!json_is_object(run_log))
        return rn_error_set(RN_EINVAL, "the run log of run %s must be a JSON object", run_id);
    const json_t *seen = buf_seen_config(s, run_id);
    json_t *fresh = json_object();
    const char *key;
    json_t *v;
    if (!fresh)
        return buf_oom();
    json_object_foreach((json_t *)run_log, key, v) {
        json_t *old = strcmp(key, "steps") ? json_object_get(doc, key) : NULL;
        json_t *val;
        if (!strcmp(key, "steps"))
            continue;
        if (old && ((!strcmp(key, "run_config") && v == seen) || json_equal(old, v)))
            val = json_incref(old);
        else
            val = json_deep_copy(v);
        if (!val || json_object_set_new(fresh, key, val) != 0) {
            json_decref(fresh);
            return buf_oom();
        }
    }
    /* A head read without run_config (get_run_head) keeps the stored one. */
    json_t *kept = json_object_get(run_log, "run_config") ? NULL
                                                          : json_object_get(doc, "run_config");
    if ((kept && json_object_set(fresh, "run_config", kept) != 0) ||
        json_object_set(fresh, "steps", json_object_get(doc, "steps")) != 0 ||
        buf_remember(s, run_id, json_object_get(run_log, "run_config")) != 0) {
        json_decref(fresh);
        return buf_oom();
    }
    if (json_object_set_new(s->runs, run_id, fresh) != 0)
        return buf_oom();
    return 0;
}

/* The map that holds the step or branch `name`: root steps, a branch's
 * steps, a step's branches, following the dotted name (spec §2). */
static int buf_holder(json_t *doc, const char *name, int is_step, json_t **out)
{
    const char *dot = strrchr(name, '.');
    if (!dot) {
        if (!is_step)
            return rn_error_set(RN_EINVAL,
                                "branch name '%s' names no step (expected <step>.<branch>)", name);
        *out = json_object_get(doc, "steps");
        return 0;
    }
    char *parent = strndup(name, (size_t)(dot - name));
    if (!parent)
        return buf_oom();
    json_t *pholder = NULL;
    int rc = buf_holder(doc, parent, !is_step, &pholder);
    json_t *p = rc ? NULL : json_object_get(pholder, parent);
    if (!rc && !p)
        rc = rn_error_set(RN_ENOENT, "cannot store %s %s: there is no %s %s",
                          is_step ? "step" : "branch", name, is_step ? "branch" : "step", parent);
    free(parent);
    if (rc)
        return rc;
    *out = json_object_get(p, is_step ? "steps" : "branches");
    return 0;
}

static int buf_put(void *self, const char *run_id, const json_t *log, int is_step)
{
    const char *what = is_step ? "step" : "branch";
    const json_t *in = json_is_object(log) ? json_object_get(log, "internal_name") : NULL;
    json_t *doc, *holder;
    if (!json_is_string(in) || !json_string_length(in))
        return rn_error_set(RN_EINVAL, "a %s log must be a JSON object with a non-empty "
                            "\"internal_name\"", what);
    const char *name = json_string_value(in);
    int rc = buf_find(self, run_id, &doc);
    if (!rc)
        rc = buf_holder(doc, name, is_step, &holder);
    if (rc)
        return rc;
    /* Children are stored by their own puts: keep the ones we have. */
    const char *ck = is_step ? "branches" : "steps";
    json_t *old = json_object_get(holder, name);
    json_t *node = buf_node(log, ck, json_incref(json_object_get(old, ck)));
    if (!node || json_object_set_new(holder, name, node) != 0)
        return buf_oom();
    return 0;
}

static int buf_put_step(void *self, const char *run_id, const json_t *step_log)
{
    return buf_put(self, run_id, step_log, 1);
}

static int buf_put_branch(void *self, const char *run_id, const json_t *branch_log)
{
    return buf_put(self, run_id, branch_log, 0);
}

/* One node without its children (v4): a copy, as get_run gives. */
static int buf_get_part(void *self, const char *run_id, const char *name, int is_step,
                        json_t **out)
{
    json_t *doc, *holder, *node = NULL;
    *out = NULL;
    int rc = buf_find(self, run_id, &doc);
    if (!rc && name && (rc = buf_holder(doc, name, is_step, &holder)) == RN_ENOENT)
        rc = rn_error_set(RN_ENOENT, "run %s has no %s %s", run_id,
                          is_step ? "step" : "branch", name);
    if (rc)
        return rc;
    node = name ? json_object_get(holder, name) : doc;
    if (!node)
        return rn_error_set(RN_ENOENT, "run %s has no %s %s", run_id,
                            is_step ? "step" : "branch", name);
    *out = buf_node(node, name && is_step ? "branches" : "steps", NULL);
    if (*out && !name)
        json_object_del(*out, "run_config"); /* as the head is read (v4) */
    return *out ? 0 : buf_oom();
}

static int buf_get_run_head(void *self, const char *run_id, json_t **out)
{
    return buf_get_part(self, run_id, NULL, 0, out);
}

static int buf_get_step(void *self, const char *run_id, const char *name, json_t **out)
{
    return buf_get_part(self, run_id, name, 1, out);
}

static int buf_get_branch(void *self, const char *run_id, const char *name, json_t **out)
{
    return buf_get_part(self, run_id, name, 0, out);
}

static int buf_close_run(void *self, const char *run_id)
{
    /* The document is the record: it stays readable until destroy. */
    (void)self;
    (void)run_id;
    return 0;
}

static const rn_run_log_store_ops buf_ops = {
    .version = RN_RUN_LOG_STORE_OPS_VERSION,
    .create = buf_create,
    .destroy = buf_destroy,
    .supports_parallel_writes = buf_supports_parallel_writes,
    .create_run = buf_create_run,
    .get_run = buf_get_run,
    .put_run_fields = buf_put_run_fields,
    .put_step = buf_put_step,
    .put_branch = buf_put_branch,
    .close_run = buf_close_run,
    .get_run_head = buf_get_run_head,
    .get_step = buf_get_step,
    .get_branch = buf_get_branch,
};

static const char *const buf_config_keys[] = {"supports_parallel_writes", "fsync", NULL};

RN_PLUGIN_DESCRIPTOR(run_log_store_buffered) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_RUN_LOG_STORE,
    .type_name = "buffered",
    .version = PACKAGE_VERSION,
    .summary = "run log kept in memory only, per run id; nothing is written",
    .config_keys = buf_config_keys,
    .ops = &buf_ops,
};
