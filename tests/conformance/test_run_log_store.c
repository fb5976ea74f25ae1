/*
 * Run log store conformance: the same checks against every run-log-store
 * provider, loaded through the engine's loader.  What differs between
 * providers (files or not, layout, parallel writes, fsync) is stated once
 * in the table below, never as a separate suite.
 *
 * Every test runs in a fresh temporary folder that is also the working
 * directory, so the default log_folder (".run_log_store") lands there.
 */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin_open.h"

/* One provider configuration and what it is expected to do. */
struct row {
    const char *type;
    const char *config;   /* JSON settings, NULL for none */
    const char *folder;   /* where its files land; NULL: no files */
    int chunked;          /* chunked-fs layout */
    int parallel;         /* supports_parallel_writes */
    int fsync;            /* slow writes: the 10,000-step runs are skipped */
};

static const struct row rows[] = {
    {"buffered", NULL, NULL, 0, 0, 0},
    {"file-system", NULL, ".run_log_store", 0, 0, 0},
    {"chunked-fs", NULL, ".run_log_store", 1, 1, 0},
    {"buffered", "{\"fsync\": true, \"supports_parallel_writes\": false}", NULL, 0, 0, 1},
    {"file-system", "{\"log_folder\": \"store/logs\", \"fsync\": true}", "store/logs", 0, 0, 1},
    {"chunked-fs",
     "{\"log_folder\": \"store/logs\", \"fsync\": true, \"supports_parallel_writes\": false}",
     "store/logs", 1, 0, 1},
};

struct fx {
    const struct row *row;
    char dir[PATH_MAX];
    char old_cwd[PATH_MAX];
    rn_provider *p;
};

#define OPS(p) ((const rn_run_log_store_ops *)(p)->ops)
#define OK(expr)                                                                         \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s:%d: %s -> %s: %s", __FILE__, __LINE__, #expr, rn_error_name(rc_), \
                     rn_error_last());                                                   \
    } while (0)

/* ---- provider and folder ------------------------------------------------ */

static json_t *row_config(const struct row *r)
{
    return r->config ? json_loads(r->config, 0, NULL) : NULL;
}

static rn_provider *open_row(const struct row *r)
{
    json_t *cfg = row_config(r);
    rn_provider *p = rn_test_provider(RN_KIND_RUN_LOG_STORE, r->type, cfg);
    json_decref(cfg);
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->row = *state;
    assert_non_null(getcwd(fx->old_cwd, sizeof fx->old_cwd));
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rn-rls-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(chdir(fx->dir), 0);
    fx->p = open_row(fx->row);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    if (fx->p)
        rn_provider_close(fx->p);
    assert_int_equal(chdir(fx->old_cwd), 0);
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ---- files on disk -------------------------------------------------------- */

static char bad_file[PATH_MAX + 512];

/* Every visible file must be complete JSON, ASCII only (hidden files are
 * the stores' own scratch). */
static int check_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_F || path[ftw->base] == '.')
        return 0;
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) {
        snprintf(bad_file, sizeof bad_file, "%s: %s (line %d)", path, e.text, e.line);
        return 1;
    }
    json_decref(j);
    FILE *f = fopen(path, "rb");
    int c;
    while (f && (c = getc(f)) != EOF) {
        if (c >= 0x80) {
            snprintf(bad_file, sizeof bad_file, "%s: byte 0x%02x is not ASCII", path, c);
            fclose(f);
            return 1;
        }
    }
    if (f)
        fclose(f);
    return 0;
}

static void check_files(const struct fx *fx)
{
    struct stat st;
    if (!fx->row->folder || stat(fx->row->folder, &st) != 0)
        return;
    if (nftw(fx->row->folder, check_one, 16, FTW_PHYS) != 0)
        fail_msg("[%s] not valid JSON on disk: %s", fx->row->type, bad_file);
}

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

static void assert_json_equal_(const json_t *got, const json_t *want, const char *where, int line)
{
    if (json_equal(got, want))
        return;
    char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
    print_error("got:\n%s\nwant:\n%s\n", g ? g : "(null)", w ? w : "(null)");
    free(g);
    free(w);
    fail_msg("%s:%d: documents differ", where, line);
}
#define assert_json_equal(a, b) assert_json_equal_((a), (b), __FILE__, __LINE__)

/* ---- documents ------------------------------------------------------------ */

#define COMMIT "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
#define DAG_HASH "b7e669831c0729172171c01cffa81a997d2b772f"

static json_t *param(json_t *v, const char *kind)
{
    return json_pack("{s:s, s:o, s:O}", "kind", kind, "value", v, "description", v);
}

static json_t *code_id(void)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:s}", "code_identifier", COMMIT,
                     "code_identifier_type", "git", "code_identifier_dependable", 1,
                     "code_identifier_url", "git@example.org:team/pipelines.git",
                     "code_identifier_message", "");
}

static json_t *attempt(const char *message, json_t *in, json_t *outp, json_t *metrics)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:[o]}", "attempt_number", 1,
                     "start_time", "2025-03-14 09:22:38.353742", "end_time",
                     "2025-03-14 09:22:38.356751", "status", "SUCCESS", "message", message,
                     "input_parameters", in ? in : json_object(), "output_parameters",
                     outp ? outp : json_object(), "user_defined_metrics",
                     metrics ? metrics : json_object(), "retry_indicator", "", "code_identities",
                     code_id());
}

static const char *last_segment(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

static json_t *step(const char *iname, const char *type, json_t *attempts, json_t *branches,
                    json_t *catalog)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "name", last_segment(iname),
                     "internal_name", iname, "status", "SUCCESS", "step_type", type, "message", "",
                     "mock", 0, "attempts", attempts ? attempts : json_array(), "branches",
                     branches ? branches : json_object(), "data_catalog",
                     catalog ? catalog : json_array());
}

static json_t *leaf(const char *iname, const char *type, json_t *in, json_t *outp)
{
    return step(iname, type, json_pack("[o]", attempt("", in, outp, NULL)), NULL, NULL);
}

/* A map keyed by each element's internal_name; NULL-terminated. */
static json_t *map_of(json_t *first, ...)
{
    json_t *m = json_object();
    va_list ap;
    va_start(ap, first);
    for (json_t *v = first; v; v = va_arg(ap, json_t *))
        json_object_set_new(m, json_string_value(json_object_get(v, "internal_name")), v);
    va_end(ap);
    return m;
}

static json_t *branch(const char *iname, json_t *steps, json_t *params)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "internal_name", iname, "status", "SUCCESS", "steps",
                     steps, "parameters", params ? params : json_object());
}

static json_t *run_config(const char *run_id)
{
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:{}, s:{s:s, s:s, s:{}}, s:{s:s, s:s, s:s},"
        " s:{s:s, s:s, s:b}, s:s, s:s, s:b,"
        " s:{s:s, s:s, s:n, s:{s:{s:s, s:s, s:s, s:s, s:{}, s:n, s:i, s:s},"
        " s:{s:s, s:s}, s:{s:s, s:s}}}, s:s}",
        "execution_mode", "yaml", "run_id", run_id, "tag", "", "object_serialisation", 1,
        "return_objects", "pipeline_executor", "service_name", "local", "service_type",
        "pipeline_executor", "overrides", "catalog", "service_name", "file-system",
        "service_type", "catalog", "compute_data_folder", ".", "run_log_store", "service_name",
        "file-system", "service_type", "run_log_store", "supports_parallel_writes", 0,
        "pipeline_definition_file", "ex.yaml", "retry_indicator", "", "is_retry", 0, "dag",
        "start_at", "prepare", "name", "", "description", "nodes", "prepare", "node_type", "task",
        "name", "prepare", "next_node", "split", "on_failure", "", "overrides", "catalog",
        "max_attempts", 1, "command", "mymod.fns.prepare", "success", "node_type", "success",
        "name", "success", "fail", "node_type", "fail", "name", "fail", "dag_hash", DAG_HASH);
}

