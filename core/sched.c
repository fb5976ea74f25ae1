/*
 * The scheduler's event loop: a ready queue of tasks bounded by
 * max_parallel, task processes awaited through pidfds (or a SIGCHLD
 * self-pipe where pidfds are missing) in one poll() together with the
 * interrupt pipe, and timers (attempt timeouts, kill grace periods, retry
 * delays) turned into poll's timeout.  No threads, no busy waiting.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "sched.h"
#include "spawn.h"

/* Interrupts arrive from signal handlers: a flag read by the loop and a
 * byte written to a pipe the loop polls, so poll() wakes at once. */
static volatile sig_atomic_t pending_signal, signal_count;
static int wake_pipe[2] = {-1, -1};

void rn_interrupt(int signo)
{
    int saved = errno;
    pending_signal = signo;
    signal_count++;
    if (wake_pipe[1] >= 0) {
        char b = 1;
        ssize_t w = write(wake_pipe[1], &b, 1);
        (void)w;
    }
    errno = saved;
}

/* Where pidfds are missing (old kernels, some sandboxes) SIGCHLD wakes the
 * loop instead. */
static void on_sigchld(int signo)
{
    (void)signo;
    int saved = errno;
    if (wake_pipe[1] >= 0) {
        char b = 0;
        ssize_t w = write(wake_pipe[1], &b, 1);
        (void)w;
    }
    errno = saved;
}

void rn_sched_post(rn_sched *s, rn_ev_kind kind, void *what)
{
    rn_ev *ev = malloc(sizeof *ev);
    if (!ev) {
        /* Losing a completion would hang the run: stop it instead. */
        rn_sched_fail(s, rn_error_set(RN_ENOMEM, "out of memory"));
        return;
    }
    ev->kind = kind;
    ev->what = what;
    ev->next = NULL;
    if (s->ev_tail)
        s->ev_tail->next = ev;
    else
        s->ev_head = ev;
    s->ev_tail = ev;
}

static void stop_children(rn_sched *s, int sig, int grace);

void rn_sched_fail(rn_sched *s, int rc)
{
    if (s->hard_rc)
        return;
    s->hard_rc = rc < 0 ? rc : RN_EIO;
    snprintf(s->hard_msg, sizeof s->hard_msg, "%s", rn_error_last());
    stop_children(s, SIGTERM, 1);
}

/* ------------------------------------------------------------------ */
/* Leaves                                                              */
/* ------------------------------------------------------------------ */

static void leaf_free(rn_leaf *l)
{
    rn_leaf_release(l);
    json_decref(l->patched);
    json_decref(l->patched_returns);
    free(l->internal_name);
    free(l->job);
    json_decref(l->job_record);
    free(l);
}

/* A test run's patch over a task: the task's own fields, the patch's
 * winning (DESIGN §2: runnable dropped the rest, `returns` included). */
static void apply_patch(rn_leaf *l, const json_t *patch)
{
    l->patched = json_deep_copy(l->node->raw);
    if (!l->patched)
        l->patched = json_object();
    json_object_update(l->patched, (json_t *)patch);
    const json_t *r = json_object_get(patch, "returns");
    if (!r)
        return;
    l->patched_returns = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(r, i, x) {
        const char *name = json_is_string(x) ? json_string_value(x)
                                             : json_string_value(json_object_get(x, "name"));
        const char *kind = json_string_value(json_object_get(x, "kind"));
        if (name)
            json_array_append_new(l->patched_returns,
                                  json_pack("{s:s, s:s}", "name", name, "kind",
                                            kind ? kind : "json"));
    }
}

void rn_sched_emit(rn_sched *s, rn_event *ev)
{
    if (!s->e->on_event)
        return;
    ev->running = (int)s->n_running;
    rn_engine_emit(s->e, ev);
}

