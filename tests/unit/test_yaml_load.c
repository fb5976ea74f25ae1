/* YAML -> JSON: YAML 1.2 scalars, anchors, merge keys, positions, errors. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "pipeline.h"
#include "yaml_skip.h"

/* Loads `text`, expecting success; returns the document. */
static json_t *load_ok(const char *text, json_t **positions)
{
    rn_diag d = {0};
    json_t *doc = NULL;
    int rc = rn_yaml_load_string(text, strlen(text), "t.yaml", &doc, positions, &d);
    for (size_t i = 0; i < d.n; i++)
        print_error("unexpected: %d:%d: %s\n", d.items[i].line, d.items[i].col,
                    d.items[i].message);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(doc);
    rn_diag_free(&d);
    return doc;
}

/* Loads `text`, expecting failure with a diagnostic at line:col whose
 * message contains `needle`. */
static void load_bad(const char *text, int line, int col, const char *needle)
{
    rn_diag d = {0};
    json_t *doc = NULL, *pos = NULL;
    int rc = rn_yaml_load_string(text, strlen(text), "t.yaml", &doc, &pos, &d);
    assert_int_equal(rc, RN_EINVAL);
    assert_null(doc);
    assert_null(pos);
    int found = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.items[i].line == line && d.items[i].col == col &&
            strstr(d.items[i].message, needle))
            found = 1;
        assert_string_equal(d.items[i].file, "t.yaml");
    }
    if (!found) {
        for (size_t i = 0; i < d.n; i++)
            print_error("got %d:%d: %s\n", d.items[i].line, d.items[i].col, d.items[i].message);
        fail_msg("no diagnostic at %d:%d containing '%s'", line, col, needle);
    }
    rn_diag_free(&d);
}

static void test_booleans_yaml12(void **state)
{
    (void)state;
    json_t *doc = load_ok("a: true\nb: True\nc: TRUE\nd: false\ne: False\nf: FALSE\n"
                          "g: yes\nh: no\ni: on\nj: off\nk: y\nl: n\nm: Yes\n", NULL);
    const char *t[] = {"a", "b", "c"}, *f[] = {"d", "e", "f"};
    for (int i = 0; i < 3; i++) {
        assert_true(json_is_true(json_object_get(doc, t[i])));
        assert_true(json_is_false(json_object_get(doc, f[i])));
    }
    const char *s[] = {"g", "yes", "h", "no", "i", "on", "j", "off", "k", "y", "l", "n",
                       "m", "Yes"};
    for (int i = 0; i < 14; i += 2)
        assert_string_equal(json_string_value(json_object_get(doc, s[i])), s[i + 1]);
    json_decref(doc);
}