static json_t *run_root(const char *run_id, const char *status, json_t *steps, json_t *params)
{
    /* runnable's key order: run_id, dag_hash, tag, status, steps, job,
     * parameters, run_config. */
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:n, s:o, s:o}", "run_id", run_id, "dag_hash",
                     DAG_HASH, "tag", "", "status", status, "steps",
                     steps ? steps : json_object(), "job", "parameters",
                     params ? params : json_object(), "run_config", run_config(run_id));
}

/*
 * The run of spec §8.1 grown to two levels of nesting and a map:
 *   prepare -> split (parallel: left [count -> inner (parallel: a [x], b [y]) ],
 *   right [tidy up]) -> mapper (map over 1 and "xjson") -> success.
 * "xjson" checks the BranchLog naming quirk, "tidy up" a name with a
 * space, the message non-ASCII text.
 */
static json_t *full_doc(const char *run_id)
{
    json_t *seed = param(json_integer(7), "json");
    json_t *prepare = step(
        "prepare", "task",
        json_pack("[o]", attempt("caf\xc3\xa9 \xe2\x9c\x93 \"quoted\"\n",
                                 json_pack("{s:O}", "seed", seed),
                                 json_pack("{s:o}", "rows", param(json_integer(21), "json")),
                                 NULL)),
        NULL,
        json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "name", "data/raw.csv", "data_hash",
                  "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470",
                  "catalog_relative_path", "x/data/raw.csv", "catalog_handler_location", "",
                  "stage", "put"));

    json_t *inner_a = branch(
        "split.left.inner.a",
        map_of(leaf("split.left.inner.a.x", "task", NULL,
                    json_pack("{s:o}", "ax", param(json_real(0.5), "metric"))),
               leaf("split.left.inner.a.success", "success", NULL, NULL), NULL),
        json_pack("{s:o}", "ax", param(json_real(0.5), "metric")));
    json_t *inner_b = branch("split.left.inner.b",
                             map_of(leaf("split.left.inner.b.y", "stub", NULL, NULL),
                                    leaf("split.left.inner.b.success", "success", NULL, NULL),
                                    NULL),
                             NULL);
    json_t *inner = step("split.left.inner", "parallel", NULL,
                         json_pack("{s:o, s:o}", "split.left.inner.a", inner_a,
                                   "split.left.inner.b", inner_b),
                         NULL);
    json_t *left = branch(
        "split.left",
        map_of(leaf("split.left.count", "task", NULL,
                    json_pack("{s:o}", "n_left", param(json_integer(12), "metric"))),
               inner, leaf("split.left.success", "success", NULL, NULL), NULL),
        json_pack("{s:o, s:o}", "n_left", param(json_integer(12), "metric"), "ax",
                  param(json_real(0.5), "metric")));
    json_t *right = branch("split.right",
                           map_of(leaf("split.right.tidy up", "stub", NULL, NULL),
                                  leaf("split.right.success", "success", NULL, NULL), NULL),
                           NULL);
    json_t *split = step("split", "parallel", NULL,
                         json_pack("{s:o, s:o}", "split.left", left, "split.right", right), NULL);

    json_t *m1 = branch("mapper.1",
                        map_of(leaf("mapper.1.pc", "task",
                                    json_pack("{s:o}", "chunk", param(json_integer(1), "json")),
                                    json_pack("{s:o}", "processed",
                                              param(json_integer(10), "json"))),
                               leaf("mapper.1.success", "success", NULL, NULL), NULL),
                        json_pack("{s:o}", "processed", param(json_integer(10), "json")));
    json_t *m2 = branch("mapper.xjson",
                        map_of(leaf("mapper.xjson.pc", "task",
                                    json_pack("{s:o}", "chunk", param(json_string("xjson"), "json")),
                                    json_pack("{s:o}", "processed",
                                              param(json_integer(20), "json"))),
                               leaf("mapper.xjson.success", "success", NULL, NULL), NULL),
                        json_pack("{s:o}", "processed", param(json_integer(20), "json")));
    json_t *mapper = step("mapper", "map", NULL,
                          json_pack("{s:o, s:o}", "mapper.1", m1, "mapper.xjson", m2), NULL);

    json_t *steps = map_of(prepare, split, mapper, leaf("success", "success", NULL, NULL), NULL);
    json_t *params = json_pack("{s:o, s:o, s:o, s:o}", "seed", seed, "rows",
                               param(json_integer(21), "json"), "n_left",
                               param(json_integer(12), "metric"), "processed",
                               param(json_pack("[i, i]", 10, 20), "json"));
    return run_root(run_id, "SUCCESS", steps, params);
}

/* ---- calls, each followed by a look at the disk --------------------------- */

static void put_step(struct fx *fx, const char *run, json_t *s)
{
    OK(OPS(fx->p)->put_step(fx->p->self, run, s));
    check_files(fx);
}

/* The same, taking the caller's reference. */
static void put_step_new(struct fx *fx, const char *run, json_t *s)
{
    put_step(fx, run, s);
    json_decref(s);
}

static void put_branch(struct fx *fx, const char *run, json_t *b)
{
    OK(OPS(fx->p)->put_branch(fx->p->self, run, b));
    check_files(fx);
}

static void put_branch_new(struct fx *fx, const char *run, json_t *b)
{
    put_branch(fx, run, b);
    json_decref(b);
}

/* A put through another instance, taking the caller's reference. */
static void other_put_step(rn_provider *p, const char *run, json_t *s)
{
    OK(OPS(p)->put_step(p->self, run, s));
    json_decref(s);
}

static void put_fields(struct fx *fx, const char *run, json_t *r)
{
    OK(OPS(fx->p)->put_run_fields(fx->p->self, run, r));
    check_files(fx);
}

static void create_run(struct fx *fx, const char *run, json_t *r)
{
    OK(OPS(fx->p)->create_run(fx->p->self, run, r));
    check_files(fx);
}

static json_t *get_run(rn_provider *p, const char *run)
{
    json_t *out = NULL;
    OK(OPS(p)->get_run(p->self, run, &out));
    assert_non_null(out);
    return out;
}

/*
 * Store `steps` the way the engine does while it runs them: each step
 * first PROCESSING, its branches PROCESSING then run, then the final
 * branch and step.  The children members handed over are junk on
 * purpose: stores must ignore them (children have their own puts).
 */
static void replay_steps(struct fx *fx, const char *run, const json_t *steps)
{
    const char *name, *bname;
    json_t *st, *br;
    json_object_foreach((json_t *)steps, name, st) {
        json_t *s = json_deep_copy(st);
        json_object_set_new(s, "status", json_string("PROCESSING"));
        json_object_set_new(s, "attempts", json_array());
        json_object_set_new(s, "branches", json_object());
        put_step(fx, run, s);
        json_decref(s);

        json_object_foreach(json_object_get(st, "branches"), bname, br) {
            json_t *b = json_deep_copy(br);
            json_object_set_new(b, "status", json_string("PROCESSING"));
            json_object_set_new(b, "parameters", json_object());
            json_object_set_new(b, "steps", json_object());
            put_branch(fx, run, b);
            json_decref(b);
            replay_steps(fx, run, json_object_get(br, "steps"));
            b = json_deep_copy(br);
            json_object_set_new(b, "steps", json_pack("{s:{}}", "junk.step"));
            put_branch(fx, run, b);
            json_decref(b);
        }

        s = json_deep_copy(st);
        json_object_set_new(s, "branches", json_pack("{s:{s:s}}", "junk.branch", "status", "x"));
        put_step(fx, run, s);
        json_decref(s);
    }
}

