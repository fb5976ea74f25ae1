/*
 * Configuration loading.  runnable silently ignores unknown keys; here every
 * unknown key is an error with its position (DESIGN §2), except keys that
 * start with "x-", which are left for the user.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "pipeline.h"
#include "conf.h"

extern char **environ;

static const struct {
    const char *key;     /* canonical spelling (underscores) */
    int kind;
    const char *def;     /* embedded default provider */
} services[RN_SVC_COUNT] = {
    [RN_SVC_EXECUTOR] = {"pipeline_executor", RN_KIND_EXECUTOR, "local"},
    [RN_SVC_RUN_LOG_STORE] = {"run_log_store", RN_KIND_RUN_LOG_STORE, "file-system"},
    [RN_SVC_CATALOG] = {"catalog", RN_KIND_CATALOG, "file-system"},
    [RN_SVC_SECRETS] = {"secrets", RN_KIND_SECRETS, "env-secrets"},
    [RN_SVC_TRACKER] = {"experiment_tracker", RN_KIND_EXPERIMENT_TRACKER, "do-nothing"},
};

/* Keys runnable knows but that do not select a service of a pipeline run. */
static const char *const ignored_keys[] = {"job_executor", "pickler", NULL};
/* Keys from older runnable versions that runnable ignores: accepted so old
 * files still load, with a warning that they do nothing. */
static const char *const legacy_keys[] = {"executor", "run_log", "catalog_handler", NULL};

int rn_service_kind(int svc)
{
    return services[svc].kind;
}

const char *rn_service_key(int svc)
{
    return services[svc].key;
}

static void pos_of(const json_t *positions, const char *pointer, int *line, int *col)
{
    json_t *p = positions ? json_object_get(positions, pointer) : NULL;
    if (rn_yaml_pos_get(p, line, col, NULL) != 0)
        *line = *col = 0;
}

/* string.Template.safe_substitute over one string: $name, ${name}, $$. */
static char *substitute(const char *s, const json_t *vars)
{
    rn_buf b = {0};
    for (const char *p = s; *p;) {
        if (*p != '$') {
            size_t n = strcspn(p, "$");
            rn_buf_append(&b, p, n);
            p += n;
            continue;
        }
        if (p[1] == '$') {
            rn_buf_append(&b, "$", 1);
            p += 2;
            continue;
        }
        int braced = p[1] == '{';
        const char *name = p + 1 + braced;
        size_t n = 0;
        while ((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= 'A' && name[n] <= 'Z') ||
               name[n] == '_' || (n > 0 && name[n] >= '0' && name[n] <= '9'))
            n++;
        char key[256];
        json_t *v = NULL;
        if (n > 0 && n < sizeof key && (!braced || name[n] == '}')) {
            memcpy(key, name, n);
            key[n] = '\0';
            v = json_object_get(vars, key);
        }
        if (v) {
            rn_buf_append(&b, json_string_value(v), json_string_length(v));
            p = name + n + braced;
        } else {
            rn_buf_append(&b, "$", 1);
            p++;
        }
    }
    if (!b.data)
        return strdup("");
    return b.data;
}

static void template_walk(json_t *node, const json_t *vars)
{
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) {
            if (json_is_string(v) && strchr(json_string_value(v), '$')) {
                char *s = substitute(json_string_value(v), vars);
                json_object_set_new(node, k, json_string(s));
                free(s);
            } else {
                template_walk(v, vars);
            }
        }
    } else if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            json_t *v = json_array_get(node, i);
            if (json_is_string(v) && strchr(json_string_value(v), '$')) {
                char *s = substitute(json_string_value(v), vars);
                json_array_set_new(node, i, json_string(s));
                free(s);
            } else {
                template_walk(v, vars);
            }
        }
    }
}

static json_t *template_vars(void)
{
    json_t *vars = json_object();
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "RUNNABLE_VAR_", 13) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e + 13)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - (*e + 13)), *e + 13);
        json_object_set_new(vars, name, json_string(eq + 1));
    }
    return vars;
}

static void set_default(rn_service_config *s, int svc)
{
    s->type = strdup(services[svc].def);
    s->settings = json_object();
}

