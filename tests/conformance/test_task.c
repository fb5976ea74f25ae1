/*
 * Conformance suite for task providers (command types): every provider in
 * `providers` goes through the same checks, loaded like the engine loads
 * it, and each attempt runs the engine's way: prepare -> rn_spawn ->
 * rn_child_wait -> collect.
 *
 * The checks are the same for every provider; what differs is how a
 * provider spells a command, so each provider brings a recipe per check.
 * A NULL recipe means "this provider cannot express that check".
 */
#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_open.h"
#include "spawn.h"

typedef struct task_provider {
    const char *type;
    int allows_object_returns;
    /* Sets integer=1, floater=3.14, stringer=hello, pydantic_param (object),
     * listy=[1, 2, 3], yes=true, nothing=null, score=0.9. */
    const char *cmd_returns;
    /* Succeeds only when the parameters of test_parameters are seen with
     * runnable's text rendering and the object parameter is absent. */
    const char *cmd_parameters;
    /* Succeeds only when the map variables of test_map_variables are seen
     * as Python str() renders them. */
    const char *cmd_map_variables;
    const char *cmd_exit_3;
    const char *cmd_killed;             /* ends by SIGKILL */
    /* Multi-line: the collector belongs to the last line only. */
    const char *cmd_failing_middle;     /* earlier line fails, last ok: success */
    const char *cmd_failing_last;       /* last line fails: failure */
    const char *cmd_comment_last;       /* trailing comment on the last line */
    /* Succeeds when $RN_SECRET holds the secret, and prints "running". */
    const char *cmd_secret;
    const char *cmd_newline;            /* multi = "line1\nline2", eq = "a=b=c" */
    const char *cmd_inherits;           /* succeeds when PATH and HOME are the engine's */
    const char *cmd_untouched;          /* does not touch its parameter */
    const char *cmd_unexported;         /* sets `local_only` without exporting */
} task_provider;

static const task_provider providers[] = {
    {
        .type = "shell",
        .allows_object_returns = 0,
        .cmd_returns = "\n  export integer=1\n"
                       "export floater=3.14\n"
                       "export stringer=\"hello\"\n"
                       "export pydantic_param='{\"x\": 10, \"foo\": \"bar\"}'\n"
                       "export listy='[1, 2, 3]' yes=true nothing=null\n"
                       "export score=0.9\n\n",
        .cmd_parameters =
            "[ \"$p\" = '{\"x\": 10, \"foo\": \"bar\"}' ] && [ \"$f\" = 3.14 ] && "
            "[ \"$l\" = '[1, 2, 3]' ] && [ \"$s\" = \"it's text\" ] && [ \"$i\" = 7 ] && "
            "[ \"$b\" = true ] && [ \"$n\" = null ] && [ \"$big\" = 1e+16 ] && "
            "[ \"$whole\" = 2.0 ] && [ \"$u\" = '[\"caf\\u00e9\"]' ] && [ -z \"${o+x}\" ]",
        .cmd_map_variables =
            "[ \"$m_int\" = 1 ] && [ \"$m_str\" = abc ] && [ \"$m_true\" = True ] && "
            "[ \"$m_null\" = None ] && [ \"$m_float\" = 2.5 ] && "
            "[ \"$m_list\" = \"[1, 'a', \\\"it's\\\", True, None, 0.1]\" ] && "
            "[ \"$m_dict\" = \"{'a': 1, 'b': [2]}\" ]",
        .cmd_exit_3 = "echo failing >&2; exit 3",
        .cmd_killed = "kill -9 $$",
        .cmd_failing_middle = "export a=1\nfalse\nexport b=2",
        .cmd_failing_last = "export a=1\nfalse",
        .cmd_comment_last = "export a=1\nexport b=2 # set b",
        .cmd_secret = "echo running; [ \"$RN_SECRET\" = 's3cr3t-VALUE' ] && export out=1",
        .cmd_newline = "export multi='line1\nline2' eq='a=b=c'",
        .cmd_inherits = "[ \"$PATH\" = \"$RN_EXPECT_PATH\" ] && [ \"$HOME\" = \"$RN_EXPECT_HOME\" ]",
        .cmd_untouched = "true",
        .cmd_unexported = "local_only=5",
    },
};