/* The document as the chunked layout stores it: every step's branches
 * emptied. */
static void empty_branches(json_t *steps)
{
    const char *name;
    json_t *st;
    json_object_foreach(steps, name, st) json_object_set_new(st, "branches", json_object());
}

static int count_visible(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

static void expect_branch_files(const char *dir, const json_t *steps, int *count)
{
    const char *name, *bname;
    json_t *st, *br;
    json_object_foreach((json_t *)steps, name, st) {
        json_object_foreach(json_object_get(st, "branches"), bname, br) {
            char path[2 * PATH_MAX];
            size_t n = strlen(bname);
            int quirk = n >= 4 && !strcmp(bname + n - 4, "json");
            snprintf(path, sizeof path, "%s/BranchLog-%s%s", dir, bname, quirk ? "" : ".json");
            json_error_t e;
            json_t *got = json_load_file(path, 0, &e);
            if (!got)
                fail_msg("%s: %s", path, e.text);
            json_t *want = json_deep_copy(br);
            empty_branches(json_object_get(want, "steps"));
            assert_json_equal(got, want);
            json_decref(got);
            json_decref(want);
            (*count)++;
            expect_branch_files(dir, json_object_get(br, "steps"), count);
        }
    }
}

/* The files of the run are exactly what the spec's layout says. */
static void expect_layout(const struct fx *fx, const char *run, const json_t *doc)
{
    char path[2 * PATH_MAX];
    json_error_t e;
    if (!fx->row->folder)
        return;
    if (!fx->row->chunked) {
        snprintf(path, sizeof path, "%s/%s.json", fx->row->folder, run);
        json_t *got = json_load_file(path, 0, &e);
        if (!got)
            fail_msg("%s: %s", path, e.text);
        assert_json_equal(got, doc);
        json_decref(got);
        return;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", fx->row->folder, run);
    snprintf(path, sizeof path, "%s/RunLog.json", dir);
    json_t *got = json_load_file(path, 0, &e);
    if (!got)
        fail_msg("%s: %s", path, e.text);
    json_t *want = json_deep_copy(doc);
    empty_branches(json_object_get(want, "steps"));
    assert_json_equal(got, want);
    json_decref(got);
    json_decref(want);
    int nbranches = 0;
    expect_branch_files(dir, json_object_get(doc, "steps"), &nbranches);
    assert_int_equal(count_visible(dir), 1 + nbranches);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_supports_parallel_writes(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(OPS(fx->p)->supports_parallel_writes(fx->p->self), fx->row->parallel);
}

static void test_bad_settings_refused(void **state)
{
    struct fx *fx = *state;
    rn_provider *p = NULL;
    rn_plugin_env env = {1, NULL, "."};
    json_t *cfg = json_pack("{s:i}", "fsync", 1);
    assert_int_equal(rn_provider_open(RN_KIND_RUN_LOG_STORE, fx->row->type, cfg, &env, &p),
                     RN_EINVAL);
    assert_non_null(strstr(rn_error_last(), "fsync"));
    json_decref(cfg);
    if (fx->row->folder) {
        cfg = json_pack("{s:b}", "log_folder", 1);
        assert_int_not_equal(rn_provider_open(RN_KIND_RUN_LOG_STORE, fx->row->type, cfg, &env, &p),
                             0);
        json_decref(cfg);
    }
}

/* The engine's sequence of puts rebuilds the document exactly. */
static void test_replay_round_trip(void **state)
{
    struct fx *fx = *state;
    json_t *doc = full_doc("amber-tesla-1412");
    json_t *start = run_root("amber-tesla-1412", "PROCESSING", NULL,
                             json_pack("{s:o}", "seed", param(json_integer(7), "json")));
    create_run(fx, "amber-tesla-1412", start);
    replay_steps(fx, "amber-tesla-1412", json_object_get(doc, "steps"));
    json_t *fin = json_deep_copy(doc);
    json_object_set_new(fin, "steps", json_pack("{s:{}}", "junk"));
    put_fields(fx, "amber-tesla-1412", fin);

    json_t *got = get_run(fx->p, "amber-tesla-1412");
    assert_json_equal(got, doc);
    expect_layout(fx, "amber-tesla-1412", doc);
    OK(OPS(fx->p)->close_run(fx->p->self, "amber-tesla-1412"));
    check_files(fx);
    json_decref(got);
    got = get_run(fx->p, "amber-tesla-1412"); /* closed is not gone */
    assert_json_equal(got, doc);

    /* What was written is what another instance reads. */
    if (fx->row->folder) {
        rn_provider *p2 = open_row(fx->row);
        json_t *again = get_run(p2, "amber-tesla-1412");
        assert_json_equal(again, doc);
        json_decref(again);
        rn_provider_close(p2);
    }
    json_decref(got);
    json_decref(fin);
    json_decref(start);
    json_decref(doc);
}

/* A whole nested document handed to create_run is stored as such. */
static void test_create_full_document(void **state)
{
    struct fx *fx = *state;
    json_t *doc = full_doc("whole");
    create_run(fx, "whole", doc);
    json_t *got = get_run(fx->p, "whole");
    assert_json_equal(got, doc);
    expect_layout(fx, "whole", doc);
    json_decref(got);
    json_decref(doc);
}

static void test_create_twice(void **state)
{
    struct fx *fx = *state;
    json_t *r = run_root("twice", "PROCESSING", NULL, NULL);
    create_run(fx, "twice", r);
    assert_int_equal(OPS(fx->p)->create_run(fx->p->self, "twice", r), RN_EEXIST);
    assert_non_null(strstr(rn_error_last(), "twice"));
    if (fx->row->folder) {
        /* The message names the file, and the disk is what counts: a
         * fresh instance (another process) is refused too. */
        assert_non_null(strstr(rn_error_last(), fx->row->folder));
        rn_provider *p2 = open_row(fx->row);
        assert_int_equal(OPS(p2)->create_run(p2->self, "twice", r), RN_EEXIST);
        assert_non_null(strstr(rn_error_last(), "twice"));
        rn_provider_close(p2);
    }
    json_decref(r);
}

static void test_get_missing(void **state)
{
    struct fx *fx = *state;
    json_t *out = NULL;
    assert_int_equal(OPS(fx->p)->get_run(fx->p->self, "no-such-run", &out), RN_ENOENT);
    assert_null(out);
    assert_non_null(strstr(rn_error_last(), "no-such-run"));
    json_t *s = leaf("a", "stub", NULL, NULL);
    assert_int_equal(OPS(fx->p)->put_step(fx->p->self, "no-such-run", s), RN_ENOENT);
    json_decref(s);
    /* Closing what is not open is harmless. */
    OK(OPS(fx->p)->close_run(fx->p->self, "no-such-run"));
}

static void test_missing_parent(void **state)
{
    struct fx *fx = *state;
    json_t *r = run_root("orphans", "PROCESSING", NULL, NULL);
    create_run(fx, "orphans", r);
    json_t *s = leaf("ghost.b.s", "stub", NULL, NULL);
    assert_int_equal(OPS(fx->p)->put_step(fx->p->self, "orphans", s), RN_ENOENT);
    json_t *b = branch("ghost.b", json_object(), NULL);
    assert_int_equal(OPS(fx->p)->put_branch(fx->p->self, "orphans", b), RN_ENOENT);
    json_t *bad = json_pack("{s:s}", "status", "SUCCESS");
    assert_int_equal(OPS(fx->p)->put_step(fx->p->self, "orphans", bad), RN_EINVAL);
    check_files(fx);
    json_t *got = get_run(fx->p, "orphans");
    assert_json_equal(got, r);
    json_decref(got);
    json_decref(bad);
    json_decref(b);
    json_decref(s);
    json_decref(r);
}

static void test_put_step_replaces(void **state)
{
    struct fx *fx = *state;
    json_t *r = run_root("replace", "PROCESSING", NULL, NULL);
    create_run(fx, "replace", r);
    json_t *a = leaf("a", "task", NULL, NULL), *b = leaf("b", "stub", NULL, NULL);
    const char *statuses[] = {"CREATED", "PROCESSING", "FAIL", "SUCCESS"};
    for (int i = 0; i < 4; i++) {
        json_object_set_new(a, "status", json_string(statuses[i]));
        json_object_set_new(a, "message", json_string(i == 2 ? "a longer message this time" : ""));
        put_step(fx, "replace", a);
        if (i == 0)
            put_step(fx, "replace", b);
    }
    json_t *got = get_run(fx->p, "replace");
    json_t *steps = json_object_get(got, "steps");
    assert_int_equal(json_object_size(steps), 2);
    assert_json_equal(json_object_get(steps, "a"), a);
    assert_json_equal(json_object_get(steps, "b"), b);
    /* Insertion order survives replacement (spec §2). */
    assert_string_equal(json_object_iter_key(json_object_iter(steps)), "a");
    json_decref(got);
    json_decref(a);
    json_decref(b);
    json_decref(r);
}

static void test_status_update(void **state)
{
    struct fx *fx = *state;
    json_t *r = run_root("status", "PROCESSING", NULL, NULL);
    create_run(fx, "status", r);
    put_step_new(fx, "status", leaf("one", "stub", NULL, NULL));
    json_decref(get_run(fx->p, "status")); /* a read between writes changes nothing */
    const char *seq[] = {"SUCCESS", "FAIL", "PROCESSING", "A_STATUS_LONGER_THAN_ANY_SLOT", "SUCCESS"};
    for (int i = 0; i < 5; i++) {
        json_object_set_new(r, "status", json_string(seq[i]));
        put_fields(fx, "status", r);
        json_t *got = get_run(fx->p, "status");
        assert_string_equal(json_string_value(json_object_get(got, "status")), seq[i]);
        assert_int_equal(json_object_size(json_object_get(got, "steps")), 1);
        json_decref(got);
    }
    if (fx->row->folder) {
        rn_provider *p2 = open_row(fx->row);
        json_t *got = get_run(p2, "status");
        assert_string_equal(json_string_value(json_object_get(got, "status")), "SUCCESS");
        json_decref(got);
        rn_provider_close(p2);
    }
    json_decref(r);
}

static void test_parameters_update(void **state)
{
    struct fx *fx = *state;
    json_t *r = run_root("params", "PROCESSING", NULL, NULL);
    create_run(fx, "params", r);
    put_step_new(fx, "params", step("par", "parallel", NULL, NULL, NULL));
    json_t *b = branch("par.b", json_object(), NULL);
    put_branch(fx, "params", b);
    put_step_new(fx, "params", leaf("par.b.s", "stub", NULL, NULL));
    /* Grow, change and shrink both scopes. */
    for (int i = 0; i < 6; i++) {
        json_t *ps = json_object();
        for (int k = 0; k < (i < 3 ? i * 40 : 5); k++) {
            char name[32];
            snprintf(name, sizeof name, "p%02d", k);
            json_object_set_new(ps, name, param(json_integer(i * 1000 + k), "json"));
        }
        json_object_set(r, "parameters", ps);
        put_fields(fx, "params", r);
        json_object_set_new(b, "parameters", ps);
        put_branch(fx, "params", b);
        json_t *got = get_run(fx->p, "params");
        assert_json_equal(json_object_get(got, "parameters"), ps);
        json_t *gb = json_object_get(
            json_object_get(json_object_get(json_object_get(got, "steps"), "par"), "branches"),
            "par.b");
        assert_json_equal(json_object_get(gb, "parameters"), ps);
        assert_int_equal(json_object_size(json_object_get(gb, "steps")), 1);
        json_decref(got);
    }
    json_decref(b);
    json_decref(r);
}

/* A run written by another process (here: another instance, which shares
 * nothing with this one) between this one's writes is re-read, not
 * overwritten: the local-container executor hands runs back and forth. */
static void test_hand_over_between_writers(void **state)
{
    struct fx *fx = *state;
    if (!fx->row->folder)
        skip();
    json_t *r = run_root("handover", "PROCESSING", NULL, NULL);
    create_run(fx, "handover", r);
    put_step_new(fx, "handover", leaf("s1", "task", NULL, NULL));
    put_step_new(fx, "handover", step("par", "parallel", NULL, NULL, NULL));
    put_branch_new(fx, "handover", (branch("par.x", json_object(), NULL)));
    put_step_new(fx, "handover", leaf("par.x.a", "task", NULL, NULL));

    rn_provider *p2 = open_row(fx->row);
    json_t *seen = get_run(p2, "handover");
    json_decref(seen);
    other_put_step(p2, "handover", leaf("s2", "task", NULL, NULL));
    other_put_step(p2, "handover", leaf("par.x.b", "task", NULL, NULL));

    put_step_new(fx, "handover", leaf("s3", "task", NULL, NULL));
    put_step_new(fx, "handover", leaf("par.x.c", "task", NULL, NULL));
    other_put_step(p2, "handover", leaf("s4", "task", NULL, NULL));
    rn_provider_close(p2);

    rn_provider *p3 = open_row(fx->row);
    json_t *got = get_run(p3, "handover");
    json_t *steps = json_object_get(got, "steps");
    assert_int_equal(json_object_size(steps), 5); /* s1 par s2 s3 s4 */
    json_t *x = json_object_get(json_object_get(json_object_get(steps, "par"), "branches"), "par.x");
    assert_int_equal(json_object_size(json_object_get(x, "steps")), 3);
    json_decref(got);
    rn_provider_close(p3);
    json_decref(r);
}

/* Runnable's own files (its key order, any indentation) are read, and
 * writing to them afterwards keeps what they held. */
static void test_reads_foreign_layout(void **state)
{
    struct fx *fx = *state;
    if (!fx->row->folder)
        skip();
    json_t *doc = full_doc("from-python");
    char path[2 * PATH_MAX];
    if (!fx->row->chunked) {
        mkdirs(fx->row->folder);
        snprintf(path, sizeof path, "%s/from-python.json", fx->row->folder);
        assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/from-python", fx->row->folder);
        mkdirs(dir);
        json_t *rl = json_deep_copy(doc);
        empty_branches(json_object_get(rl, "steps"));
        snprintf(path, sizeof path, "%s/RunLog.json", dir);
        assert_int_equal(json_dump_file(rl, path, JSON_INDENT(4)), 0);
        json_decref(rl);
        /* Flat branch files, written the way runnable names them. */
        const char *names[] = {"split.left", "split.right", "split.left.inner.a",
                               "split.left.inner.b", "mapper.1", "mapper.xjson"};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            const char *n = names[i];
            char stepname[128];
            snprintf(stepname, sizeof stepname, "%.*s", (int)(strrchr(n, '.') - n), n);
            json_t *holder = json_object_get(doc, "steps");
            if (strchr(stepname, '.')) { /* split.left.inner lives in split.left */
                holder = json_object_get(
                    json_object_get(json_object_get(json_object_get(holder, "split"), "branches"),
                                    "split.left"),
                    "steps");
            }
            json_t *b = json_deep_copy(json_object_get(
                json_object_get(json_object_get(holder, stepname), "branches"), n));
            assert_non_null(b);
            empty_branches(json_object_get(b, "steps"));
            size_t nl = strlen(n);
            snprintf(path, sizeof path, "%s/BranchLog-%s%s", dir, n,
                     nl >= 4 && !strcmp(n + nl - 4, "json") ? "" : ".json");
            assert_int_equal(json_dump_file(b, path, JSON_INDENT(2)), 0);
            json_decref(b);
        }
    }
    json_t *got = get_run(fx->p, "from-python");
    assert_json_equal(got, doc);
    json_decref(got);

    json_t *extra = leaf("extra", "stub", NULL, NULL);
    put_step(fx, "from-python", extra);
    json_t *x2 = leaf("mapper.1.extra", "stub", NULL, NULL);
    put_step(fx, "from-python", x2);
    json_object_set_new(json_object_get(doc, "steps"), "extra", extra);
    json_object_set_new(json_object_get(json_object_get(json_object_get(json_object_get(
                                            json_object_get(doc, "steps"), "mapper"),
                                                                        "branches"),
                                                        "mapper.1"),
                                        "steps"),
                        "mapper.1.extra", x2);
    rn_provider *p2 = open_row(fx->row);
    got = get_run(p2, "from-python");
    assert_json_equal(got, doc);
    json_decref(got);
    rn_provider_close(p2);
    json_decref(doc);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A step of realistic size (about 1 KiB as written). */
static json_t *numbered_step(const char *prefix, int i, const char *status)
{
    char name[96];
    snprintf(name, sizeof name, "%s%05d", prefix, i);
    json_t *s = step(name, "task", NULL, NULL, NULL);
    json_object_set_new(s, "status", json_string(status));
    if (strcmp(status, "PROCESSING") != 0)
        json_object_set_new(s, "attempts",
                            json_pack("[o]", attempt("", json_pack("{s:o}", "seed",
                                                                    param(json_integer(i), "json")),
                                                     NULL, NULL)));
    return s;
}

#define MANY 10000

static void test_many_root_steps(void **state)
{
    struct fx *fx = *state;
    if (fx->row->fsync)
        skip();
    json_t *r = run_root("many", "PROCESSING", NULL, NULL);
    OK(OPS(fx->p)->create_run(fx->p->self, "many", r));
    double t0 = now();
    for (int i = 0; i < MANY; i++) {
        json_t *s = numbered_step("step_", i, "PROCESSING");
        OK(OPS(fx->p)->put_step(fx->p->self, "many", s));
        json_decref(s);
        s = numbered_step("step_", i, "SUCCESS");
        OK(OPS(fx->p)->put_step(fx->p->self, "many", s));
        json_decref(s);
    }
    double t1 = now();
    json_object_set_new(r, "status", json_string("SUCCESS"));
    OK(OPS(fx->p)->put_run_fields(fx->p->self, "many", r));
    print_message("[%s] %d root steps, %d put_step: %.3f s (%.1f us per put)\n", fx->row->type,
                  MANY, 2 * MANY, t1 - t0, (t1 - t0) * 1e6 / (2 * MANY));
    check_files(fx);
    json_t *got = get_run(fx->p, "many");
    assert_int_equal(json_object_size(json_object_get(got, "steps")), MANY);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "SUCCESS");
    json_t *last = json_object_get(json_object_get(got, "steps"), "step_09999");
    assert_string_equal(json_string_value(json_object_get(last, "status")), "SUCCESS");
    json_decref(got);
    OK(OPS(fx->p)->close_run(fx->p->self, "many"));
    if (fx->row->folder) {
        rn_provider *p2 = open_row(fx->row);
        got = get_run(p2, "many");
        assert_int_equal(json_object_size(json_object_get(got, "steps")), MANY);
        json_decref(got);
        rn_provider_close(p2);
    }
    json_decref(r);
}

static void test_many_branch_steps(void **state)
{
    struct fx *fx = *state;
    if (fx->row->fsync)
        skip();
    json_t *r = run_root("wide", "PROCESSING", NULL, NULL);
    OK(OPS(fx->p)->create_run(fx->p->self, "wide", r));
    json_t *par = step("loop", "loop", NULL, NULL, NULL);
    json_object_set_new(par, "status", json_string("PROCESSING"));
    OK(OPS(fx->p)->put_step(fx->p->self, "wide", par));
    json_t *b = branch("loop.0", json_object(), NULL);
    json_object_set_new(b, "status", json_string("PROCESSING"));
    OK(OPS(fx->p)->put_branch(fx->p->self, "wide", b));
    double t0 = now();
    for (int i = 0; i < MANY; i++) {
        json_t *s = numbered_step("loop.0.s", i, "PROCESSING");
        OK(OPS(fx->p)->put_step(fx->p->self, "wide", s));
        json_decref(s);
        s = numbered_step("loop.0.s", i, "SUCCESS");
        OK(OPS(fx->p)->put_step(fx->p->self, "wide", s));
        json_decref(s);
    }
    double t1 = now();
    json_object_set_new(b, "status", json_string("SUCCESS"));
    OK(OPS(fx->p)->put_branch(fx->p->self, "wide", b));
    json_object_set_new(par, "status", json_string("SUCCESS"));
    OK(OPS(fx->p)->put_step(fx->p->self, "wide", par));
    print_message("[%s] %d steps in one branch, %d put_step: %.3f s (%.1f us per put)\n",
                  fx->row->type, MANY, 2 * MANY, t1 - t0, (t1 - t0) * 1e6 / (2 * MANY));
    check_files(fx);
    json_t *got = get_run(fx->p, "wide");
    json_t *gb = json_object_get(
        json_object_get(json_object_get(json_object_get(got, "steps"), "loop"), "branches"),
        "loop.0");
    assert_int_equal(json_object_size(json_object_get(gb, "steps")), MANY);
    assert_string_equal(json_string_value(json_object_get(gb, "status")), "SUCCESS");
    json_decref(got);
    json_decref(b);
    json_decref(par);
    json_decref(r);
}

/* ---- killed writers ---------------------------------------------------------- */

#define KILL_STEPS 4000

/* Operation k of the killed writer's schedule: 0 create; then per step
 * i: PROCESSING, SUCCESS, and every 25th step the run's parameters. */
struct op {
    int kind; /* 0 create, 1 processing, 2 success, 3 fields */
    int i;
};

static int schedule(struct op *ops, int max)
{
    int n = 0;
    ops[n++] = (struct op){0, 0};
    for (int i = 0; i < KILL_STEPS && n + 3 <= max; i++) {
        ops[n++] = (struct op){1, i};
        ops[n++] = (struct op){2, i};
        if (i % 25 == 24)
            ops[n++] = (struct op){3, i};
    }
    return n;
}

/* Steps big enough (several KiB) that writes span pages. */
static json_t *kill_step(int i, const char *status)
{
    json_t *s = numbered_step("k", i, status);
    json_t *a = json_array_get(json_object_get(s, "attempts"), 0);
    if (a) {
        char blob[3000];
        memset(blob, 'a' + i % 26, sizeof blob - 1);
        blob[sizeof blob - 1] = '\0';
        json_object_set_new(json_object_get(a, "input_parameters"), "blob",
                            param(json_string(blob), "json"));
    }
    return s;
}

/* The run's parameters, large most of the time (a map's items): the file
 * stores keep room in front of large closing members, see
 * run_log_stores/json_docfile.c. */
static json_t *kill_fields(const char *run, int i)
{
    char blob[2000];
    memset(blob, 'p', (size_t)(i % 1999));
    blob[i % 1999] = '\0';
    json_t *items = json_array();
    for (int k = i % 100 == 99 ? 0 : 500 + i % 700; k > 0; k--)
        json_array_append_new(items, json_integer(k));
    return run_root(run, i % 2 ? "PROCESSING" : "FAIL", NULL,
                    json_pack("{s:o, s:o, s:o}", "count", param(json_integer(i), "json"), "blob",
                              param(json_string(blob), "json"), "items",
                              param(items, "json")));
}

static void killed_child(const struct row *row, const char *run, int fd)
{
    static struct op ops[KILL_STEPS * 3 + 8];
    int n = schedule(ops, (int)(sizeof ops / sizeof *ops));
    rn_provider *p = NULL;
    rn_plugin_env env = {1, NULL, "."};
    json_t *cfg = row_config(row);
    if (rn_provider_open(RN_KIND_RUN_LOG_STORE, row->type, cfg, &env, &p) != 0)
        _exit(2);
    const rn_run_log_store_ops *o = OPS(p);
    for (int k = 0; k < n; k++) {
        json_t *v;
        int rc;
        switch (ops[k].kind) {
        case 0:
            v = kill_fields(run, 0);
            rc = o->create_run(p->self, run, v);
            break;
        case 1:
            v = kill_step(ops[k].i, "PROCESSING");
            rc = o->put_step(p->self, run, v);
            break;
        case 2:
            v = kill_step(ops[k].i, "SUCCESS");
            rc = o->put_step(p->self, run, v);
            break;
        default:
            v = kill_fields(run, ops[k].i);
            rc = o->put_run_fields(p->self, run, v);
            break;
        }
        json_decref(v);
        if (rc != 0)
            _exit(3);
        int done = k + 1;
        if (write(fd, &done, sizeof done) != (ssize_t)sizeof done)
            _exit(4);
    }
    _exit(0);
}

/* SIGKILL at random moments: the files are always complete JSON and hold
 * every operation that returned before the kill. */
static void test_killed_writer(void **state)
{
    struct fx *fx = *state;
    if (!fx->row->folder)
        skip();
    static struct op ops[KILL_STEPS * 3 + 8];
    schedule(ops, (int)(sizeof ops / sizeof *ops));
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int rounds = fx->row->fsync ? 3 : 10;
    for (int round = 0; round < rounds; round++) {
        char run[32];
        snprintf(run, sizeof run, "killed-%d", round);
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            killed_child(fx->row, run, pfd[1]);
        }
        close(pfd[1]);
        long delay_us = round == 0 ? 0 : 2000 + (long)(rand_r(&seed) % 60000);
        struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        int done = 0, v;
        while (read(pfd[0], &v, sizeof v) == (ssize_t)sizeof v)
            done = v;
        close(pfd[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            fail_msg("writer failed with status %d", WEXITSTATUS(status));

        check_files(fx);
        if (done == 0)
            continue;
        rn_provider *p2 = open_row(fx->row);
        json_t *got = get_run(p2, run);
        json_t *steps = json_object_get(got, "steps");
        int last_fields = -1;
        for (int k = 1; k < done; k++) {
            char name[32];
            snprintf(name, sizeof name, "k%05d", ops[k].i);
            json_t *s = json_object_get(steps, name);
            if (ops[k].kind == 1)
                assert_non_null(s);
            if (ops[k].kind == 2)
                assert_string_equal(json_string_value(json_object_get(s, "status")), "SUCCESS");
            if (ops[k].kind == 3)
                last_fields = ops[k].i;
        }
        if (last_fields >= 0) {
            json_t *c = json_object_get(json_object_get(json_object_get(got, "parameters"), "count"),
                                        "value");
            assert_true(json_integer_value(c) >= last_fields);
        }
        print_message("[%s] killed after %ld us: %d operations done, file complete\n",
                      fx->row->type, delay_us, done);
        json_decref(got);
        rn_provider_close(p2);
    }
}

/* Stores that say they take parallel writes do: two processes each fill
 * their own branch at the same time. */
static void test_parallel_branch_writers(void **state)
{
    struct fx *fx = *state;
    if (!fx->row->parallel)
        skip();
    json_t *r = run_root("fan", "PROCESSING", NULL, NULL);
    create_run(fx, "fan", r);
    json_t *par = step("fan", "parallel", NULL, NULL, NULL);
    json_object_set_new(par, "status", json_string("PROCESSING"));
    put_step(fx, "fan", par);
    const char *names[2] = {"fan.a", "fan.b"};
    for (int k = 0; k < 2; k++) {
        json_t *b = branch(names[k], json_object(), NULL);
        json_object_set_new(b, "status", json_string("PROCESSING"));
        put_branch(fx, "fan", b);
        json_decref(b);
    }
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            rn_provider *p = NULL;
            rn_plugin_env env = {1, NULL, "."};
            json_t *cfg = row_config(fx->row);
            if (rn_provider_open(RN_KIND_RUN_LOG_STORE, fx->row->type, cfg, &env, &p) != 0)
                _exit(2);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "%s.s", names[k]);
            for (int i = 0; i < 300; i++) {
                json_t *s = numbered_step(prefix, i, "PROCESSING");
                if (OPS(p)->put_step(p->self, "fan", s) != 0)
                    _exit(3);
                json_decref(s);
                s = numbered_step(prefix, i, "SUCCESS");
                if (OPS(p)->put_step(p->self, "fan", s) != 0)
                    _exit(3);
                json_decref(s);
            }
            json_t *b = branch(names[k], json_object(), json_pack("{s:o}", names[k],
                                                                  param(json_integer(k), "json")));
            if (OPS(p)->put_branch(p->self, "fan", b) != 0)
                _exit(4);
            json_decref(b);
            OPS(p)->close_run(p->self, "fan");
            rn_provider_close(p);
            json_decref(cfg);
            /* The parent's objects too: valgrind checks each process. */
            json_decref(par);
            json_decref(r);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(pids[k], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    json_object_set_new(par, "status", json_string("SUCCESS"));
    put_step(fx, "fan", par);
    json_t *got = get_run(fx->p, "fan");
    json_t *brs = json_object_get(json_object_get(json_object_get(got, "steps"), "fan"), "branches");
    for (int k = 0; k < 2; k++) {
        json_t *b = json_object_get(brs, names[k]);
        assert_int_equal(json_object_size(json_object_get(b, "steps")), 300);
        assert_string_equal(json_string_value(json_object_get(b, "status")), "SUCCESS");
    }
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(got, "steps"), "fan"), "status")),
                        "SUCCESS");
    json_decref(got);
    json_decref(par);
    json_decref(r);
}

