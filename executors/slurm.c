/*
 * The `slurm` executor (docs/slurm.md): the engine traverses the pipeline
 * here, and every task attempt becomes a Slurm batch job running `runnable
 * execute-single-node` on a compute node, against a run log and catalog
 * on a filesystem the nodes share.  Slurm decides where and when; the
 * engine keeps at most max_submitted jobs out, learns their ends with one
 * squeue per poll interval (never `sbatch --wait`, which sleeps 2 s and
 * more between its own polls), and cancels them all on Ctrl-C.
 *
 * Only Slurm's command-line tools are used, so the plugin builds and loads
 * where Slurm is not installed; check() says so before a run starts.
 * `submit: dependencies` submits the top level's chain up front
 * (slurm_ahead.c) and adopts those jobs as the traversal reaches them.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnable/plugin.h"
#include "slurm.h"

typedef struct slurm {
    rn_traverse_opts opts;
    char runnable[PATH_MAX];   /* the program the jobs run */
    const char *partition, *account;   /* borrowed from config, or NULL */
    json_t *config;            /* owned reference */
    int ahead;                 /* submit: dependencies */
    rn_slurm_ahead *submitted; /* ... its jobs, during run_pipeline */
} slurm;

static const char *const tools[] = {"sbatch", "squeue", "scancel", NULL};

