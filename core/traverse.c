/*
 * The executor's entry into the engine: run the whole pipeline in this
 * process with the scheduler (sched.c).
 */
#include "config.h"

#include <string.h>

#include "engine.h"

int rn_engine_traverse(rn_engine *e, const rn_traverse_opts *opts)
{
    return rn_sched_run(e, opts);
}

int rn_traverse_opts_parse(const json_t *config, rn_traverse_opts *out)
{
    int parallel = 0, serialise = 1, rc;
    long long max_parallel = 0;
    double grace = 5;
    memset(out, 0, sizeof *out);
    const json_t *g = json_object_get(config, "kill_grace");
    if (g && (!json_is_number(g) || json_number_value(g) <= 0))
        return rn_error_set(RN_EINVAL, "setting 'kill_grace' must be a number of seconds "
                                       "above 0 (the wait between SIGTERM and SIGKILL)");
    if (g)
        grace = json_number_value(g);
    if ((rc = rn_config_bool(config, "enable_parallel", 0, &parallel)) < 0 ||
        (rc = rn_config_int(config, "max_parallel", 0, &max_parallel)) < 0 ||
        (rc = rn_config_bool(config, "object_serialisation", 1, &serialise)) < 0)
        return rc;
    if (max_parallel < 0)
        return rn_error_set(RN_EINVAL, "setting 'max_parallel' must be at least 1 (or 0 for "
                                       "the number of CPUs)");
    const json_t *ov = json_object_get(config, "overrides");
    if (ov && !json_is_object(ov))
        return rn_error_set(RN_EINVAL, "setting 'overrides' must be a mapping of names to "
                                       "settings");
    out->version = 4;
    out->enable_parallel = parallel;
    out->max_parallel = (int)max_parallel;
    out->kill_grace = grace;
    return 0;
}
