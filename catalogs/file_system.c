/*
 * catalog "file-system": runnable's local catalog (services.md §3).
 *
 * Layout: <catalog_location>/<run_id>/<path relative to compute_data_folder>.
 * put() globs in the compute data folder and copies into the run folder;
 * get() globs in the run folder and copies back.  Nothing is ever deleted.
 *
 * Unlike runnable (defect D4) the compute data folder is honoured on both
 * sides: patterns, entry names and copies are all relative to it, and get()
 * hashes the file it actually wrote.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnable/plugin.h"

struct fs_catalog {
    char *catalog_location;
    char *compute_data_folder;
};

static const char *const fs_config_keys[] = {
    "catalog_location", "compute_data_folder", NULL
};

/* "a/b", but "b" when a is "." so paths in entries and messages read the
 * way the user wrote them. */
static char *fs_join(const char *a, const char *b)
{
    if (strcmp(a, ".") == 0 || a[0] == '\0')
        return strdup(b);
    size_t la = strlen(a), lb = strlen(b);
    int slash = a[la - 1] != '/';
    char *p = malloc(la + slash + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    if (slash)
        p[la] = '/';
    memcpy(p + la + slash, b, lb + 1);
    return p;
}

/* Relative settings are taken from the engine's working directory, which
 * is where runnable (which uses the process cwd) would look. */
static char *fs_resolve(const rn_plugin_env *env, const char *path)
{
    if (path[0] == '/' || !env || !env->work_dir)
        return strdup(path);
    return fs_join(env->work_dir, path);
}

static int fs_oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

/* True when `path` has a ".." segment: such a path could reach outside the
 * folder it is meant to stay in. */
static int fs_has_dotdot(const char *path)
{
    const char *s = path;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

/* Checked here as well as by rn_glob so that an unsafe pattern is an input
 * error whatever state the catalog is in (get() of a run that stored
 * nothing would otherwise say "not found" first). */
static int fs_check_pattern(const char *op, const char *pattern)
{
    if (!pattern || !pattern[0])
        return rn_error_set(RN_EINVAL, "catalog %s: empty pattern", op);
    if (pattern[0] == '/' || fs_has_dotdot(pattern))
        return rn_error_set(RN_EINVAL,
                            "catalog %s: pattern '%s' must be relative to the compute data "
                            "folder and must not contain '..'", op, pattern);
    return 0;
}

/* The run id becomes a folder name: anything that would make it a path
 * (or the catalog folder itself) is refused. */
static int fs_check_run_id(const char *op, const char *run_id)
{
    if (!run_id || !run_id[0] || strchr(run_id, '/') || strcmp(run_id, ".") == 0 ||
        strcmp(run_id, "..") == 0)
        return rn_error_set(RN_EINVAL, "catalog %s: invalid run id '%s'", op,
                            run_id ? run_id : "(null)");
    return 0;
}

static int fs_check_name(const char *op, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || name[0] == '/' || name[n - 1] == '/' || fs_has_dotdot(name))
        return rn_error_set(RN_EINVAL,
                            "catalog %s: name '%s' must be a relative file path without '..'",
                            op, name ? name : "(null)");
    return 0;
}

static int fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int fs_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int fs_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

/* Matches are collected before anything is copied: put() may write into a
 * folder that the same glob walks (the default catalog lives inside the
 * default compute folder). */
static int fs_collect(const char *rel_path, void *data)
{
    json_t *s = json_string(rel_path);
    if (!s || json_array_append_new((json_t *)data, s) != 0)
        return fs_oom();
    return 0;
}

static int fs_glob(const char *base, const char *pattern, json_t **out)
{
    json_t *list = json_array();
    if (!list)
        return fs_oom();
    int rc = rn_glob(base, pattern, fs_collect, list);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

static json_t *fs_entry(const char *name, const char *hash, const char *rel, const char *stage)
{
    /* Key order is the run log's (run-log.md §3.5); jansson keeps it. */
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "data_hash", hash,
                     "catalog_relative_path", rel, "catalog_handler_location", "",
                     "stage", stage);
}

/* When the catalog sits inside the compute folder (".catalog" in "."), the
 * part of a relative match that would select the catalog's own files:
 * a put of "**" must not copy the catalog into itself.  NULL when the
 * catalog is elsewhere or does not exist yet (so holds nothing). */
static char *fs_catalog_prefix(const struct fs_catalog *c)
{
    char *compute = realpath(c->compute_data_folder, NULL);
    char *catalog = realpath(c->catalog_location, NULL);
    char *prefix = NULL;
    if (compute && catalog) {
        size_t n = strlen(compute);
        if (strcmp(compute, "/") == 0)
            prefix = catalog[1] ? strdup(catalog + 1) : NULL;
        else if (strncmp(catalog, compute, n) == 0 && catalog[n] == '/')
            prefix = strdup(catalog + n + 1);
    }
    free(compute);
    free(catalog);
    return prefix;
}

static int fs_under(const char *rel, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(rel, prefix, n) == 0 && rel[n] == '/';
}

static int fs_append_entry(json_t *found, const char *name, const char *hash,
                           const char *rel, const char *stage)
{
    json_t *e = fs_entry(name, hash, rel, stage);
    if (!e || json_array_append_new(found, e) != 0)
        return fs_oom();
    return 0;
}

/* One matched file of put(); the hash is of the source, as runnable
 * records it, and the copy is skipped for "no copy" steps. */
static int fs_put_one(const struct fs_catalog *c, const char *run_id, const char *run_dir,
                      const char *rel, int store_copy, json_t *found)
{
    char *src = fs_join(c->compute_data_folder, rel);
    char *dst = fs_join(run_dir, rel);
    char *cat_rel = fs_join(run_id, rel);
    char hash[65];
    int rc = 0;
    if (!src || !dst || !cat_rel)
        rc = fs_oom();
    else if (!fs_is_file(src))
        rc = 0; /* a folder, or something that vanished: not data */
    else if ((rc = rn_sha256_file(src, hash)) == 0 &&
             (!store_copy || (rc = rn_copy_file(src, dst)) == 0))
        rc = fs_append_entry(found, rel, hash, cat_rel, "put");
    free(src);
    free(dst);
    free(cat_rel);
    return rc;
}

/* One matched file of get(); the hash is of the copy, which is the data
 * the step will actually read. */
static int fs_get_one(const struct fs_catalog *c, const char *run_dir, const char *rel,
                      json_t *found)
{
    char *src = fs_join(run_dir, rel);
    char *dst = fs_join(c->compute_data_folder, rel);
    char hash[65];
    int rc = 0;
    if (!src || !dst)
        rc = fs_oom();
    else if (!fs_is_file(src))
        rc = 0;
    else if ((rc = rn_copy_file(src, dst)) == 0 && (rc = rn_sha256_file(dst, hash)) == 0)
        rc = fs_append_entry(found, rel, hash, rel, "get");
    free(src);
    free(dst);
    return rc;
}

static int fs_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    const char *loc, *data;
    int rc = rn_config_string(config, "catalog_location", ".catalog", &loc);
    if (rc < 0)
        return rc;
    rc = rn_config_string(config, "compute_data_folder", ".", &data);
    if (rc < 0)
        return rc;
    if (!loc[0])
        return rn_error_set(RN_EINVAL, "catalog_location must not be empty");
    if (!data[0])
        return rn_error_set(RN_EINVAL, "compute_data_folder must not be empty");

    struct fs_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return fs_oom();
    c->catalog_location = fs_resolve(env, loc);
    c->compute_data_folder = fs_resolve(env, data);
    if (!c->catalog_location || !c->compute_data_folder) {
        free(c->catalog_location);
        free(c->compute_data_folder);
        free(c);
        return fs_oom();
    }
    *self = c;
    return 0;
}

