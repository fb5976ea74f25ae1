/* Typed lookups in a provider's `config:` mapping. */

#include "config.h"

#include "runnable/plugin.h"

/*
 * A missing key and an explicit null (`key:` with nothing after it in
 * YAML) both give the default: that is how the Python providers' optional
 * settings behave.
 */
static int lookup(const json_t *config, const char *key, json_t **out)
{
    *out = NULL;
    if (!config)
        return 0;
    if (!json_is_object(config))
        return rn_error_set(RN_EINVAL, "the provider's config must be a mapping");
    json_t *v = json_object_get(config, key);
    if (v && !json_is_null(v))
        *out = v;
    return 0;
}

int rn_config_string(const json_t *config, const char *key, const char *def, const char **out)
{
    json_t *v;
    int rc = lookup(config, key, &v);
    *out = def;
    if (rc || !v)
        return rc;
    if (!json_is_string(v))
        return rn_error_set(RN_EINVAL, "setting '%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

int rn_config_bool(const json_t *config, const char *key, int def, int *out)
{
    json_t *v;
    int rc = lookup(config, key, &v);
    *out = def;
    if (rc || !v)
        return rc;
    if (!json_is_boolean(v))
        return rn_error_set(RN_EINVAL, "setting '%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

int rn_config_int(const json_t *config, const char *key, long long def, long long *out)
{
    json_t *v;
    int rc = lookup(config, key, &v);
    *out = def;
    if (rc || !v)
        return rc;
    if (!json_is_integer(v))
        return rn_error_set(RN_EINVAL, "setting '%s' must be an integer", key);
    *out = (long long)json_integer_value(v);
    return 0;
}