#define N_PROVIDERS (sizeof providers / sizeof providers[0])

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* One attempt as the engine runs it, with the returns declared. */
typedef struct attempt {
    rn_task_request req;
    json_t *task, *returns, *parameters, *map_variables, *secrets;
    rn_child child;
    rn_task_exit exit;
    rn_task_result result;
    char log_path[PATH_MAX + 32];
    char *log;
} attempt;

static const rn_task_ops *ops_of(const rn_provider *p)
{
    return (const rn_task_ops *)p->ops;
}

static void attempt_init(attempt *a, const task_provider *tp, const char *command)
{
    static int counter;
    memset(a, 0, sizeof *a);
    a->returns = json_array();
    a->parameters = json_object();
    a->map_variables = json_object();
    a->secrets = json_object();
    a->task = json_pack("{s:s, s:s}", "command_type", tp->type, "command", command);
    snprintf(a->log_path, sizeof a->log_path, "%s/attempt-%d.log", tmpdir, ++counter);
    a->req.version = 1;
    a->req.run_id = "conformance-run";
    a->req.internal_name = "step";
    a->req.command_type = tp->type;
    a->req.command = command;
    a->req.task = a->task;
    a->req.returns = a->returns;
    a->req.parameters = a->parameters;
    a->req.map_variables = a->map_variables;
    a->req.secrets = a->secrets;
    a->req.attempt = 1;
    a->req.work_dir = tmpdir;
}

static void declare(attempt *a, const char *name, const char *kind)
{
    json_array_append_new(a->returns, json_pack("{s:s, s:s}", "name", name, "kind", kind));
}

static void param(attempt *a, const char *name, const char *kind, json_t *value)
{
    json_object_set_new(a->parameters, name, json_pack("{s:s, s:o}", "kind", kind, "value", value));
}

static void attempt_run(attempt *a, const rn_provider *p)
{
    const rn_task_ops *ops = ops_of(p);
    json_object_set(a->task, "returns", a->returns);
    if (ops->validate(p->self, a->task) != 0)
        fail_msg("validate: %s", rn_error_last());

    rn_launch *l = NULL;
    assert_int_equal(rn_launch_new(&l), 0);
    assert_int_equal(rn_launch_setenv(l, "RUNNABLE_STEP_ATTEMPT", "1"), 0);
    if (ops->prepare(p->self, &a->req, l) != 0)
        fail_msg("prepare: %s", rn_error_last());
    if (rn_spawn(l, tmpdir, a->log_path, &a->child) != 0)
        fail_msg("rn_spawn: %s", rn_error_last());
    rn_launch_free(l);
    assert_int_equal(rn_child_wait(&a->child, &a->exit, NULL), 0);

    a->result.version = 1;
    if (ops->collect(p->self, &a->req, &a->exit, &a->result) != 0)
        fail_msg("collect: %s", rn_error_last());
    assert_non_null(a->result.returns);

    size_t len;
    if (rn_read_file(a->log_path, &a->log, &len) != 0)
        a->log = strdup("");
}

static void attempt_free(attempt *a)
{
    rn_child_release(&a->child, &a->exit);
    json_decref(a->result.returns);
    json_decref(a->task);
    json_decref(a->returns);
    json_decref(a->parameters);
    json_decref(a->map_variables);
    json_decref(a->secrets);
    free(a->log);
}

/* The value returned under `name` with `kind`, which must be there. */
static const json_t *returned(const attempt *a, const char *name, const char *kind)
{
    const json_t *entry = json_object_get(a->result.returns, name);
    if (!entry)
        fail_msg("return '%s' missing", name);
    assert_string_equal(json_string_value(json_object_get(entry, "kind")), kind);
    return json_object_get(entry, "value");
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_ENCODE_ANY);
        fail_msg("got %s, want %s", g ? g : "(null)", want_text);
    }
    json_decref(want);
}

/* cmocka state: the provider under test, opened once per group. */
typedef struct suite_state {
    const task_provider *tp;
    rn_provider *p;
} suite_state;

