/*
 * The incremental run-log writer (run_log_stores/json_docfile.c), tested
 * from outside: after every write the visible file must be exactly what
 * Python's json.dumps(indent=4) prints for the document (in the store's
 * key order, status padding aside), and the hidden shadow exactly the
 * previous version, whatever sequence of changes led there.  Random
 * sequences, both write modes, both layouts.
 */
#define _XOPEN_SOURCE 700

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "json_docfile.h"
#include "json_skip.h"

struct fx {
    char dir[64];
    char old_cwd[PATH_MAX];
};

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
    assert_non_null(getcwd(fx->old_cwd, sizeof fx->old_cwd));
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rn-docfile-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(chdir(fx->dir), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(chdir(fx->old_cwd), 0);
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

#define OK(expr)                                                                              \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        if (rc_ != 0)                                                                         \
            fail_msg("%s:%d: %s -> %s: %s", __FILE__, __LINE__, #expr, rn_error_name(rc_),     \
                     rn_error_last());                                                        \
    } while (0)

/* ---- the expected text ---------------------------------------------------- */

static const char *const run_order[] = {"run_id", "dag_hash", "tag", "status", "run_config",
                                        "steps", "job", "parameters", NULL};
static const char *const step_order[] = {"name", "internal_name", "status", "step_type",
                                         "message", "mock", "attempts", "branches",
                                         "data_catalog", NULL};
static const char *const branch_order[] = {"internal_name", "status", "steps", "parameters",
                                           NULL};

static int listed(const char *const *order, const char *key)
{
    for (size_t i = 0; order[i]; i++)
        if (!strcmp(order[i], key))
            return 1;
    return 0;
}

/* `doc` with every object of the run log re-keyed in the store's order:
 * kind 0 root, 1 step, 2 branch. */
static json_t *ordered(const json_t *doc, int kind)
{
    const char *const *order = kind == 0 ? run_order : kind == 1 ? step_order : branch_order;
    const char *ck = kind == 1 ? "branches" : "steps";
    json_t *out = json_object();
    for (size_t i = 0; order[i]; i++) {
        json_t *v = json_object_get(doc, order[i]);
        if (!strcmp(order[i], ck)) {
            json_t *m = json_object();
            const char *k;
            json_t *kid;
            json_object_foreach(v, k, kid) json_object_set_new(m, k, ordered(kid, kind == 1 ? 2 : 1));
            json_object_set_new(out, ck, m);
        } else if (v) {
            json_object_set(out, order[i], v);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) {
        if (!listed(order, k))
            json_object_set(out, k, v);
    }
    return out;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len;
    if (rn_read_file(path, &text, &len) != 0)
        return NULL;
    return text;
}

/* Spaces the writer kept between the root's steps and its closing
 * members (large parameters) in the last file normalised. */
static size_t gap_seen;

/* The file's text without what the store adds on purpose: spaces after a
 * status value, after the root's map of steps (room for more steps in
 * front of large parameters) and at the end. */
static void normalise(char *t)
{
    static const char key[] = "\"status\": \"";
    gap_seen = 0;
    char *w = t;
    for (char *r = t; *r;) {
        /* Where the root's steps end: a closing brace at the first level
         * of indentation, or an empty map.  Nothing else the writer
         * prints is followed by spaces. */
        if (!strncmp(r, "\n    }", 6) || !strncmp(r, "\"steps\": {}", 11)) {
            size_t n = r[0] == '\n' ? 6 : 11, k = 0;
            memmove(w, r, n);
            w += n;
            r += n;
            while (r[k] == ' ')
                k++;
            if (k && (r[k] == ',' || r[k] == '\n')) {
                gap_seen += k;
                r += k;
            }
            continue;
        }
        if (!strncmp(r, key, sizeof key - 1)) {
            size_t n = sizeof key - 1;
            memmove(w, r, n);
            w += n;
            r += n;
            while (*r && *r != '"')
                *w++ = *r++;
            if (*r)
                *w++ = *r++;
            while (*r == ' ')
                r++;
            continue;
        }
        *w++ = *r++;
    }
    while (w > t && (w[-1] == ' ' || w[-1] == '\n'))
        w--;
    *w = '\0';
}

static void expect_text(const char *path, const json_t *model, int kind)
{
    char *got = slurp(path);
    if (!got)
        fail_msg("%s cannot be read: %s", path, rn_error_last());
    normalise(got);
    json_t *o = ordered(model, kind);
    char *want = rn_json_dumps_py(o, RN_JSON_INDENT4);
    json_decref(o);
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        fail_msg("%s differs from json.dumps at byte %zu:\n--- got\n%.200s\n--- want\n%.200s", path,
                 i, got + (i > 80 ? i - 80 : 0), want + (i > 80 ? i - 80 : 0));
    }
    free(got);
    free(want);
}