static void fs_destroy(void *self)
{
    struct fs_catalog *c = self;
    if (!c)
        return;
    free(c->catalog_location);
    free(c->compute_data_folder);
    free(c);
}

static int fs_put(void *self, const char *run_id, const char *pattern, int allow_missing,
                  int store_copy, json_t *entries)
{
    struct fs_catalog *c = self;
    int rc;
    if ((rc = fs_check_run_id("put", run_id)) < 0 || (rc = fs_check_pattern("put", pattern)) < 0)
        return rc;
    if (!fs_is_dir(c->compute_data_folder))
        return rn_error_set(RN_ENOENT,
                            "catalog put: compute_data_folder '%s' does not exist or is not a "
                            "folder; create it or change the catalog's compute_data_folder",
                            c->compute_data_folder);

    json_t *matches = NULL;
    if ((rc = fs_glob(c->compute_data_folder, pattern, &matches)) < 0)
        return rc;

    char *run_dir = fs_join(c->catalog_location, run_id);
    char *skip = fs_catalog_prefix(c);
    /* Entries go to the caller only once every file is handled, so a
     * failed put leaves the step's list as it was. */
    json_t *found = json_array();
    if (!run_dir || !found) {
        rc = fs_oom();
        goto out;
    }

    size_t i;
    json_t *m;
    json_array_foreach(matches, i, m) {
        const char *rel = json_string_value(m);
        if (skip && fs_under(rel, skip))
            continue;
        if ((rc = fs_put_one(c, run_id, run_dir, rel, store_copy, found)) < 0)
            goto out;
    }

    if (json_array_size(found) == 0 && !allow_missing) {
        rc = rn_error_set(RN_ENOENT,
                          "catalog put: no file matches '%s' in compute_data_folder '%s'; "
                          "make the step write it or fix the catalog.put pattern",
                          pattern, c->compute_data_folder);
        goto out;
    }
    if (json_array_extend(entries, found) != 0)
        rc = fs_oom();
out:
    json_decref(found);
    json_decref(matches);
    free(run_dir);
    free(skip);
    return rc;
}

