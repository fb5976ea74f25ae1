/*
 * Catalog conformance: the same checks against every catalog provider,
 * loaded through the engine's loader.  What differs between providers is
 * stated once, in the capability table below, never as a separate suite.
 *
 * Every test runs in a fresh temporary folder that is also the working
 * directory, so relative settings (".catalog", ".") behave as in a run.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_open.h"

/* One provider configuration and what it is expected to do. */
struct cat_row {
    const char *type;
    const char *config;       /* JSON settings, NULL for none */
    const char *bad_config;   /* settings create() must refuse */
    const char *catalog_dir;  /* where its files land, NULL if nowhere */
    const char *data_dir;     /* compute_data_folder as configured */
    int records;              /* get/put append DataCatalog entries */
    int stores;               /* files are copied in and out */
    int reports_missing;      /* a pattern matching nothing is an error */
    int locates;              /* locate() gives a local path */
};

static const struct cat_row rows[] = {
    {"file-system", NULL, "{\"catalog_location\": 5}", ".catalog", ".", 1, 1, 1, 1},
    {"file-system", "{\"catalog_location\": \"store/cat\", \"compute_data_folder\": \"work\"}",
     "{\"compute_data_folder\": true}", "store/cat", "work", 1, 1, 1, 1},
    {"do-nothing", NULL, "{\"compute_data_folder\": 1}", NULL, ".", 0, 0, 0, 0},
    {"do-nothing", "{\"compute_data_folder\": \"work\"}", NULL, NULL, "work", 0, 0, 0, 0},
};

#define RUN "run-1"

/* sha256 of the contents written by the tests (checked with sha256sum). */
#define A_CSV "a,b\n1,2\n"
#define A_HASH "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470"
#define B_CSV "deep\n"
#define B_HASH "64896f89fd11190013b70103e603a1c5826e56b7fb7d2197ab279b0690043599"
#define C_CSV "deeper,still\n"
#define C_HASH "d1a4fc00ae5ed7402e688e784b6a96167ef70e31d59631479b847d24ba4a4c37"
#define NOTES "notes\n"
#define NOTES_HASH "444e0fffbd825e9610ff5b199485707a0c895339ae80c15cc8a8aee41b106fda"
#define A2_CSV "second version\n"
#define A2_HASH "66ed1142ab3b2f1cdb29e8b81c9471444a5d9e6fb657a54d089073ab8bd34e27"
#define OBJ "object bytes\n"

struct fx {
    const struct cat_row *row;
    char dir[PATH_MAX];
    int old_cwd;
    rn_provider *p;
    const rn_catalog_ops *ops;
};

/* ---- files ------------------------------------------------------------ */

static void mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(buf, 0755);
            *s = '/';
        }
    }
    mkdir(buf, 0755);
}

static void write_file(const char *path, const char *text)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(parent);
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void assert_file(const char *path, const char *text)
{
    char buf[4096] = {0};
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("expected file '%s' to exist", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Path of `rel` in the compute data folder / in the run's catalog folder. */
static const char *data_path(const struct fx *f, const char *rel, char *buf)
{
    if (strcmp(f->row->data_dir, ".") == 0)
        snprintf(buf, PATH_MAX, "%s", rel);
    else
        snprintf(buf, PATH_MAX, "%s/%s", f->row->data_dir, rel);
    return buf;
}

static const char *cat_path(const struct fx *f, const char *run, const char *rel, char *buf)
{
    snprintf(buf, PATH_MAX, "%s/%s/%s", f->row->catalog_dir ? f->row->catalog_dir : ".catalog",
             run, rel);
    return buf;
}

static void put_data(const struct fx *f, const char *rel, const char *text)
{
    char buf[PATH_MAX];
    write_file(data_path(f, rel, buf), text);
}

static void make_dataset(const struct fx *f)
{
    put_data(f, "data/a.csv", A_CSV);
    put_data(f, "data/sub/b.csv", B_CSV);
    put_data(f, "data/sub/deeper/c.csv", C_CSV);
    put_data(f, "data/skip.txt", NOTES);
    put_data(f, "data/sub/readme.md", NOTES);
    put_data(f, "notes.txt", NOTES);
}

/* ---- entries ---------------------------------------------------------- */

static void assert_entry(const json_t *e, const char *name, const char *hash, const char *rel,
                         const char *stage)
{
    static const char *const keys[] = {"name", "data_hash", "catalog_relative_path",
                                       "catalog_handler_location", "stage"};
    const char *values[] = {name, hash, rel, "", stage};
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 5);
    /* The run log keeps runnable's key order, so it is part of the
     * contract. */
    void *it = json_object_iter((json_t *)e);
    for (size_t i = 0; i < 5; i++, it = json_object_iter_next((json_t *)e, it)) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
        assert_string_equal(json_string_value(json_object_iter_value(it)), values[i]);
    }
}