static int add_arg(rn_buf *argv_text, size_t *argc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* argv is kept as NUL-separated strings in one buffer until it is run. */
static int add_arg(rn_buf *argv_text, size_t *argc, const char *fmt, ...)
{
    char tmp[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return rn_error_set(RN_EINVAL, "an sbatch argument is too long");
    (*argc)++;
    return rn_buf_append(argv_text, tmp, (size_t)n + 1);
}

static char **argv_of(const rn_buf *text, size_t argc)
{
    char **argv = calloc(argc + 1, sizeof *argv);
    if (!argv)
        return NULL;
    const char *p = text->data;
    for (size_t i = 0; i < argc; i++) {
        argv[i] = (char *)p;
        p += strlen(p) + 1;
    }
    return argv;
}

/* The named override of the step (`overrides: {slurm: NAME}`), or NULL. */
static const json_t *step_override(const slurm *x, const rn_node_job *job)
{
    const char *name = json_string_value(json_object_get(job->overrides, "slurm"));
    if (!name)
        return NULL;
    return json_object_get(json_object_get(x->config, "overrides"), name);
}

static int add_list(rn_buf *t, size_t *argc, const json_t *list)
{
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(list, i, v)
        if (rc == 0)
            rc = add_arg(t, argc, "%s", json_string_value(v));
    return rc;
}

static int submit_job(void *data, const rn_node_job *job, const char *log_path,
                      const char *dependency, char **handle)
{
    slurm *x = data;
    const json_t *ov = step_override(x, job);
    if (json_object_get(job->overrides, "slurm") && !ov)
        return rn_error_set(RN_EINVAL, "the step names an override the slurm settings do not "
                                       "define under 'overrides'");
    rn_buf t = {0}, cmd = {0}, out = {0}, err = {0};
    size_t argc = 0;
    int rc = add_arg(&t, &argc, "sbatch");
    /* Job names show in squeue: the step's, without what sh or squeue's
     * columns would choke on. */
    char name[128];
    snprintf(name, sizeof name, "rn-%s", job->internal_name);
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '_';
    if (rc == 0) rc = add_arg(&t, &argc, "--parsable");
    if (rc == 0) rc = add_arg(&t, &argc, "--job-name=%s", name);
    if (rc == 0) rc = add_arg(&t, &argc, "--output=%s", log_path);
    if (rc == 0) rc = add_arg(&t, &argc, "--chdir=%s", job->work_dir);
    const char *part = json_string_value(json_object_get(ov, "partition"));
    if (!part)
        part = x->partition;
    if (rc == 0 && part) rc = add_arg(&t, &argc, "--partition=%s", part);
    if (rc == 0 && x->account) rc = add_arg(&t, &argc, "--account=%s", x->account);
    const json_t *v;
    if (rc == 0 && (v = json_object_get(ov, "cpus")))
        rc = add_arg(&t, &argc, "--cpus-per-task=%lld", (long long)json_integer_value(v));
    if (rc == 0 && (v = json_object_get(ov, "memory")))
        rc = json_is_string(v) ? add_arg(&t, &argc, "--mem=%s", json_string_value(v))
                               : add_arg(&t, &argc, "--mem=%lld", (long long)json_integer_value(v));
    if (rc == 0 && (v = json_object_get(ov, "gres")))
        rc = add_arg(&t, &argc, "--gres=%s", json_string_value(v));
    if (rc == 0 && (v = json_object_get(ov, "time"))) {
        rc = add_arg(&t, &argc, "--time=%s", json_string_value(v));
    } else if (rc == 0 && job->timeout > 0) {
        /* Slurm's limit is whole minutes: it is the backstop for when the
         * engine is gone; the engine cancels the job at the exact second. */
        rc = add_arg(&t, &argc, "--time=%lld", (long long)ceil(job->timeout / 60.0));
    }
    if (rc == 0 && dependency) {
        /* If a predecessor fails, the job is cancelled rather than left
         * pending for ever, whatever the cluster's DependencyParameters. */
        rc = add_arg(&t, &argc, "--dependency=%s", dependency);
        if (rc == 0)
            rc = add_arg(&t, &argc, "--kill-on-invalid-dep=yes");
    }
    if (rc == 0)
        rc = add_list(&t, &argc, json_object_get(x->config, "sbatch_args"));
    if (rc == 0)
        rc = add_list(&t, &argc, json_object_get(ov, "sbatch_args"));
    /* The step's command, as the node protocol has it, for sh. */
    const char *words[] = {x->runnable, "execute-single-node", job->run_id, job->pipeline_file,
                           job->step, "--iter-variable", job->iter_variable,
                           job->config_file ? "--config" : NULL, job->config_file};
    rc = rc ? rc : rn_buf_append(&cmd, "exec", 4);
    for (size_t i = 0; rc == 0 && i < sizeof words / sizeof *words && words[i]; i++) {
        rc = rn_buf_append(&cmd, " ", 1);
        if (rc == 0)
            rc = rn_slurm_shell_quote(&cmd, words[i]);
    }
    if (rc == 0) rc = add_arg(&t, &argc, "--wrap=%s", cmd.data);
    char **argv = rc == 0 ? argv_of(&t, argc) : NULL;
    int status = 0;
    if (rc == 0)
        rc = argv ? rn_slurm_run(argv, &out, &err, &status)
                  : rn_error_set(RN_ENOMEM, "out of memory");
    if (rc == 0 && status != 0) {
        err.data[strcspn(err.data, "\n")] = '\0';
        rc = rn_error_set(RN_EIO, "sbatch failed (status %d): %s", status, err.data);
    }
    if (rc == 0) {
        /* --parsable prints "ID" or "ID;CLUSTER". */
        size_t n = strspn(out.data, "0123456789");
        if (n == 0)
            rc = rn_error_set(RN_EIO, "sbatch printed no job id: %s", out.data);
        else if (!(*handle = strndup(out.data, n)))
            rc = rn_error_set(RN_ENOMEM, "out of memory");
    }
    free(argv);
    rn_buf_free(&t);
    rn_buf_free(&cmd);
    rn_buf_free(&out);
    rn_buf_free(&err);
    return rc;
}

static int slurm_submit(void *data, const rn_node_job *job, const char *log_path, char **handle)
{
    slurm *x = data;
    int rc = submit_job(x, job, log_path, NULL, handle);
    if (rc == 0)
        rn_slurm_ahead_note(x->submitted, *handle, job->internal_name);
    return rc;
}

static int slurm_adopt(void *data, const rn_node_job *job, char **handle)
{
    slurm *x = data;
    return rn_slurm_ahead_adopt(x->submitted, job, handle);
}

/* squeue's [D-][HH:]MM:SS as seconds. */
static long long elapsed_seconds(const char *s)
{
    long long days = 0, parts[3] = {0, 0, 0};
    int n = 0;
    const char *dash = strchr(s, '-');
    if (dash) {
        days = atoll(s);
        s = dash + 1;
    }
    for (const char *p = s; *p && n < 3; n++) {
        parts[n] = atoll(p);
        p = strchr(p, ':');
        if (!p)
            break;
        p++;
    }
    long long sec = 0;
    for (int i = 0; i <= n && i < 3; i++)
        sec = sec * 60 + parts[i];
    return days * 86400 + sec;
}

/* States after which the job will not run (again) and its node is free. */
static int state_done(const char *st)
{
    static const char *const done[] = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                                       "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
                                       "PREEMPTED", "REVOKED", "SPECIAL_EXIT", NULL};
    for (size_t i = 0; done[i]; i++)
        if (strcmp(st, done[i]) == 0)
            return 1;
    return 0;
}

static void fill_state(rn_job_state *js, const char *id, const char *state, long long raw,
                       const char *node, const char *reason, long long elapsed)
{
    js->done = 1;
    int code = 0, sig = 0;
    if (raw & 0x7f)
        sig = (int)(raw & 0x7f);
    else
        code = (int)((raw >> 8) & 0xff);
    js->exit_code = code;
    js->term_signal = sig;
    if (strcmp(state, "COMPLETED") != 0)
        snprintf(js->reason, sizeof js->reason, "%s%s%s%s", state,
                 reason && *reason && strcmp(reason, "None") ? " (" : "",
                 reason && *reason && strcmp(reason, "None") ? reason : "",
                 reason && *reason && strcmp(reason, "None") ? ")" : "");
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I}", "job_id", id, "state", state, "node",
                            node ? node : "", "elapsed_seconds", (json_int_t)elapsed);
    if (rec) {
        json_object_set_new(rec, sig ? "term_signal" : "exit_code", json_integer(sig ? sig : code));
        if (reason && *reason && strcmp(reason, "None"))
            json_object_set_new(rec, "reason", json_string(reason));
        js->record = json_pack("{s:o}", "slurm", rec);
    }
}