static void test_nulls(void **state)
{
    (void)state;
    json_t *doc = load_ok("a: null\nb: Null\nc: NULL\nd: ~\ne:\nf: nULL\ng: ''\n", NULL);
    const char *n[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        assert_true(json_is_null(json_object_get(doc, n[i])));
    assert_string_equal(json_string_value(json_object_get(doc, "f")), "nULL");
    assert_string_equal(json_string_value(json_object_get(doc, "g")), "");
    json_decref(doc);
}

static void test_numbers(void **state)
{
    (void)state;
    json_t *doc = load_ok("a: 12\nb: -3\nc: +4\nd: 0o17\ne: 0x1F\nf: 012\n"
                          "g: 1.5\nh: .5\ni: 1e3\nj: -2.5e-3\nk: 5.\n"
                          "l: 0b11\nm: 1_000\nn: 0o19\no: 1.2.3\np: 9223372036854775807\n"
                          "q: -9223372036854775808\n", NULL);
    assert_int_equal(json_integer_value(json_object_get(doc, "a")), 12);
    assert_int_equal(json_integer_value(json_object_get(doc, "b")), -3);
    assert_int_equal(json_integer_value(json_object_get(doc, "c")), 4);
    assert_int_equal(json_integer_value(json_object_get(doc, "d")), 15);
    assert_int_equal(json_integer_value(json_object_get(doc, "e")), 31);
    /* YAML 1.2: a leading zero is still decimal. */
    assert_int_equal(json_integer_value(json_object_get(doc, "f")), 12);
    assert_true(json_is_real(json_object_get(doc, "g")));
    assert_true(json_real_value(json_object_get(doc, "g")) == 1.5);
    assert_true(json_real_value(json_object_get(doc, "h")) == 0.5);
    assert_true(json_is_real(json_object_get(doc, "i")));
    assert_true(json_real_value(json_object_get(doc, "i")) == 1000.0);
    assert_true(json_real_value(json_object_get(doc, "j")) == -2.5e-3);
    assert_true(json_real_value(json_object_get(doc, "k")) == 5.0);
    /* Not numbers in the core schema. */
    const char *s[] = {"l", "0b11", "m", "1_000", "n", "0o19", "o", "1.2.3"};
    for (int i = 0; i < 8; i += 2)
        assert_string_equal(json_string_value(json_object_get(doc, s[i])), s[i + 1]);
    assert_true(json_integer_value(json_object_get(doc, "p")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(doc, "q")) == INT64_MIN);
    json_decref(doc);
}

static void test_quoted_and_tagged(void **state)
{
    (void)state;
    json_t *doc = load_ok("a: \"1\"\nb: '3.5'\nc: \"true\"\nd: 'null'\n"
                          "e: |\n  line one\n  line two\n"
                          "f: >\n  folded\n  text\n"
                          "g: !!str 12\nh: !!int \"7\"\ni: !!float 1\nj: !!bool \"false\"\n"
                          "k: !!null ''\nl: ! 12\n", NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "a")), "1");
    assert_string_equal(json_string_value(json_object_get(doc, "b")), "3.5");
    assert_string_equal(json_string_value(json_object_get(doc, "c")), "true");
    assert_string_equal(json_string_value(json_object_get(doc, "d")), "null");
    assert_string_equal(json_string_value(json_object_get(doc, "e")), "line one\nline two\n");
    assert_string_equal(json_string_value(json_object_get(doc, "f")), "folded text\n");
    assert_string_equal(json_string_value(json_object_get(doc, "g")), "12");
    assert_int_equal(json_integer_value(json_object_get(doc, "h")), 7);
    assert_true(json_is_real(json_object_get(doc, "i")));
    assert_true(json_is_false(json_object_get(doc, "j")));
    assert_true(json_is_null(json_object_get(doc, "k")));
    assert_string_equal(json_string_value(json_object_get(doc, "l")), "12");
    json_decref(doc);
}

static void test_nonfinite_rejected(void **state)
{
    (void)state;
    load_bad("a: 1\nb: .inf\n", 2, 4, "not a finite number");
    load_bad("a: [1, -.Inf]\n", 1, 8, "quote it");
    load_bad("x:\n  y: .NaN\n", 2, 6, "not a finite number");
    load_bad("x: 1e999\n", 1, 4, "not a finite number");
    load_bad("x: 99999999999999999999\n", 1, 4, "does not fit in 64 bits");
    load_bad("x: !!timestamp 2001-12-14\n", 1, 4, "not supported");
    /* Quoted, they are just text. */
    json_t *doc = load_ok("a: '.inf'\nb: \".nan\"\n", NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "a")), ".inf");
    json_decref(doc);
}

static void test_anchors_and_aliases(void **state)
{
    (void)state;
    json_t *doc = load_ok("base: &b\n  k: v\n  list: [1, 2]\n"
                          "s: &s hello\n"
                          "one: *b\ntwo: *b\nthree: *s\n", NULL);
    json_t *one = json_object_get(doc, "one"), *two = json_object_get(doc, "two");
    assert_true(json_equal(one, json_object_get(doc, "base")));
    assert_true(json_equal(one, two));
    /* Expanded copies: changing one never changes another. */
    assert_ptr_not_equal(one, two);
    assert_ptr_not_equal(json_object_get(one, "list"), json_object_get(two, "list"));
    assert_string_equal(json_string_value(json_object_get(doc, "three")), "hello");
    json_decref(doc);
}

