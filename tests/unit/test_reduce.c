/* rn_reduce: the named reducers (results checked against what Python's
 * min/max/sum give for the same lists), and Python reducers run through
 * /usr/bin/python3, including the errors a pipeline author will meet. */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "reduce.h"

#define PYTHON "/usr/bin/python3"

static json_t *parse(const char *text)
{
    json_t *v = rn_json_loads_py(text, strlen(text));
    if (!v)
        fail_msg("test input does not parse: %s", text);
    return v;
}

/* Reduce `values`, expect success and a result that dumps as `want`
 * (Python's json.dumps form, so 3 and 3.0 differ). */
static void check(const char *reducer, const char *values, const char *want)
{
    json_t *in = parse(values);
    json_t *out = (json_t *)1;
    int rc = rn_reduce(reducer, in, &out);
    if (rc != 0)
        fail_msg("%s over %s: %s: %s", reducer ? reducer : "(none)", values,
                 rn_error_name(rc), rn_error_last());
    char *got = rn_json_dumps_py(out, 0);
    if (strcmp(got, want) != 0)
        fail_msg("%s over %s: got %s, want %s", reducer ? reducer : "(none)", values, got,
                 want);
    free(got);
    json_decref(out);
    json_decref(in);
}

/* Expect the error `code` with every one of the NULL-terminated parts in
 * its message. */
static void check_error(const char *reducer, const char *values, int code, ...)
{
    json_t *in = parse(values);
    json_t *out = (json_t *)1;
    int rc = rn_reduce(reducer, in, &out);
    if (rc != code)
        fail_msg("%s over %s: got %s (%s), want %s", reducer, values, rn_error_name(rc),
                 rn_error_last(), rn_error_name(code));
    assert_null(out);
    va_list ap;
    va_start(ap, code);
    for (const char *part; (part = va_arg(ap, const char *));)
        if (!strstr(rn_error_last(), part))
            fail_msg("%s over %s: message '%s' lacks '%s'", reducer, values, rn_error_last(),
                     part);
    va_end(ap);
    json_decref(in);
}

static void test_no_reducer_is_the_list(void **state)
{
    (void)state;
    check(NULL, "[1, \"a\", [2]]", "[1, \"a\", [2]]");
    check("", "[]", "[]");
    json_t *in = parse("[1, 2]");
    json_t *out;
    assert_int_equal(rn_reduce(NULL, in, &out), 0);
    assert_ptr_not_equal(out, in); /* a new list: the caller may change it */
    json_array_append_new(out, json_integer(3));
    assert_int_equal(json_array_size(in), 2);
    json_decref(out);
    json_decref(in);
}

static void test_first_last(void **state)
{
    (void)state;
    check("first", "[{\"a\": 1}, 2, 3]", "{\"a\": 1}");
    check("last", "[1, 2, [3]]", "[3]");
    check("first", "[]", "null");
    check("last", "[]", "null");
}

/* Expected values: python3 -c 'print(repr(max([...])))' and likewise. */
static void test_min_max(void **state)
{
    (void)state;
    check("max", "[3, 9, 2]", "9");
    check("min", "[3, 1.5, 2]", "1.5");
    check("max", "[-1e300, -7]", "-7");
    /* The first of equal values, as Python's min and max. */
    check("max", "[1, 1.0]", "1");
    check("min", "[2.0, 2]", "2.0");
    /* Exact int/float comparison beyond 2^53: max([9007199254740992.0,
     * 9007199254740993]) is the int, min([9007199254740993,
     * 9007199254740992.0]) the float. */
    check("max", "[9007199254740992.0, 9007199254740993]", "9007199254740993");
    check("min", "[9007199254740993, 9007199254740992.0]", "9007199254740992.0");
    /* Texts in code point order (max(['b', 'a', 'ab', 'é']) is 'é'). */
    check("max", "[\"b\", \"a\", \"ab\", \"\\u00e9\"]", "\"\\u00e9\"");
    check("min", "[\"b\", \"a\", \"ab\", \"\\u00e9\"]", "\"a\"");
    check("min", "[\"a\\u0000b\", \"a\"]", "\"a\"");
    check("min", "[]", "null");
    check("max", "[]", "null");
}

static void test_min_max_mixed(void **state)
{
    (void)state;
    check_error("max", "[1, 2, \"a\"]", RN_EINVAL, "'max'", "cannot compare a number (item 1)",
                "text (item 2)", NULL);
    check_error("min", "[\"a\", 2.5]", RN_EINVAL, "'min'", "text (item 0)",
                "a number (item 1)", NULL);
    check_error("max", "[1, true]", RN_EINVAL, "not a boolean (item 1)", NULL);
    check_error("min", "[null]", RN_EINVAL, "not null (item 0)", NULL);
    check_error("max", "[[1], [2]]", RN_EINVAL, "not a list (item 0)", NULL);
}