/* The step is over: store it and tell its graph. */
static void leaf_done(rn_sched *s, rn_leaf *l)
{
    int rc = rn_leaf_close(s->e, l);
    if (rc < 0)
        rn_sched_fail(s, rc);
    s->e->leaves_done++;
    if (!l->success && !s->e->first_failed)
        s->e->first_failed = strdup(l->internal_name);
    if (s->e->on_event)
        rn_sched_emit(s, &(rn_event){
            .kind = RN_EVENT_STEP_END, .name = l->internal_name,
            .step_type = rn_node_type_name(l->node->type),
            .status = json_string_value(json_object_get(l->step, "status")),
            .message = l->msg[0] ? l->msg
                                 : json_string_value(json_object_get(l->step, "message")),
            .step_seconds = l->first_started ? rn_mono_now() - l->first_started : 0});
    rn_sched_post(s, RN_EV_LEAF, l);
}

static void ready_push(rn_sched *s, rn_leaf *l)
{
    l->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = l;
    else
        s->ready_head = l;
    s->ready_tail = l;
}

/* An attempt ended (`ex` NULL when no process ran): record it, then retry
 * or close the step. */
static void attempt_over(rn_sched *s, rn_leaf *l, rn_task_exit *ex)
{
    rn_engine *e = s->e;
    int rc = rn_leaf_attempt_end(e, l, ex);
    if (ex && e->on_event)
        rn_sched_emit(s, &(rn_event){
            .kind = RN_EVENT_ATTEMPT_END, .name = l->internal_name,
            .step_type = "task", .attempt = l->attempt,
            .status = l->success ? "SUCCESS" : "FAIL", .message = l->msg,
            .step_seconds = rn_mono_now() - l->started});
    if (l->child) {
        rn_child_release(l->child, ex);
        free(l->child);
        l->child = NULL;
    }
    if (rc < 0) {
        rn_sched_fail(s, rc);
        leaf_done(s, l);
        return;
    }
    /* One node of a stored run makes one attempt: the orchestrator that
     * runs nodes decides on retries (node.c). */
    if (!l->success && l->node->type == RN_NODE_TASK && l->attempt < l->node->max_attempts &&
        !e->single_node && !rn_sched_halting(s)) {
        /* The failed attempt is on disk before the next one starts. */
        if ((rc = rn_store_put_step(e, l->step)) < 0) {
            rn_sched_fail(s, rc);
            leaf_done(s, l);
            return;
        }
        rn_backoff b;
        double delay = 0;
        if (rn_backoff_parse(l->node->retry, &b) == 0) {
            unsigned r = 0;
            if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
                r = (unsigned)rand();
            delay = rn_backoff_delay(&b, l->attempt, (double)r / 4294967296.0);
        }
        if (delay <= 0) {
            ready_push(s, l);
        } else {
            l->wake_at = rn_mono_now() + delay;
            l->next = s->sleepers;
            s->sleepers = l;
        }
        return;
    }
    leaf_done(s, l);
}

static int running_add(rn_sched *s, rn_leaf *l)
{
    if (s->n_running == s->cap_running) {
        size_t cap = s->cap_running ? s->cap_running * 2 : 16;
        rn_leaf **r = realloc(s->running, cap * sizeof *r);
        if (!r)
            return rn_error_set(RN_ENOMEM, "out of memory");
        s->running = r;
        s->cap_running = cap;
    }
    s->running[s->n_running++] = l;
    return 0;
}

