/* rn_py_str against what CPython's str() prints for json.loads(text).
 *
 * Each expected string is what /usr/bin/python3 (3.11.2) printed for the
 * JSON text J beside it:
 *
 *   python3 -c 'import json, sys; sys.stdout.write(str(json.loads(sys.argv[1])))' J
 *
 * written out as a C literal with non-ASCII bytes in octal.
 */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "py_str.h"

static const struct {
    const char *json;
    const char *want;
} cases[] = {
    {"\"plain\"",
     "plain"},
    {"\"\"",
     ""},
    {"\"it's\"",
     "it's"},
    {"\"say \\\"hi\\\"\"",
     "say \"hi\""},
    {"\"both ' and \\\"\"",
     "both ' and \""},
    {"42",
     "42"},
    {"-7",
     "-7"},
    {"0",
     "0"},
    {"9223372036854775807",
     "9223372036854775807"},
    {"-9223372036854775808",
     "-9223372036854775808"},
    {"1.5",
     "1.5"},
    {"3.0",
     "3.0"},
    {"0.1",
     "0.1"},
    {"1e16",
     "1e+16"},
    {"1e-05",
     "1e-05"},
    {"0.0001",
     "0.0001"},
    {"123456789012345678.0",
     "1.2345678901234568e+17"},
    {"-0.0",
     "-0.0"},
    {"1e22",
     "1e+22"},
    {"5e-324",
     "5e-324"},
    {"1.7976931348623157e308",
     "1.7976931348623157e+308"},
    {"2.5e-7",
     "2.5e-07"},
    {"1234567890123456.0",
     "1234567890123456.0"},
    {"12345678901234567.0",
     "1.2345678901234568e+16"},
    {"true",
     "True"},
    {"false",
     "False"},
    {"null",
     "None"},
    {"[1, \"a\", true, null, 2.5]",
     "[1, 'a', True, None, 2.5]"},
    {"{\"k\": [1, 2]}",
     "{'k': [1, 2]}"},
    {"[]",
     "[]"},
    {"{}",
     "{}"},
    {"[[], {}, [[]]]",
     "[[], {}, [[]]]"},
    {"{\"b\": 1, \"a\": 2, \"c\": {\"z\": null, \"y\": false}}",
     "{'b': 1, 'a': 2, 'c': {'z': None, 'y': False}}"},
    {"[\"it's\", \"say \\\"hi\\\"\", \"both ' and \\\"\", \"back\\\\slash\"]",
     "[\"it's\", 'say \"hi\"', 'both \\' and \"', 'back\\\\slash']"},
    {"[\"a\\nb\\tc\\rd\", \"\\u0000\\u0001\\u001f\\u007f\", \"\\b\\f\"]",
     "['a\\nb\\tc\\rd', '\\x00\\x01\\x1f\\x7f', '\\x08\\x0c']"},
    {"[\"caf\\u00e9\", \"\\u65e5\\u672c\", \"\\ud83d\\ude00\", \"\\u00a0\", \"\\u0080\\u009f\", \"\\u00ad\", \"\\u00a1\"]",
     "['caf\303\251', '\346\227\245\346\234\254', '\360\237\230\200', '\\xa0', '\\x80\\x9f', '\\xad', '\302\241']"},
    {"[\"\\u2028\", \"\\u200b\", \"\\ufeff\", \"\\u3000\", \"\\ue000\", \"\\ufdd0\", \"\\uffff\", \"\\udb40\\udc01\", \"\\udbc0\\udc00\"]",
     "['\\u2028', '\\u200b', '\\ufeff', '\\u3000', '\\ue000', '\\ufdd0', '\\uffff', '\\U000e0001', '\\U00100000']"},
    {"[\"\\u0301\", \"\\u1680\", \"\\u2060\", \"\\u0600\"]",
     "['\314\201', '\\u1680', '\\u2060', '\\u0600']"},
    {"{\"it's\": \"x\", \"k\\n\": [\"\\u00e9\"]}",
     "{\"it's\": 'x', 'k\\n': ['\303\251']}"},
    {"\"top \\n level \\u00a0 raw '\\\"\"",
     "top \012 level \302\240 raw '\""},
    {"[1.0, -2.5e-10, 1e+100, 100.0, 1e15, 1e16]",
     "[1.0, -2.5e-10, 1e+100, 100.0, 1000000000000000.0, 1e+16]"},
};

static void test_against_python(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = rn_json_loads_py(cases[i].json, strlen(cases[i].json));
        if (!v)
            fail_msg("case %zu does not parse: %s", i, cases[i].json);
        char *got = rn_py_str(v);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s\n  got  %s\n  want %s", i, cases[i].json, got,
                     cases[i].want);
        free(got);
        json_decref(v);
    }
}

/* Values built in code rather than parsed: insertion order is dict order,
 * and an integer real is still a float. */
static void test_built_values(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "zeta", json_real(2.0));
    json_object_set_new(o, "alpha", json_integer(2));
    json_object_set_new(o, "mid", json_pack("[s,b,n]", "x'y", 1));
    char *got = rn_py_str(o);
    assert_string_equal(got, "{'zeta': 2.0, 'alpha': 2, 'mid': [\"x'y\", True, None]}");
    free(got);
    json_decref(o);
}

/* A NUL inside a nested string is escaped like any control character. */
static void test_nul_in_nested_string(void **state)
{
    (void)state;
    json_t *a = json_pack("[s%]", "a\0b", (size_t)3);
    assert_non_null(a);
    char *got = rn_py_str(a);
    assert_string_equal(got, "['a\\x00b']");
    free(got);
    json_decref(a);
}

/* Too deep to print safely: NULL with a message, not a crash. */
static void test_too_deep(void **state)
{
    (void)state;
    json_t *root = json_array();
    json_t *cur = root;
    for (int i = 0; i < 5000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    char *got = rn_py_str(root);
    assert_null(got);
    assert_non_null(strstr(rn_error_last(), "nested deeper"));
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_python),
        cmocka_unit_test(test_built_values),
        cmocka_unit_test(test_nul_in_nested_string),
        cmocka_unit_test(test_too_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