static void test_merge_keys(void **state)
{
    (void)state;
    json_t *pos = NULL;
    json_t *doc = load_ok(
        "defaults: &d\n"
        "  type: task\n"
        "  command_type: shell\n"
        "  next: success\n"
        "more: &m\n"
        "  next: other\n"
        "  colour: red\n"
        "single:\n"
        "  <<: *d\n"
        "  command: echo hi\n"
        "over:\n"
        "  command_type: python\n"   /* explicit before the merge still wins */
        "  <<: *d\n"
        "list:\n"
        "  <<: [*m, *d]\n"           /* earlier sources win over later ones */
        "inline:\n"
        "  <<: {a: 1, b: 2}\n"
        "  b: 3\n", &pos);

    json_t *single = json_object_get(doc, "single");
    assert_int_equal(json_object_size(single), 4);
    assert_string_equal(json_string_value(json_object_get(single, "type")), "task");
    assert_string_equal(json_string_value(json_object_get(single, "command")), "echo hi");
    assert_null(json_object_get(single, "<<"));

    json_t *over = json_object_get(doc, "over");
    assert_string_equal(json_string_value(json_object_get(over, "command_type")), "python");
    assert_string_equal(json_string_value(json_object_get(over, "next")), "success");

    json_t *list = json_object_get(doc, "list");
    assert_string_equal(json_string_value(json_object_get(list, "next")), "other");
    assert_string_equal(json_string_value(json_object_get(list, "colour")), "red");
    assert_string_equal(json_string_value(json_object_get(list, "type")), "task");

    json_t *in = json_object_get(doc, "inline");
    assert_int_equal(json_integer_value(json_object_get(in, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(in, "b")), 3);

    /* Merged keys sit where the anchored text is. */
    int line, col;
    assert_int_equal(rn_yaml_pos_get(json_object_get(pos, "/single/type"), &line, &col, NULL), 0);
    assert_int_equal(line, 2);
    assert_int_equal(col, 3);
    assert_int_equal(rn_yaml_pos_get(json_object_get(pos, "/single/command"), &line, &col, NULL),
                     0);
    assert_int_equal(line, 10);
    json_decref(pos);
    json_decref(doc);

    load_bad("a: &a 1\nb:\n  <<: *a\n", 3, 3, "merge key");
    load_bad("a:\n  <<: {x: 1}\n  <<: {y: 1}\n", 3, 3, "two merge keys");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    load_bad("dag:\n  start_at: a\n  steps: {}\n  start_at: b\n", 4, 3,
             "duplicate key 'start_at'");
    load_bad("a: 1\n\"a\": 2\n", 2, 1, "duplicate key 'a'");
}

static void test_positions(void **state)
{
    (void)state;
    json_t *pos = NULL;
    json_t *doc = load_ok("dag:\n"
                          "  steps:\n"
                          "    a/b~c:\n"
                          "      returns:\n"
                          "        - name: x\n"
                          "        -   name: y\n"
                          "    1: {}\n"
                          "    true: {}\n"
                          "    \"2\": {}\n", &pos);
    struct { const char *ptr; int line, col; const char *marker; } want[] = {
        {"/dag", 1, 1, NULL},
        {"/dag/steps", 2, 3, NULL},
        {"/dag/steps/a~1b~0c", 3, 5, NULL},
        {"/dag/steps/a~1b~0c/returns", 4, 7, NULL},
        {"/dag/steps/a~1b~0c/returns/0", 5, 11, NULL},
        {"/dag/steps/a~1b~0c/returns/0/name", 5, 11, NULL},
        {"/dag/steps/a~1b~0c/returns/1/name", 6, 13, NULL},
        {"/dag/steps/1", 7, 5, "int"},
        {"/dag/steps/true", 8, 5, "bool"},
        {"/dag/steps/2", 9, 5, NULL},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int line, col;
        const char *marker;
        if (rn_yaml_pos_get(json_object_get(pos, want[i].ptr), &line, &col, &marker) != 0)
            fail_msg("no position for %s", want[i].ptr);
        assert_int_equal(line, want[i].line);
        assert_int_equal(col, want[i].col);
        if (want[i].marker)
            assert_string_equal(marker, want[i].marker);
        else
            assert_null(marker);
    }
    /* Non-string keys are kept as written. */
    json_t *steps = json_object_get(json_object_get(doc, "dag"), "steps");
    assert_non_null(json_object_get(steps, "1"));
    assert_non_null(json_object_get(steps, "true"));
    json_decref(pos);
    json_decref(doc);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    /* `next` is less indented than its siblings. */
    load_bad("dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n     next: b\n",
             6, 6, "invalid YAML");
    load_bad("a: [1, 2\nb: 3\n", 2, 2, "invalid YAML");
    load_bad("a:\n\tb: 1\n", 2, 1, "tab");
    load_bad("a: 1\n---\nb: 2\n", 2, 1, "second YAML document");
    load_bad("a: *nowhere\n", 1, 4, "refers to no anchor");
    load_bad("a: &x [1, *x]\n", 1, 11, "inside the value it names");
    load_bad("a: \"\\xff\"\nb: \xff\n", 2, 4, "not valid YAML text");
}

static void test_alias_bomb(void **state)
{
    (void)state;
    /* Each level doubles ten times: 10^9 values if expanded. */
    char text[2048] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        char line[128];
        snprintf(line, sizeof line, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                 "*a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                 i - 1, i - 1, i - 1, i - 1);
        strcat(text, line);
    }
    rn_diag d = {0};
    json_t *doc = NULL;
    assert_int_equal(rn_yaml_load_string(text, strlen(text), "bomb.yaml", &doc, NULL, &d),
                     RN_EINVAL);
    assert_null(doc);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].message, "expand"));
    rn_diag_free(&d);
}