#define SKIP_UNLESS(field)            \
    do {                              \
        if (!st->tp->field)           \
            skip();                   \
    } while (0)

static void test_validate(void **state)
{
    suite_state *st = *state;
    const rn_task_ops *ops = ops_of(st->p);

    json_t *t = json_pack("{s:s, s:s, s:[{s:s}, {s:s, s:s}]}", "command_type", st->tp->type,
                          "command", st->tp->cmd_exit_3, "returns", "name", "a", "name", "b",
                          "kind", "metric");
    assert_int_equal(ops->validate(st->p->self, t), 0);
    json_decref(t);

    t = json_pack("{s:s}", "command_type", st->tp->type);
    assert_int_equal(ops->validate(st->p->self, t), RN_EINVAL);
    assert_non_null(strstr(rn_error_last(), "command"));
    json_decref(t);

    t = json_pack("{s:s, s:s}", "command_type", st->tp->type, "command", "   \n");
    assert_int_equal(ops->validate(st->p->self, t), RN_EINVAL);
    json_decref(t);

    t = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "command_type", st->tp->type, "command",
                  st->tp->cmd_exit_3, "returns", "name", "obj", "kind", "object");
    int rc = ops->validate(st->p->self, t);
    if (st->tp->allows_object_returns) {
        assert_int_equal(rc, 0);
    } else {
        assert_int_equal(rc, RN_EINVAL);
        assert_non_null(strstr(rn_error_last(), "cannot return objects; use kind json or metric"));
    }
    json_decref(t);

    t = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "command_type", st->tp->type, "command",
                  st->tp->cmd_exit_3, "returns", "name", "x", "kind", "table");
    assert_int_equal(ops->validate(st->p->self, t), RN_EINVAL);
    json_decref(t);

    /* The shape of `returns` is the pipeline loader's to report (with its
     * position), so a task type leaves a malformed one alone instead of
     * reporting it a second time. */
    t = json_pack("{s:s, s:s, s:s}", "command_type", st->tp->type, "command",
                  st->tp->cmd_exit_3, "returns", "x");
    assert_int_equal(ops->validate(st->p->self, t), 0);
    json_decref(t);

    /* A secret must never come back as a return. */
    t = json_pack("{s:s, s:s, s:[{s:s}], s:[s]}", "command_type", st->tp->type, "command",
                  st->tp->cmd_exit_3, "returns", "name", "token", "secrets", "token");
    assert_int_equal(ops->validate(st->p->self, t), RN_EINVAL);
    json_decref(t);
}

static void test_shell_names(void **state)
{
    suite_state *st = *state;
    /* Returns of a shell are shell variables. */
    if (strcmp(st->tp->type, "shell") != 0)
        skip();
    const rn_task_ops *ops = ops_of(st->p);
    const char *bad[] = { "a-b", "1x", "", "a b", "x;rm" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *t = json_pack("{s:s, s:[{s:s}]}", "command", "true", "returns", "name", bad[i]);
        assert_int_equal(ops->validate(st->p->self, t), RN_EINVAL);
        json_decref(t);
    }
    json_t *t = json_pack("{s:s, s:[{s:s}]}", "command", "true", "returns", "name", "_Ok_1");
    assert_int_equal(ops->validate(st->p->self, t), 0);
    json_decref(t);
}

