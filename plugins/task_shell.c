/*
 * command_type: shell (spec/pipeline-format.md §2.3).
 *
 * Runs the command with /bin/sh -c like runnable, with two deliberate
 * differences (DESIGN.md §2): the child inherits the engine's environment,
 * and returns are read back through a private descriptor instead of an
 * `env` dump in the output, so nothing -- secrets included -- reaches the
 * log that the task did not print itself.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "identifier.h"

/* The descriptor the collector writes `NAME=VALUE\0` records to. */
#define RESULT_FD 3

/* Python's str.strip() whitespace within ASCII (\x1c-\x1f count too). */
static int is_py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void trim(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);
    while (n && is_py_space((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_py_space((unsigned char)s[n - 1]))
        n--;
    *start = s;
    *len = n;
}

static const char *return_kind(const json_t *ret)
{
    const char *k = json_string_value(json_object_get(ret, "kind"));
    return k ? k : "json";
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* Rendering a large parameter (a list of 10,000 items, say) for every
 * task that sees it would cost more than starting the task: the last
 * renderings of lists and mappings are kept, keyed by the value itself
 * (scope values never change once set; the reference held keeps the
 * address from being reused). */
#define RENDER_SLOTS 16
typedef struct rendered {
    json_t *value;
    int map;
    char *text;
} rendered;

typedef struct shell_task {
    rendered cache[RENDER_SLOTS];
    unsigned next;
} shell_task;

static int shell_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    (void)config;
    shell_task *t = calloc(1, sizeof *t);
    if (!t)
        return rn_error_set(RN_ENOMEM, "out of memory");
    *self = t;
    return 0;
}

static void shell_destroy(void *self)
{
    shell_task *t = self;
    if (!t)
        return;
    for (unsigned i = 0; i < RENDER_SLOTS; i++) {
        json_decref(t->cache[i].value);
        free(t->cache[i].text);
    }
    free(t);
}

static int list_has(const json_t *list, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        const char *t = json_string_value(v);
        if (t && strcmp(t, s) == 0)
            return 1;
    }
    return 0;
}

static int shell_validate(void *self, const json_t *task)
{
    if (!json_is_object(task))
        return rn_error_set(RN_EINVAL, "a task must be a mapping");

    const char *cmd = json_string_value(json_object_get(task, "command"));
    const char *start;
    size_t len = 0;
    if (cmd)
        trim(cmd, &start, &len);
    if (!cmd || !len)
        return rn_error_set(RN_EINVAL, "command: must be a non-empty string (the shell "
                                       "script to run)");

    const json_t *returns = json_object_get(task, "returns");
    /* The shape of `returns` is the pipeline's to check (it reports it
     * with positions); here only what a shell adds to it. */
    if (!json_is_array(returns))
        return 0;

    const json_t *secrets = json_object_get(task, "secrets");
    size_t i;
    const json_t *ret;
    json_array_foreach(returns, i, ret) {
        const char *name = json_string_value(json_object_get(ret, "name"));
        if (!json_is_object(ret) || !name)
            continue;
        if (!rn_is_identifier(name))
            return rn_error_set(RN_EINVAL,
                                "returns[%zu]: '%s' is not a valid shell variable name "
                                "(letters, digits and _, not starting with a digit)",
                                i, name);
        const json_t *jkind = json_object_get(ret, "kind");
        if (jkind && !json_is_null(jkind) && !json_is_string(jkind))
            continue;
        const char *kind = return_kind(ret);
        if (strcmp(kind, "object") == 0)
            return rn_error_set(RN_EINVAL,
                                "returns[%zu] (%s): shell tasks cannot return objects; use "
                                "kind json or metric",
                                i, name);
        if (strcmp(kind, "json") != 0 && strcmp(kind, "metric") != 0)
            return rn_error_set(RN_EINVAL, "returns[%zu] (%s): unknown kind '%s' (json or "
                                "metric)", i, name, kind);
        /* Returning a secret would copy it into the run log. */
        if (json_is_array(secrets) && list_has(secrets, name))
            return rn_error_set(RN_EINVAL,
                                "returns[%zu] (%s): has the name of one of this task's "
                                "secrets; secrets are never returned",
                                i, name);
    }
    return 0;
}