static const char *entry_name(const json_t *entries, size_t i)
{
    return json_string_value(json_object_get(json_array_get(entries, i), "name"));
}

/* ---- calls ------------------------------------------------------------ */

static int cat_put(struct fx *f, const char *run, const char *pattern, int allow_missing,
                   int store_copy, json_t *entries)
{
    return f->ops->put(f->p->self, run, pattern, allow_missing, store_copy, entries);
}

static int cat_get(struct fx *f, const char *run, const char *pattern, json_t *entries)
{
    return f->ops->get(f->p->self, run, pattern, entries);
}

/* ---- fixture ---------------------------------------------------------- */

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->row = *state;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/rn-catalog-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->old_cwd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(f->old_cwd >= 0);
    assert_int_equal(chdir(f->dir), 0);
    if (strcmp(f->row->data_dir, ".") != 0)
        mkdirs(f->row->data_dir);

    json_t *config = NULL;
    if (f->row->config) {
        config = json_loads(f->row->config, 0, NULL);
        assert_non_null(config);
    }
    f->p = rn_test_provider(RN_KIND_CATALOG, f->row->type, config);
    json_decref(config);
    f->ops = f->p->ops;
    assert_int_equal(f->ops->version >= 1, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->p)
        rn_provider_close(f->p);
    if (fchdir(f->old_cwd) != 0)
        return -1;
    close(f->old_cwd);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void put_globs_nested_folders(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    make_dataset(f);
    json_t *entries = json_array();

    assert_int_equal(cat_put(f, RUN, "data/**/*.csv", 0, 1, entries), 0);
    if (f->row->records) {
        /* "**" matches zero or more folders, so data/a.csv is included;
         * matches come in sorted order. */
        assert_int_equal(json_array_size(entries), 3);
        assert_entry(json_array_get(entries, 0), "data/a.csv", A_HASH, RUN "/data/a.csv", "put");
        assert_entry(json_array_get(entries, 1), "data/sub/b.csv", B_HASH,
                     RUN "/data/sub/b.csv", "put");
        assert_entry(json_array_get(entries, 2), "data/sub/deeper/c.csv", C_HASH,
                     RUN "/data/sub/deeper/c.csv", "put");
    } else {
        assert_int_equal(json_array_size(entries), 0);
    }
    if (f->row->stores) {
        assert_file(cat_path(f, RUN, "data/a.csv", buf), A_CSV);
        assert_file(cat_path(f, RUN, "data/sub/b.csv", buf), B_CSV);
        assert_file(cat_path(f, RUN, "data/sub/deeper/c.csv", buf), C_CSV);
        assert_false(exists(cat_path(f, RUN, "data/skip.txt", buf)));
        assert_false(exists(cat_path(f, RUN, "data/sub/readme.md", buf)));
    } else {
        assert_false(exists(".catalog"));
    }

    /* A plain "*" does not descend: only the top-level file matches, and
     * new entries are appended after the earlier ones. */
    assert_int_equal(cat_put(f, RUN, "*.txt", 0, 1, entries), 0);
    if (f->row->records) {
        assert_int_equal(json_array_size(entries), 4);
        assert_string_equal(entry_name(entries, 0), "data/a.csv");
        assert_entry(json_array_get(entries, 3), "notes.txt", NOTES_HASH, RUN "/notes.txt", "put");
    } else {
        assert_int_equal(json_array_size(entries), 0);
    }
    if (f->row->stores)
        assert_file(cat_path(f, RUN, "notes.txt", buf), NOTES);
    json_decref(entries);
}