/* Expected values from Python 3.11's sum() of the same lists. */
static void test_sum(void **state)
{
    (void)state;
    check("sum", "[1, 2, 3]", "6");
    check("sum", "[1, 2.5]", "3.5");
    check("sum", "[1.5, 1.5]", "3.0");
    check("sum", "[]", "0");
    check("sum", "[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]",
          "0.9999999999999999");
    /* Integers are added exactly before the first float:
     * sum([2**53, 1, 1, 0.0]) is 9007199254740994.0. */
    check("sum", "[9007199254740992, 1, 1, 0.0]", "9007199254740994.0");
    check("sum", "[9223372036854775807, -1, 1]", "9223372036854775807");
    check_error("sum", "[9223372036854775807, 1]", RN_EINVAL, "exceeds 64 bits", NULL);
    check_error("sum", "[1e308, 1e308]", RN_EINVAL, "not finite", NULL);
    check_error("sum", "[1, \"2\"]", RN_EINVAL, "'sum'", "not text (item 1)", NULL);
    check_error("sum", "[true]", RN_EINVAL, "not a boolean (item 0)", NULL);
}

static void test_concat(void **state)
{
    (void)state;
    check("concat", "[[1], [2, [3]], []]", "[1, 2, [3]]");
    check("concat", "[\"ab\", \"\", \"c\\u00e9\"]", "\"abc\\u00e9\"");
    check("concat", "[\"a\\u0000\", \"b\"]", "\"a\\u0000b\"");
    check("concat", "[]", "[]");
    check("concat", "[[]]", "[]");
    check_error("concat", "[[1], \"a\"]", RN_EINVAL, "a list (item 0)", "text (item 1)", NULL);
    check_error("concat", "[\"a\", [1]]", RN_EINVAL, "text (item 0)", "a list (item 1)", NULL);
    check_error("concat", "[[1], 2]", RN_EINVAL, "not a number (item 1)", NULL);
}

static void test_not_a_list(void **state)
{
    (void)state;
    check_error("first", "{\"a\": 1}", RN_EINVAL, "list of values", NULL);
    json_t *out;
    assert_int_equal(rn_reduce("sum", NULL, &out), RN_EINVAL);
    assert_null(out);
}

/* ---- Python reducers ---------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int fds_before;

static int python_setup(void **state)
{
    (void)state;
    setenv("RUNNABLE_PYTHON", PYTHON, 1);
    fds_before = count_fds();
    return 0;
}

/* Every Python process is reaped and every descriptor closed. */
static int python_teardown(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(count_fds(), fds_before);
    unsetenv("RUNNABLE_PYTHON");
    return 0;
}

static void test_python_lambda(void **state)
{
    (void)state;
    check("lambda *x: max(x)", "[3, 9, 2]", "9");
    check("lambda *x: {'n': len(x), 's': sum(x)}", "[1, 2.5]", "{\"n\": 2, \"s\": 3.5}");
    check("lambda *x: list(reversed(x))", "[\"\\u00e9\", [1], null, true]",
          "[true, null, [1], \"\\u00e9\"]");
    check("lambda *x: x[0] + x[1]", "[\"a\", \"b\"]", "\"ab\"");
    /* The text reaches Python as one argument; nothing expands it. */
    check("lambda *x: '$(echo hi); `id` \"q\" \\\\'", "[]", "\"$(echo hi); `id` \\\"q\\\" \\\\\"");
    /* What a reducer prints does not spoil its result. */
    check("lambda *x: print('noise') or len(x)", "[1, 2, 3]", "3");
    check("lambda: 'no values'", "[]", "\"no values\"");
    /* Found on PATH by name too. */
    setenv("RUNNABLE_PYTHON", "python3", 1);
    check("lambda *x: sum(x)", "[1, 2]", "3");
    setenv("RUNNABLE_PYTHON", PYTHON, 1);
}

static void test_python_large_input(void **state)
{
    (void)state;
    json_t *in = json_array();
    for (int i = 0; i < 200000; i++)
        json_array_append_new(in, json_integer(i));
    json_t *out = NULL;
    int rc = rn_reduce("lambda *x: [len(x), sum(x)]", in, &out);
    if (rc)
        fail_msg("%s", rn_error_last());
    char *got = rn_json_dumps_py(out, 0);
    assert_string_equal(got, "[200000, 19999900000]");
    free(got);
    json_decref(out);
    json_decref(in);
}