/* ---- a random run ------------------------------------------------------------- */

static unsigned seed;

static int rnd(int n)
{
    return (int)(rand_r(&seed) % (unsigned)n);
}

static json_t *text_of(int n)
{
    char *s = malloc((size_t)n + 1);
    for (int i = 0; i < n; i++)
        s[i] = (char)('a' + (i * 7 + n) % 26);
    s[n] = '\0';
    json_t *v = json_string(s);
    free(s);
    return v;
}

static const char *statuses[] = {"CREATED", "PROCESSING", "SUCCESS", "FAIL",
                                 "A_CUSTOM_STATUS_OF_SOME_LENGTH"};

static json_t *new_step(const char *iname)
{
    const char *dot = strrchr(iname, '.');
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[], s:{}, s:[]}", "name",
                     dot ? dot + 1 : iname, "internal_name", iname, "status", "PROCESSING",
                     "step_type", "task", "message", "", "mock", 0, "attempts", "branches",
                     "data_catalog");
}

/* A new version of a stored step: other status, attempts of another size,
 * sometimes a member the store does not know. */
static void mutate_step(json_t *s)
{
    json_object_set_new(s, "status", json_string(statuses[rnd(5)]));
    json_t *att = json_array();
    for (int i = rnd(3); i > 0; i--)
        json_array_append_new(att, json_pack("{s:i, s:o, s:{s:f, s:n, s:b}, s:s}", "attempt_number",
                                             i, "message", text_of(rnd(300)), "input_parameters",
                                             "x", 0.1 * rnd(100), "y", "z", rnd(2), "caf\xc3\xa9",
                                             "\xe2\x9c\x93"));
    json_object_set_new(s, "attempts", att);
    if (rnd(4) == 0)
        json_object_set_new(s, "x-extra", text_of(rnd(50)));
    if (rnd(6) == 0)
        json_object_del(s, "x-extra");
}

struct model {
    json_t *doc;          /* the nested document, as the store should hold it */
    int big;              /* parameters large enough to be kept apart */
    char names[400][96];  /* branches (holders of steps), "" = the root */
    int nholders;
    int nsteps;
    int nested;
};

static json_t *holder_steps(struct model *m, const char *holder)
{
    if (!*holder)
        return json_object_get(m->doc, "steps");
    /* holder = <step>.<branch>: find the step, then the branch. */
    char step[96];
    snprintf(step, sizeof step, "%.*s", (int)(strrchr(holder, '.') - holder), holder);
    const char *dot = strrchr(step, '.');
    char parent[96] = "";
    if (dot)
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - step), step);
    json_t *s = json_object_get(holder_steps(m, parent), step);
    return json_object_get(json_object_get(json_object_get(s, "branches"), holder), "steps");
}