static void put_without_copy_records_only(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    make_dataset(f);
    json_t *entries = json_array();

    assert_int_equal(cat_put(f, RUN, "data/**/*.csv", 0, 0, entries), 0);
    if (f->row->records) {
        assert_int_equal(json_array_size(entries), 3);
        assert_entry(json_array_get(entries, 0), "data/a.csv", A_HASH, RUN "/data/a.csv", "put");
    } else {
        assert_int_equal(json_array_size(entries), 0);
    }
    assert_false(exists(cat_path(f, RUN, "data/a.csv", buf)));
    assert_false(exists(cat_path(f, RUN, "data/sub/b.csv", buf)));
    json_decref(entries);
}

static void put_overwrites_earlier_copy(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    put_data(f, "data/a.csv", A_CSV);
    json_t *entries = json_array();
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    put_data(f, "data/a.csv", A2_CSV);
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    if (f->row->records) {
        assert_int_equal(json_array_size(entries), 2);
        assert_entry(json_array_get(entries, 1), "data/a.csv", A2_HASH, RUN "/data/a.csv", "put");
    }
    if (f->row->stores)
        assert_file(cat_path(f, RUN, "data/a.csv", buf), A2_CSV);
    json_decref(entries);
}

static void get_restores_deleted_files(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    make_dataset(f);
    json_t *put = json_array(), *got = json_array();
    assert_int_equal(cat_put(f, RUN, "data/**/*.csv", 0, 1, put), 0);
    rm_rf(data_path(f, "data", buf));
    assert_false(exists(data_path(f, "data/a.csv", buf)));

    assert_int_equal(cat_get(f, RUN, "data/**/*.csv", got), 0);
    if (f->row->stores) {
        assert_int_equal(json_array_size(got), 3);
        /* get entries carry the path without the run id (runnable's
         * quirk, kept for run log compatibility). */
        assert_entry(json_array_get(got, 0), "data/a.csv", A_HASH, "data/a.csv", "get");
        assert_entry(json_array_get(got, 1), "data/sub/b.csv", B_HASH, "data/sub/b.csv", "get");
        assert_entry(json_array_get(got, 2), "data/sub/deeper/c.csv", C_HASH,
                     "data/sub/deeper/c.csv", "get");
        assert_file(data_path(f, "data/a.csv", buf), A_CSV);
        assert_file(data_path(f, "data/sub/b.csv", buf), B_CSV);
        assert_file(data_path(f, "data/sub/deeper/c.csv", buf), C_CSV);

        /* A local file that changed is overwritten by the catalog's copy,
         * and the recorded hash is that of the file now on disk. */
        put_data(f, "data/a.csv", A2_CSV);
        assert_int_equal(cat_get(f, RUN, "data/a.csv", got), 0);
        assert_int_equal(json_array_size(got), 4);
        assert_entry(json_array_get(got, 3), "data/a.csv", A_HASH, "data/a.csv", "get");
        assert_file(data_path(f, "data/a.csv", buf), A_CSV);
    } else {
        assert_int_equal(json_array_size(got), 0);
        assert_false(exists(data_path(f, "data/a.csv", buf)));
    }
    json_decref(put);
    json_decref(got);
}

static void get_of_nothing_is_enoent(void **state)
{
    struct fx *f = *state;
    json_t *entries = json_array();

    /* A run that stored nothing at all. */
    int rc = cat_get(f, RUN, "missing/*.bin", entries);
    if (f->row->reports_missing) {
        assert_int_equal(rc, RN_ENOENT);
        assert_non_null(strstr(rn_error_last(), "missing/*.bin"));
    } else {
        assert_int_equal(rc, 0);
    }

    /* A run that stored something else. */
    put_data(f, "data/a.csv", A_CSV);
    json_t *put = json_array();
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, put), 0);
    rc = cat_get(f, RUN, "data/*.parquet", entries);
    assert_int_equal(rc, f->row->reports_missing ? RN_ENOENT : 0);
    if (rc)
        assert_non_null(strstr(rn_error_last(), "data/*.parquet"));

    /* Only the current run's folder is searched. */
    rc = cat_get(f, "run-2", "data/a.csv", entries);
    assert_int_equal(rc, f->row->reports_missing ? RN_ENOENT : 0);

    assert_int_equal(json_array_size(entries), 0);
    json_decref(put);
    json_decref(entries);
}