static int slurm_poll(void *data, const char *const *handles, size_t n, rn_job_state *states)
{
    slurm *x = data;
    rn_buf ids = {0}, out = {0}, err = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rn_buf_printf(&ids, "%s%s", i ? "," : "", handles[i]);
    /* -t all keeps ended jobs (for MinJobAge) with their exit status. */
    char *argv[] = {"squeue", "-h", "-t", "all", "-j", ids.data,
                    "-O", "JobID:|,State:|,exit_code:|,NodeList:|,Reason:|,TimeUsed:|", NULL};
    int status = 0;
    if (rc == 0)
        rc = rn_slurm_run(argv, &out, &err, &status);
    if (rc == 0 && status != 0 && !strstr(err.data, "Invalid job id")) {
        err.data[strcspn(err.data, "\n")] = '\0';
        rc = rn_error_set(RN_EIO, "squeue failed (status %d): %s", status, err.data);
    }
    unsigned char *seen = rc == 0 ? calloc(n ? n : 1, 1) : NULL;
    if (rc == 0 && !seen)
        rc = rn_error_set(RN_ENOMEM, "out of memory");
    for (char *line = rc == 0 ? out.data : NULL, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *f[6] = {0}, *p = line;
        for (int k = 0; k < 6 && p; k++) {
            f[k] = p;
            p = strchr(p, '|');
            if (p)
                *p++ = '\0';
        }
        if (!f[5])
            continue;
        for (char *q = f[1]; *q; q++)
            if (*q == ' ')
                *q = '\0';
        for (size_t i = 0; i < n; i++) {
            if (strcmp(f[0], handles[i]) != 0)
                continue;
            seen[i] = 1;
            if (state_done(f[1])) {
                fill_state(&states[i], f[0], f[1], atoll(f[2]), f[3], f[4],
                           elapsed_seconds(f[5]));
                /* What afterok calls ok: jobs after it may be adopted. */
                rn_slurm_ahead_ended(x->submitted, f[0],
                                     strcmp(f[1], "COMPLETED") == 0 && atoll(f[2]) == 0);
            }
        }
    }
    /* Gone from squeue (purged after MinJobAge while the engine was
     * stopped, or lost with the controller's state): it will not end any
     * more than it has. */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!seen[i]) {
            states[i].done = 1;
            states[i].exit_code = 255;
            snprintf(states[i].reason, sizeof states[i].reason, "unknown to Slurm");
            states[i].record = json_pack("{s:{s:s, s:s}}", "slurm", "job_id", handles[i],
                                         "state", "UNKNOWN");
        }
    free(seen);
    rn_buf_free(&ids);
    rn_buf_free(&out);
    rn_buf_free(&err);
    return rc;
}