/* One random change, applied to the model and to the docfile. */
static void random_op(struct model *m, rn_docfile *df)
{
    int op = rnd(m->nested ? 10 : 8);
    json_t *root = m->doc;
    if (op <= 2 || m->nsteps == 0) {
        /* a new step at the end of some holder */
        const char *holder = m->names[rnd(m->nholders)];
        char name[96];
        snprintf(name, sizeof name, "%s%ss%d", holder, *holder ? "." : "", m->nsteps++);
        json_t *s = new_step(name);
        OK(rn_docfile_put(df, *holder ? holder : NULL, RN_DF_STEP, name, s));
        json_object_set_new(holder_steps(m, holder), name, s);
    } else if (op <= 4) {
        /* a stored step replaced, most often the last one of its holder */
        const char *holder = m->names[rnd(m->nholders)];
        json_t *steps = holder_steps(m, holder);
        if (!json_object_size(steps))
            return;
        const char *k, *pick = NULL;
        json_t *v;
        int target = rnd(3) ? (int)json_object_size(steps) - 1 : rnd((int)json_object_size(steps));
        int i = 0;
        json_object_foreach(steps, k, v) {
            if (i++ == target)
                pick = k;
        }
        json_t *s = json_object_get(steps, pick);
        mutate_step(s);
        json_t *with_junk = json_deep_copy(s);
        json_object_set_new(with_junk, "branches", json_pack("{s:{}}", "ignored"));
        OK(rn_docfile_put(df, *holder ? holder : NULL, RN_DF_STEP, pick, with_junk));
        json_decref(with_junk);
    } else if (op == 5) {
        json_object_set_new(root, "status", json_string(statuses[rnd(5)]));
        OK(rn_docfile_set_root(df, root));
    } else if (op == 6) {
        json_t *p = json_object();
        for (int i = rnd(20); i > 0; i--) {
            char k[16];
            snprintf(k, sizeof k, "p%d", i);
            json_object_set_new(p, k, json_pack("{s:s, s:i, s:i}", "kind", "json", "value", i,
                                                "description", i));
        }
        if (m->big && rnd(3)) {
            /* A map's items: what makes the parameters large. */
            json_t *items = json_array();
            for (int i = 300 + rnd(900); i > 0; i--)
                json_array_append_new(items, json_integer(i));
            json_object_set_new(p, "items", json_pack("{s:s, s:o}", "kind", "json", "value",
                                                      items));
        }
        json_object_set_new(root, "parameters", p);
        if (json_object_get(root, "job") && rnd(3) == 0)
            json_object_set_new(root, "job", rnd(2) ? json_null()
                                                    : json_pack("{s:s}", "status", "SUCCESS"));
        OK(rn_docfile_set_root(df, root));
    } else if (op == 7) {
        if (rnd(5) == 0) {
            json_object_set_new(root, "run_config", json_pack("{s:o}", "dag", text_of(rnd(900))));
            OK(rn_docfile_set_root(df, root));
        } else {
            OK(rn_docfile_set_root(df, root)); /* unchanged: nothing to write */
        }
    } else if (m->nholders < 400) {
        /* nested layout: a branch under some stored step */
        const char *holder = m->names[rnd(m->nholders)];
        json_t *steps = holder_steps(m, holder);
        if (!json_object_size(steps))
            return;
        const char *k, *pick = NULL;
        json_t *v;
        int target = rnd((int)json_object_size(steps)), i = 0;
        json_object_foreach(steps, k, v) {
            if (i++ == target)
                pick = k;
        }
        char bname[96];
        snprintf(bname, sizeof bname, "%s.b%d", pick, m->nholders);
        if (strlen(bname) > 60)
            return;
        json_t *b = json_pack("{s:s, s:s, s:{}, s:{}}", "internal_name", bname, "status",
                              statuses[rnd(4)], "steps", "parameters");
        OK(rn_docfile_put(df, pick, RN_DF_BRANCH, bname, b));
        json_object_set_new(json_object_get(json_object_get(steps, pick), "branches"), bname, b);
        snprintf(m->names[m->nholders++], sizeof m->names[0], "%s", bname);
    }
}

static json_t *start_root(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{}, s:n, s:{}}", "run_id", "r", "dag_hash",
                     "", "tag", "t", "status", "PROCESSING", "run_config", "dag", "x", "steps",
                     "job", "parameters");
}

/* Reloads of a random run that came from a layout cache, all runs. */
static size_t layout_reloads;