/* Start the next attempt of a leaf. */
static void attempt_begin(rn_sched *s, rn_leaf *l)
{
    rn_engine *e = s->e;
    int rc;
    if (l->attempt == 0) {
        /* Opened already when start_ready opened its round (l->step). */
        if (!l->step && (rc = rn_leaf_open(e, l)) < 0) {
            rn_sched_fail(s, rc);
            rn_sched_post(s, RN_EV_LEAF, l);
            return;
        }
        l->first_started = rn_mono_now();
        if (e->on_event)
            rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_STEP_START, .name = l->internal_name,
                                         .step_type = rn_node_type_name(l->node->type)});
    }
    rc = rn_leaf_attempt_start(e, l);
    if (rc < 0) {
        rn_sched_fail(s, rc);
        attempt_over(s, l, NULL);
        return;
    }
    if (rc == RN_ATTEMPT_ENDED) {
        attempt_over(s, l, NULL);
        return;
    }
    rn_child *c = l->child;
    l->pidfd = -1;
    if (rc == RN_ATTEMPT_SUBMITTED) {
        /* A batch job: no process here; polled with the others. */
        l->started = rn_mono_now();
        l->timeout = l->node->timeout > 0 ? l->node->timeout : e->default_timeout;
        l->deadline = l->timeout > 0 ? l->started + l->timeout : 0;
        l->kill_at = 0;
        l->stop_signal = 0;
        if ((rc = running_add(s, l)) < 0) {
            const char *h = l->job;
            s->node_cancel(s->node_data, &h, 1);
            rn_sched_fail(s, rc);
            attempt_over(s, l, NULL);
            return;
        }
        s->n_jobs++;
        /* A job submitted ahead has often run already (a chain runs at
         * Slurm's pace, not the engine's): ask at once rather than one
         * interval per step. */
        if (l->adopted)
            s->next_poll = l->started;
        else if (!s->next_poll)
            s->next_poll = l->started + s->poll_interval;
        if (e->on_event) {
            rn_engine_log(e, 10, "%s: attempt %d submitted as job %s", l->internal_name,
                          l->attempt, l->job);
            rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_ATTEMPT_START, .name = l->internal_name,
                                         .step_type = "task", .attempt = l->attempt,
                                         .output_path = l->log_path});
        }
        if (rn_sched_halting(s)) {
            const char *h = l->job;
            l->stop_signal = s->interrupted ? s->interrupted : SIGTERM;
            s->node_cancel(s->node_data, &h, 1);
        }
        return;
    }
    if (s->use_pidfd) {
        /* pidfd_open(2) sets close-on-exec itself. */
        l->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
    }
    l->started = rn_mono_now();
    l->timeout = l->node->timeout > 0 ? l->node->timeout : e->default_timeout;
    l->deadline = l->timeout > 0 ? l->started + l->timeout : 0;
    l->kill_at = 0;
    l->stop_signal = 0;
    if ((rc = running_add(s, l)) < 0) {
        rn_child_kill(c, SIGKILL);
        rn_sched_fail(s, rc);
    }
    if (e->on_event) {
        rn_engine_log(e, 10, "%s: attempt %d started, pid %ld%s", l->internal_name, l->attempt,
                      (long)c->pid, l->pidfd >= 0 ? ", awaited through a pidfd" : "");
        rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_ATTEMPT_START, .name = l->internal_name,
                                     .step_type = "task", .attempt = l->attempt,
                                     .output_path = l->log_path});
    }
    if (rn_sched_halting(s)) {
        /* A signal came while it started: it stops with the others. */
        l->stop_signal = s->interrupted ? s->interrupted : SIGTERM;
        rn_child_kill(c, SIGTERM);
        l->kill_at = l->started + s->kill_grace;
    }
}

void rn_sched_leaf(rn_sched *s, rn_frame *f, rn_node *node)
{
    rn_leaf *l = calloc(1, sizeof *l);
    char *name = l ? rn_frame_step_name(f, node) : NULL;
    if (!name) {
        free(l);
        rn_sched_fail(s, rn_error_set(RN_ENOMEM, "out of memory"));
        /* The graph still hears that the step is over. */
        rn_frame_step_done(f, node, 0);
        return;
    }
    l->frame = f;
    l->node = node;
    l->internal_name = name;
    l->scope = &f->scope;
    l->pidfd = -1;
    l->log_fd = -1;
    s->e->leaves_known++;
    if (s->e->retrying && node->type != RN_NODE_SUCCESS && node->type != RN_NODE_FAIL) {
        /* A retry skips a step whose last attempt succeeded (spec/services.md
         * §4.5); its success still drives the traversal. */
        json_t *step = json_object_get(f->scope.steps, name);
        json_t *attempts = json_object_get(step, "attempts");
        json_t *last = json_array_get(attempts, json_array_size(attempts) - 1);
        const char *st = json_string_value(json_object_get(last, "status"));
        if (st && strcmp(st, "SUCCESS") == 0) {
            l->success = 1;
            l->step = step;
            s->e->leaves_done++;
            rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_STEP_END, .name = name,
                                         .step_type = rn_node_type_name(node->type),
                                         .status = "SUCCESS", .reused = 1});
            rn_sched_post(s, RN_EV_LEAF, l);
            return;
        }
    }
    if (s->mock && (node->type == RN_NODE_TASK || node->type == RN_NODE_STUB)) {
        const json_t *patch = json_object_get(s->patches, node->name);
        l->no_catalog = 1;
        if (patch && node->type == RN_NODE_TASK)
            apply_patch(l, patch);
        else
            l->mock = 1;
    }
    if (node->type == RN_NODE_TASK && !l->mock)
        ready_push(s, l);
    else
        attempt_begin(s, l);   /* no process: no slot needed */
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