/*
 * `SCRIPT && { if [ "${N+x}" = x ]; then printf '%s=%s\0' N "$N"; fi; ...; } >&3`
 *
 * Appended to the last line, as runnable appends its `&& env` -- so it runs
 * only when the last command succeeds, and a trailing comment swallows it,
 * exactly as there.  Only declared names are written, NUL-terminated so a
 * value may hold newlines, and only to the private descriptor.
 */
static int build_script(rn_buf *b, const rn_task_request *req)
{
    const char *start;
    size_t len;
    trim(req->command ? req->command : "", &start, &len);
    if (!len)
        return rn_error_set(RN_EINVAL, "command: is empty");
    int rc = rn_buf_append(b, start, len);

    size_t n = json_array_size(req->returns), written = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(req->returns, i),
                                                             "name"));
        if (!rn_is_identifier(name))
            return rn_error_set(RN_EINVAL, "returns[%zu]: '%s' is not a valid shell variable "
                                "name", i, name ? name : "(none)");
        /* Never written back, even if a return is named like a secret. */
        if (json_object_get(req->secrets, name))
            continue;
        if (written++ == 0)
            rc = rn_buf_append(b, " && {", 5);
        if (!rc)
            rc = rn_buf_printf(b, " if [ \"${%s+x}\" = x ]; then printf '%%s=%%s\\0' %s \"$%s\"; fi;",
                               name, name, name);
    }
    if (!rc && written)
        rc = rn_buf_printf(b, " } >&%d", RESULT_FD);
    return rc;
}

/* A map variable as runnable shows it (Python's str()), a parameter as
 * json.dumps does (strings raw). */
static char *render(const json_t *value, int map)
{
    return map ? rn_py_str(value) : rn_json_render_env(value);
}

static int set_env_rendered(shell_task *t, rn_launch *launch, const char *name,
                            const json_t *value, int map)
{
    if (!json_is_array(value) && !json_is_object(value)) {
        char *text = render(value, map);
        if (!text)
            return rn_error_set(RN_ENOMEM, "cannot render parameter '%s'", name);
        int rc = rn_launch_setenv(launch, name, text);
        free(text);
        return rc;
    }
    for (unsigned i = 0; i < RENDER_SLOTS; i++)
        if (t->cache[i].value == value && t->cache[i].map == map)
            return rn_launch_setenv(launch, name, t->cache[i].text);
    char *text = render(value, map);
    if (!text)
        return rn_error_set(RN_ENOMEM, "cannot render parameter '%s'", name);
    rendered *slot = &t->cache[t->next++ % RENDER_SLOTS];
    json_decref(slot->value);
    free(slot->text);
    slot->value = json_incref((json_t *)value);
    slot->map = map;
    slot->text = text;
    return rn_launch_setenv(launch, name, text);
}

static int shell_prepare(void *self, const rn_task_request *req, rn_launch *launch)
{
    shell_task *t = self;
    const char *key;
    const json_t *v;
    int rc;

    /* Later entries replace earlier ones: map variables, then secrets,
     * then parameters, the order runnable builds its environment in. */
    json_object_foreach((json_t *)req->map_variables, key, v) {
        if ((rc = set_env_rendered(t, launch, key, v, 1)) != 0)
            return rc;
    }
    json_object_foreach((json_t *)req->secrets, key, v) {
        const char *s = json_string_value(v);
        if (!s)
            return rn_error_set(RN_EINVAL, "secret '%s' has no string value", key);
        if ((rc = rn_launch_setenv(launch, key, s)) != 0)
            return rc;
    }
    json_object_foreach((json_t *)req->parameters, key, v) {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        /* Objects live pickled in the catalog; a shell cannot use them. */
        if (kind && strcmp(kind, "object") == 0)
            continue;
        const json_t *value = json_object_get(v, "value");
        if (!value)
            continue;
        if ((rc = set_env_rendered(t, launch, key, value, 0)) != 0)
            return rc;
    }

    rn_buf script = { 0 };
    rc = build_script(&script, req);
    if (!rc)
        rc = rn_launch_add_arg(launch, "/bin/sh");
    if (!rc)
        rc = rn_launch_add_arg(launch, "-c");
    if (!rc)
        rc = rn_launch_add_arg(launch, script.data);
    /* A result file costs a file creation per attempt; only ask for one
     * when there is something to collect. */
    if (!rc && json_array_size(req->returns) > 0)
        rc = rn_launch_want_result(launch, RESULT_FD);
    rn_buf_free(&script);
    return rc;
}