static void run_random(int in_place, int nested, unsigned s, int nops, int big)
{
    struct model *m = calloc(1, sizeof *m);
    rn_docfile *df;
    size_t gaps = 0, caches = 0;
    m->doc = start_root();
    m->nholders = 1;
    m->nested = nested;
    m->big = big;
    seed = s;
    OK(rn_docfile_new(&df, "logs/run.json", RN_DF_RUN, nested, 0));
    if (in_place)
        rn_docfile_use_in_place(df);
    OK(rn_docfile_set_root(df, m->doc));
    OK(rn_docfile_flush(df));
    json_t *prev = NULL;
    for (int i = 0; i < nops; i++) {
        json_t *before = json_deep_copy(m->doc);
        random_op(m, df);
        OK(rn_docfile_flush(df));
        expect_text("logs/run.json", m->doc, 0);
        gaps += gap_seen;
        /* The shadow holds the version before the last change (a change
         * of nothing writes nothing). */
        int changed = !json_equal(before, m->doc);
        struct stat st;
        if (changed) {
            json_decref(prev);
            prev = before;
        } else {
            json_decref(before);
        }
        if (!in_place && stat("logs/.run.json.shadow", &st) == 0 && prev)
            expect_text("logs/.run.json.shadow", prev, 0);
        if (i % 97 == 96) {
            /* Another process's view: a fresh reader sees the same. */
            rn_docfile *other;
            OK(rn_docfile_new(&other, "logs/run.json", RN_DF_RUN, nested, 0));
            OK(rn_docfile_load(other));
            json_t *got;
            OK(rn_docfile_json(&got, other));
            assert_true(json_equal(got, m->doc));
            json_decref(got);
            /* ...and the same one node at a time. */
            json_t *want = json_deep_copy(m->doc);
            json_object_set_new(want, "steps", json_object());
            json_object_del(want, "run_config"); /* a head comes without it */
            OK(rn_docfile_node_json(&got, other, NULL, RN_DF_RUN));
            assert_true(json_equal(got, want));
            json_decref(got);
            json_decref(want);
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(m->doc, "steps"), k, v) {
                want = json_deep_copy(v);
                json_object_set_new(want, "branches", json_object());
                OK(rn_docfile_node_json(&got, other, k, RN_DF_STEP));
                assert_true(json_equal(got, want));
                json_decref(got);
                json_decref(want);
            }
            rn_docfile_free(other);
        }
        if (i % 251 == 250) {
            /* Another process goes on with the run (a retry): it reads
             * the file and writes incrementally from there. */
            rn_docfile_free(df);
            OK(rn_docfile_new(&df, "logs/run.json", RN_DF_RUN, nested, 0));
            if (in_place)
                rn_docfile_use_in_place(df);
            OK(rn_docfile_load(df));
            /* What the process before left for this one: the shadow equal
             * to the file (its root not made final: shadow_keep), or none. */
            if (!in_place && stat("logs/.run.json.shadow", &st) == 0) {
                expect_text("logs/.run.json.shadow", m->doc, 0);
                json_decref(prev);
                prev = json_deep_copy(m->doc);
            }
            /* A large file: where its nodes lie came from the layout cache
             * the process before left (and the writes that follow check
             * every offset it gave). */
            struct stat big;
            if (stat("logs/run.json", &big) == 0 && big.st_size >= 64 * 1024) {
                assert_true(rn_docfile_loaded_from_cache(df));
                caches++;
            }
        }
    }
    json_t *got;
    OK(rn_docfile_json(&got, df));
    assert_true(json_equal(got, m->doc));
    json_decref(got);
    /* Large parameters were kept apart while the run was written, and
     * finishing removes the room kept for growth. */
    if (big)
        assert_true(gaps > 0);
    layout_reloads += caches;
    /* The run ends, its final status written last as an engine does. */
    json_object_set_new(m->doc, "status", json_string("SUCCESS"));
    OK(rn_docfile_set_root(df, m->doc));
    OK(rn_docfile_flush(df));
    OK(rn_docfile_finish(df));
    expect_text("logs/run.json", m->doc, 0);
    assert_int_equal(gap_seen, 0);
    rn_docfile_free(df);
    struct stat st;
    assert_int_not_equal(stat("logs/.run.json.shadow", &st), 0); /* removed */
    json_decref(prev);
    json_decref(m->doc);
    free(m);
}

