/* rn_backoff: defaults with and without a `retry:` block, the exponential
 * growth and its cap, jitter, and the bad mappings the loader rejects. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runnable/plugin.h"
#include "backoff.h"

static rn_backoff parse_ok(const char *text)
{
    json_error_t je;
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
    if (text)
        assert_non_null(j);
    rn_backoff b;
    assert_int_equal(rn_backoff_parse(j, &b), 0);
    json_decref(j);
    return b;
}

static void parse_bad(const char *text, const char *msg_part)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    rn_backoff b;
    assert_int_equal(rn_backoff_parse(j, &b), RN_EINVAL);
    if (!strstr(rn_error_last(), msg_part))
        fail_msg("%s: message '%s' lacks '%s'", text, rn_error_last(), msg_part);
    /* Whatever the error, *out is usable: retry at once. */
    assert_true(rn_backoff_delay(&b, 3, 0.5) == 0);
    json_decref(j);
}

static void test_no_block_retries_at_once(void **state)
{
    (void)state;
    rn_backoff b = parse_ok(NULL);
    for (int n = 1; n < 10; n++)
        assert_true(rn_backoff_delay(&b, n, 1.0) == 0);
    b = parse_ok("null");
    assert_true(rn_backoff_delay(&b, 2, 0.0) == 0);
}

static void test_block_defaults(void **state)
{
    (void)state;
    rn_backoff b = parse_ok("{}");
    assert_true(b.delay == 1 && b.factor == 2 && b.max_delay == 60 && b.jitter == 0);
    const double want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (int n = 1; n <= 9; n++)
        assert_true(rn_backoff_delay(&b, n, 0.3) == want[n - 1]);
    /* Before any failure counts as the first. */
    assert_true(rn_backoff_delay(&b, 0, 0.3) == 1);
    assert_true(rn_backoff_delay(&b, -5, 0.3) == 1);
}

static void test_explicit_values(void **state)
{
    (void)state;
    rn_backoff b = parse_ok("{\"delay\": 0.5, \"factor\": 3, \"max_delay\": 10}");
    assert_true(rn_backoff_delay(&b, 1, 0) == 0.5);
    assert_true(rn_backoff_delay(&b, 2, 0) == 1.5);
    assert_true(rn_backoff_delay(&b, 3, 0) == 4.5);
    assert_true(rn_backoff_delay(&b, 4, 0) == 10);

    /* factor 1: a constant delay. */
    b = parse_ok("{\"delay\": 2, \"factor\": 1}");
    assert_true(rn_backoff_delay(&b, 1, 0) == 2);
    assert_true(rn_backoff_delay(&b, 1000000, 0) == 2);

    /* A delay alone longer than the default cap is not cut to it... */
    b = parse_ok("{\"delay\": 120}");
    assert_true(rn_backoff_delay(&b, 1, 0) == 120);
    assert_true(rn_backoff_delay(&b, 5, 0) == 120);
    /* ...but an explicit max_delay caps everything. */
    b = parse_ok("{\"delay\": 120, \"max_delay\": 30}");
    assert_true(rn_backoff_delay(&b, 1, 0) == 30);

    /* delay 0 in a block: at once, whatever the factor. */
    b = parse_ok("{\"delay\": 0, \"factor\": 5}");
    assert_true(rn_backoff_delay(&b, 7, 0) == 0);
}

/* factor^n far beyond a double: the cap, no inf, no NaN, no long loop. */
static void test_overflow(void **state)
{
    (void)state;
    rn_backoff b = parse_ok("{\"delay\": 1, \"factor\": 1e300, \"max_delay\": 3600}");
    assert_true(rn_backoff_delay(&b, 2, 0) == 3600);
    assert_true(rn_backoff_delay(&b, 3, 0) == 3600);
    assert_true(rn_backoff_delay(&b, 2147483647, 0) == 3600);
    b = parse_ok("{\"factor\": 1.0000001, \"max_delay\": 1e308}");
    double d = rn_backoff_delay(&b, 2147483647, 0);
    assert_true(d > 1 && d <= 1e308);
    b = parse_ok("{\"delay\": 1e300, \"factor\": 1e300, \"max_delay\": 1e308}");
    assert_true(rn_backoff_delay(&b, 4, 0) == 1e308);
}

static void test_jitter(void **state)
{
    (void)state;
    rn_backoff b = parse_ok("{\"delay\": 4, \"jitter\": true}");
    assert_true(b.jitter == 0.5);
    /* Between half and all of the delay. */
    assert_true(rn_backoff_delay(&b, 1, 0.0) == 2);
    assert_true(rn_backoff_delay(&b, 1, 0.5) == 3);
    assert_true(rn_backoff_delay(&b, 1, 1.0) == 4);
    assert_true(rn_backoff_delay(&b, 2, 0.0) == 4);
    assert_true(rn_backoff_delay(&b, 2, 1.0) == 8);
    /* Out-of-range randomness is clamped. */
    assert_true(rn_backoff_delay(&b, 1, -3) == 2);
    assert_true(rn_backoff_delay(&b, 1, 7) == 4);
    /* Jitter applies after the cap: a capped delay still varies. */
    b = parse_ok("{\"delay\": 4, \"max_delay\": 10, \"jitter\": true}");
    assert_true(rn_backoff_delay(&b, 9, 0.0) == 5);
    /* A fraction: delay * (1 - 0.2 + 0.2 * r). */
    b = parse_ok("{\"delay\": 10, \"jitter\": 0.2}");
    assert_true(rn_backoff_delay(&b, 1, 0.0) == 8);
    assert_true(rn_backoff_delay(&b, 1, 1.0) == 10);
    b = parse_ok("{\"delay\": 10, \"jitter\": false}");
    assert_true(rn_backoff_delay(&b, 1, 0.0) == 10);
}

static void test_bad_blocks(void **state)
{
    (void)state;
    parse_bad("[1]", "must be a mapping");
    parse_bad("{\"delays\": 1}", "unknown retry key 'delays'");
    parse_bad("{\"delay\": -1}", "'delay' must be a number of at least 0");
    parse_bad("{\"delay\": \"1s\"}", "'delay' must be a number");
    parse_bad("{\"factor\": 0.5}", "'factor' must be a number of at least 1");
    parse_bad("{\"max_delay\": -2}", "'max_delay'");
    parse_bad("{\"jitter\": 2}", "'jitter' must be true, false or a fraction");
    parse_bad("{\"jitter\": \"yes\"}", "'jitter'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_block_retries_at_once),
        cmocka_unit_test(test_block_defaults),
        cmocka_unit_test(test_explicit_values),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_bad_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
