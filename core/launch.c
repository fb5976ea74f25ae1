/* The rn_launch builder: argv and environment of a task's process, as a
 * task plugin describes it and the engine (or an executor) spawns it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "spawn.h"

extern char **environ;

struct rn_launch {
    char **argv;            /* NULL-terminated; every string owned */
    size_t argc, argv_cap;

    char **envp;            /* NULL-terminated "NAME=VALUE" */
    unsigned char *owned;   /* owned[i]: envp[i] was malloc'd on its own */
    size_t envc, env_cap;
    /* The engine's environment copied in one block: a launch is made per
     * step, and one allocation is much cheaper than one per variable. */
    char *env_block;

    int result_fd;          /* -1 when no result descriptor was asked for */
};

static int oom(void)
{
    return rn_error_set(RN_ENOMEM, "out of memory");
}

int rn_launch_new(rn_launch **out)
{
    *out = NULL;
    rn_launch *l = calloc(1, sizeof *l);
    if (!l)
        return oom();
    l->result_fd = -1;

    size_t n = 0, bytes = 0;
    for (char **e = environ; e && *e; e++) {
        n++;
        bytes += strlen(*e) + 1;
    }
    /* Room for a few variables set by the engine and the plugin before
     * anything has to grow. */
    l->env_cap = n + 16;
    l->envp = malloc(l->env_cap * sizeof *l->envp);
    l->owned = calloc(l->env_cap, 1);
    l->env_block = malloc(bytes ? bytes : 1);
    l->argv_cap = 4;
    l->argv = calloc(l->argv_cap, sizeof *l->argv);
    if (!l->envp || !l->owned || !l->env_block || !l->argv) {
        rn_launch_free(l);
        return oom();
    }

    char *p = l->env_block;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(environ[i]) + 1;
        memcpy(p, environ[i], len);
        l->envp[i] = p;
        p += len;
    }
    l->envc = n;
    l->envp[n] = NULL;
    *out = l;
    return 0;
}

void rn_launch_free(rn_launch *l)
{
    if (!l)
        return;
    if (l->argv)
        for (size_t i = 0; i < l->argc; i++)
            free(l->argv[i]);
    free(l->argv);
    if (l->envp && l->owned)
        for (size_t i = 0; i < l->envc; i++)
            if (l->owned[i])
                free(l->envp[i]);
    free(l->envp);
    free(l->owned);
    free(l->env_block);
    free(l);
}

int rn_launch_add_arg(rn_launch *l, const char *arg)
{
    if (!l || !arg)
        return rn_error_set(RN_EINVAL, "rn_launch_add_arg: no launch or argument");
    if (l->argc + 2 > l->argv_cap) {
        size_t ncap = l->argv_cap * 2;
        char **a = realloc(l->argv, ncap * sizeof *a);
        if (!a)
            return oom();
        l->argv = a;
        l->argv_cap = ncap;
    }
    char *copy = strdup(arg);
    if (!copy)
        return oom();
    l->argv[l->argc++] = copy;
    l->argv[l->argc] = NULL;
    return 0;
}

/* Index of NAME in envp, or envc when absent.  A linear scan: a launch
 * holds some tens of variables and is searched a handful of times. */
static size_t env_find(const rn_launch *l, const char *name, size_t name_len, size_t from)
{
    for (size_t i = from; i < l->envc; i++)
        if (strncmp(l->envp[i], name, name_len) == 0 && l->envp[i][name_len] == '=')
            return i;
    return l->envc;
}

static int check_name(const char *name)
{
    /* A name holding '=' would be read back as a different variable. */
    if (!name || !*name || strchr(name, '='))
        return rn_error_set(RN_EINVAL, "invalid environment variable name '%s'",
                            name ? name : "(null)");
    return 0;
}

int rn_launch_setenv(rn_launch *l, const char *name, const char *value)
{
    if (!l)
        return rn_error_set(RN_EINVAL, "rn_launch_setenv: no launch");
    int rc = check_name(name);
    if (rc)
        return rc;
    if (!value)
        value = "";

    size_t nl = strlen(name), vl = strlen(value);
    char *entry = malloc(nl + 1 + vl + 1);
    if (!entry)
        return oom();
    memcpy(entry, name, nl);
    entry[nl] = '=';
    memcpy(entry + nl + 1, value, vl + 1);

    size_t i = env_find(l, name, nl, 0);
    if (i < l->envc) {
        if (l->owned[i])
            free(l->envp[i]);
        l->envp[i] = entry;
        l->owned[i] = 1;
        /* An inherited environment may name a variable twice; the child
         * must not see a stale second copy. */
        size_t j;
        while ((j = env_find(l, name, nl, i + 1)) < l->envc) {
            if (l->owned[j])
                free(l->envp[j]);
            memmove(l->envp + j, l->envp + j + 1, (l->envc - j) * sizeof *l->envp);
            memmove(l->owned + j, l->owned + j + 1, l->envc - j - 1);
            l->envc--;
        }
        return 0;
    }

    if (l->envc + 2 > l->env_cap) {
        size_t ncap = l->env_cap * 2;
        char **e = realloc(l->envp, ncap * sizeof *e);
        if (!e) {
            free(entry);
            return oom();
        }
        l->envp = e;
        unsigned char *o = realloc(l->owned, ncap);
        if (!o) {
            free(entry);
            return oom();
        }
        memset(o + l->env_cap, 0, ncap - l->env_cap);
        l->owned = o;
        l->env_cap = ncap;
    }
    l->envp[l->envc] = entry;
    l->owned[l->envc] = 1;
    l->envc++;
    l->envp[l->envc] = NULL;
    return 0;
}

int rn_launch_unsetenv(rn_launch *l, const char *name)
{
    if (!l)
        return rn_error_set(RN_EINVAL, "rn_launch_unsetenv: no launch");
    int rc = check_name(name);
    if (rc)
        return rc;
    size_t nl = strlen(name), i = 0;
    while ((i = env_find(l, name, nl, i)) < l->envc) {
        if (l->owned[i])
            free(l->envp[i]);
        /* Moves the terminating NULL too; order is kept so that the
         * child's environment reads like the engine's. */
        memmove(l->envp + i, l->envp + i + 1, (l->envc - i) * sizeof *l->envp);
        memmove(l->owned + i, l->owned + i + 1, l->envc - i - 1);
        l->envc--;
    }
    return 0;
}

int rn_launch_want_result(rn_launch *l, int fd)
{
    if (!l)
        return rn_error_set(RN_EINVAL, "rn_launch_want_result: no launch");
    /* 0-2 are the child's stdio; the upper bound keeps the number usable
     * from any shell (dash only parses single-digit redirections, bash
     * more) and well inside every descriptor limit. */
    if (fd < 3 || fd > 255)
        return rn_error_set(RN_EINVAL, "result descriptor %d is not in 3..255", fd);
    l->result_fd = fd;
    return 0;
}

char *const *rn_launch_argv(const rn_launch *l)
{
    return l->argv;
}

char *const *rn_launch_envp(const rn_launch *l)
{
    return l->envp;
}

int rn_launch_result_fd(const rn_launch *l)
{
    return l->result_fd;
}

const char *rn_launch_getenv(const rn_launch *l, const char *name)
{
    size_t nl = strlen(name);
    size_t i = env_find(l, name, nl, 0);
    return i < l->envc ? l->envp[i] + nl + 1 : NULL;
}