/* The scanner accepts what Python's json.loads accepts, and nothing else. */
static void test_skip_value(void **state)
{
    (void)state;
    static const char *const good[] = {
        "0", "-0.5e+3", "12", "\"a\\u00e9\\n\"", "[]", "{}", "[1, [2, {\"a\": [true, false, null]}]]",
        "{\"a\" : {\"b\":\"{}\"} , \"c\":[]}", "NaN", "-Infinity", "Infinity", "1E5",
    };
    static const char *const bad[] = {
        "", "01", "1.", "-", ".5", "[1,]", "{\"a\"}", "{\"a\":1,}", "[1 2]", "tru", "\"a",
        "\"\\x\"", "\"\\u12g4\"", "{1: 2}", "[", "{\"a\":", "\"tab\there\"",
    };
    rn_jskip why;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *t = good[i], *end = t + strlen(t);
        const char *after = rn_json_skip_value(t, end, &why);
        if (after != end)
            fail_msg("good JSON %s not skipped whole", t);
        assert_int_equal(why, RN_JSKIP_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *t = bad[i], *end = t + strlen(t);
        const char *after = rn_json_skip_value(t, end, &why);
        if (after == end)
            fail_msg("bad JSON %s accepted", t);
    }
    const char *na = "\"caf\xc3\xa9\"";
    assert_null(rn_json_skip_value(na, na + strlen(na), &why));
    assert_int_equal(why, RN_JSKIP_NONASCII);
    /* Long strings and runs of whitespace (read sixteen bytes at a time
     * where SSE2 is there): what stops the scan is found at every offset,
     * and nothing past the end is read (each text in memory of its own
     * size, for the sanitizers). */
    for (size_t k = 0; k < 40; k++) {
        for (size_t m = 0; m < 20; m += 7) {
            char *t = malloc(k + m + 8);
            assert_non_null(t);
            /* "aaa\nbb" is good; a control byte, a non-ASCII byte or no
             * closing quote is not. */
            size_t n = 0;
            t[n++] = '"';
            memset(t + n, 'a', k);
            n += k;
            t[n++] = '\\';
            t[n++] = 'n';
            memset(t + n, 'b', m);
            n += m;
            t[n++] = '"';
            assert_ptr_equal(rn_json_skip_value(t, t + n, &why), t + n);
            assert_null(rn_json_skip_value(t, t + n - 1, &why));
            assert_int_equal(why, RN_JSKIP_BAD);
            t[1 + k] = '\t';
            assert_null(rn_json_skip_value(t, t + n, &why));
            assert_int_equal(why, RN_JSKIP_BAD);
            t[1 + k] = (char)0xc3;
            assert_null(rn_json_skip_value(t, t + n, &why));
            assert_int_equal(why, RN_JSKIP_NONASCII);
            /* [ spaces, a line break, spaces 1 spaces ] */
            n = 0;
            t[n++] = '[';
            memset(t + n, ' ', k);
            n += k;
            t[n++] = '\n';
            memset(t + n, ' ', m);
            n += m;
            t[n++] = '1';
            t[n++] = '\r';
            t[n++] = ']';
            assert_ptr_equal(rn_json_skip_value(t, t + n, &why), t + n);
            assert_null(rn_json_skip_value(t, t + n - 1, &why));
            t[1 + k] = 'x';
            assert_null(rn_json_skip_value(t, t + n, &why));
            free(t);
        }
    }
    /* Deep nesting is refused, not a crash. */
    char deep[4001];
    memset(deep, '[', 2000);
    memset(deep + 2000, ']', 2000);
    deep[4000] = '\0';
    assert_null(rn_json_skip_value(deep, deep + 4000, &why));
}

static void test_random_nested_exchange(void **state)
{
    (void)state;
    run_random(0, 1, 1, 1500, 0);
    run_random(0, 1, 2, 1500, 0);
}

static void test_random_flat_exchange(void **state)
{
    (void)state;
    run_random(0, 0, 3, 1500, 0);
}

static void test_random_nested_in_place(void **state)
{
    (void)state;
    run_random(1, 1, 4, 1500, 0);
}

/* The same with parameters large enough to get room in front of them. */
static void test_random_large_parameters(void **state)
{
    (void)state;
    layout_reloads = 0;
    run_random(0, 1, 5, 800, 1);
    assert_true(layout_reloads > 0); /* the nested layout through its cache */
    run_random(0, 0, 6, 500, 1);
    run_random(1, 1, 7, 500, 1);
}

/* Another writer replaces the file: the next change is applied to what is
 * on disk now, not to this process's stale copy. */
