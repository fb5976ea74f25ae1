/*
 * Experiment-tracker conformance: the same checks against every tracker,
 * loaded through the engine's loader.  A tracker must accept a whole run's
 * worth of calls with any JSON metric value; whether it records them is
 * the provider's business.
 */
#include <stdio.h>
#include <stdlib.h>

#include "plugin_open.h"

struct trk_row {
    const char *type;
    const char *config;   /* JSON settings, NULL for none */
};

static const struct trk_row rows[] = {
    {"do-nothing", NULL},
    {"do-nothing", "{}"},
};

struct fx {
    const struct trk_row *row;
    rn_provider *p;
    const rn_tracker_ops *ops;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->row = *state;
    json_t *config = NULL;
    if (f->row->config) {
        config = json_loads(f->row->config, 0, NULL);
        assert_non_null(config);
    }
    f->p = rn_test_provider(RN_KIND_EXPERIMENT_TRACKER, f->row->type, config);
    json_decref(config);
    f->ops = f->p->ops;
    assert_true(f->ops->version >= 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->p)
        rn_provider_close(f->p);
    free(f);
    return 0;
}

static void whole_run_is_accepted(void **state)
{
    struct fx *f = *state;
    json_t *params = json_pack("{s:{s:s, s:i}}", "x", "kind", "json", "value", 1);
    assert_int_equal(f->ops->start_run(f->p->self, "run-1", params), 0);

    json_t *values[] = {json_integer(3), json_real(0.25), json_string("text"), json_true(),
                        json_null(), json_pack("{s:[i,i]}", "hist", 1, 2)};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_non_null(values[i]);
        assert_int_equal(f->ops->log_metric(f->p->self, "run-1", "train", "m", values[i]), 0);
        assert_int_equal(f->ops->log_metric(f->p->self, "run-1", "map_state.1.t", "m", values[i]),
                         0);
        json_decref(values[i]);
    }
    assert_int_equal(f->ops->end_run(f->p->self, "run-1", "SUCCESS"), 0);
    json_decref(params);
}

static void runs_follow_one_another(void **state)
{
    struct fx *f = *state;
    json_t *empty = json_object();
    const char *statuses[] = {"SUCCESS", "FAIL"};
    for (int i = 0; i < 2; i++) {
        const char *run = i ? "run-b" : "run-a";
        assert_int_equal(f->ops->start_run(f->p->self, run, empty), 0);
        assert_int_equal(f->ops->end_run(f->p->self, run, statuses[i]), 0);
    }
    json_decref(empty);
}

int main(void)
{
    int failed = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        void *row = (void *)&rows[r];
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate_setup_teardown(whole_run_is_accepted, setup, teardown, row),
            cmocka_unit_test_prestate_setup_teardown(runs_follow_one_another, setup, teardown, row),
        };
        char name[128];
        snprintf(name, sizeof name, "experiment-tracker %s %s", rows[r].type,
                 rows[r].config ? rows[r].config : "(no settings)");
        /* cmocka's standard output does not show group names. */
        printf("# %s\n", name);
        fflush(stdout);
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    return failed ? 1 : 0;
}