static void test_python_dotted_path(void **state)
{
    (void)state;
    check("os.path.join", "[\"a\", \"b\"]", "\"a/b\"");

    /* A module of the pipeline's own, imported from the working
     * directory as runnable does; it prints on import and when called. */
    char dir[] = "/tmp/rn-test-reduce-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cwd[4096];
    snprintf(path, sizeof path, "%s/rn_reducers_mod.py", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("print('importing')\n"
          "def mean(*x):\n"
          "    print('called with', x)\n"
          "    return sum(x) / len(x)\n",
          f);
    fclose(f);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    check("rn_reducers_mod.mean", "[1, 2, 3, 4]", "2.5");
    check_error("rn_reducers_mod.median", "[1]", RN_EINVAL, "'rn_reducers_mod.median'",
                "AttributeError", "median", NULL);
    check_error("no_such_module_rn.f", "[1]", RN_EINVAL,
                "ModuleNotFoundError: No module named 'no_such_module_rn'", NULL);
    assert_int_equal(chdir(cwd), 0);
    unlink(path);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/__pycache__", dir);
    DIR *d = opendir(cache);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
            if (e->d_name[0] != '.')
                unlink(p);
        }
        closedir(d);
        rmdir(cache);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void test_python_errors(void **state)
{
    (void)state;
    check_error("lambda *x: 1 / 0", "[1]", RN_EINVAL, "reducer 'lambda *x: 1 / 0' failed",
                "ZeroDivisionError: division by zero", NULL);
    check_error("lambda *x: set(x)", "[1]", RN_EINVAL,
                "TypeError: Object of type set is not JSON serializable", NULL);
    check_error("lambda *x: (", "[1]", RN_EINVAL, "neither a lambda nor a dotted path", NULL);
    check_error("median", "[1]", RN_EINVAL, "neither a lambda nor a dotted path", NULL);
    check_error("lambda x: x", "[1, 2]", RN_EINVAL, "TypeError", NULL);
    /* Valid for Python, not JSON this engine can hold. */
    check_error("lambda *x: float('nan')", "[]", RN_EINVAL, "returned NaN", NULL);
    check_error("lambda *x: 2 ** 70", "[]", RN_EINVAL, "returned 1180591620717411303424",
                NULL);
    /* An "interpreter" that fails silently. */
    setenv("RUNNABLE_PYTHON", "/bin/false", 1);
    check_error("lambda *x: 1", "[]", RN_EINVAL, "said nothing", NULL);
    setenv("RUNNABLE_PYTHON", PYTHON, 1);
}

static void test_no_interpreter(void **state)
{
    (void)state;
    char dir[] = "/tmp/rn-test-nopy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;

    setenv("PATH", dir, 1);
    unsetenv("RUNNABLE_PYTHON");
    check_error("lambda *x: max(x)", "[1]", RN_EUNSUPPORTED,
                "reducer 'lambda *x: max(x)' is Python code and needs a Python interpreter; "
                "none found (set RUNNABLE_PYTHON or use one of: first, last, min, max, sum, "
                "concat)", NULL);
    setenv("RUNNABLE_PYTHON", "", 1);
    check_error("lambda *x: max(x)", "[1]", RN_EUNSUPPORTED, "none found", NULL);
    setenv("RUNNABLE_PYTHON", "/nonexistent/python3", 1);
    check_error("lambda *x: max(x)", "[1]", RN_EUNSUPPORTED,
                "RUNNABLE_PYTHON '/nonexistent/python3' is not an executable program",
                "first, last, min, max, sum, concat", NULL);
    /* Not executable: a directory. */
    setenv("RUNNABLE_PYTHON", dir, 1);
    check_error("pkg.mod.f", "[1]", RN_EUNSUPPORTED, "needs a Python interpreter", NULL);
    /* Named reducers need no Python at all. */
    check("max", "[1, 5]", "5");

    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    } else {
        unsetenv("PATH");
    }
    setenv("RUNNABLE_PYTHON", PYTHON, 1);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_reducer_is_the_list),
        cmocka_unit_test(test_first_last),
        cmocka_unit_test(test_min_max),
        cmocka_unit_test(test_min_max_mixed),
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_not_a_list),
        cmocka_unit_test_setup_teardown(test_python_lambda, python_setup, python_teardown),
        cmocka_unit_test_setup_teardown(test_python_large_input, python_setup,
                                        python_teardown),
        cmocka_unit_test_setup_teardown(test_python_dotted_path, python_setup,
                                        python_teardown),
        cmocka_unit_test_setup_teardown(test_python_errors, python_setup, python_teardown),
        cmocka_unit_test_setup_teardown(test_no_interpreter, python_setup, python_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
