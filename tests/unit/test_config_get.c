/* rn_config_string / bool / int. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runnable/plugin.h"

static void test_lookups(void **state)
{
    (void)state;
    json_t *c = json_pack("{s:s, s:b, s:I, s:n, s:i, s:s}", "location", ".catalog", "fsync", 1,
                          "big", (json_int_t)1 << 40, "nothing", "count", 3, "flag", "yes");
    const char *s;
    int b;
    long long n;

    assert_int_equal(rn_config_string(c, "location", "x", &s), 0);
    assert_string_equal(s, ".catalog");
    assert_int_equal(rn_config_string(c, "missing", "def", &s), 0);
    assert_string_equal(s, "def");
    assert_int_equal(rn_config_string(c, "nothing", "def", &s), 0);
    assert_string_equal(s, "def");
    assert_int_equal(rn_config_string(NULL, "location", NULL, &s), 0);
    assert_null(s);

    assert_int_equal(rn_config_bool(c, "fsync", 0, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(rn_config_bool(c, "missing", 1, &b), 0);
    assert_int_equal(b, 1);

    assert_int_equal(rn_config_int(c, "big", 0, &n), 0);
    assert_true(n == (long long)1 << 40);
    assert_int_equal(rn_config_int(NULL, "big", -5, &n), 0);
    assert_true(n == -5);

    assert_int_equal(rn_config_string(c, "count", NULL, &s), RN_EINVAL);
    assert_string_equal(rn_error_last(), "setting 'count' must be a string");
    assert_int_equal(rn_config_bool(c, "flag", 0, &b), RN_EINVAL);
    assert_string_equal(rn_error_last(), "setting 'flag' must be true or false");
    assert_int_equal(rn_config_int(c, "location", 0, &n), RN_EINVAL);
    assert_string_equal(rn_error_last(), "setting 'location' must be an integer");

    json_t *arr = json_array();
    assert_int_equal(rn_config_int(arr, "x", 0, &n), RN_EINVAL);
    json_decref(arr);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