static void test_returns_every_type(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_returns);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_returns);
    declare(&a, "pydantic_param", "json");
    declare(&a, "stringer", "json");
    declare(&a, "floater", "json");
    declare(&a, "integer", "json");
    declare(&a, "listy", "json");
    declare(&a, "yes", "json");
    declare(&a, "nothing", "json");
    declare(&a, "absent", "json");
    declare(&a, "score", "metric");
    attempt_run(&a, st->p);

    assert_int_equal(a.exit.exit_code, 0);
    assert_int_equal(a.result.success, 1);
    assert_string_equal(a.result.message, "");
    assert_json(returned(&a, "pydantic_param", "json"), "{\"x\": 10, \"foo\": \"bar\"}");
    assert_json(returned(&a, "stringer", "json"), "\"hello\"");
    assert_json(returned(&a, "floater", "json"), "3.14");
    assert_true(json_is_real(returned(&a, "floater", "json")));
    assert_json(returned(&a, "integer", "json"), "1");
    assert_true(json_is_integer(returned(&a, "integer", "json")));
    assert_json(returned(&a, "listy", "json"), "[1, 2, 3]");
    assert_json(returned(&a, "yes", "json"), "true");
    assert_json(returned(&a, "nothing", "json"), "null");
    assert_json(returned(&a, "score", "metric"), "0.9");
    /* Declared but never set: not produced, and no error. */
    assert_null(json_object_get(a.result.returns, "absent"));

    /* Declared order, whatever order the command set them in. */
    const char *order[] = { "pydantic_param", "stringer", "floater", "integer",
                            "listy", "yes", "nothing", "score" };
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(a.result.returns, key, v) {
        assert_true(k < 8);
        assert_string_equal(key, order[k++]);
    }
    assert_int_equal(k, 8);
    /* Nothing of the collection shows in the log. */
    assert_string_equal(a.log, "");
    attempt_free(&a);
}

static void test_parameters(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_parameters);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_parameters);
    param(&a, "p", "json", json_pack("{s:i, s:s}", "x", 10, "foo", "bar"));
    param(&a, "f", "json", json_real(3.14));
    param(&a, "l", "json", json_pack("[i, i, i]", 1, 2, 3));
    param(&a, "s", "json", json_string("it's text"));
    param(&a, "i", "metric", json_integer(7));
    param(&a, "b", "json", json_true());
    param(&a, "n", "json", json_null());
    param(&a, "big", "json", json_real(1e16));
    param(&a, "whole", "json", json_real(2.0));
    /* A string inside a container is JSON-escaped (ASCII only). */
    param(&a, "u", "json", json_pack("[s]", "caf\xc3\xa9"));
    param(&a, "o", "object", json_string("o"));
    attempt_run(&a, st->p);
    if (!a.result.success)
        fail_msg("parameters not rendered as expected; log: %s", a.log);
    attempt_free(&a);
}

static void test_map_variables(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_map_variables);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_map_variables);
    json_object_set_new(a.map_variables, "m_int", json_integer(1));
    json_object_set_new(a.map_variables, "m_str", json_string("abc"));
    json_object_set_new(a.map_variables, "m_true", json_true());
    json_object_set_new(a.map_variables, "m_null", json_null());
    json_object_set_new(a.map_variables, "m_float", json_real(2.5));
    json_object_set_new(a.map_variables, "m_list",
                        json_pack("[i, s, s, b, n, f]", 1, "a", "it's", 1, 0.1));
    json_object_set_new(a.map_variables, "m_dict", json_pack("{s:i, s:[i]}", "a", 1, "b", 2));
    attempt_run(&a, st->p);
    if (!a.result.success)
        fail_msg("map variables not rendered as expected; log: %s", a.log);
    attempt_free(&a);
}

static void test_failure(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_exit_3);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_exit_3);
    declare(&a, "a", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.exit.exited, 1);
    assert_int_equal(a.exit.exit_code, 3);
    assert_int_equal(a.result.success, 0);
    assert_string_equal(a.result.message, "command exited with status 3");
    assert_int_equal(json_object_size(a.result.returns), 0);
    assert_non_null(strstr(a.log, "failing"));
    attempt_free(&a);

    if (!st->tp->cmd_killed)
        return;
    attempt_init(&a, st->tp, st->tp->cmd_killed);
    attempt_run(&a, st->p);
    assert_int_equal(a.exit.signaled, 1);
    assert_int_equal(a.result.success, 0);
    assert_string_equal(a.result.message, "command killed by signal SIGKILL");
    attempt_free(&a);
}

