/* Thread-local error messages and the diagnostics list. */

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "runnable/plugin.h"

static void test_set_and_last(void **state)
{
    (void)state;
    assert_int_equal(rn_error_set(RN_ENOENT, "no file %s (%d)", "x.yaml", 3), RN_ENOENT);
    assert_string_equal(rn_error_last(), "no file x.yaml (3)");
    /* Wrapping the previous message in a new one. */
    rn_error_set(RN_EIO, "step a: %s", rn_error_last());
    assert_string_equal(rn_error_last(), "step a: no file x.yaml (3)");

    char big[10000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rn_error_set(RN_EINVAL, "%s", big);
    assert_true(strlen(rn_error_last()) > 1000);
    assert_true(strlen(rn_error_last()) < sizeof big - 1);
}

static void *other_thread(void *arg)
{
    (void)arg;
    int empty = rn_error_last()[0] == '\0';
    rn_error_set(RN_EFAIL, "from the other thread");
    return empty ? (void *)1 : NULL;
}

static void test_thread_local(void **state)
{
    (void)state;
    rn_error_set(RN_EINVAL, "main thread");
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_ptr_equal(ret, (void *)1);
    assert_string_equal(rn_error_last(), "main thread");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(rn_error_name(RN_EINVAL), "RN_EINVAL");
    assert_string_equal(rn_error_name(RN_EINTERRUPTED), "RN_EINTERRUPTED");
    assert_string_equal(rn_error_name(RN_OK), "RN_OK");
    assert_string_equal(rn_error_name(-100), "RN_E_UNKNOWN");
}

static void test_diag(void **state)
{
    (void)state;
    rn_diag d = { 0 };
    rn_diag_add(&d, "p.yaml", 3, 7, "unknown key '%s'", "nxt");
    rn_diag_add(&d, "p.yaml", 4, 0, "no column");
    rn_diag_add(&d, NULL, 0, 0, "no position");
    rn_diag_add(&d, NULL, 2, 1, "no file");
    for (int i = 0; i < 20; i++)
        rn_diag_add(&d, "f", i + 1, 1, "item %d", i);
    assert_int_equal(d.n, 24);

    const char *want[] = { "p.yaml:3:7: unknown key 'nxt'", "p.yaml:4: no column",
                           "no position", "2:1: no file" };
    for (size_t i = 0; i < 4; i++) {
        char *s = rn_diag_format(&d.items[i]);
        assert_string_equal(s, want[i]);
        free(s);
    }
    char *s = rn_diag_format(&d.items[23]);
    assert_string_equal(s, "f:20:1: item 19");
    free(s);
    rn_diag_free(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.items);
    rn_diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_last),
        cmocka_unit_test(test_thread_local),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_diag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
