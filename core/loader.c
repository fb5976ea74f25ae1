/*
 * Plugin loader.  A provider is found by file name ("<kind>-<type>") on the
 * search path and accepted only after its descriptor passed every check
 * (magic, ABI, kind, type name, required operations): nothing of a plugin
 * is called before that, so a broken file is reported, never run.
 *
 * A program built with --enable-static-plugins holds the in-tree plugins
 * itself (libltdl's dlpreopen; its main() registers the preloaded symbol
 * table): a type not found as a file is looked up among them, so files on
 * the search path still come first (a newer or a third-party provider).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader.h"

#ifndef RN_PLUGINDIR
#define RN_PLUGINDIR "/usr/local/lib/runnable/plugins"
#endif

static const char *const kind_names[] = {
    NULL, "executor", "run-log-store", "catalog", "secrets", "experiment-tracker", "task",
};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *rn_kind_name(int kind)
{
    return kind > 0 && kind < N_KINDS ? kind_names[kind] : NULL;
}

int rn_kind_from_name(const char *name)
{
    for (int k = 1; k < N_KINDS; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return 0;
}

/* Every vtable starts with RN_OPS_HEADER; this is its common prefix. */
typedef struct ops_header {
    RN_OPS_HEADER;
} ops_header;

/* Operations a provider of each kind must have (offsets into its ops). */
#define OP(type, field) {#field, offsetof(type, field)}
typedef struct required_op {
    const char *name;
    size_t offset;
} required_op;

static const required_op executor_ops[] = {OP(rn_executor_ops, run_pipeline), {NULL, 0}};
static const required_op store_ops[] = {
    OP(rn_run_log_store_ops, create_run), OP(rn_run_log_store_ops, get_run),
    OP(rn_run_log_store_ops, put_run_fields), OP(rn_run_log_store_ops, put_step),
    OP(rn_run_log_store_ops, put_branch), OP(rn_run_log_store_ops, close_run), {NULL, 0}};
static const required_op catalog_ops[] = {
    OP(rn_catalog_ops, get), OP(rn_catalog_ops, put), OP(rn_catalog_ops, put_file), {NULL, 0}};
static const required_op secrets_ops[] = {OP(rn_secrets_ops, get), {NULL, 0}};
static const required_op tracker_ops[] = {
    OP(rn_tracker_ops, start_run), OP(rn_tracker_ops, log_metric), OP(rn_tracker_ops, end_run),
    {NULL, 0}};
static const required_op task_ops[] = {
    OP(rn_task_ops, prepare), OP(rn_task_ops, collect), {NULL, 0}};

static const required_op *const kind_required[] = {
    NULL, executor_ops, store_ops, catalog_ops, secrets_ops, tracker_ops, task_ops,
};

static pthread_once_t ltdl_once = PTHREAD_ONCE_INIT;
static int ltdl_ok;
static char *extra_path;

/* Built-in plugins: the modules preloaded into the program, by file stem
 * ("executor-local"), opened once at initialisation. */
typedef struct builtin {
    char *stem;
    lt_dlhandle handle;
} builtin;
static builtin *builtins;
static size_t n_builtins;

/* lt_dlpreload_open() callback: remember one preloaded module.  libtool
 * names it after its archive ("executor-local.a"). */
static int builtin_add(lt_dlhandle h)
{
    const lt_dlinfo *info = lt_dlgetinfo(h);
    const char *name = info ? (info->filename ? info->filename : info->name) : NULL;
    if (!name)
        return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    builtin *nb = realloc(builtins, (n_builtins + 1) * sizeof *nb);
    if (!nb)
        return 0;
    builtins = nb;
    builtins[n_builtins].stem = strndup(base, strcspn(base, "."));
    builtins[n_builtins].handle = h;
    if (builtins[n_builtins].stem)
        n_builtins++;
    return 0;
}

static void ltdl_init(void)
{
    ltdl_ok = lt_dlinit() == 0;
    /* Nothing preloaded (the usual build): no callback, nothing kept. */
    if (ltdl_ok)
        lt_dlpreload_open(NULL, builtin_add);
}