/* ---- main ------------------------------------------------------------------------ */

struct named_test {
    const char *name;
    CMUnitTestFunction fn;
};

/* Run history (ops version 3, optional, both or neither): every run of the
 * store is listed once, with the summary put for it or NULL without one;
 * a summary is replaced whole; a store that cannot list says so by
 * leaving both operations out. */
struct listed {
    int n;
    char ids[8][32];
    int had_summary[8];
    const char *status_of_a;
};

static int collect_run(const char *run_id, const json_t *summary, void *data)
{
    struct listed *l = data;
    if (l->n < 8) {
        snprintf(l->ids[l->n], sizeof l->ids[l->n], "%s", run_id);
        l->had_summary[l->n] = summary != NULL;
        if (summary && strcmp(run_id, "hist-a") == 0)
            l->status_of_a = strcmp(json_string_value(json_object_get(summary, "status")),
                                    "SUCCESS") == 0 ? "SUCCESS" : "other";
    }
    l->n++;
    return 0;
}

static int stop_at_first(const char *run_id, const json_t *summary, void *data)
{
    (void)run_id, (void)summary;
    ++*(int *)data;
    return 7;
}

static void test_run_history(void **state)
{
    struct fx *fx = *state;
    const rn_run_log_store_ops *o = OPS(fx->p);
    assert_true((o->put_summary == NULL) == (o->list_runs == NULL));
    if (!o->list_runs) {
        assert_null(fx->row->folder); /* only the in-memory store keeps none */
        return;
    }
    struct listed none = {0};
    OK(o->list_runs(fx->p->self, collect_run, &none));
    assert_int_equal(none.n, 0);

    json_t *ra = run_root("hist-a", "PROCESSING", NULL, NULL);
    json_t *rb = run_root("hist-b", "PROCESSING", NULL, NULL);
    create_run(fx, "hist-a", ra);
    create_run(fx, "hist-b", rb);
    json_t *s1 = json_pack("{s:s, s:s}", "run_id", "hist-a", "status", "PROCESSING");
    json_t *s2 = json_pack("{s:s, s:s}", "run_id", "hist-a", "status", "SUCCESS");
    OK(o->put_summary(fx->p->self, "hist-a", s1));
    OK(o->put_summary(fx->p->self, "hist-a", s2));

    /* Another instance (another process) sees what this one wrote. */
    rn_provider *p2 = open_row(fx->row);
    struct listed l = {0};
    OK(OPS(p2)->list_runs(p2->self, collect_run, &l));
    assert_int_equal(l.n, 2);
    for (int i = 0; i < 2; i++) {
        int is_a = strcmp(l.ids[i], "hist-a") == 0;
        assert_true(is_a || strcmp(l.ids[i], "hist-b") == 0);
        assert_int_equal(l.had_summary[i], is_a);
    }
    assert_string_equal(l.status_of_a, "SUCCESS");
    int calls = 0;
    assert_int_equal(OPS(p2)->list_runs(p2->self, stop_at_first, &calls), 7);
    assert_int_equal(calls, 1);
    rn_provider_close(p2);
    json_decref(ra);
    json_decref(rb);
    json_decref(s1);
    json_decref(s2);
}