static int fs_get(void *self, const char *run_id, const char *pattern, json_t *entries)
{
    struct fs_catalog *c = self;
    int rc;
    if ((rc = fs_check_run_id("get", run_id)) < 0 || (rc = fs_check_pattern("get", pattern)) < 0)
        return rc;

    char *run_dir = fs_join(c->catalog_location, run_id);
    if (!run_dir)
        return fs_oom();
    if (!fs_is_dir(run_dir)) {
        rc = rn_error_set(RN_ENOENT,
                          "catalog get: no file matches '%s': nothing has been put in the "
                          "catalog for run '%s' (no folder '%s'); an earlier step must "
                          "catalog.put it", pattern, run_id, run_dir);
        free(run_dir);
        return rc;
    }

    json_t *matches = NULL;
    if ((rc = fs_glob(run_dir, pattern, &matches)) < 0) {
        free(run_dir);
        return rc;
    }
    json_t *found = json_array();
    if (!found) {
        rc = fs_oom();
        goto out;
    }

    size_t i;
    json_t *m;
    json_array_foreach(matches, i, m) {
        const char *rel = json_string_value(m);
        /* Execution logs are the engine's records of earlier steps, not
         * data a step asked for. */
        if (fs_ends_with(rel, ".execution.log"))
            continue;
        if ((rc = fs_get_one(c, run_dir, rel, found)) < 0)
            goto out;
    }

    if (json_array_size(found) == 0) {
        rc = rn_error_set(RN_ENOENT,
                          "catalog get: no file matches '%s' in the catalog of run '%s' "
                          "(folder '%s'); an earlier step must catalog.put it, or fix the "
                          "catalog.get pattern", pattern, run_id, run_dir);
        goto out;
    }
    if (json_array_extend(entries, found) != 0)
        rc = fs_oom();
out:
    json_decref(found);
    json_decref(matches);
    free(run_dir);
    return rc;
}

static int fs_put_file(void *self, const char *run_id, const char *local_path, const char *name)
{
    struct fs_catalog *c = self;
    int rc;
    if ((rc = fs_check_run_id("put_file", run_id)) < 0 ||
        (rc = fs_check_name("put_file", name)) < 0)
        return rc;
    if (!local_path || !fs_is_file(local_path))
        return rn_error_set(RN_ENOENT, "catalog put_file: '%s' is not a file",
                            local_path ? local_path : "(null)");
    char *run_dir = fs_join(c->catalog_location, run_id);
    char *dst = run_dir ? fs_join(run_dir, name) : NULL;
    rc = dst ? rn_copy_file(local_path, dst) : fs_oom();
    free(run_dir);
    free(dst);
    return rc;
}

/* The path is given whether or not the file exists yet: callers may use it
 * to read what was stored or to know where something will be. */
static int fs_locate(void *self, const char *run_id, const char *name, char **out_path)
{
    struct fs_catalog *c = self;
    int rc;
    *out_path = NULL;
    if ((rc = fs_check_run_id("locate", run_id)) < 0 || (rc = fs_check_name("locate", name)) < 0)
        return rc;
    char *run_dir = fs_join(c->catalog_location, run_id);
    char *path = run_dir ? fs_join(run_dir, name) : NULL;
    free(run_dir);
    if (!path)
        return fs_oom();
    *out_path = path;
    return 0;
}

static const rn_catalog_ops fs_ops = {
    .version = RN_CATALOG_OPS_VERSION,
    .create = fs_create,
    .destroy = fs_destroy,
    .get = fs_get,
    .put = fs_put,
    .put_file = fs_put_file,
    .locate = fs_locate,
};

RN_PLUGIN_DESCRIPTOR(catalog_file_system) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_CATALOG,
    .type_name = "file-system",
    .version = "0.1.0",
    .summary = "catalog in a local folder: <catalog_location>/<run_id>/<path>",
    .config_keys = fs_config_keys,
    .ops = &fs_ops,
};
