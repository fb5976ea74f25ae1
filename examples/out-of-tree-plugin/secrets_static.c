/*
 * secrets "static": secret values written in the configuration file.
 *
 *   secrets:
 *     type: static
 *     config:
 *       values:
 *         GREETING: hello
 *
 * An example of a provider built outside runnable's source tree, against
 * the installed SDK only (see README.md).  Keeping real secrets in a config
 * file is rarely wise; the point is a provider small enough to read in one
 * sitting that still does everything a real one must: validate its config
 * in create(), own the strings it hands out until destroy(), and never put
 * a value in an error message.
 */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */

#include <stdlib.h>
#include <string.h>

#include <runnable/plugin.h>

struct static_value {
    char *name;
    char *value;
};

struct static_secrets {
    struct static_value *values;
    size_t n;
};

/* Overwrite a value before freeing it so it does not linger in freed heap
 * memory (core dumps); volatile keeps the compiler from dropping the
 * "dead" stores. */
static void static_wipe(char *s)
{
    if (s == NULL)
        return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
}

static void static_destroy(void *self)
{
    struct static_secrets *s = self;
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        static_wipe(s->values[i].value);
        free(s->values[i].value);
        free(s->values[i].name);
    }
    free(s->values);
    free(s);
}

static int static_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    const json_t *values = config ? json_object_get(config, "values") : NULL;
    struct static_secrets *s;
    const char *name;
    json_t *value;
    size_t i = 0;

    (void)env;
    *self = NULL;
    /* The engine has already rejected keys other than config_keys; the
     * types are ours to check.  No `values` simply serves no secrets. */
    if (values != NULL && !json_is_object(values))
        return rn_error_set(RN_EINVAL, "secrets static: 'values' must be a mapping of NAME: value");

    s = calloc(1, sizeof *s);
    if (s == NULL)
        return rn_error_set(RN_ENOMEM, "out of memory");
    if (values != NULL && json_object_size(values) > 0) {
        s->values = calloc(json_object_size(values), sizeof *s->values);
        if (s->values == NULL) {
            free(s);
            return rn_error_set(RN_ENOMEM, "out of memory");
        }
    }

    /* Copied out of the config: the engine may free its config tree once
     * create() returns, but get()'s answers must live until destroy(). */
    json_object_foreach((json_t *)values, name, value) {
        if (!json_is_string(value)) {
            static_destroy(s);
            /* Name the secret, never show the value. */
            return rn_error_set(RN_EINVAL,
                                "secrets static: value of '%s' must be a string "
                                "(quote it in the YAML)", name);
        }
        s->values[i].name = strdup(name);
        s->values[i].value = strdup(json_string_value(value));
        s->n = ++i;
        if (s->values[i - 1].name == NULL || s->values[i - 1].value == NULL) {
            static_destroy(s);
            return rn_error_set(RN_ENOMEM, "out of memory");
        }
    }
    *self = s;
    return 0;
}

static int static_get(void *self, const char *name, const char **out_value)
{
    const struct static_secrets *s = self;

    *out_value = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->values[i].name, name) == 0) {
            *out_value = s->values[i].value;
            return 0;
        }
    return rn_error_set(RN_ENOENT,
                        "secret '%s' is not among the 'values' of the static secrets provider",
                        name);
}

static const rn_secrets_ops static_ops = {
    .version = RN_SECRETS_OPS_VERSION,
    .create = static_create,
    .destroy = static_destroy,
    .get = static_get,
};

/* The only settings accepted under `config:`. */
static const char *const static_config_keys[] = {"values", NULL};

/* The file is secrets-static.so, so the symbol is secrets_static_LTX_rn_plugin. */
RN_PLUGIN_DESCRIPTOR(secrets_static) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_SECRETS,
    .type_name = "static",
    .version = "1.0.0",
    .summary = "secrets whose values are written in the config file (example plugin)",
    .config_keys = static_config_keys,
    .ops = &static_ops,
};