/* ---- deferred writes (ops v2) ---------------------------------------------- */

static json_t *snap_doc;
static size_t snap_root_len;

/* Every file under the folder, hidden ones too: its bytes, inode and
 * modification time, so that "nothing written" means nothing at all. */
static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    /* The writers' lock file holds no data (json_docfile.h). */
    if (flag != FTW_F || strcmp(path + ftw->base, ".lock") == 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    char *buf = malloc((size_t)st->st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st->st_size, f) : 0;
    fclose(f);
    if (!buf)
        return 1;
    json_object_set_new(snap_doc, path + snap_root_len,
                        json_pack("{s:s%, s:I, s:I}", "bytes", buf, n, "ino",
                                  (json_int_t)st->st_ino, "mtime",
                                  (json_int_t)st->st_mtim.tv_sec * 1000000000 +
                                      st->st_mtim.tv_nsec));
    free(buf);
    return 0;
}

static json_t *snapshot(const char *folder)
{
    snap_doc = json_object();
    snap_root_len = strlen(folder);
    struct stat st;
    if (stat(folder, &st) == 0 && nftw(folder, snap_one, 16, FTW_PHYS) != 0)
        fail_msg("cannot read the files under %s", folder);
    json_t *out = snap_doc;
    snap_doc = NULL;
    return out;
}