static void test_last_line_only(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_failing_middle);
    attempt a;

    attempt_init(&a, st->tp, st->tp->cmd_failing_middle);
    declare(&a, "a", "json");
    declare(&a, "b", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_json(returned(&a, "a", "json"), "1");
    assert_json(returned(&a, "b", "json"), "2");
    attempt_free(&a);

    attempt_init(&a, st->tp, st->tp->cmd_failing_last);
    declare(&a, "a", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 0);
    assert_string_equal(a.result.message, "command exited with status 1");
    assert_int_equal(json_object_size(a.result.returns), 0);
    attempt_free(&a);

    /* runnable's collector is swallowed by a trailing comment: the step
     * succeeds with nothing returned.  Kept for compatibility. */
    attempt_init(&a, st->tp, st->tp->cmd_comment_last);
    declare(&a, "a", "json");
    declare(&a, "b", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_int_equal(json_object_size(a.result.returns), 0);
    attempt_free(&a);
}

static void test_secret_never_logged(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_secret);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_secret);
    json_object_set_new(a.secrets, "RN_SECRET", json_string("s3cr3t-VALUE"));
    declare(&a, "out", "json");
    /* Even a return named like the secret must not carry it out. */
    declare(&a, "RN_SECRET", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_json(returned(&a, "out", "json"), "1");
    assert_null(json_object_get(a.result.returns, "RN_SECRET"));
    assert_non_null(strstr(a.log, "running"));
    assert_null(strstr(a.log, "s3cr3t-VALUE"));
    assert_null(memmem(a.exit.result_data, a.exit.result_len, "s3cr3t", 6));
    attempt_free(&a);
}

static void test_newline_value(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_newline);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_newline);
    declare(&a, "multi", "json");
    declare(&a, "eq", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_json(returned(&a, "multi", "json"), "\"line1\\nline2\"");
    assert_json(returned(&a, "eq", "json"), "\"a=b=c\"");
    attempt_free(&a);
}

static void test_inherits_engine_environment(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_inherits);
    /* The engine's PATH and HOME reach the task (runnable passes neither). */
    setenv("HOME", "/home/rn-conformance", 1);
    if (!getenv("PATH"))
        setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    setenv("RN_EXPECT_HOME", "/home/rn-conformance", 1);
    setenv("RN_EXPECT_PATH", getenv("PATH"), 1);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_inherits);
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    attempt_free(&a);
}

static void test_parameter_returned_untouched(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_untouched);
    /* As in runnable: a declared return that is also a parameter comes
     * back through the text round trip even if the task never set it. */
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_untouched);
    param(&a, "x", "json", json_string("123"));
    declare(&a, "x", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_json(returned(&a, "x", "json"), "123");
    attempt_free(&a);
}

static void test_unexported_variable(void **state)
{
    suite_state *st = *state;
    SKIP_UNLESS(cmd_unexported);
    attempt a;
    attempt_init(&a, st->tp, st->tp->cmd_unexported);
    declare(&a, "local_only", "json");
    attempt_run(&a, st->p);
    assert_int_equal(a.result.success, 1);
    assert_json(returned(&a, "local_only", "json"), "5");
    attempt_free(&a);
}

static int provider_setup(void **state)
{
    suite_state *st = *state;
    st->p = rn_test_provider(RN_KIND_TASK, st->tp->type, NULL);
    return st->p ? 0 : -1;
}

static int provider_teardown(void **state)
{
    suite_state *st = *state;
    rn_provider_close(st->p);
    st->p = NULL;
    return 0;
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    if (!t || strlen(t) > sizeof tmpdir - 32)
        t = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/rn-test-task-XXXXXX", t);
    if (!mkdtemp(tmpdir))
        return 1;

    int failed = 0;
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        suite_state st = { &providers[i], NULL };
#define T(f) cmocka_unit_test_prestate_setup_teardown(f, provider_setup, provider_teardown, &st)
        const struct CMUnitTest tests[] = {
            T(test_validate),
            T(test_shell_names),
            T(test_returns_every_type),
            T(test_parameters),
            T(test_map_variables),
            T(test_failure),
            T(test_last_line_only),
            T(test_secret_never_logged),
            T(test_newline_value),
            T(test_inherits_engine_environment),
            T(test_parameter_returned_untouched),
            T(test_unexported_variable),
        };
#undef T
        char name[128];
        snprintf(name, sizeof name, "task provider '%s'", providers[i].type);
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL,
                                          NULL);
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? 1 : 0;
}