static void test_refresh_after_foreign_write(void **state)
{
    (void)state;
    rn_docfile *a, *b;
    json_t *root = start_root();
    OK(rn_docfile_new(&a, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_set_root(a, root));
    json_t *s1 = new_step("one");
    OK(rn_docfile_put(a, NULL, RN_DF_STEP, "one", s1));
    OK(rn_docfile_flush(a));

    OK(rn_docfile_new(&b, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_load(b));
    json_t *s2 = new_step("two");
    OK(rn_docfile_put(b, NULL, RN_DF_STEP, "two", s2));
    OK(rn_docfile_flush(b));

    int reloaded = 0;
    OK(rn_docfile_refresh(a, &reloaded));
    assert_true(reloaded);
    json_t *s3 = new_step("three");
    OK(rn_docfile_put(a, NULL, RN_DF_STEP, "three", s3));
    OK(rn_docfile_flush(a));
    OK(rn_docfile_refresh(a, &reloaded));
    assert_false(reloaded); /* its own write is not someone else's */

    json_t *got;
    OK(rn_docfile_json(&got, a));
    assert_int_equal(json_object_size(json_object_get(got, "steps")), 3);
    json_decref(got);
    rn_docfile_free(a);
    rn_docfile_free(b);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(root);
}

/* The head as a reader that loaded the file (and then wrote it) reads it:
 * without run_config, also after a write moved run_config's text (a
 * longer tag) and after one that changed it. */
static void expect_head(rn_docfile *df, const json_t *root)
{
    json_t *want = json_deep_copy(root), *got = NULL;
    json_object_del(want, "run_config");
    json_object_set_new(want, "steps", json_object());
    OK(rn_docfile_node_json(&got, df, NULL, RN_DF_RUN));
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

static void test_head_after_writes(void **state)
{
    (void)state;
    rn_docfile *a, *b;
    json_t *root = start_root();
    json_object_set_new(root, "run_config", json_pack("{s:s, s:[i, i, i]}", "dag", "x", "n", 1, 2, 3));
    OK(rn_docfile_new(&a, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_set_root(a, root));
    json_t *s1 = new_step("one");
    OK(rn_docfile_put(a, NULL, RN_DF_STEP, "one", s1));
    OK(rn_docfile_flush(a));

    OK(rn_docfile_new(&b, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_load(b));
    expect_head(b, root);
    json_object_set_new(root, "tag", json_string("a tag long enough to move what follows"));
    json_t *same = json_deep_copy(root); /* another object, the same run_config */
    OK(rn_docfile_set_root(b, same));
    OK(rn_docfile_flush(b));
    expect_head(b, root);
    json_object_set_new(root, "tag", json_string("t")); /* and back */
    json_object_set_new(same, "tag", json_string("t"));
    OK(rn_docfile_set_root(b, same));
    OK(rn_docfile_flush(b));
    expect_head(b, root);
    /* A new object (the very object handed before counts as unchanged). */
    json_object_set_new(same, "run_config", json_pack("{s:s}", "dag", "changed"));
    OK(rn_docfile_set_root(b, same));
    OK(rn_docfile_flush(b));
    expect_head(b, root);
    json_t *whole = NULL;
    OK(rn_docfile_json(&whole, b));
    assert_string_equal(json_string_value(json_object_get(json_object_get(whole, "run_config"), "dag")),
                        "changed");
    json_decref(whole);
    rn_docfile_free(a);
    rn_docfile_free(b);
    json_decref(s1);
    json_decref(same);
    json_decref(root);
}

/* A status change rewrites a few bytes in place; nothing after it moves. */
static void test_status_is_written_in_place(void **state)
{
    (void)state;
    rn_docfile *df;
    json_t *root = start_root();
    OK(rn_docfile_new(&df, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_set_root(df, root));
    for (int i = 0; i < 50; i++) {
        char n[16];
        snprintf(n, sizeof n, "s%d", i);
        json_t *s = new_step(n);
        OK(rn_docfile_put(df, NULL, RN_DF_STEP, n, s));
        json_decref(s);
    }
    OK(rn_docfile_flush(df));
    char *before = slurp("run.json");
    json_object_set_new(root, "status", json_string("SUCCESS"));
    OK(rn_docfile_set_root(df, root));
    OK(rn_docfile_flush(df));
    char *after = slurp("run.json");
    assert_int_equal(strlen(before), strlen(after));
    size_t diff = 0;
    for (size_t i = 0; before[i]; i++)
        diff += before[i] != after[i];
    assert_true(diff > 0 && diff <= 12);
    free(before);
    free(after);
    rn_docfile_free(df);
    json_decref(root);
}

/* Memory holds the shape of the document, not its contents: a file this
 * process wrote that is removed under it cannot be written again from
 * memory, and the next change says so instead of writing a hollow file. */
static void test_removed_file_is_an_error(void **state)
{
    (void)state;
    rn_docfile *df;
    json_t *root = start_root();
    json_t *s1 = new_step("one");
    OK(rn_docfile_new(&df, "run.json", RN_DF_RUN, 1, 0));
    OK(rn_docfile_set_root(df, root));
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "one", s1));
    OK(rn_docfile_flush(df));
    OK(rn_docfile_flush(df)); /* nothing changed: nothing written */
    assert_int_equal(unlink("run.json"), 0);
    assert_int_equal(rn_docfile_refresh(df, NULL), RN_EIO);
    assert_non_null(strstr(rn_error_last(), "removed"));
    assert_int_equal(rn_docfile_put(df, NULL, RN_DF_STEP, "one", s1), RN_EIO);
    struct stat st;
    assert_int_not_equal(stat("run.json", &st), 0);
    rn_docfile_free(df);
    json_decref(s1);
    json_decref(root);
}

/* ---- the layout cache ------------------------------------------------------ */

/* A process opening the file: loads it (from the layout cache or not, as
 * `cached` says) and checks what it reads, whole and one node at a time;
 * the reader stays open for the caller. */
static rn_docfile *open_and_check(const char *path, rn_df_kind kind, const json_t *model,
                                  int cached)
{
    rn_docfile *df;
    OK(rn_docfile_new(&df, path, kind, 0, 0));
    OK(rn_docfile_load(df));
    if (rn_docfile_loaded_from_cache(df) != cached)
        fail_msg("%s was loaded %s its layout cache", path, cached ? "without" : "from");
    json_t *got;
    OK(rn_docfile_json(&got, df));
    assert_true(json_equal(got, model));
    json_decref(got);
    json_t *steps = json_object_get(model, "steps");
    const char *k;
    json_t *v;
    json_object_foreach(steps, k, v) {
        OK(rn_docfile_node_json(&got, df, k, RN_DF_STEP));
        assert_true(json_equal(got, v));
        json_decref(got);
    }
    return df;
}

/* 200 steps of ~500 bytes: a document large enough to get a cache. */
static json_t *large_doc(rn_docfile *df, const char *branch)
{
    json_t *doc = branch ? json_pack("{s:s, s:s, s:{}, s:{}}", "internal_name", branch, "status",
                                     "PROCESSING", "steps", "parameters")
                         : start_root();
    OK(rn_docfile_set_root(df, doc));
    for (int i = 0; i < 200; i++) {
        char n[64];
        snprintf(n, sizeof n, "%s%ss%d", branch ? branch : "", branch ? "." : "", i);
        json_t *st = new_step(n);
        json_object_set_new(st, "message", text_of(400 + i % 7));
        OK(rn_docfile_put(df, NULL, RN_DF_STEP, n, st));
        json_object_set_new(json_object_get(doc, "steps"), n, st);
    }
    OK(rn_docfile_flush(df));
    return doc;
}

/*
 * A process that leaves a large run in progress leaves the shadow equal to
 * the file and names it in the layout cache: the next process writes its
 * first change into it, incrementally (the shadow's inode becomes the
 * visible file's: no new file, no copy of the whole document), the file
 * stays exactly json.dumps' and the shadow holds the version before.  A
 * reader leaves it alone; a shadow changed since is not trusted; the
 * process that ends the run removes it.
 */
static void test_shadow_left_for_next_process(void **state)
{
    (void)state;
    rn_docfile *df;
    struct stat st, sh;
    OK(rn_docfile_new(&df, "run.json", RN_DF_RUN, 0, 0));
    json_t *doc = large_doc(df, NULL);
    json_t *steps = json_object_get(doc, "steps");
    json_t *s = json_object_get(steps, "s10");
    mutate_step(s);
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "s10", s));
    OK(rn_docfile_flush(df));
    rn_docfile_free(df);
    assert_int_equal(stat(".run.json.shadow", &sh), 0);
    expect_text(".run.json.shadow", doc, 0);

    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    rn_docfile_free(df); /* a reader */
    assert_int_equal(stat(".run.json.shadow", &st), 0);
    assert_int_equal(st.st_ino, sh.st_ino);
    expect_text(".run.json.shadow", doc, 0);

    /* The next writer. */
    json_t *before = json_deep_copy(doc);
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    json_t *n = new_step("s200");
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "s200", n));
    json_object_set_new(steps, "s200", n);
    OK(rn_docfile_flush(df));
    expect_text("run.json", doc, 0);
    assert_int_equal(stat("run.json", &st), 0);
    assert_int_equal(st.st_ino, sh.st_ino);
    expect_text(".run.json.shadow", before, 0);
    rn_docfile_free(df);
    expect_text(".run.json.shadow", doc, 0);
    json_decref(before);

    /* Someone changes the shadow: the next writer copies the file anew
     * (trusting it would put the stray byte in the document). */
    int fd = open(".run.json.shadow", O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    s = json_object_get(steps, "s20");
    mutate_step(s);
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "s20", s));
    OK(rn_docfile_flush(df));
    expect_text("run.json", doc, 0);

    /* The run ends: no shadow left. */
    json_object_set_new(doc, "status", json_string("FAIL"));
    OK(rn_docfile_set_root(df, doc));
    OK(rn_docfile_flush(df));
    rn_docfile_free(df);
    expect_text("run.json", doc, 0);
    assert_int_not_equal(stat(".run.json.shadow", &st), 0);
    json_decref(doc);
}