static void stop_children(rn_sched *s, int sig, int grace)
{
    double now = rn_mono_now();
    const char *stack[64], **jobs = stack;
    size_t nj = 0;
    if (s->n_jobs > 64 && !(jobs = malloc(s->n_jobs * sizeof *jobs)))
        jobs = stack;   /* out of memory: cancel the first 64 now, the rest
                           when asked again */
    for (size_t i = 0; i < s->n_running; i++) {
        rn_leaf *l = s->running[i];
        if (!l->stop_signal && !l->timed_out)
            l->stop_signal = s->interrupted ? s->interrupted : SIGTERM;
        if (l->job) {
            /* The batch system kills it; its end comes through a poll. */
            if (jobs != stack || nj < 64)
                jobs[nj++] = l->job;
            continue;
        }
        rn_child_kill(l->child, sig);
        l->kill_at = grace ? now + s->kill_grace : 0;
    }
    /* One scancel for all of them: a signal must not wait on N commands. */
    if (nj)
        s->node_cancel(s->node_data, jobs, nj);
    if (jobs != stack)
        free(jobs);
}

static void running_remove(rn_sched *s, size_t i)
{
    s->running[i] = s->running[--s->n_running];
}

/*
 * How the attempt's process ended and what its tree used, as extra members
 * of the attempt (runnable's attempt has neither; its readers ignore
 * them): `exit_code` or `term_signal`, and `resources`.  wait4's usage
 * covers the child and every descendant it waited for; ru_maxrss is the
 * largest of them (KiB), not a sum, which is what "how much memory does
 * this step need" asks.
 */
