/* Shared by the conformance suites: each suite runs the same checks
 * against every provider of its kind, loaded like the engine loads them
 * (RUNNABLE_PLUGIN_PATH points at the build tree during `make check`). */
#ifndef RN_TEST_PLUGIN_OPEN_H
#define RN_TEST_PLUGIN_OPEN_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "loader.h"

/* Open and create a provider or fail the current test with the loader's
 * message. */
static inline rn_provider *rn_test_provider(int kind, const char *type, const json_t *config)
{
    rn_provider *p = NULL;
    rn_plugin_env env = {1, NULL, "."};
    int rc = rn_provider_open(kind, type, config, &env, &p);
    if (rc != 0)
        fail_msg("cannot open %s provider '%s': %s", rn_kind_name(kind), type, rn_error_last());
    return p;
}

#endif
