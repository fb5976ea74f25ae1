/* The timeline as a Chrome trace (the Trace Event Format that Perfetto and
 * chrome://tracing open): one complete event ("ph": "X") per attempt,
 * timestamps in microseconds from the run's first start.  Attempts are on
 * process 1, one thread per lane, so parallel attempts sit side by side;
 * composite steps are on process 2, also in lanes, because a trace thread
 * may only hold properly nested slices and branches of two composites
 * running at once are not nested. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

static int add(json_t *arr, json_t *ev)
{
    return ev ? json_array_append_new(arr, ev) : -1;
}

static json_t *meta(const char *what, int pid, int tid, const char *name)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", what, "ph", "M", "pid", pid,
                     "tid", tid, "args", "name", name);
}

static json_t *attempt_args(const rn_tl_row *r)
{
    json_t *args = json_pack("{s:s, s:s, s:s, s:i, s:i}", "internal_name", r->name, "type",
                             r->type, "status", r->status, "attempt", r->attempt, "attempts",
                             r->n_attempts);
    if (!args)
        return NULL;
    if (r->open)
        json_object_set_new(args, "running", json_true());
    if (r->estimated_start)
        json_object_set_new(args, "start_estimated", json_true());
    const json_t *a = r->att;
    static const char *const copied[] = {"start_time", "end_time", "exit_code", "term_signal",
                                         "message", "resources", NULL};
    for (int i = 0; a && copied[i]; i++) {
        json_t *v = json_object_get(a, copied[i]);
        if (v && !(json_is_string(v) && !*json_string_value(v)))
            json_object_set(args, copied[i], v);
    }
    return args;
}

int rn_tl_write_chrome(FILE *out, const rn_tl *tl)
{
    json_t *events = json_array();
    json_t *doc = json_pack("{s:o, s:s, s:{s:s, s:s, s:s, s:I, s:b}}", "traceEvents", events,
                            "displayTimeUnit", "ms", "otherData", "run_id", tl->run_id,
                            "status", tl->status, "started", tl->started ? tl->started : "",
                            "t0_epoch_us", (json_int_t)tl->t0_us, "running", tl->running);
    if (!doc)
        return -1;
    int rc = 0;
    char name[64];
    rc |= add(events, meta("process_name", 1, 0, "attempts"));
    rc |= add(events, meta("process_name", 2, 0, "composite steps"));
    for (int l = 0; l < tl->lanes; l++) {
        snprintf(name, sizeof name, "lane %d", l + 1);
        rc |= add(events, meta("thread_name", 1, l + 1, name));
    }
    for (int l = 0; l < tl->group_lanes; l++) {
        snprintf(name, sizeof name, "lane %d", l + 1);
        rc |= add(events, meta("thread_name", 2, l + 1, name));
    }
    for (size_t i = 0; i < tl->n && !rc; i++) {
        const rn_tl_row *r = &tl->rows[i];
        if (r->start < 0)
            continue; /* a composite nothing of which ran: no time to show */
        json_t *args;
        if (r->kind == RN_TL_ATTEMPT) {
            args = attempt_args(r);
        } else {
            args = json_pack("{s:s, s:s, s:s, s:I}", "internal_name", r->name, "type", r->type,
                             "status", r->status, "branches", (json_int_t)r->n_branches);
            if (args && r->open)
                json_object_set_new(args, "running", json_true());
        }
        if (!args) {
            rc = -1;
            break;
        }
        char label[512];
        if (r->kind == RN_TL_ATTEMPT && r->n_attempts > 1)
            snprintf(label, sizeof label, "%s (attempt %d)", r->name, r->attempt);
        else
            snprintf(label, sizeof label, "%s", r->name);
        rc |= add(events, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:o}", "name", label,
                                    "cat", r->kind == RN_TL_ATTEMPT ? "attempt" : "composite",
                                    "ph", "X", "ts", (json_int_t)r->start, "dur",
                                    (json_int_t)(r->end - r->start), "pid",
                                    r->kind == RN_TL_ATTEMPT ? 1 : 2, "tid", r->lane + 1, "args",
                                    args));
    }
    if (!rc)
        rc = json_dumpf(doc, out, JSON_COMPACT) < 0 ? -1 : 0;
    json_decref(doc);
    if (!rc && fputc('\n', out) == EOF)
        rc = -1;
    return rc || ferror(out) ? -1 : 0;
}