/* A new temporary file holding `text`; its name goes to `path`
 * (a "...XXXXXX" template). */
static void write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_empty_and_files(void **state)
{
    (void)state;
    json_t *doc = load_ok("", NULL);
    assert_true(json_is_null(doc));
    json_decref(doc);
    doc = load_ok("# only a comment\n", NULL);
    assert_true(json_is_null(doc));
    json_decref(doc);

    rn_diag d = {0};
    assert_int_equal(rn_yaml_load_file("/nonexistent/x.yaml", &doc, NULL, &d), RN_ENOENT);
    assert_null(doc);
    assert_int_equal(d.n, 0);
    assert_non_null(strstr(rn_error_last(), "/nonexistent/x.yaml"));

    char path[] = "/tmp/rn_yaml_testXXXXXX";
    write_temp(path, "k: [1, 2.5, \"s\"]\n");
    json_t *pos = NULL;
    assert_int_equal(rn_yaml_load_file(path, &doc, &pos, &d), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "k")), 3);
    assert_non_null(json_object_get(pos, "/k/2"));
    json_decref(doc);
    json_decref(pos);
    remove(path);

    /* A file of more than 64 KiB (read_all sizes its buffer from the
     * file): the same document as from memory, whole and one step of
     * it, with the positions of its last lines. */
    rn_buf big = {0};
    assert_int_equal(rn_buf_printf(&big, "dag:\n  start_at: s0\n  steps:\n"), 0);
    for (int i = 0; i < 900; i++)
        assert_int_equal(rn_buf_printf(&big, "    s%d:\n      type: task\n      command: "
                                              "\"echo %d of a long pipeline\"\n      next: %s%d\n",
                                       i, i, i < 899 ? "s" : "success", i < 899 ? i + 1 : 0),
                         0);
    assert_int_equal(rn_buf_printf(&big, "    success0:\n      type: success\n"), 0);
    assert_true(big.len > 64 * 1024);
    char bpath[] = "/tmp/rn_yaml_bigXXXXXX";
    write_temp(bpath, big.data);
    json_t *want = NULL, *part = NULL;
    assert_int_equal(rn_yaml_load_string(big.data, big.len, "big", &want, NULL, &d), 0);
    assert_int_equal(rn_yaml_load_file(bpath, &doc, &pos, &d), 0);
    assert_true(json_equal(doc, want));
    assert_non_null(json_object_get(pos, "/dag/steps/success0/type"));
    assert_int_equal(rn_yaml_load_step(bpath, "s700", 0, &part, NULL, &d, NULL), 0);
    assert_true(json_equal(json_object_get(json_object_get(json_object_get(part, "dag"), "steps"),
                                           "s700"),
                           json_object_get(json_object_get(json_object_get(want, "dag"), "steps"),
                                           "s700")));
    assert_int_equal(d.n, 0);
    json_decref(part);
    json_decref(want);
    json_decref(doc);
    json_decref(pos);
    remove(bpath);
    rn_buf_free(&big);
    rn_diag_free(&d);
}