static int has_defer(const rn_run_log_store_ops *o)
{
    assert_true((o->defer == NULL) == (o->flush == NULL));
    return o->version >= 2 && o->defer != NULL;
}

/*
 * While a run is deferred nothing reaches the disk until flush(); after
 * it another instance (another process) reads everything; a flush with
 * nothing changed writes nothing; close_run writes what is left.  The
 * files a deferred run leaves are byte for byte those of the same puts
 * written one by one.
 */
static void test_deferred_writes(void **state)
{
    struct fx *fx = *state;
    const rn_run_log_store_ops *o = OPS(fx->p);
    if (!has_defer(o)) {
        assert_null(fx->row->folder); /* only the in-memory store writes at once */
        return;
    }
    const char *run = "deferred";
    json_t *doc = full_doc(run);
    json_t *start = run_root(run, "PROCESSING", NULL,
                             json_pack("{s:o}", "seed", param(json_integer(7), "json")));
    json_t *fin = json_deep_copy(doc);

    /* The reference: the same puts, each written at once. */
    create_run(fx, run, start);
    replay_steps(fx, run, json_object_get(doc, "steps"));
    put_fields(fx, run, fin);
    OK(o->close_run(fx->p->self, run));
    json_t *one_by_one = snapshot(fx->row->folder);
    nftw(fx->row->folder, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    rn_provider_close(fx->p);
    fx->p = open_row(fx->row);
    o = OPS(fx->p);

    create_run(fx, run, start);
    OK(o->defer(fx->p->self, run, 1));
    json_t *before = snapshot(fx->row->folder);
    json_t *steps = json_object_get(doc, "steps");
    replay_steps(fx, run, steps);
    json_t *after = snapshot(fx->row->folder);
    assert_json_equal(after, before); /* nothing reached the disk */
    json_decref(after);
    /* This instance reads its own puts; another one sees only the disk. */
    json_t *mine = get_run(fx->p, run);
    json_t *want = json_deep_copy(start);
    json_object_set(want, "steps", steps);
    assert_json_equal(mine, want);
    rn_provider *p2 = open_row(fx->row);
    json_t *theirs = get_run(p2, run);
    assert_json_equal(theirs, start);
    json_decref(theirs);
    rn_provider_close(p2);

    OK(o->flush(fx->p->self, run));
    check_files(fx);
    p2 = open_row(fx->row);
    theirs = get_run(p2, run);
    assert_json_equal(theirs, want);
    json_decref(theirs);
    rn_provider_close(p2);

    /* Nothing changed: not one file is touched. */
    json_decref(before);
    before = snapshot(fx->row->folder);
    OK(o->flush(fx->p->self, run));
    json_t *same = get_run(fx->p, run);
    OK(o->flush(fx->p->self, run));
    after = snapshot(fx->row->folder);
    assert_json_equal(after, before);
    json_decref(after);
    json_decref(same);

    /* The last puts are written by close_run. */
    put_fields(fx, run, fin);
    after = snapshot(fx->row->folder);
    assert_json_equal(after, before);
    json_decref(after);
    OK(o->close_run(fx->p->self, run));
    check_files(fx);
    p2 = open_row(fx->row);
    theirs = get_run(p2, run);
    assert_json_equal(theirs, doc);
    json_decref(theirs);
    rn_provider_close(p2);
    expect_layout(fx, run, doc);
    json_t *deferred = snapshot(fx->row->folder);
    /* Byte for byte (inodes and times aside), and no scratch file (a
     * shadow, a spare) left behind by a closed run. */
    const char *path;
    json_t *v;
    json_object_foreach(deferred, path, v) {
        const char *base = strrchr(path, '/');
        if (base && base[1] == '.')
            fail_msg("[%s] %s: left after close_run", fx->row->type, path);
    }
    assert_int_equal(json_object_size(deferred), json_object_size(one_by_one));
    json_object_foreach(deferred, path, v) {
        json_t *ref = json_object_get(one_by_one, path);
        if (!ref)
            fail_msg("[%s] %s: written only when deferred", fx->row->type, path);
        assert_json_equal(json_object_get(v, "bytes"), json_object_get(ref, "bytes"));
    }

    /* Turning deferral off writes what is pending. */
    json_t *r2 = run_root("undeferred", "PROCESSING", NULL, NULL);
    create_run(fx, "undeferred", r2);
    OK(o->defer(fx->p->self, "undeferred", 1));
    put_step_new(fx, "undeferred", leaf("one", "stub", NULL, NULL));
    OK(o->defer(fx->p->self, "undeferred", 0));
    p2 = open_row(fx->row);
    theirs = get_run(p2, "undeferred");
    assert_int_equal(json_object_size(json_object_get(theirs, "steps")), 1);
    json_decref(theirs);
    rn_provider_close(p2);
    /* ...and puts are written at once again. */
    put_step_new(fx, "undeferred", leaf("two", "stub", NULL, NULL));
    p2 = open_row(fx->row);
    theirs = get_run(p2, "undeferred");
    assert_int_equal(json_object_size(json_object_get(theirs, "steps")), 2);
    json_decref(theirs);
    rn_provider_close(p2);

    json_decref(r2);
    json_decref(deferred);
    json_decref(one_by_one);
    json_decref(before);
    json_decref(mine);
    json_decref(want);
    json_decref(fin);
    json_decref(start);
    json_decref(doc);
}

/* ---- parts of a run (ops version 4) ---------------------------------------- */

/* `node` without its children member's contents. */
static json_t *without_kids(const json_t *node, const char *kids)
{
    json_t *c = json_deep_copy(node);
    json_object_set_new(c, kids, json_object());
    return c;
}

/* Every step and branch of `steps`, at any depth, read one by one. */
static void expect_parts(rn_provider *p, const char *run, const json_t *steps)
{
    const rn_run_log_store_ops *o = OPS(p);
    const char *name, *bname;
    json_t *st, *b;
    json_object_foreach((json_t *)steps, name, st) {
        json_t *got = NULL, *want = without_kids(st, "branches");
        OK(o->get_step(p->self, run, name, &got));
        assert_json_equal(got, want);
        json_decref(got);
        json_decref(want);
        json_object_foreach(json_object_get(st, "branches"), bname, b) {
            got = NULL;
            want = without_kids(b, "steps");
            OK(o->get_branch(p->self, run, bname, &got));
            assert_json_equal(got, want);
            json_decref(got);
            json_decref(want);
            expect_parts(p, run, json_object_get(b, "steps"));
        }
    }
}

/*
 * get_run_head, get_step and get_branch give the pieces get_run gives,
 * from the writer's own memory and from the files (a fresh instance, as
 * a pod reads them), and say RN_ENOENT for what is not there.  A branch
 * named like a Python dict (a map over objects) has braces and quotes in
 * its name, which must not be taken for its text's own.
 */
static void test_read_parts(void **state)
{
    struct fx *fx = *state;
    const rn_run_log_store_ops *o = OPS(fx->p);
    if (o->version < 4 || !o->get_run_head) {
        assert_null(o->get_step);
        assert_null(o->get_branch);
        return;
    }
    assert_non_null(o->get_step);
    assert_non_null(o->get_branch);
    json_t *doc = full_doc("parts");
    json_t *odd = step("objs", "map", NULL,
                       json_pack("{s:o}", "objs.{'k': \"v\"}",
                                 branch("objs.{'k': \"v\"}",
                                        map_of(leaf("objs.{'k': \"v\"}.t", "stub", NULL, NULL),
                                               NULL),
                                        json_pack("{s:o}", "got", param(json_integer(1), "json")))),
                       NULL);
    json_object_set_new(json_object_get(doc, "steps"), "objs", odd);
    json_t *start = run_root("parts", "PROCESSING", NULL,
                             json_pack("{s:o}", "seed", param(json_integer(7), "json")));
    create_run(fx, "parts", start);
    replay_steps(fx, "parts", json_object_get(doc, "steps"));
    json_t *fin = json_deep_copy(doc);
    put_fields(fx, "parts", fin);

    rn_provider *readers[2] = {fx->p, fx->row->folder ? open_row(fx->row) : NULL};
    for (int i = 0; i < 2 && readers[i]; i++) {
        rn_provider *p = readers[i];
        json_t *head = NULL, *want = without_kids(doc, "steps");
        json_object_del(want, "run_config");
        OK(OPS(p)->get_run_head(p->self, "parts", &head));
        assert_json_equal(head, want);
        json_decref(head);
        json_decref(want);
        expect_parts(p, "parts", json_object_get(doc, "steps"));

        json_t *none = NULL;
        assert_int_equal(OPS(p)->get_step(p->self, "parts", "nope", &none), RN_ENOENT);
        assert_int_equal(OPS(p)->get_step(p->self, "parts", "split.left.nope", &none),
                         RN_ENOENT);
        assert_int_equal(OPS(p)->get_step(p->self, "parts", "split.nowhere.x", &none),
                         RN_ENOENT);
        assert_int_equal(OPS(p)->get_branch(p->self, "parts", "split.nowhere", &none),
                         RN_ENOENT);
        assert_int_equal(OPS(p)->get_run_head(p->self, "no-such-run", &none), RN_ENOENT);
        assert_null(none);
    }

    /* A part read after a change is the changed one. */
    json_t *count = json_deep_copy(json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
                            doc, "steps"), "split"), "branches"), "split.left"), "steps"),
        "split.left.count"));
    json_object_set_new(count, "status", json_string("FAIL"));
    put_step(fx, "parts", count);
    for (int i = 0; i < 2 && readers[i]; i++) {
        json_t *got = NULL;
        OK(OPS(readers[i])->get_step(readers[i]->self, "parts", "split.left.count", &got));
        assert_string_equal(json_string_value(json_object_get(got, "status")), "FAIL");
        json_decref(got);
    }
    /* A head written back (the run's status, its parameters) keeps the
     * run_config it was read without. */
    json_t *head = NULL;
    OK(o->get_run_head(fx->p->self, "parts", &head));
    json_object_set_new(head, "status", json_string("FAIL"));
    put_fields(fx, "parts", head);
    json_object_set_new(doc, "status", json_string("FAIL"));
    json_object_set(json_object_get(json_object_get(json_object_get(json_object_get(
                        json_object_get(doc, "steps"), "split"), "branches"), "split.left"),
                                    "steps"),
                    "split.left.count", count);
    for (int i = 0; i < 2 && readers[i]; i++) {
        json_t *got = get_run(readers[i], "parts");
        assert_json_equal(got, doc);
        json_decref(got);
    }
    json_decref(head);
    json_decref(count);
    if (readers[1])
        rn_provider_close(readers[1]);
    json_decref(fin);
    json_decref(start);
    json_decref(doc);
}