static void parse_block(rn_config *c, int svc, const char *yaml_key, json_t *block,
                        json_t *positions, rn_diag *diag)
{
    rn_service_config *s = &c->svc[svc];
    char ptr[512];
    snprintf(ptr, sizeof ptr, "/%s", yaml_key);
    pos_of(positions, ptr, &s->line, &s->col);
    if (!json_is_object(block)) {
        rn_diag_add(diag, c->file, s->line, s->col,
                    "'%s' must be a mapping with a 'type' key (e.g. type: %s)", yaml_key,
                    services[svc].def);
        set_default(s, svc);
        return;
    }
    json_t *type = json_object_get(block, "type");
    if (!json_is_string(type) || !*json_string_value(type)) {
        rn_diag_add(diag, c->file, s->line, s->col,
                    "'%s' needs a 'type' naming its provider (e.g. type: %s)", yaml_key,
                    services[svc].def);
        set_default(s, svc);
        return;
    }
    s->type = strdup(json_string_value(type));
    json_t *cfg = json_object_get(block, "config");
    const char *k;
    json_t *v;
    s->positions = json_object();
    if (cfg) {
        if (!json_is_object(cfg)) {
            int l, col;
            snprintf(ptr, sizeof ptr, "/%s/config", yaml_key);
            pos_of(positions, ptr, &l, &col);
            rn_diag_add(diag, c->file, l, col,
                        "'%s.config' must be a mapping of settings (write {} for none)",
                        yaml_key);
            s->settings = json_object();
        } else {
            s->settings = json_deep_copy(cfg);
        }
        json_object_foreach(block, k, v) {
            if (strcmp(k, "type") == 0 || strcmp(k, "config") == 0 || strncmp(k, "x-", 2) == 0)
                continue;
            int l, col;
            snprintf(ptr, sizeof ptr, "/%s/%s", yaml_key, k);
            pos_of(positions, ptr, &l, &col);
            rn_diag_add(diag, c->file, l, col,
                        "unknown key '%s' in '%s': settings belong under 'config:'", k,
                        yaml_key);
        }
        json_object_foreach(s->settings, k, v) {
            int l, col;
            snprintf(ptr, sizeof ptr, "/%s/config/%s", yaml_key, k);
            pos_of(positions, ptr, &l, &col);
            json_object_set_new(s->positions, k, rn_yaml_pos_new(l, col, NULL));
        }
        /* Nested settings too ("defaults/image"), so a provider's error
         * about one can point at its line (rn_config_setting_pos). */
        snprintf(ptr, sizeof ptr, "/%s/config/", yaml_key);
        size_t plen = strlen(ptr);
        json_object_foreach(positions, k, v)
            if (strncmp(k, ptr, plen) == 0 && strchr(k + plen, '/'))
                json_object_set(s->positions, k + plen, v);
    } else {
        /* runnable also accepts settings beside `type` when there is no
         * `config` block. */
        s->settings = json_object();
        json_object_foreach(block, k, v) {
            if (strcmp(k, "type") == 0)
                continue;
            json_object_set(s->settings, k, v);
            int l, col;
            snprintf(ptr, sizeof ptr, "/%s/%s", yaml_key, k);
            pos_of(positions, ptr, &l, &col);
            json_object_set_new(s->positions, k, rn_yaml_pos_new(l, col, NULL));
        }
    }
}

void rn_config_setting_pos(const rn_service_config *s, const char *msg, int *line, int *col)
{
    *line = s->line;
    *col = s->col;
    const char *p = msg ? strstr(msg, "setting '") : NULL;
    if (!p || !s->positions)
        return;
    char path[512];
    size_t n = 0;
    for (p += 9; *p && *p != '\'' && n + 1 < sizeof path; p++)
        if (*p != ']')
            path[n++] = *p == '.' || *p == '[' ? '/' : *p;
    path[n] = '\0';
    for (;;) {
        int l, c;
        if (rn_yaml_pos_get(json_object_get(s->positions, path), &l, &c, NULL) == 0 && l > 0) {
            *line = l;
            *col = c;
            return;
        }
        char *slash = strrchr(path, '/');
        if (!slash)
            return;
        *slash = '\0';
    }
}

static const char *choose_file(const char *explicit_path, int *exported)
{
    const char *env = getenv("RUNNABLE_CONFIGURATION_FILE");
    *exported = 1;
    if (env && *env)
        return env;
    if (explicit_path && *explicit_path)
        return explicit_path;
    *exported = 0;
    if (access("runnable-config.yaml", R_OK) == 0)
        return "runnable-config.yaml";
    return NULL;
}