/* A value as JSON when it parses as JSON, else as text.  Bytes that are
 * not UTF-8 become U+FFFD: a JSON string cannot hold them. */
static json_t *decode_value(const char *s, size_t n)
{
    json_t *v = rn_json_loads_py(s, n);
    if (v)
        return v;
    v = json_stringn(s, n);
    if (v)
        return v;

    rn_buf b = { 0 };
    const unsigned char *u = (const unsigned char *)s;
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t k = 0;
        unsigned char c = u[i];
        unsigned cp = 0, min = 0;
        if (c < 0x80)
            k = 1, cp = c;
        else if (c >= 0xc2 && c < 0xe0)
            k = 2, cp = c & 0x1fu, min = 0x80;
        else if (c >= 0xe0 && c < 0xf0)
            k = 3, cp = c & 0x0fu, min = 0x800;
        else if (c >= 0xf0 && c < 0xf5)
            k = 4, cp = c & 0x07u, min = 0x10000;
        int ok = k > 0 && i + k <= n;
        for (size_t j = 1; ok && j < k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (u[i + j] & 0x3fu);
        }
        if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = 0;
        if (ok) {
            rc = rn_buf_append(&b, s + i, k);
            i += k;
        } else {
            rc = rn_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    v = rc ? NULL : json_stringn(b.data ? b.data : "", b.len);
    rn_buf_free(&b);
    return v;
}

/* The value of the last record named `name`, if any. */
static int find_record(const char *data, size_t len, const char *name, const char **val,
                       size_t *val_len)
{
    size_t nl = strlen(name);
    int found = 0;
    for (size_t pos = 0; pos < len;) {
        const char *rec = data + pos;
        const char *nul = memchr(rec, '\0', len - pos);
        size_t rl = nul ? (size_t)(nul - rec) : len - pos;
        if (rl > nl && rec[nl] == '=' && memcmp(rec, name, nl) == 0) {
            *val = rec + nl + 1;
            *val_len = rl - nl - 1;
            found = 1;
        }
        pos += rl + 1;
    }
    return found;
}

static int shell_collect(void *self, const rn_task_request *req, const rn_task_exit *ex,
                         rn_task_result *result)
{
    result->returns = json_object();
    if (!result->returns)
        return rn_error_set(RN_ENOMEM, "out of memory");
    result->message[0] = '\0';

    if (!ex->exited || ex->exit_code != 0) {
        result->success = 0;
        if (ex->exited) {
            snprintf(result->message, sizeof result->message,
                     "command exited with status %d", ex->exit_code);
        } else if (ex->signaled) {
            char sig[32];
            rn_signal_name(ex->term_signal, sig, sizeof sig);
            snprintf(result->message, sizeof result->message, "command killed by signal %s",
                     sig);
        } else {
            snprintf(result->message, sizeof result->message, "command ended abnormally");
        }
        return 0;
    }

    result->success = 1;
    const char *data = ex->result_data ? ex->result_data : "";
    size_t len = ex->result_data ? ex->result_len : 0;
    size_t i;
    const json_t *ret;
    json_array_foreach(req->returns, i, ret) {
        const char *name = json_string_value(json_object_get(ret, "name"));
        const char *val = NULL;
        size_t vl = 0;
        /* A declared return the script never set is simply not produced,
         * as in runnable. */
        if (!name || !find_record(data, len, name, &val, &vl))
            continue;
        json_t *value = decode_value(val, vl);
        json_t *entry = value ? json_pack("{s:s, s:o}", "kind", return_kind(ret), "value", value)
                              : NULL;
        if (!entry || json_object_set_new(result->returns, name, entry) != 0)
            return rn_error_set(RN_ENOMEM, "out of memory");
    }
    return 0;
}

static const rn_task_ops shell_ops = {
    .version = RN_TASK_OPS_VERSION,
    .create = shell_create,
    .destroy = shell_destroy,
    .validate = shell_validate,
    .prepare = shell_prepare,
    .collect = shell_collect,
};

RN_PLUGIN_DESCRIPTOR(task_shell) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_TASK,
    .type_name = "shell",
    .version = PACKAGE_VERSION,
    .summary = "run the command with /bin/sh -c; returns read from the shell's variables",
    .config_keys = NULL,
    .ops = &shell_ops,
};