static void record_process(rn_leaf *l, const rn_child *c, const rn_task_exit *ex,
                           const struct rusage *ru)
{
    if (!l->attempt_json)
        return;
    if (ex->exited)
        json_object_set_new(l->attempt_json, "exit_code", json_integer(ex->exit_code));
    else if (ex->signaled)
        json_object_set_new(l->attempt_json, "term_signal", json_integer(ex->term_signal));
    /* Microseconds: what rusage measures, and short numbers in the log. */
    double wall = (double)(long long)((rn_mono_now() - c->start_mono) * 1e6 + 0.5) / 1e6;
    json_t *r = json_pack("{s:f, s:f, s:f, s:I}",
                          "wall_seconds", wall < 0 ? 0.0 : wall,
                          "user_cpu_seconds",
                          (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6,
                          "system_cpu_seconds",
                          (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6,
                          "max_rss_kb", (json_int_t)ru->ru_maxrss);
    if (r)
        json_object_set_new(l->attempt_json, "resources", r);
}

/* Reap the children that ended; returns how many. */
static int reap(rn_sched *s, const struct pollfd *pfd, size_t npfd)
{
    int reaped = 0;
    for (size_t i = 0; i < s->n_running;) {
        rn_leaf *l = s->running[i];
        rn_child *c = l->child;
        if (l->job) {
            i++;
            continue;
        }
        if (l->pidfd >= 0 && pfd) {
            /* pfd[k + 1] belongs to running[k] as it was when polled */
            int ready = 0;
            for (size_t k = 1; k < npfd; k++)
                if (pfd[k].fd == l->pidfd) {
                    ready = pfd[k].revents != 0;
                    break;
                }
            if (!ready) {
                i++;
                continue;
            }
        }
        int st;
        struct rusage ru;
        pid_t r = wait4(c->pid, &st, WNOHANG, &ru);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        running_remove(s, i);
        if (l->pidfd >= 0)
            close(l->pidfd);
        l->pidfd = -1;
        rn_task_exit ex;
        if (r < 0) {
            memset(&ex, 0, sizeof ex);
            ex.version = 1;
            ex.exited = 1;
            ex.exit_code = 255;
            ex.result_data = "";
            ex.log_path = c->log_path;
        } else {
            rn_child_finish(c, st, &ex);
            record_process(l, c, &ex, &ru);
        }
        /* Whatever it left running in its group goes with it when it was
         * stopped (no process of a timed-out task survives). */
        if (l->timed_out || l->stop_signal)
            rn_child_kill(c, SIGKILL);
        attempt_over(s, l, &ex);
        reaped++;
    }
    return reaped;
}

/* Timeouts, kill grace periods and retry delays that are due. */
static void fire_timers(rn_sched *s, double now)
{
    for (size_t i = 0; i < s->n_running; i++) {
        rn_leaf *l = s->running[i];
        if (l->job) {
            /* The job's --time is whole minutes; the engine keeps the
             * step's own timeout to the second. */
            if (l->deadline && now >= l->deadline && !l->timed_out && !l->stop_signal) {
                const char *h = l->job;
                l->timed_out = 1;
                s->node_cancel(s->node_data, &h, 1);
            }
            continue;
        }
        if (l->deadline && now >= l->deadline && !l->timed_out && !l->stop_signal) {
            l->timed_out = 1;
            rn_child_kill(l->child, SIGTERM);
            l->kill_at = now + s->kill_grace;
        } else if (l->kill_at && now >= l->kill_at) {
            rn_child_kill(l->child, SIGKILL);
            l->kill_at = 0;
        }
    }
    rn_leaf **pp = &s->sleepers;
    while (*pp) {
        rn_leaf *l = *pp;
        if (now >= l->wake_at || rn_sched_halting(s)) {
            *pp = l->next;
            if (rn_sched_halting(s))
                leaf_done(s, l);   /* its last attempt failed: so does the step */
            else
                ready_push(s, l);
        } else {
            pp = &l->next;
        }
    }
}

/* Milliseconds until the next timer, -1 for none. */
static int next_timeout_ms(const rn_sched *s, double now)
{
    double next = INFINITY;
    for (size_t i = 0; i < s->n_running; i++) {
        const rn_leaf *l = s->running[i];
        if (l->deadline && !l->timed_out && !l->stop_signal && l->deadline < next)
            next = l->deadline;
        if (l->kill_at && l->kill_at < next)
            next = l->kill_at;
    }
    for (const rn_leaf *l = s->sleepers; l; l = l->next)
        if (l->wake_at < next)
            next = l->wake_at;
    if (s->next_tick && s->n_running && s->next_tick < next)
        next = s->next_tick;
    if (s->n_jobs && s->next_poll < next)
        next = s->next_poll;
    if (isinf(next))
        return -1;
    /* Round up: waking a little early would only loop once more. */
    double ms = (next - now) * 1000.0 + 0.999;
    return ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

/*
 * Ask the batch system about every outstanding job at once (one squeue
 * per interval, however many jobs), and end the attempts of those that
 * ended, as reap() does for processes.
 */
static void poll_jobs(rn_sched *s)
{
    size_t n = 0;
    const char **handles = malloc(s->n_jobs * sizeof *handles);
    rn_leaf **leaves = malloc(s->n_jobs * sizeof *leaves);
    rn_job_state *st = calloc(s->n_jobs, sizeof *st);
    if (!handles || !leaves || !st) {
        free(handles);
        free(leaves);
        free(st);
        return;   /* tried again at the next interval */
    }
    for (size_t i = 0; i < s->n_running && n < s->n_jobs; i++)
        if (s->running[i]->job) {
            leaves[n] = s->running[i];
            handles[n] = s->running[i]->job;
            st[n].version = 1;
            n++;
        }
    int rc = s->node_poll(s->node_data, handles, n, st);
    if (rc < 0)
        rn_engine_log(s->e, 30, "polling the jobs failed (trying again): %s", rn_error_last());
    for (size_t k = 0; rc >= 0 && k < n; k++) {
        rn_leaf *l = leaves[k];
        if (!st[k].done) {
            json_decref(st[k].record);
            continue;
        }
        for (size_t i = 0; i < s->n_running; i++)
            if (s->running[i] == l) {
                running_remove(s, i);
                break;
            }
        s->n_jobs--;
        l->job_record = st[k].record;
        rn_task_exit ex = {.version = 1, .result_data = "", .log_path = l->log_path};
        if (st[k].term_signal > 0) {
            ex.signaled = 1;
            ex.term_signal = st[k].term_signal;
        } else {
            ex.exited = 1;
            ex.exit_code = st[k].exit_code;
        }
        /* Kept only when the job recorded no attempt (remote.c). */
        if (l->stop_signal && !l->timed_out) {
            /* Cancelled by us: the reason is the engine's, as for a task
             * process the interrupt stopped. */
            char sig[32];
            rn_signal_name(l->stop_signal, sig, sizeof sig);
            snprintf(l->msg, sizeof l->msg, "interrupted by %s", sig);
        } else if (st[k].reason[0] && !l->timed_out) {
            snprintf(l->msg, sizeof l->msg, "job %s ended %s without recording an attempt",
                     l->job, st[k].reason);
        }
        attempt_over(s, l, &ex);
    }
    free(handles);
    free(leaves);
    free(st);
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

static void handle_signal(rn_sched *s)
{
    int sig = pending_signal;
    if (!sig)
        return;
    pending_signal = 0;
    if (!s->interrupted) {
        s->interrupted = sig;
        s->e->interrupted_by = sig;
        stop_children(s, SIGTERM, 1);
    } else {
        /* Asked twice: no more waiting. */
        stop_children(s, SIGKILL, 0);
    }
}

static void dispatch(rn_sched *s, rn_ev *ev)
{
    switch (ev->kind) {
    case RN_EV_LEAF: {
        rn_leaf *l = ev->what;
        rn_frame *f = l->frame;
        rn_node *node = l->node;
        int ok = l->success;
        leaf_free(l);
        rn_frame_step_done(f, node, ok);
        break;
    }
    case RN_EV_COMP: {
        rn_comp *c = ev->what;
        rn_frame *f = c->frame;
        rn_node *node = c->node;
        int ok = c->success;
        rn_comp_free(c);
        rn_frame_step_done(f, node, ok);
        break;
    }
    case RN_EV_FRAME: {
        rn_frame *f = ev->what;
        if (f->parent)
            rn_comp_branch_done(f->parent, f);
        break;
    }
    }
}

static void drain_events(rn_sched *s)
{
    while (s->ev_head) {
        rn_ev *ev = s->ev_head;
        s->ev_head = ev->next;
        if (!s->ev_head)
            s->ev_tail = NULL;
        dispatch(s, ev);
        free(ev);
    }
}

/*
 * Record every task this round will start as PROCESSING before the first
 * one spawns.  With a store that defers writes, the flush before that
 * spawn then writes them all; opened one by one, each later spawn would
 * flush again, and write a map iteration's branch file a third time when
 * two tasks end in one wake-up.  Returns how many leaves, from the head
 * of the queue, were opened.
 */
static size_t open_round(rn_sched *s)
{
    size_t k = 0;
    int room = s->slots - (int)s->n_running;
    for (rn_leaf *l = s->ready_head; l && room > 0; l = l->next, room--) {
        if (l->attempt != 0 || l->step)
            break;
        int rc = rn_leaf_open(s->e, l);
        if (rc < 0) {
            rn_sched_fail(s, rc); /* start_ready ends it as attempt_begin would */
            break;
        }
        k++;
    }
    return k;
}

static void start_ready(rn_sched *s)
{
    /* Only a store that defers writes gains (and nothing changes for the
     * others, nor for tasks in processes of their own). */
    size_t opened = rn_sched_halting(s) || !s->e->store_deferred ? 0 : open_round(s);
    while (s->ready_head && (int)s->n_running < s->slots) {
        rn_leaf *l = s->ready_head;
        s->ready_head = l->next;
        if (!s->ready_head)
            s->ready_tail = NULL;
        l->next = NULL;
        int was_opened = opened > 0;
        if (opened)
            opened--;
        if (rn_sched_halting(s)) {
            /* Never started: it ends failed without an attempt (closed
             * as FAIL if this round recorded it as PROCESSING). */
            if (l->attempt == 0 && !was_opened)
                rn_sched_post(s, RN_EV_LEAF, l);
            else
                leaf_done(s, l);
            continue;
        }
        attempt_begin(s, l);
    }
    /* Waiting for a slot while the run stops: end them too. */
    if (rn_sched_halting(s))
        while (s->ready_head) {
            rn_leaf *l = s->ready_head;
            s->ready_head = l->next;
            if (!s->ready_head)
                s->ready_tail = NULL;
            if (l->attempt == 0)
                rn_sched_post(s, RN_EV_LEAF, l);
            else
                leaf_done(s, l);
        }
}

static int wait_for_something(rn_sched *s)
{
    size_t n = 1 + s->n_running;
    struct pollfd stackfd[64];
    struct pollfd *pfd = n <= 64 ? stackfd : malloc(n * sizeof *pfd);
    if (!pfd)
        return rn_error_set(RN_ENOMEM, "out of memory");
    pfd[0] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
    size_t k = 1;
    for (size_t i = 0; i < s->n_running; i++)
        if (s->running[i]->pidfd >= 0)
            pfd[k++] = (struct pollfd){.fd = s->running[i]->pidfd, .events = POLLIN};
    int timeout = next_timeout_ms(s, rn_mono_now());
    int r = poll(pfd, k, timeout);
    if (r < 0 && errno != EINTR) {
        int err = errno;
        if (pfd != stackfd)
            free(pfd);
        return rn_error_set(RN_EIO, "waiting for tasks failed: %s", strerror(err));
    }
    if (r > 0 && (pfd[0].revents & POLLIN)) {
        char buf[64];
        while (read(wake_pipe[0], buf, sizeof buf) > 0)
            ;
    }
    handle_signal(s);
    /* Without pidfds every wake-up checks every child. */
    reap(s, s->use_pidfd ? pfd : NULL, k);
    if (pfd != stackfd)
        free(pfd);
    double now = rn_mono_now();
    if (s->n_jobs && now >= s->next_poll) {
        poll_jobs(s);
        now = rn_mono_now();
        s->next_poll = s->n_jobs ? now + s->poll_interval : 0;
    }
    fire_timers(s, now);
    if (s->next_tick && now >= s->next_tick) {
        /* The subscriber redraws what is running (elapsed time, output). */
        s->next_tick = now + s->e->tick_seconds;
        if (s->n_running)
            rn_sched_emit(s, &(rn_event){.kind = RN_EVENT_TICK});
    }
    return 0;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Stands in for node_launch when an executor only submits jobs. */
static int submit_only(void *data, const rn_node_job *job, rn_launch *l)
{
    (void)data;
    (void)job;
    (void)l;
    return rn_error_set(RN_EUNSUPPORTED, "this executor submits jobs; it starts no process");
}

int rn_sched_run(rn_engine *e, const rn_traverse_opts *opts)
{
    rn_sched s = {.e = e};
    s.parallel = opts && opts->enable_parallel;
    s.slots = 1;
    if (s.parallel)
        s.slots = opts->max_parallel > 0 ? opts->max_parallel : cpu_count();
    s.kill_grace = opts && opts->version >= 2 && opts->kill_grace > 0 ? opts->kill_grace : 5.0;
    if (opts && opts->version >= 3 && opts->mock) {
        s.mock = 1;
        s.patches = opts->patches;
    }
    if (opts && opts->version >= 5 && opts->node_submit) {
        if (!opts->node_poll || !opts->node_cancel)
            return rn_error_set(RN_EINVAL, "an executor that submits jobs must also poll and "
                                           "cancel them");
        e->node_submit = opts->node_submit;
        s.node_poll = opts->node_poll;
        s.node_cancel = opts->node_cancel;
        s.node_data = opts->node_data;
        s.poll_interval = opts->poll_interval > 0 ? opts->poll_interval : 1.0;
        if (opts->max_submitted > 0)
            s.slots = opts->max_submitted;
        if (opts->version >= 6)
            e->node_adopt = opts->node_adopt;
    }
    if (opts && ((opts->version >= 4 && opts->node_launch) || e->node_submit)) {
        /* step.c sends a task to remote.c when node_launch is set. */
        e->node_launch = opts->node_launch ? opts->node_launch : submit_only;
        e->node_data = opts->node_data;
        /* Deferred writes assume this process is the run's only writer
         * (plugin.h): a batch checks the files once, at its start.  Here
         * the steps' own processes write the same files (RunLog.json for
         * root steps) while this one works, so every put goes to disk at
         * once, re-reading what they wrote, as without deferral. */
        if (e->store_deferred) {
            const rn_run_log_store_ops *so = e->svc[RN_SVC_RUN_LOG_STORE]->ops;
            int rc = so->defer(e->svc[RN_SVC_RUN_LOG_STORE]->self, e->run_id, 0);
            e->store_deferred = 0;
            if (rc < 0)
                return rc;
        }
    }

    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return rn_error_set(RN_EIO, "cannot create the scheduler's pipe: %s", strerror(errno));
    /* pidfd_open(2) of our own pid tells whether pidfds work here. */
    int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
    s.use_pidfd = probe >= 0;
    if (probe >= 0)
        close(probe);
    struct sigaction old_chld;
    if (!s.use_pidfd) {
        struct sigaction sa = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGCHLD, &sa, &old_chld);
    }
    if (pending_signal)
        handle_signal(&s);

    if (e->on_event && e->tick_seconds > 0)
        s.next_tick = rn_mono_now() + e->tick_seconds;
    e->leaves_estimate = rn_graph_leaf_estimate(e->pipeline->dag);
    rn_engine_log(e, 10, "scheduler: %d task%s at once%s; children awaited through %s; "
                  "about %d steps to run", s.slots, s.slots == 1 ? "" : "s",
                  s.parallel ? "" : " (enable_parallel is off)",
                  s.use_pidfd ? "pidfds" : "SIGCHLD", e->leaves_estimate);
    s.root = rn_frame_new(&s, e->single_node ? e->single_node->graph : e->pipeline->dag, NULL);
    if (!s.root) {
        rn_sched_fail(&s, rn_error_set(RN_ENOMEM, "out of memory"));
    } else if (e->single_node) {
        /* The node protocol: one step in the scope node.c rebuilt. */
        const rn_scope *sc = e->single_scope;
        s.root->scope = *sc;
        s.root->scope.branch_name = sc->branch_name ? strdup(sc->branch_name) : NULL;
        json_incref(sc->params);
        s.root->scope.map_variables = sc->map_variables ? json_copy(sc->map_variables) : NULL;
        rn_frame_run_one(s.root, e->single_node);
    } else {
        s.root->scope.steps = json_object_get(e->runlog, "steps");
        s.root->scope.params = json_incref(json_object_get(e->runlog, "parameters"));
        rn_frame_start(s.root);
    }

    for (;;) {
        drain_events(&s);
        start_ready(&s);
        if (s.ev_head)
            continue;
        if ((!s.root || s.root->done) && !s.n_running && !s.sleepers && !s.ready_head)
            break;
        if (!s.n_running && !s.sleepers && !s.ready_head) {
            /* Nothing can make progress: a bug, but never a hang. */
            rn_sched_fail(&s, rn_error_set(RN_EIO, "the scheduler has nothing to wait for "
                                                   "but the pipeline has not ended"));
            break;
        }
        /* Nothing that finished waits in memory while we sleep. */
        int rc = rn_store_flush(e);
        if (rc < 0)
            rn_sched_fail(&s, rc);   /* stops the tasks; we still wait */
        /* Tasks are running: a good moment for the one-off lookup the
         * first finished attempt will need. */
        rn_engine_code_identity(e);
        rc = wait_for_something(&s);
        if (rc < 0) {
            rn_sched_fail(&s, rc);
            stop_children(&s, SIGKILL, 0);
            /* Reap what is left so nothing outlives the run. */
            for (size_t i = 0; i < s.n_running; i++) {
                rn_child *c = s.running[i]->child;
                if (!c)
                    continue;   /* a job: cancelled above */
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                    ;
            }
            break;
        }
    }

    if (s.root && e->single_node)
        e->single_ok = s.root->done && s.root->success;
    rn_frame_free(s.root);
    free(s.running);
    while (s.ev_head) {
        rn_ev *ev = s.ev_head;
        s.ev_head = ev->next;
        free(ev);
    }
    if (!s.use_pidfd)
        sigaction(SIGCHLD, &old_chld, NULL);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    if (s.interrupted)
        e->interrupted_by = s.interrupted;
    if (s.hard_rc)
        return rn_error_set(s.hard_rc, "%s", s.hard_msg);
    return 0;
}