static void parse_tasks(rn_config *c, const char *yaml_key, json_t *block, json_t *positions,
                        rn_diag *diag);

int rn_config_load(const char *explicit_path, rn_diag *diag, rn_config **out)
{
    rn_config *c = calloc(1, sizeof *c);
    if (!c)
        return rn_error_set(RN_ENOMEM, "out of memory");
    size_t before = diag->n;
    const char *file = choose_file(explicit_path, &c->exported);
    json_t *doc = NULL, *positions = NULL;
    if (file) {
        c->file = strdup(file);
        if (access(file, R_OK) != 0) {
            rn_diag_add(diag, file, 0, 0,
                        "cannot read the configuration file; check the path given with "
                        "-c or RUNNABLE_CONFIGURATION_FILE");
        } else {
            rn_yaml_load_file(file, &doc, &positions, diag);
        }
    }
    if (doc && !json_is_object(doc) && !json_is_null(doc)) {
        rn_diag_add(diag, c->file, 1, 1,
                    "the configuration must be a mapping of services (pipeline-executor, "
                    "run-log-store, catalog, secrets)");
        json_decref(doc);
        doc = NULL;
    }
    if (doc && json_is_object(doc)) {
        json_t *vars = template_vars();
        template_walk(doc, vars);
        json_decref(vars);
    }
    int seen[RN_SVC_COUNT] = {0};
    if (doc && json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) {
            char canon[256];
            snprintf(canon, sizeof canon, "%s", k);
            for (char *p = canon; *p; p++)
                if (*p == '-')
                    *p = '_';
            int svc = -1;
            for (int i = 0; i < RN_SVC_COUNT; i++)
                if (strcmp(canon, services[i].key) == 0)
                    svc = i;
            int known_ignored = 0;
            for (const char *const *ig = ignored_keys; *ig; ig++)
                if (strcmp(canon, *ig) == 0)
                    known_ignored = 1;
            int legacy = 0;
            for (const char *const *lg = legacy_keys; *lg; lg++)
                if (strcmp(canon, *lg) == 0)
                    legacy = 1;
            if (svc < 0 && legacy) {
                char ptr[300];
                int l, col;
                snprintf(ptr, sizeof ptr, "/%s", k);
                pos_of(positions, ptr, &l, &col);
                rn_diag_add(&c->warnings, c->file, l, col,
                            "'%s' is a key of older runnable versions and has no effect; "
                            "use pipeline-executor, run-log-store or catalog instead", k);
                continue;
            }
            if (svc < 0 && strcmp(canon, "tasks") == 0) {
                if (c->tasks)
                    rn_diag_add(diag, c->file, 0, 0, "'tasks' is given twice");
                else
                    parse_tasks(c, k, v, positions, diag);
                continue;
            }
            if (svc < 0) {
                if (known_ignored || strncmp(k, "x-", 2) == 0)
                    continue;
                char ptr[300];
                int l, col;
                snprintf(ptr, sizeof ptr, "/%s", k);
                pos_of(positions, ptr, &l, &col);
                rn_diag_add(diag, c->file, l, col,
                            "unknown configuration key '%s'; expected pipeline-executor, "
                            "run-log-store, catalog, secrets, experiment-tracker or tasks "
                            "(prefix your own keys with 'x-')", k);
                continue;
            }
            if (seen[svc]) {
                rn_diag_add(diag, c->file, 0, 0, "'%s' is given twice (as '-' and '_' spellings)",
                            k);
                continue;
            }
            seen[svc] = 1;
            parse_block(c, svc, k, v, positions, diag);
        }
    }
    for (int i = 0; i < RN_SVC_COUNT; i++)
        if (!c->svc[i].type)
            set_default(&c->svc[i], i);
    json_decref(doc);
    json_decref(positions);
    *out = c;
    return diag->n > before ? RN_EINVAL : 0;
}

/* Report every setting of `s` that `accepted` lacks, at its position;
 * `what` names the block in the message. */