static void put_of_nothing_is_enoent_unless_allowed(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    put_data(f, "data/a.csv", A_CSV);
    mkdirs(data_path(f, "data/only_a_folder", buf));
    json_t *entries = json_array();
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    size_t before = json_array_size(entries);

    int rc = cat_put(f, RUN, "nope/*.csv", 0, 1, entries);
    if (f->row->reports_missing) {
        assert_int_equal(rc, RN_ENOENT);
        /* The message says what was looked for and where. */
        assert_non_null(strstr(rn_error_last(), "nope/*.csv"));
        assert_non_null(strstr(rn_error_last(), f->row->data_dir));
    } else {
        assert_int_equal(rc, 0);
    }
    /* Folders are not data: a pattern matching only a folder matches
     * nothing. */
    rc = cat_put(f, RUN, "data/only_*", 0, 1, entries);
    assert_int_equal(rc, f->row->reports_missing ? RN_ENOENT : 0);
    assert_int_equal(json_array_size(entries), before);

    assert_int_equal(cat_put(f, RUN, "nope/*.csv", 1, 1, entries), 0);
    assert_int_equal(cat_put(f, RUN, "nope/*.csv", 1, 0, entries), 0);
    assert_int_equal(json_array_size(entries), before);
    json_decref(entries);
}

static void unsafe_patterns_are_rejected(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {"../x", "/etc/passwd", "data/../../x", "..", "a/../b", ""};
    json_t *entries = json_array();
    put_data(f, "data/a.csv", A_CSV);

    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int rc = cat_put(f, RUN, bad[i], 0, 1, entries);
            if (rc != RN_EINVAL)
                fail_msg("put('%s') gave %d, want RN_EINVAL", bad[i], rc);
            rc = cat_put(f, RUN, bad[i], 1, 1, entries);
            if (rc != RN_EINVAL)
                fail_msg("put('%s', allow_missing) gave %d, want RN_EINVAL", bad[i], rc);
            rc = cat_get(f, RUN, bad[i], entries);
            if (rc != RN_EINVAL)
                fail_msg("get('%s') gave %d, want RN_EINVAL", bad[i], rc);
        }
        /* Second round: the same, once the run has a catalog folder. */
        if (round == 0)
            assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    }
    assert_int_equal(json_array_size(entries), f->row->records ? 1 : 0);
    json_decref(entries);
}

static void execution_logs_are_never_fetched(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    json_t *entries = json_array();
    write_file("scratch.log", "log line\n");
    assert_int_equal(f->ops->put_file(f->p->self, RUN, "scratch.log", "makeKJA.execution.log"), 0);
    assert_int_equal(f->ops->put_file(f->p->self, RUN, "scratch.log",
                                      "nested/mapxOAZ.execution.log"), 0);
    put_data(f, "data/a.csv", A_CSV);
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    json_array_clear(entries);

    /* Patterns that match nothing but execution logs match nothing. */
    assert_int_equal(cat_get(f, RUN, "*", entries), f->row->reports_missing ? RN_ENOENT : 0);
    assert_int_equal(cat_get(f, RUN, "**/*.execution.log", entries),
                     f->row->reports_missing ? RN_ENOENT : 0);
    assert_int_equal(json_array_size(entries), 0);

    assert_int_equal(cat_get(f, RUN, "**/*", entries), 0);
    if (f->row->records) {
        assert_int_equal(json_array_size(entries), 1);
        assert_string_equal(entry_name(entries, 0), "data/a.csv");
    }
    assert_false(exists(data_path(f, "makeKJA.execution.log", buf)));
    assert_false(exists(data_path(f, "nested/mapxOAZ.execution.log", buf)));
    json_decref(entries);
}

