/*
 * secrets "env-secrets" (runnable's default): a secret is the process
 * environment variable of the same name.
 *
 * Values are copied on lookup because the environment may change (a task
 * runner may unset a variable) while the engine still holds the pointer;
 * the copies live until destroy(), which wipes them.  Unlike runnable
 * (defect D20) nothing is ever removed from the environment.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"

struct env_value {
    struct env_value *next;
    char *name;
    char *value;
};

struct env_secrets {
    struct env_value *values;
};

/* Zeroing through a volatile pointer so the compiler cannot drop it as a
 * dead store before free(). */
static void env_wipe(char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
}

static int env_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    struct env_secrets *s = calloc(1, sizeof *s);
    if (!s)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *self = s;
    return 0;
}

static void env_destroy(void *self)
{
    struct env_secrets *s = self;
    if (!s)
        return;
    struct env_value *v = s->values;
    while (v) {
        struct env_value *next = v->next;
        env_wipe(v->value);
        free(v->value);
        free(v->name);
        free(v);
        v = next;
    }
    free(s);
}

static int env_get(void *self, const char *name, const char **out_value)
{
    struct env_secrets *s = self;
    *out_value = NULL;
    if (!name || !name[0])
        return rn_error_set(RN_EINVAL, "secret name is missing");
    const char *now = getenv(name);
    if (!now)
        return rn_error_set(RN_ENOENT,
                            "secret '%s' is not set in the environment; export it before running",
                            name);
    /* A repeated lookup of an unchanged value reuses its copy, so a long
     * run does not grow with the number of steps. */
    for (struct env_value *v = s->values; v; v = v->next) {
        if (strcmp(v->name, name) == 0 && strcmp(v->value, now) == 0) {
            *out_value = v->value;
            return 0;
        }
    }
    struct env_value *v = calloc(1, sizeof *v);
    if (!v || !(v->name = strdup(name)) || !(v->value = strdup(now))) {
        if (v)
            free(v->name);
        free(v);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    v->next = s->values;
    s->values = v;
    *out_value = v->value;
    return 0;
}

static const rn_secrets_ops env_ops = {
    .version = RN_SECRETS_OPS_VERSION,
    .create = env_create,
    .destroy = env_destroy,
    .get = env_get,
};

RN_PLUGIN_DESCRIPTOR(secrets_env_secrets) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_SECRETS,
    .type_name = "env-secrets",
    .version = "0.1.0",
    .summary = "secrets from the process environment (runnable's default)",
    .config_keys = NULL,
    .ops = &env_ops,
};