/* rn_yaml_load_step on `text` (through a file), then the same whole:
 * returns the partial document; *whole gets the full one. */
static json_t *load_step(const char *text, const char *only, int *partial, json_t **whole,
                         json_t **positions)
{
    char path[] = "/tmp/rn_yaml_stepXXXXXX";
    write_temp(path, text);
    rn_diag d = {0};
    json_t *doc = NULL;
    assert_int_equal(rn_yaml_load_step(path, only, 0, &doc, positions, &d, partial), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(rn_yaml_load_file(path, whole, NULL, &d), 0);
    remove(path);
    rn_diag_free(&d);
    return doc;
}

static const json_t *step_of(const json_t *doc, const char *name)
{
    return json_object_get(json_object_get(json_object_get(doc, "dag"), "steps"), name);
}

static void test_one_step(void **state)
{
    (void)state;
    int partial = -1;
    json_t *whole = NULL, *pos = NULL;
    /* Only b is built; what comes before it is as written. */
    const char *plain = "parameters: {x: 1}\n"
                        "dag:\n"
                        "  start_at: a\n"
                        "  steps:\n"
                        "    a: {type: task, command: 'true', next: b, returns: [{name: r}]}\n"
                        "    b:\n"
                        "      type: map\n"
                        "      iterate_on: xs\n"
                        "      branch: {start_at: c, steps: {c: {type: stub, next: success}}}\n"
                        "    c: just text\n"
                        "    d: [1, [2, {e: 3}]]\n"
                        "  description: after the steps\n";
    json_t *doc = load_step(plain, "b", &partial, &whole, &pos);
    assert_int_equal(partial, 1);
    json_t *steps = json_object_get(json_object_get(doc, "dag"), "steps");
    assert_int_equal(json_object_size(steps), 1);
    assert_true(json_equal(step_of(doc, "b"), step_of(whole, "b")));
    assert_true(json_equal(json_object_get(doc, "parameters"), json_object_get(whole, "parameters")));
    /* What follows the kept step is not read. */
    assert_null(json_object_get(json_object_get(doc, "dag"), "description"));
    json_object_del(json_object_get(whole, "dag"), "steps");
    json_object_del(json_object_get(doc, "dag"), "steps");
    json_object_del(json_object_get(whole, "dag"), "description");
    assert_true(json_equal(doc, whole));
    int line, col;
    assert_int_equal(rn_yaml_pos_get(json_object_get(pos, "/dag/steps/b/branch/steps/c"), &line,
                                     &col, NULL), 0);
    assert_int_equal(line, 9);
    assert_null(json_object_get(pos, "/dag/steps/a"));
    json_decref(doc);
    json_decref(whole);
    json_decref(pos);

    /* A step that is not there: no steps at all. */
    doc = load_step(plain, "zz", &partial, &whole, NULL);
    assert_int_equal(partial, 1);
    assert_int_equal(json_object_size(json_object_get(json_object_get(doc, "dag"), "steps")), 0);
    json_decref(doc);
    json_decref(whole);

    /* An anchor inside a step that would be skipped, used by the kept one,
     * and a merge key among the steps: the whole file is read. */
    const char *unsafe[] = {
        "dag:\n  steps:\n    a: {type: task, command: &cmd 'echo hi'}\n"
        "    b: {type: task, command: *cmd}\n",
        "more: &more {z: {type: stub}}\n"
        "dag:\n  steps:\n    <<: *more\n    a: {type: stub}\n    b: {type: stub}\n",
    };
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
        doc = load_step(unsafe[i], "b", &partial, &whole, NULL);
        assert_int_equal(partial, 0);
        assert_true(json_equal(doc, whole));
        json_decref(doc);
        json_decref(whole);
    }

    /* A bracket left open before the step sends the file to libyaml,
     * which finds the syntax error; after the step's value nothing more
     * is read. */
    char path[] = "/tmp/rn_yaml_stepXXXXXX";
    write_temp(path, "dag:\n  steps:\n    a: {type: stub}\n    b: {type: stub\n    c: {type: stub}\n");
    rn_diag d = {0};
    assert_int_equal(rn_yaml_load_step(path, "c", 0, &doc, NULL, &d, &partial), RN_EINVAL);
    assert_null(doc);
    assert_true(d.n >= 1);
    assert_int_equal(d.items[0].line, 5);
    rn_diag_free(&d);
    assert_int_equal(rn_yaml_load_step(path, "a", 0, &doc, NULL, &d, &partial), 0);
    assert_int_equal(partial, 1);
    json_t *want = json_pack("{s:s}", "type", "stub");
    assert_true(json_equal(step_of(doc, "a"), want));
    json_decref(want);
    json_decref(doc);
    remove(path);
    rn_diag_free(&d);
}