static void put_file_stores_and_locate_finds(void **state)
{
    struct fx *f = *state;
    char buf[PATH_MAX];
    write_file("model.tmp", OBJ);
    assert_int_equal(f->ops->put_file(f->p->self, RUN, "model.tmp", "objects/model.dill"), 0);

    char *path = (char *)"sentinel";
    int rc = f->ops->locate(f->p->self, RUN, "objects/model.dill", &path);
    if (f->row->locates) {
        assert_int_equal(rc, 0);
        assert_non_null(path);
        assert_string_equal(path, cat_path(f, RUN, "objects/model.dill", buf));
        assert_file(path, OBJ);
        free(path);

        /* What put_file stored can be fetched like any other data. */
        json_t *entries = json_array();
        assert_int_equal(cat_get(f, RUN, "objects/*.dill", entries), 0);
        assert_int_equal(json_array_size(entries), 1);
        assert_file(data_path(f, "objects/model.dill", buf), OBJ);
        json_decref(entries);
    } else {
        assert_int_equal(rc, RN_EUNSUPPORTED);
        assert_null(path);
        assert_false(exists(".catalog"));
    }

    rc = f->ops->put_file(f->p->self, RUN, "no-such-file", "x.bin");
    if (f->row->stores)
        assert_true(rc < 0);
    else
        assert_int_equal(rc, 0);
    if (f->row->stores) {
        assert_int_equal(f->ops->put_file(f->p->self, RUN, "model.tmp", "../escape"), RN_EINVAL);
        assert_int_equal(f->ops->put_file(f->p->self, RUN, "model.tmp", "/tmp/escape"), RN_EINVAL);
        assert_false(exists("escape"));
    }
}

static void run_ids_cannot_escape(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {"", "..", ".", "a/b", "../run"};
    if (!f->row->stores)
        skip();
    put_data(f, "data/a.csv", A_CSV);
    json_t *entries = json_array();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cat_put(f, bad[i], "data/a.csv", 0, 1, entries), RN_EINVAL);
        assert_int_equal(cat_get(f, bad[i], "data/a.csv", entries), RN_EINVAL);
    }
    assert_int_equal(json_array_size(entries), 0);
    json_decref(entries);
}

static void catalog_is_never_put_into_itself(void **state)
{
    struct fx *f = *state;
    make_dataset(f);
    json_t *entries = json_array();
    assert_int_equal(cat_put(f, RUN, "data/a.csv", 0, 1, entries), 0);
    json_array_clear(entries);
    /* With the default settings the catalog lives inside the compute data
     * folder; "everything" must still mean the user's data only. */
    assert_int_equal(cat_put(f, RUN, "**/*", 0, 1, entries), 0);
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (f->row->catalog_dir && strncmp(name, f->row->catalog_dir, strlen(f->row->catalog_dir)) == 0)
            fail_msg("put of '**/*' took the catalog's own file '%s'", name);
    }
    if (f->row->records)
        assert_int_equal(json_array_size(entries), 6);
    json_decref(entries);
}

static void missing_compute_folder_is_reported(void **state)
{
    struct fx *f = *state;
    if (!f->row->reports_missing || strcmp(f->row->data_dir, ".") == 0)
        skip();
    rm_rf(f->row->data_dir);
    json_t *entries = json_array();
    assert_int_equal(cat_put(f, RUN, "*.csv", 1, 1, entries), RN_ENOENT);
    assert_non_null(strstr(rn_error_last(), f->row->data_dir));
    json_decref(entries);
}

static void bad_setting_types_are_refused(void **state)
{
    struct fx *f = *state;
    if (!f->row->bad_config)
        skip();
    json_t *config = json_loads(f->row->bad_config, 0, NULL);
    assert_non_null(config);
    rn_plugin_env env = {1, NULL, "."};
    rn_provider *p = NULL;
    int rc = rn_provider_open(RN_KIND_CATALOG, f->row->type, config, &env, &p);
    json_decref(config);
    if (rc == 0)
        rn_provider_close(p);
    assert_int_equal(rc, RN_EINVAL);
}

int main(void)
{
    int failed = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        void *row = (void *)&rows[r];
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate_setup_teardown(put_globs_nested_folders, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(put_without_copy_records_only, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(put_overwrites_earlier_copy, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(get_restores_deleted_files, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(get_of_nothing_is_enoent, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(put_of_nothing_is_enoent_unless_allowed, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(unsafe_patterns_are_rejected, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(execution_logs_are_never_fetched, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(put_file_stores_and_locate_finds, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(run_ids_cannot_escape, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(catalog_is_never_put_into_itself, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(missing_compute_folder_is_reported, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(bad_setting_types_are_refused, setup, teardown, row),
        };
        char name[256];
        snprintf(name, sizeof name, "catalog %s %s", rows[r].type,
                 rows[r].config ? rows[r].config : "(defaults)");
        /* cmocka's standard output does not show group names. */
        printf("# %s\n", name);
        fflush(stdout);
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    return failed ? 1 : 0;
}