static void check_keys(const rn_config *c, const rn_service_config *s, const char *what,
                       const char *const *accepted, rn_diag *diag)
{
    const char *k;
    json_t *v;
    json_object_foreach(s->settings, k, v) {
        if (strncmp(k, "x-", 2) == 0)
            continue;
        int ok = 0;
        for (const char *const *a = accepted; a && *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (ok)
            continue;
        int pl = s->line, pc = s->col;
        if (s->positions)
            rn_yaml_pos_get(json_object_get(s->positions, k), &pl, &pc, NULL);
        rn_buf list = {0};
        for (const char *const *a = accepted; a && *a; a++)
            rn_buf_printf(&list, "%s%s", list.len ? ", " : "", *a);
        rn_diag_add(diag, c->file, pl, pc,
                    "%s provider '%s' has no setting '%s'; %s%s", what, s->type, k,
                    list.len ? "it accepts: " : "it takes no settings",
                    list.len ? list.data : "");
        rn_buf_free(&list);
    }
}

void rn_config_check_keys(const rn_config *c, int svc, const char *const *accepted, rn_diag *diag)
{
    check_keys(c, &c->svc[svc], services[svc].key, accepted, diag);
}

void rn_config_check_task_keys(const rn_config *c, const rn_service_config *t,
                               const char *const *accepted, rn_diag *diag)
{
    check_keys(c, t, "task", accepted, diag);
}

const rn_service_config *rn_config_task(const rn_config *c, const char *command_type)
{
    for (size_t i = 0; i < c->n_tasks; i++)
        if (strcmp(c->tasks[i].type, command_type) == 0)
            return &c->tasks[i];
    return NULL;
}

/*
 * `tasks:` gives task plugins their settings, one block per command type:
 *     tasks:
 *       python: {config: {python: .venv/bin/python}}
 * (runnable has no such block: it runs tasks in its own interpreter).
 */
static void parse_tasks(rn_config *c, const char *yaml_key, json_t *block, json_t *positions,
                        rn_diag *diag)
{
    char ptr[512];
    int l, col;
    snprintf(ptr, sizeof ptr, "/%s", yaml_key);
    pos_of(positions, ptr, &l, &col);
    if (!json_is_object(block)) {
        rn_diag_add(diag, c->file, l, col,
                    "'%s' must be a mapping of command types to their settings "
                    "(e.g. python: {config: {python: .venv/bin/python}})", yaml_key);
        return;
    }
    c->tasks = calloc(json_object_size(block), sizeof *c->tasks);
    if (!c->tasks) {
        rn_diag_add(diag, c->file, l, col, "out of memory");
        return;
    }
    const char *type;
    json_t *tb;
    json_object_foreach(block, type, tb) {
        snprintf(ptr, sizeof ptr, "/%s/%s", yaml_key, type);
        pos_of(positions, ptr, &l, &col);
        json_t *cfg = json_is_object(tb) ? json_object_get(tb, "config") : NULL;
        if (!json_is_object(tb) || json_object_size(tb) != (cfg ? 1u : 0u) ||
            (cfg && !json_is_object(cfg))) {
            rn_diag_add(diag, c->file, l, col,
                        "'%s.%s' must be a mapping with one key, 'config:', holding the "
                        "task type's settings", yaml_key, type);
            continue;
        }
        rn_service_config *t = &c->tasks[c->n_tasks++];
        t->type = strdup(type);
        t->line = l;
        t->col = col;
        t->settings = cfg ? json_deep_copy(cfg) : json_object();
        t->positions = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(t->settings, k, v) {
            snprintf(ptr, sizeof ptr, "/%s/%s/config/%s", yaml_key, type, k);
            pos_of(positions, ptr, &l, &col);
            json_object_set_new(t->positions, k, rn_yaml_pos_new(l, col, NULL));
        }
    }
}

void rn_config_free(rn_config *c)
{
    if (!c)
        return;
    for (int i = 0; i < RN_SVC_COUNT; i++) {
        free(c->svc[i].type);
        json_decref(c->svc[i].settings);
        json_decref(c->svc[i].positions);
    }
    for (size_t i = 0; i < c->n_tasks; i++) {
        free(c->tasks[i].type);
        json_decref(c->tasks[i].settings);
        json_decref(c->tasks[i].positions);
    }
    free(c->tasks);
    rn_diag_free(&c->warnings);
    free(c->file);
    free(c);
}