/* The lines of the steps before `only`, as rn_yaml_steps_before finds them:
 * 1 and the offsets, or 0. */
static int steps_before(const char *text, const char *only, size_t *from, size_t *to,
                        size_t *end)
{
    *from = *to = *end = 0;
    return rn_yaml_steps_before(text, strlen(text), only, from, to, end);
}

/* Loads step `only` of `text` and checks it against the whole file's. */
static void same_step(const char *text, const char *only)
{
    int partial = -1;
    json_t *whole = NULL;
    json_t *doc = load_step(text, only, &partial, &whole, NULL);
    if (!json_equal(step_of(doc, only), step_of(whole, only))) {
        char *a = json_dumps(step_of(doc, only), 0), *b = json_dumps(step_of(whole, only), 0);
        print_error("step %s: one step %s, whole %s\n", only, a ? a : "-", b ? b : "-");
        free(a);
        free(b);
        fail();
    }
    assert_non_null(step_of(doc, only));
    json_decref(doc);
    json_decref(whole);
}

static void test_steps_before_lines(void **state)
{
    (void)state;
    /* Block scalars whose text looks like broken YAML, quotes in plain
     * scalars and comments, one-line flow collections, sequences, a
     * comment in column 0, continued plain scalars: all read line by
     * line. */
    const char *text = "parameters:\n"
                       "  x: 1\n"
                       "dag:\n"
                       "  description: |\n"
                       "    it's \"open\n"
                       "  start_at: a\n"
                       "  steps:\n"
                       "    a:\n"
                       "      type: task\n"
                       "      command: |\n"
                       "        echo \"it's\n"
                       "          [ {\n"
                       "\n"
                       "        b: not a key\n"
                       "      command_type: shell   # it's \"odd\n"
                       "      next: b\n"
                       "    a2:\n"
                       "      type: task\n"
                       "      command: echo it's \"x\" 'y' a#b\n"
                       "      returns: [{name: r}, {name: s, kind: metric}]\n"
                       "      overrides: {}\n"
                       "      catalog:\n"
                       "        get:\n"
                       "          - a.csv\n"
                       "          - \"b's.csv\"\n"
                       "          - 'c''s'\n"
                       "      on_failure: >-\n"
                       "        folded\n"
                       "# a comment in column 0\n"
                       "      next: a plain scalar\n"
                       "        continued\n"
                       "    b:\n"
                       "      type: stub\n"
                       "      next: c\n"
                       "    c: {type: stub}\n"
                       "  description2: after\n";
    size_t from, to, end;
    assert_int_equal(steps_before(text, "b", &from, &to, &end), 1);
    assert_ptr_equal(text + from, strstr(text, "    a:\n"));
    assert_ptr_equal(text + to, strstr(text, "    b:\n"));
    assert_ptr_equal(text + end, strstr(text, "    c: {"));
    same_step(text, "b");
    /* The last step ends where the steps do; the first has nothing
     * before it. */
    assert_int_equal(steps_before(text, "c", &from, &to, &end), 1);
    assert_ptr_equal(text + end, strstr(text, "  description2"));
    same_step(text, "c");
    same_step(text, "a2");
    assert_int_equal(steps_before(text, "a", &from, &to, &end), 0);
    same_step(text, "a");
    assert_int_equal(steps_before(text, "zz", &from, &to, &end), 0);

    /* Where a line indented as a step could be inside a value (a quote,
     * a flow collection or a key's quote left open), or leaving a step
     * out could change the document (an anchor, a merge key), or the
     * text is not read this way (other line breaks, explicit keys, a
     * quoted step name, flow style): 0, and libyaml
     * finds the real b after the fake one. */
    const char *unsure[] = {
        "dag:\n  steps:\n    a:\n      command: \"one\n    b: not a step\"\n    b: {type: stub}\n",
        "dag:\n  steps:\n    a:\n      command: 'one\n    b: not a step'\n    b: {type: stub}\n",
        "dag:\n  steps:\n    a:\n      list:\n        - it's: 'abc\n    b: fake'\n"
        "    b: {type: stub}\n",
        "dag:\n  steps:\n    a:\n      list: [1,\n    b: 2]\n    b: {type: stub}\n",
        /* a quote inside a plain scalar in a flow: libyaml opens the
         * next quote, which is not closed on the line */
        "dag:\n  steps:\n    a: {a:\"x, 'y\", z}\n    b: fake'}\n    b: {type: stub}\n",
        "dag:\n  steps:\n    a: &x {type: stub}\n    b: {type: stub}\n",
        "dag:\n  steps:\n    a: {type: stub}\n    <<: {z: {type: stub}}\n    b: {type: stub}\n",
        "dag:\r\n  steps:\r\n    a: {type: stub}\r\n    b: {type: stub}\r\n",
        "dag:\n  steps:\n    a: x\xc2\x85    b: {type: stub}\n", /* NEL: a line break */
        "dag:\n  steps:\n    a:\n      ? x\n      : y\n    b: {type: stub}\n",
        "dag:\n  steps:\n    a:\n      type: task\n      command: &c echo\n"
        "    b: {type: task, command: *c}\n",
        "dag:\n  steps:\n    \"a\": {type: stub}\n    b: {type: stub}\n",
        "dag: {steps: {a: {type: stub}, b: {type: stub}}}\n",
    };
    for (size_t i = 0; i < sizeof unsure / sizeof *unsure; i++) {
        if (steps_before(unsure[i], "b", &from, &to, &end) != 0)
            fail_msg("case %zu was read line by line", i);
        same_step(unsure[i], "b");
    }
    /* Anchors before the steps, aliases in steps left out, tags, a
     * document start: read line by line. */
    const char *aliases = "---\ndefs: &d {type: stub}\nmore: &m\n  type: stub\ndag:\n"
                          "  steps:\n    a: *d\n    a2:\n      <<: *m\n      x: !!str 1\n"
                          "      l:\n        - *d\n    b: *m\n";
    assert_int_equal(steps_before(aliases, "b", &from, &to, &end), 1);
    same_step(aliases, "b");
    /* Quoted scalars in one-line flow collections. */
    const char *flows = "dag:\n  steps:\n"
                        "    a: {type: task, command_type: shell, command: \"true\", next: b}\n"
                        "    a2: {x: [1, \"a, b]\", 'c''s'], y: {\"k\": \"{\"}}\n"
                        "    b: {type: stub}\n";
    assert_int_equal(steps_before(flows, "b", &from, &to, &end), 1);
    same_step(flows, "b");
    /* A block scalar ends at the first line indented no more than its
     * key: the step after it is found. */
    const char *ends = "dag:\n  steps:\n    a:\n      command: |\n        x\n"
                       "    b:\n      type: stub\n";
    assert_int_equal(steps_before(ends, "b", &from, &to, &end), 1);
    assert_ptr_equal(ends + to, strstr(ends, "    b:"));
    same_step(ends, "b");
}

