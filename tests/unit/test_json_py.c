/* rn_json_*_py against text produced by CPython's json module. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runnable/plugin.h"

/* Parse `in` with jansson (so reals stay reals), dump it, compare. */
static void check_dump(const char *in, unsigned flags, const char *want)
{
    json_error_t err;
    json_t *v = json_loads(in, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    char *got = rn_json_dumps_py(v, flags);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(v);
}

static void check_real(double d, const char *want)
{
    json_t *v = json_real(d);
    assert_non_null(v);
    char *got = rn_json_dumps_py(v, 0);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(v);
}

static void test_object_default(void **state)
{
    (void)state;
    check_dump("{\"x\": 10, \"foo\": \"bar\"}", 0, "{\"x\": 10, \"foo\": \"bar\"}");
    check_dump("[1,2,3]", 0, "[1, 2, 3]");
    check_dump("[true,false,null,[],{}]", 0, "[true, false, null, [], {}]");
    check_dump("-9223372036854775808", 0, "-9223372036854775808");
}

static void test_floats(void **state)
{
    (void)state;
    check_real(3.14, "3.14");
    check_real(1e-05, "1e-05");
    check_real(1e+16, "1e+16");
    check_real(1.5e+20, "1.5e+20");
    check_real(100.0, "100.0");
    check_real(0.0001, "0.0001");
    check_real(1.0, "1.0");
    check_real(-0.0, "-0.0");
    check_real(5e-324, "5e-324");
    check_real(1.7976931348623157e308, "1.7976931348623157e+308");
    check_real(0.1 + 0.2, "0.30000000000000004");
    check_real(123456789012345.6, "123456789012345.6");
    check_real(1e15, "1000000000000000.0");
    check_real(2.5e-5, "2.5e-05");
    check_real(1.0 / 3.0, "0.3333333333333333");
    /* jansson keeps 1 and 1.0 apart, and so must the text. */
    check_dump("[1, 1.0]", 0, "[1, 1.0]");
}

static const char nested_in[] =
    "{\"name\":\"n\",\"list\":[1,2.5,{\"a\":[],\"b\":{}}],\"empty\":{},"
    "\"nested\":{\"k\":[true,false,null]}}";

static void test_indent4(void **state)
{
    (void)state;
    check_dump(nested_in, RN_JSON_INDENT4,
               "{\n    \"name\": \"n\",\n    \"list\": [\n        1,\n        2.5,\n"
               "        {\n            \"a\": [],\n            \"b\": {}\n        }\n"
               "    ],\n    \"empty\": {},\n    \"nested\": {\n        \"k\": [\n"
               "            true,\n            false,\n            null\n        ]\n"
               "    }\n}");
    check_dump(nested_in, RN_JSON_INDENT4 | RN_JSON_SORT_KEYS,
               "{\n    \"empty\": {},\n    \"list\": [\n        1,\n        2.5,\n"
               "        {\n            \"a\": [],\n            \"b\": {}\n        }\n"
               "    ],\n    \"name\": \"n\",\n    \"nested\": {\n        \"k\": [\n"
               "            true,\n            false,\n            null\n        ]\n"
               "    }\n}");
    check_dump("{}", RN_JSON_INDENT4, "{}");
    check_dump("[]", RN_JSON_INDENT4, "[]");
}

static void test_indent_level(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:[i]}", "a", 1);
    rn_buf b = { 0 };
    assert_int_equal(rn_buf_append(&b, "x: ", 3), 0);
    assert_int_equal(rn_json_append_py(&b, v, RN_JSON_INDENT4, 1), 0);
    assert_string_equal(b.data, "x: {\n        \"a\": [\n            1\n        ]\n    }");
    rn_buf_free(&b);
    json_decref(v);
}

static void test_strings(void **state)
{
    (void)state;
    check_dump("[\"\u00e9\", \"\U0001F600\", \"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\"]", 0,
               "[\"\\u00e9\", \"\\ud83d\\ude00\", \"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\"]");
    /* An embedded NUL survives (json_stringn). */
    json_t *s = json_stringn("a\0b", 3);
    char *got = rn_json_dumps_py(s, 0);
    assert_string_equal(got, "\"a\\u0000b\"");
    free(got);
    json_decref(s);
}

static void test_sort_keys(void **state)
{
    (void)state;
    const char *in = "{\"b\":1,\"a\":2,\"B\":3,\"\u00e9\":4,\"aa\":5}";
    check_dump(in, RN_JSON_SORT_KEYS, "{\"B\": 3, \"a\": 2, \"aa\": 5, \"b\": 1, \"\\u00e9\": 4}");
    check_dump(in, 0, "{\"b\": 1, \"a\": 2, \"B\": 3, \"\\u00e9\": 4, \"aa\": 5}");
}

static void test_loads(void **state)
{
    (void)state;
    const char *bad[] = { "True", "01", "hello", "", "   ", "[1,]", "{\"a\":1} x",
                          "NaN", "Infinity", "-Infinity", "'a'" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = rn_json_loads_py(bad[i], strlen(bad[i]));
        if (v)
            fail_msg("accepted %s", bad[i]);
    }

    json_t *v = rn_json_loads_py(" 42 ", 4);
    assert_non_null(v);
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);

    v = rn_json_loads_py("\n\t3.14\r\n", 8);
    assert_true(json_is_real(v));
    json_decref(v);

    v = rn_json_loads_py("\"42\"", 4);
    assert_string_equal(json_string_value(v), "42");
    json_decref(v);

    /* Only `len` bytes are read: the text need not be NUL-terminated. */
    v = rn_json_loads_py("[1, 2]garbage", 6);
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);

    v = rn_json_loads_py("{\"x\": 10, \"foo\": \"bar\"}", 23);
    char *text = rn_json_dumps_py(v, 0);
    assert_string_equal(text, "{\"x\": 10, \"foo\": \"bar\"}");
    free(text);
    json_decref(v);
}

static void test_render_env(void **state)
{
    (void)state;
    json_t *v = json_string("hello");
    char *s = rn_json_render_env(v);
    assert_string_equal(s, "hello");
    free(s);
    json_decref(v);

    v = json_pack("{s:i,s:s}", "x", 10, "foo", "bar");
    s = rn_json_render_env(v);
    assert_string_equal(s, "{\"x\": 10, \"foo\": \"bar\"}");
    free(s);
    json_decref(v);

    v = json_real(3.0);
    s = rn_json_render_env(v);
    assert_string_equal(s, "3.0");
    free(s);
    json_decref(v);

    v = json_true();
    s = rn_json_render_env(v);
    assert_string_equal(s, "true");
    free(s);
}

static void test_buf(void **state)
{
    (void)state;
    rn_buf b = { 0 };
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rn_buf_printf(&b, "%d,", i), 0);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    char big[600];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = b.len;
    assert_int_equal(rn_buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, before + 601);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(rn_buf_append(&b, NULL, 0), 0);
    rn_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_default),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_indent4),
        cmocka_unit_test(test_indent_level),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_sort_keys),
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_render_env),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