void rn_loader_set_extra_path(const char *extra)
{
    free(extra_path);
    extra_path = extra && *extra ? strdup(extra) : NULL;
}

char *rn_loader_search_path(void)
{
    const char *env = getenv("RUNNABLE_PLUGIN_PATH");
    size_t n = strlen(RN_PLUGINDIR) + 3 + (extra_path ? strlen(extra_path) : 0) +
               (env ? strlen(env) : 0);
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    if (extra_path) {
        strcat(s, extra_path);
        strcat(s, ":");
    }
    if (env && *env) {
        strcat(s, env);
        strcat(s, ":");
    }
    strcat(s, RN_PLUGINDIR);
    return s;
}

/* "run-log-store-file-system" -> "run_log_store_file_system_LTX_rn_plugin" */
static void prefixed_symbol(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strcspn(base, ".");
    size_t i = 0;
    for (; i < len && i + 1 < n; i++) {
        unsigned char c = (unsigned char)base[i];
        out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                     ? (char)c : '_';
    }
    snprintf(out + i, n - i, "_LTX_%s", RN_PLUGIN_SYMBOL);
}

static int check_descriptor(const char *path, const rn_plugin_descriptor *d, int expect_kind,
                            const char *expect_type)
{
    if (d->magic != RN_PLUGIN_MAGIC)
        return rn_error_set(RN_EPLUGIN, "%s: not a runnable plugin (bad magic 0x%08x)", path,
                            (unsigned)d->magic);
    if (d->abi_major != RN_ABI_MAJOR)
        return rn_error_set(RN_EPLUGIN,
                            "%s: built for plugin ABI %u.%u, this engine speaks %d.%d; "
                            "rebuild the plugin against this engine's SDK",
                            path, d->abi_major, d->abi_minor, RN_ABI_MAJOR, RN_ABI_MINOR);
    const char *kind = rn_kind_name(d->kind);
    if (!kind)
        return rn_error_set(RN_EPLUGIN, "%s: unknown plugin kind %d", path, d->kind);
    if (expect_kind && d->kind != expect_kind)
        return rn_error_set(RN_EPLUGIN, "%s: is a %s plugin, expected a %s plugin", path, kind,
                            rn_kind_name(expect_kind));
    if (!d->type_name || !*d->type_name)
        return rn_error_set(RN_EPLUGIN, "%s: descriptor has no type name", path);
    if (expect_type && strcmp(d->type_name, expect_type) != 0)
        return rn_error_set(RN_EPLUGIN, "%s: provides type '%s', expected '%s'", path,
                            d->type_name, expect_type);
    if (!d->ops)
        return rn_error_set(RN_EPLUGIN, "%s: descriptor has no operations table", path);
    const ops_header *h = d->ops;
    if (h->version < 1)
        return rn_error_set(RN_EPLUGIN, "%s: operations table version %u is invalid", path,
                            h->version);
    if (!h->create || !h->destroy)
        return rn_error_set(RN_EPLUGIN, "%s: required operation '%s' is missing", path,
                            !h->create ? "create" : "destroy");
    for (const required_op *op = kind_required[d->kind]; op->name; op++) {
        void *fn;
        memcpy(&fn, (const char *)d->ops + op->offset, sizeof fn);
        if (!fn)
            return rn_error_set(RN_EPLUGIN, "%s: required operation '%s' is missing", path,
                                op->name);
    }
    return 0;
}

static const builtin *builtin_find(const char *stem)
{
    for (size_t i = 0; i < n_builtins; i++)
        if (strcmp(builtins[i].stem, stem) == 0)
            return &builtins[i];
    return NULL;
}

/* A built-in plugin as an rn_plugin: its descriptor checked as a file's. */
static int builtin_open(const builtin *b, int expect_kind, const char *expect_type,
                        rn_plugin **out)
{
    char sym[256], label[300];
    snprintf(label, sizeof label, "%s (built in)", b->stem);
    prefixed_symbol(b->stem, sym, sizeof sym);
    const rn_plugin_descriptor *d = lt_dlsym(b->handle, sym);
    if (!d)
        return rn_error_set(RN_EPLUGIN, "%s: exports no descriptor (symbol '%s')", label, sym);
    int rc = check_descriptor(label, d, expect_kind, expect_type);
    if (rc)
        return rc;
    rn_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(label))) {
        free(p);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    p->desc = d;
    p->handle = NULL; /* preloaded: stays for the program's life */
    *out = p;
    return 0;
}

