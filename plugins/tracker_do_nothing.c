/*
 * experiment-tracker "do-nothing": accepts every call and records nothing.
 * runnable at the reference commit has no tracker at all (services.md
 * §5.3); this is the provider used when none is configured, so the engine
 * can always call a tracker instead of testing for one.
 */
#include <stdlib.h>

#include "runnable/plugin.h"

/* No state; one byte so that `self` is never NULL. */
struct dn_tracker {
    char unused;
};

static int dn_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    struct dn_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *self = t;
    return 0;
}

static void dn_destroy(void *self)
{
    free(self);
}

static int dn_start_run(void *self, const char *run_id, const json_t *parameters)
{
    return 0;
}

static int dn_log_metric(void *self, const char *run_id, const char *step, const char *name,
                         const json_t *value)
{
    return 0;
}

static int dn_end_run(void *self, const char *run_id, const char *status)
{
    return 0;
}

static const rn_tracker_ops dn_ops = {
    .version = RN_TRACKER_OPS_VERSION,
    .create = dn_create,
    .destroy = dn_destroy,
    .start_run = dn_start_run,
    .log_metric = dn_log_metric,
    .end_run = dn_end_run,
};

RN_PLUGIN_DESCRIPTOR(experiment_tracker_do_nothing) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXPERIMENT_TRACKER,
    .type_name = "do-nothing",
    .version = "0.1.0",
    .summary = "experiment tracker that records nothing",
    .config_keys = NULL,
    .ops = &dn_ops,
};