static int slurm_cancel(void *data, const char *const *handles, size_t n)
{
    (void)data;
    return rn_slurm_cancel(handles, n);
}

static int bad(const char *what)
{
    return rn_error_set(RN_EINVAL, "%s", what);
}

static int string_list(const json_t *v)
{
    if (!json_is_array(v))
        return 0;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
        if (!json_is_string(s))
            return 0;
    return 1;
}

static int check_override(const char *name, const json_t *ov)
{
    if (!json_is_object(ov))
        return rn_error_set(RN_EINVAL, "override '%s' must be a mapping of Slurm settings", name);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ov, k, v) {
        int ok = strcmp(k, "cpus") == 0 ? json_is_integer(v) && json_integer_value(v) > 0
                 : strcmp(k, "memory") == 0 ? json_is_string(v) || json_is_integer(v)
                 : strcmp(k, "time") == 0 || strcmp(k, "gres") == 0 ||
                         strcmp(k, "partition") == 0 ? json_is_string(v)
                 : strcmp(k, "sbatch_args") == 0 ? string_list(v)
                 : -1;
        if (ok < 0)
            return rn_error_set(RN_EINVAL, "override '%s': unknown setting '%s' (cpus, memory, "
                                           "time, gres, partition, sbatch_args)", name, k);
        if (!ok)
            return rn_error_set(RN_EINVAL, "override '%s': setting '%s' has the wrong type",
                                name, k);
    }
    return 0;
}

static int parse(slurm *x, const json_t *config)
{
    int rc = rn_traverse_opts_parse(config, &x->opts);
    if (rc < 0)
        return rc;
    const json_t *v;
    if (!json_object_get(config, "enable_parallel"))
        x->opts.enable_parallel = 1;   /* a cluster runs independent steps at once */
    if ((v = json_object_get(config, "partition")) && !json_is_string(v))
        return bad("setting 'partition' must be a Slurm partition name");
    x->partition = json_string_value(v);
    if ((v = json_object_get(config, "account")) && !json_is_string(v))
        return bad("setting 'account' must be a Slurm account name");
    x->account = json_string_value(v);
    if ((v = json_object_get(config, "sbatch_args")) && !string_list(v))
        return bad("setting 'sbatch_args' must be a list of sbatch arguments (strings)");
    double poll = 1.0;
    if ((v = json_object_get(config, "poll_interval"))) {
        if (!json_is_number(v) || json_number_value(v) <= 0)
            return bad("setting 'poll_interval' must be a number of seconds above 0");
        poll = json_number_value(v);
    }
    long long max_sub = 0;
    if ((rc = rn_config_int(config, "max_submitted", 100, &max_sub)) < 0)
        return rc;
    if (max_sub < 1)
        return bad("setting 'max_submitted' must be at least 1");
    const char *mode = NULL;
    if ((rc = rn_config_string(config, "submit", "queue", &mode)) < 0)
        return rc;
    if (strcmp(mode, "queue") != 0 && strcmp(mode, "dependencies") != 0)
        return bad("setting 'submit' must be 'queue' or 'dependencies'");
    x->ahead = strcmp(mode, "dependencies") == 0;
    const char *k;
    json_t *ov;
    json_object_foreach(json_object_get(config, "overrides"), k, ov)
        if ((rc = check_override(k, ov)) < 0)
            return rc;
    if ((v = json_object_get(config, "runnable")) && !json_is_string(v))
        return bad("setting 'runnable' must be the path of the runnable program on the compute "
                   "nodes");
    if (v) {
        snprintf(x->runnable, sizeof x->runnable, "%s", json_string_value(v));
    } else {
        /* This very program: right when the nodes share its filesystem. */
        ssize_t n = readlink("/proc/self/exe", x->runnable, sizeof x->runnable - 1);
        if (n <= 0)
            return bad("cannot tell which program this is; set 'runnable' to the path of the "
                       "runnable program on the compute nodes");
        x->runnable[n] = '\0';
    }
    x->opts.version = 5;
    x->opts.node_submit = slurm_submit;
    x->opts.node_poll = slurm_poll;
    x->opts.node_cancel = slurm_cancel;
    x->opts.node_data = x;
    x->opts.poll_interval = poll;
    x->opts.max_submitted = (int)max_sub;
    if (x->ahead) {
        x->opts.version = 6;
        x->opts.node_adopt = slurm_adopt;
    }
    return 0;
}