int rn_plugin_open_file(const char *path, int expect_kind, const char *expect_type,
                        rn_plugin **out)
{
    pthread_once(&ltdl_once, ltdl_init);
    if (!ltdl_ok)
        return rn_error_set(RN_EPLUGIN, "cannot initialise libltdl");
    lt_dladvise advise;
    lt_dladvise_init(&advise);
    lt_dladvise_ext(&advise);
    /* Plugins' own symbols stay private so two providers never clash. */
    lt_dladvise_local(&advise);
    lt_dlhandle h = lt_dlopenadvise(path, advise);
    lt_dladvise_destroy(&advise);
    if (!h)
        return rn_error_set(RN_EPLUGIN, "%s: cannot load: %s", path, lt_dlerror());

    char sym[256];
    prefixed_symbol(path, sym, sizeof sym);
    const rn_plugin_descriptor *d = lt_dlsym(h, sym);
    if (!d)
        d = lt_dlsym(h, RN_PLUGIN_SYMBOL);
    if (!d) {
        lt_dlclose(h);
        return rn_error_set(RN_EPLUGIN,
                            "%s: exports no descriptor (symbol '%s'); declare it with "
                            "RN_PLUGIN_DESCRIPTOR()", path, sym);
    }
    int rc = check_descriptor(path, d, expect_kind, expect_type);
    if (rc) {
        lt_dlclose(h);
        return rc;
    }
    rn_plugin *p = calloc(1, sizeof *p);
    const lt_dlinfo *info = lt_dlgetinfo(h);
    if (!p || !(p->path = strdup(info && info->filename ? info->filename : path))) {
        free(p);
        lt_dlclose(h);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    p->desc = d;
    p->handle = h;
    *out = p;
    return 0;
}

/* A plugin once loaded stays loaded for the life of the process: unmapping
 * it cost every short-lived process (a pod's node, a Slurm job's step) a
 * fifth of a millisecond at its end, and opening it again finds the same
 * module (libltdl counts references), so nothing grows.  Only a module
 * refused at open (no or a bad descriptor) is unloaded. */
void rn_plugin_close(rn_plugin *p)
{
    if (!p)
        return;
    free(p->path);
    free(p);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int rn_plugin_open(int kind, const char *type, rn_plugin **out)
{
    const char *kname = rn_kind_name(kind);
    if (!kname)
        return rn_error_set(RN_EINVAL, "unknown plugin kind %d", kind);
    char *search = rn_loader_search_path();
    if (!search)
        return rn_error_set(RN_ENOMEM, "out of memory");
    int rc = RN_ENOENT;
    char path[4096];
    char *save = NULL;
    for (char *dir = strtok_r(search, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof path, "%s/%s-%s.la", dir, kname, type);
        int found = file_exists(path);
        if (!found) {
            snprintf(path, sizeof path, "%s/%s-%s.so", dir, kname, type);
            found = file_exists(path);
        }
        if (found) {
            rc = rn_plugin_open_file(path, kind, type, out);
            break;
        }
    }
    free(search);
    if (rc == RN_ENOENT) {
        pthread_once(&ltdl_once, ltdl_init);
        snprintf(path, sizeof path, "%s-%s", kname, type);
        const builtin *b = builtin_find(path);
        if (b)
            return builtin_open(b, kind, type, out);
    }
    if (rc == RN_ENOENT) {
        char *dirs = rn_loader_search_path();
        rc = rn_error_set(RN_ENOENT,
                          "no %s provider of type '%s': looked for %s-%s.so in %s%s; "
                          "check the type name, install the plugin, or add its folder "
                          "to RUNNABLE_PLUGIN_PATH",
                          kname, type, kname, type, dirs ? dirs : "?",
                          n_builtins ? " and among the plugins built into this program" : "");
        free(dirs);
    }
    return rc;
}

/* ---- listing ---------------------------------------------------------- */

typedef struct seen_list {
    char **names;
    size_t n;
} seen_list;

static int seen_add(seen_list *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return 0;
    char **nn = realloc(s->names, (s->n + 1) * sizeof *nn);
    if (!nn)
        return 0;
    s->names = nn;
    s->names[s->n++] = strdup(name);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kind a file name claims, by its "<kind>-" prefix. */
static int kind_of_file(const char *base)
{
    for (int k = 1; k < N_KINDS; k++) {
        size_t n = strlen(kind_names[k]);
        if (strncmp(base, kind_names[k], n) == 0 && base[n] == '-' && base[n + 1])
            return k;
    }
    return 0;
}

int rn_plugin_list(rn_plugin_list_fn fn, rn_plugin_bad_fn bad, void *data)
{
    char *search = rn_loader_search_path();
    if (!search)
        return rn_error_set(RN_ENOMEM, "out of memory");
    seen_list seen = {0};
    char *save = NULL;
    for (char *dir = strtok_r(search, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        DIR *d = opendir(dir);
        if (!d)
            continue;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *dot = strrchr(e->d_name, '.');
            if (!dot || (strcmp(dot, ".la") != 0 && strcmp(dot, ".so") != 0))
                continue;
            if (!kind_of_file(e->d_name))
                continue;
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            /* One entry per module: "x.la" and "x.so" are the same plugin. */
            char stem[1024];
            snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(names[i], '.') - names[i]),
                     names[i]);
            if (seen_add(&seen, stem)) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                rn_plugin *p = NULL;
                if (rn_plugin_open_file(path, kind_of_file(names[i]), NULL, &p) == 0) {
                    fn(p, data);
                    rn_plugin_close(p);
                } else if (bad) {
                    bad(path, rn_error_last(), data);
                }
            }
            free(names[i]);
        }
        free(names);
    }
    /* Built-in plugins that no file of the same name overrides. */
    pthread_once(&ltdl_once, ltdl_init);
    for (size_t i = 0; i < n_builtins; i++) {
        if (!kind_of_file(builtins[i].stem) || !seen_add(&seen, builtins[i].stem))
            continue;
        rn_plugin *p = NULL;
        if (builtin_open(&builtins[i], kind_of_file(builtins[i].stem), NULL, &p) == 0) {
            fn(p, data);
            rn_plugin_close(p);
        } else if (bad) {
            bad(builtins[i].stem, rn_error_last(), data);
        }
    }
    for (size_t i = 0; i < seen.n; i++)
        free(seen.names[i]);
    free(seen.names);
    free(search);
    return 0;
}

