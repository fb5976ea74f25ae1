/*
 * secrets "do-nothing": every secret is the empty string, as in runnable.
 * Useful where tasks declare secrets that a test environment does not have.
 */
#include <stdlib.h>

#include "runnable/plugin.h"

/* No state; one byte so that `self` is never NULL. */
struct dn_secrets {
    char unused;
};

static int dn_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    struct dn_secrets *s = calloc(1, sizeof *s);
    if (!s)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *self = s;
    return 0;
}

static void dn_destroy(void *self)
{
    free(self);
}

static int dn_get(void *self, const char *name, const char **out_value)
{
    if (!name)
        return rn_error_set(RN_EINVAL, "secret name is missing");
    /* A string literal outlives every instance, which the contract asks. */
    *out_value = "";
    return 0;
}

static const rn_secrets_ops dn_ops = {
    .version = RN_SECRETS_OPS_VERSION,
    .create = dn_create,
    .destroy = dn_destroy,
    .get = dn_get,
};

RN_PLUGIN_DESCRIPTOR(secrets_do_nothing) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_SECRETS,
    .type_name = "do-nothing",
    .version = "0.1.0",
    .summary = "secrets that are all the empty string",
    .config_keys = NULL,
    .ops = &dn_ops,
};