/* Every pipeline the project has (and the Python project's examples when
 * ../shared is there): each top-level step loaded on its own equals the
 * whole file's, and most are found line by line. */
static int corpus_steps, corpus_fast;

static int corpus_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || n < 5 || strcmp(path + n - 5, ".yaml") != 0)
        return 0;
    rn_diag d = {0};
    json_t *whole = NULL;
    int rc = rn_yaml_load_file(path, &whole, NULL, &d);
    rn_diag_free(&d);
    json_t *steps = json_object_get(json_object_get(whole, "dag"), "steps");
    if (rc != 0 || !json_is_object(steps)) {
        json_decref(whole);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *name;
    json_t *want;
    json_object_foreach(steps, name, want) {
        json_t *doc = NULL;
        int partial = -1;
        assert_int_equal(rn_yaml_load_step(path, name, 0, &doc, NULL, &d, &partial), 0);
        rn_diag_free(&d);
        if (!json_equal(step_of(doc, name), want))
            fail_msg("%s: step %s loaded on its own differs", path, name);
        json_decref(doc);
        size_t from, to, end;
        corpus_steps++;
        corpus_fast += rn_yaml_steps_before(text, len, name, &from, &to, &end);
    }
    json_decref(whole);
    return 0;
}

static void test_steps_before_corpus(void **state)
{
    (void)state;
    const char *src = getenv("RN_SRCDIR"), *shared = getenv("RN_SHARED_DIR");
    char dir[4096];
    if (!src)
        skip();
    const char *sub[] = {"examples", "tests/fixtures", "bench"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        snprintf(dir, sizeof dir, "%s/%s", src, sub[i]);
        nftw(dir, corpus_file, 16, FTW_PHYS);
    }
    snprintf(dir, sizeof dir, "%s/runnable-examples", shared ? shared : "");
    if (!shared)
        snprintf(dir, sizeof dir, "%s/../shared/runnable-examples", src);
    nftw(dir, corpus_file, 16, FTW_PHYS);
    print_message("%d steps loaded on their own, %d found line by line\n", corpus_steps,
                  corpus_fast);
    /* The project's own pipelines alone (without ../shared, as on a
     * fresh machine or in `make distcheck`) have 189: never test none. */
    assert_true(corpus_steps >= 150);
    assert_true(corpus_fast * 2 >= corpus_steps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_booleans_yaml12),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_quoted_and_tagged),
        cmocka_unit_test(test_nonfinite_rejected),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_empty_and_files),
        cmocka_unit_test(test_one_step),
        cmocka_unit_test(test_steps_before_lines),
        cmocka_unit_test(test_steps_before_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