/* ---- instances -------------------------------------------------------- */

int rn_provider_open(int kind, const char *type, const json_t *config, const rn_plugin_env *env,
                     rn_provider **out)
{
    rn_plugin *p = NULL;
    int rc = rn_plugin_open(kind, type, &p);
    return rc ? rc : rn_provider_start(p, config, env, out);
}

int rn_provider_start(rn_plugin *p, const json_t *config, const rn_plugin_env *env,
                      rn_provider **out)
{
    int rc, kind = p->desc->kind;
    const char *type = p->desc->type_name;
    rn_provider *pr = calloc(1, sizeof *pr);
    if (!pr) {
        rn_plugin_close(p);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    pr->plugin = p;
    pr->ops = p->desc->ops;
    const ops_header *h = pr->ops;
    json_t *empty = NULL;
    rn_error_set(0, "%s", "");
    if (!config)
        config = empty = json_object();
    rc = h->create(&pr->self, env, config);
    json_decref(empty);
    if (rc) {
        if (!*rn_error_last())
            rn_error_set(rc, "%s provider '%s' failed to start", rn_kind_name(kind), type);
        rn_plugin_close(p);
        free(pr);
        return rc < 0 ? rc : RN_EPLUGIN;
    }
    *out = pr;
    return 0;
}

void rn_provider_close(rn_provider *pr)
{
    if (!pr)
        return;
    const ops_header *h = pr->ops;
    if (h && h->destroy)
        h->destroy(pr->self);
    rn_plugin_close(pr->plugin);
    free(pr);
}
