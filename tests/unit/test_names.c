/* Generated run ids. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <string.h>
#include <cmocka.h>

#include "runid.h"
#include "runnable/plugin.h"

static void test_shape(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re, "^[a-z]+-[a-z]+-[0-9]{4}$", REG_EXTENDED | REG_NOSUB), 0);
    char first[RN_RUN_ID_GENERATED_MAX];
    int distinct = 0;
    assert_int_equal(rn_run_id_generate(first, sizeof first), 0);
    for (int i = 0; i < 200; i++) {
        char id[RN_RUN_ID_GENERATED_MAX];
        assert_int_equal(rn_run_id_generate(id, sizeof id), 0);
        if (regexec(&re, id, 0, NULL, 0) != 0)
            fail_msg("bad run id '%s'", id);
        /* HHMM is a valid time of day. */
        const char *t = id + strlen(id) - 4;
        assert_true((t[0] - '0') * 10 + (t[1] - '0') < 24);
        assert_true((t[2] - '0') * 10 + (t[3] - '0') < 60);
        /* Compare without the time, which may tick over. */
        if (strncmp(id, first, strlen(id) - 4) != 0)
            distinct++;
    }
    regfree(&re);
    assert_true(distinct > 100);
}

static void test_small_buffer(void **state)
{
    (void)state;
    char id[8];
    assert_int_equal(rn_run_id_generate(id, sizeof id), RN_EINVAL);
    assert_string_equal(id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