static int slurm_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    (void)env;
    slurm *x = calloc(1, sizeof *x);
    if (!x)
        return rn_error_set(RN_ENOMEM, "out of memory");
    x->config = json_incref((json_t *)config);
    int rc = parse(x, config);
    if (rc < 0) {
        json_decref(x->config);
        free(x);
        return rc;
    }
    *self = x;
    return 0;
}

static void slurm_destroy(void *self)
{
    slurm *x = self;
    json_decref(x->config);
    free(x);
}

/* Before anything is written: the tools must be there. */
static int slurm_check(void *self, const rn_engine *engine)
{
    slurm *x = self;
    char path[PATH_MAX];
    for (size_t i = 0; tools[i]; i++)
        if (rn_find_program(tools[i], getenv("PATH"), NULL, path) < 0)
            return rn_error_set(RN_ENOENT, "the slurm executor needs Slurm's '%s' command, "
                                           "which is not on PATH (install Slurm's client "
                                           "tools, e.g. the slurm-client package)", tools[i]);
    return x->ahead ? rn_slurm_ahead_check(engine) : 0;
}

static int slurm_run(void *self, rn_engine *engine)
{
    slurm *x = self;
    if (!x->ahead)
        return rn_engine_traverse(engine, &x->opts);
    int rc = rn_slurm_ahead_submit(&x->submitted, engine, submit_job, x);
    if (rc == 0)
        rc = rn_engine_traverse(engine, &x->opts);
    /* Whatever happened, no job submitted ahead stays queued: those never
     * adopted wait for a dependency that can no longer be met.  (scancel
     * complains of jobs that ended meanwhile: not the run's concern.) */
    rn_slurm_ahead_finish(x->submitted);
    x->submitted = NULL;
    return rc;
}

static const rn_executor_ops ops = {
    .version = RN_EXECUTOR_OPS_VERSION,
    .create = slurm_create,
    .destroy = slurm_destroy,
    .run_pipeline = slurm_run,
    .check = slurm_check,
};

static const char *const keys[] = {"enable_parallel", "max_parallel", "object_serialisation",
                                   "overrides", "kill_grace", "runnable", "python",
                                   "partition", "account", "sbatch_args", "poll_interval",
                                   "max_submitted", "submit", NULL};

RN_PLUGIN_DESCRIPTOR(executor_slurm) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_EXECUTOR,
    .type_name = "slurm",
    .version = PACKAGE_VERSION,
    .summary = "submits every task step as a Slurm batch job running runnable "
               "execute-single-node",
    .config_keys = keys,
    .ops = &ops,
};