static const struct named_test tests[] = {
    {"supports_parallel_writes", test_supports_parallel_writes},
    {"bad_settings_refused", test_bad_settings_refused},
    {"replay_round_trip", test_replay_round_trip},
    {"create_full_document", test_create_full_document},
    {"create_twice", test_create_twice},
    {"get_missing", test_get_missing},
    {"missing_parent", test_missing_parent},
    {"put_step_replaces", test_put_step_replaces},
    {"status_update", test_status_update},
    {"parameters_update", test_parameters_update},
    {"hand_over_between_writers", test_hand_over_between_writers},
    {"reads_foreign_layout", test_reads_foreign_layout},
    {"many_root_steps", test_many_root_steps},
    {"many_branch_steps", test_many_branch_steps},
    {"killed_writer", test_killed_writer},
    {"parallel_branch_writers", test_parallel_branch_writers},
    {"run_history", test_run_history},
    {"deferred_writes", test_deferred_writes},
    {"read_parts", test_read_parts},
};

int main(void)
{
    size_t nrows = sizeof rows / sizeof *rows, ntests = sizeof tests / sizeof *tests;
    struct CMUnitTest *all = calloc(nrows * ntests, sizeof *all);
    char (*names)[128] = calloc(nrows * ntests, sizeof *names);
    if (!all || !names)
        return 1;
    size_t k = 0;
    for (size_t r = 0; r < nrows; r++) {
        for (size_t t = 0; t < ntests; t++, k++) {
            snprintf(names[k], sizeof names[k], "%s[%s%s]", tests[t].name, rows[r].type,
                     rows[r].config ? ", configured" : "");
            all[k].name = names[k];
            all[k].test_func = tests[t].fn;
            all[k].setup_func = setup;
            all[k].teardown_func = teardown;
            all[k].initial_state = (void *)&rows[r];
        }
    }
    int failed = _cmocka_run_group_tests("run_log_store", all, k, NULL, NULL);
    free(all);
    free(names);
    return failed;
}