/*
 * The process that last wrote (or read) a large file leaves where its
 * nodes lie in .<name>.layout; the next one reads that instead of
 * scanning, and writes on from it.  A cache that is not the file's (the
 * file rewritten by someone else, a copy, a damaged cache) is ignored.
 */
static void test_layout_cache(void **state)
{
    (void)state;
    rn_docfile *df;
    struct stat st;
    OK(rn_docfile_new(&df, "run.json", RN_DF_RUN, 0, 0));
    json_t *doc = large_doc(df, NULL);
    assert_int_not_equal(stat(".run.json.layout", &st), 0); /* written when the process ends */
    rn_docfile_free(df);
    assert_int_equal(stat(".run.json.layout", &st), 0);

    /* Read through the cache, twice (a reader leaves it as it is). */
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    rn_docfile_free(df);
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);

    /* Written on from the cache: a step in the middle grows, the root
     * changes; the text stays exactly json.dumps'. */
    json_t *mid = json_object_get(json_object_get(doc, "steps"), "s100");
    mutate_step(mid);
    json_object_set_new(mid, "message", text_of(1500));
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "s100", mid));
    json_object_set_new(doc, "status", json_string("SUCCESS"));
    OK(rn_docfile_set_root(df, doc));
    OK(rn_docfile_flush(df));
    expect_text("run.json", doc, 0);
    rn_docfile_free(df);
    /* ...and the cache follows the file. */
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    json_t *again = json_object_get(json_object_get(doc, "steps"), "s150");
    json_object_set_new(again, "status", json_string("FAIL"));
    OK(rn_docfile_put(df, NULL, RN_DF_STEP, "s150", again));
    OK(rn_docfile_flush(df));
    expect_text("run.json", doc, 0);
    rn_docfile_free(df);
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    rn_docfile_free(df);

    /* Another writer rewrites the file in place, the same steps with
     * other lengths (runnable's own store does this): the cache is not
     * this file's any more.  The sleep puts the write in a later tick of
     * the clock the file system stamps files with. */
    nanosleep(&(struct timespec){0, 30 * 1000 * 1000}, NULL);
    json_object_set_new(json_object_get(json_object_get(doc, "steps"), "s3"), "message",
                        text_of(10));
    char *text = rn_json_dumps_py(doc, RN_JSON_INDENT4);
    FILE *f = fopen("run.json", "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    df = open_and_check("run.json", RN_DF_RUN, doc, 0);
    rn_docfile_free(df); /* a reader that scanned leaves a cache */
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    rn_docfile_free(df);

    /* A damaged cache: ignored, and replaced. */
    f = fopen(".run.json.layout", "r+");
    assert_non_null(f);
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    df = open_and_check("run.json", RN_DF_RUN, doc, 0);
    rn_docfile_free(df);
    df = open_and_check("run.json", RN_DF_RUN, doc, 1);
    rn_docfile_free(df);
    assert_int_equal(truncate(".run.json.layout", 100), 0);
    df = open_and_check("run.json", RN_DF_RUN, doc, 0);
    rn_docfile_free(df);

    /* A copy of the run (another inode): the copied cache is not its own. */
    assert_int_equal(mkdir("copy", 0755), 0);
    text = slurp(".run.json.layout");
    assert_int_equal(stat(".run.json.layout", &st), 0);
    f = fopen("copy/.run.json.layout", "w");
    assert_int_equal(fwrite(text, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    free(text);
    text = slurp("run.json");
    f = fopen("copy/run.json", "w");
    fputs(text, f);
    fclose(f);
    free(text);
    df = open_and_check("copy/run.json", RN_DF_RUN, doc, 0);
    rn_docfile_free(df);

    /* A branch file's cache gives its internal name (chunked-fs finds
     * branch files by it). */
    OK(rn_docfile_new(&df, "BranchLog-m.1.json", RN_DF_BRANCH, 0, 0));
    json_t *br = large_doc(df, "m.1");
    rn_docfile_free(df);
    df = open_and_check("BranchLog-m.1.json", RN_DF_BRANCH, br, 1);
    assert_string_equal(rn_docfile_root_name(df), "m.1");
    rn_docfile_free(df);

    /* A small document gets none: it scans faster than a second file
     * opens. */
    OK(rn_docfile_new(&df, "small.json", RN_DF_RUN, 0, 0));
    json_t *small = start_root();
    OK(rn_docfile_set_root(df, small));
    OK(rn_docfile_flush(df));
    rn_docfile_free(df);
    assert_int_not_equal(stat(".small.json.layout", &st), 0);
    json_decref(small);
    json_decref(br);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_value),
        cmocka_unit_test_setup_teardown(test_random_nested_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_flat_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_nested_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_large_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_after_foreign_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_after_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_is_written_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_file_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shadow_left_for_next_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
