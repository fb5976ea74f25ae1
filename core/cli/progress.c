/* What `runnable execute` shows while a run goes on (docs/progress.md).
 *
 * The engine reports events (runnable.h); this file alone turns them into
 * text on standard error, in one of two forms:
 *   - live: on a terminal, a block redrawn in place — a progress bar with
 *     steps done/known, then each running task with its elapsed time and
 *     the last line of its output; failures are printed above the block
 *     and stay;
 *   - lines: anywhere else (a pipe, a file, CI, NO_COLOR, --quiet), one
 *     plain line per step start and end, nothing redrawn.
 * The final summary is printed by the caller on standard output in both. */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"

/* Redraws at most this often (seconds), besides the final one. */
#define REDRAW_EVERY 0.05
/* Running tasks listed in the live block; the rest are counted. */
#define MAX_LISTED 8

typedef struct running_task {
    char *name;
    char *output_path;
    double since;              /* elapsed time of the run when it started */
    int attempt;
} running_task;

struct rn_progress {
    rn_progress_mode mode;
    FILE *out;
    int log_level;
    running_task *run;
    size_t n_run, cap_run;
    int drawn;                 /* lines of the live block on the screen */
    double last_draw, now;
    int done, known;
};

static const char *level_name(int level)
{
    return level <= 10 ? "debug" : level <= 20 ? "info" : level <= 30 ? "warning" : "error";
}

rn_progress_mode rn_progress_choose(int quiet)
{
    const char *nc = getenv("NO_COLOR"), *ci = getenv("CI"), *term = getenv("TERM");
    if (quiet || (nc && *nc) || (ci && *ci) || !isatty(STDERR_FILENO) ||
        (term && strcmp(term, "dumb") == 0))
        return RN_PROGRESS_LINES;
    return RN_PROGRESS_LIVE;
}

rn_progress *rn_progress_new(rn_progress_mode mode, FILE *out, int log_level)
{
    rn_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->mode = mode;
    p->out = out;
    p->log_level = log_level > 0 ? log_level : 30;
    p->last_draw = -1;
    return p;
}

static int term_width(const rn_progress *p)
{
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 10 ? n : 80;
}

/* Copy at most `width` columns of `s` into out (size n), dropping control
 * characters (a task's escape sequences must not move our cursor).  UTF-8
 * sequences count as one column each. */
static void clip(char *out, size_t n, const char *s, int width)
{
    size_t o = 0;
    int cols = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c && o + 5 < n; c++) {
        if (*c < 0x20 || *c == 0x7f)
            continue;
        if ((*c & 0xc0) != 0x80) {
            if (cols == width)
                break;
            cols++;
        }
        out[o++] = (char)*c;
    }
    out[o] = '\0';
}

/* The last non-empty line a running task wrote (its output file). */
static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    if (!path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    char buf[1024];
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        off_t from = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
        ssize_t r = pread(fd, buf, sizeof buf - 1, from);
        if (r > 0) {
            buf[r] = '\0';
            while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' '))
                buf[--r] = '\0';
            char *nl = strrchr(buf, '\n');
            char *cr = strrchr(nl ? nl : buf, '\r'); /* progress bars of the task */
            const char *line = cr ? cr + 1 : nl ? nl + 1 : buf;
            snprintf(out, n, "%s", line);
        }
    }
    close(fd);
}

static void erase_block(rn_progress *p)
{
    if (p->drawn > 0)
        fprintf(p->out, "\r\033[%dA\033[J", p->drawn);
    else
        fputs("\r\033[J", p->out);
    p->drawn = 0;
}

static void fmt_duration(char *out, size_t n, double s)
{
    if (s < 60)
        snprintf(out, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void draw(rn_progress *p)
{
    int width = term_width(p);
    char line[2048], clipped[2048], dur[32];
    erase_block(p);

    int barw = width >= 60 ? 24 : 10;
    int filled = p->known ? (int)((long long)barw * p->done / p->known) : 0;
    char bar[256];
    size_t b = 0;
    for (int i = 0; i < barw; i++) {
        const char *glyph = i < filled ? "\xe2\x96\x88" : "\xe2\x96\x91"; /* █ ░ */
        memcpy(bar + b, glyph, 3);
        b += 3;
    }
    bar[b] = '\0';
    fmt_duration(dur, sizeof dur, p->now);
    snprintf(line, sizeof line, "%s %d/%d steps  %zu running  %s", bar, p->done, p->known,
             p->n_run, dur);
    clip(clipped, sizeof clipped, line, width - 1);
    fprintf(p->out, "%s\n", clipped);
    p->drawn = 1;

    for (size_t i = 0; i < p->n_run && i < MAX_LISTED; i++) {
        const running_task *t = &p->run[i];
        char out[1024];
        last_line(t->output_path, out, sizeof out);
        fmt_duration(dur, sizeof dur, p->now - t->since);
        snprintf(line, sizeof line, "  %s  %s%s%s", t->name, dur, out[0] ? "  | " : "", out);
        clip(clipped, sizeof clipped, line, width - 1);
        fprintf(p->out, "%s\n", clipped);
        p->drawn++;
    }
    if (p->n_run > MAX_LISTED) {
        fprintf(p->out, "  ... and %zu more\n", p->n_run - MAX_LISTED);
        p->drawn++;
    }
    fflush(p->out);
    p->last_draw = p->now;
}

static void running_add(rn_progress *p, const rn_event *ev)
{
    if (p->n_run == p->cap_run) {
        size_t cap = p->cap_run ? p->cap_run * 2 : 8;
        running_task *r = realloc(p->run, cap * sizeof *r);
        if (!r)
            return; /* not shown: the run goes on */
        p->run = r;
        p->cap_run = cap;
    }
    running_task *t = &p->run[p->n_run];
    t->name = strdup(ev->name ? ev->name : "?");
    t->output_path = ev->output_path ? strdup(ev->output_path) : NULL;
    t->since = ev->elapsed;
    t->attempt = ev->attempt;
    if (t->name)
        p->n_run++;
    else
        free(t->output_path);
}

static void running_remove(rn_progress *p, const char *name)
{
    for (size_t i = 0; i < p->n_run; i++)
        if (strcmp(p->run[i].name, name) == 0) {
            free(p->run[i].name);
            free(p->run[i].output_path);
            memmove(&p->run[i], &p->run[i + 1], (p->n_run - i - 1) * sizeof *p->run);
            p->n_run--;
            return;
        }
}

/* A line that stays: above the live block, or as it is in lines mode. */
static void say(rn_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(rn_progress *p, const char *fmt, ...)
{
    if (p->mode == RN_PROGRESS_LIVE)
        erase_block(p);
    /* One write per line: stderr is unbuffered, and a map of 10,000
     * items prints 40,000 lines. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof line - 1) {
        line[n] = '\n';
        fwrite(line, 1, (size_t)n + 1, p->out);
    } else {
        va_start(ap, fmt);
        vfprintf(p->out, fmt, ap);
        va_end(ap);
        fputc('\n', p->out);
    }
    if (p->mode == RN_PROGRESS_LIVE)
        p->last_draw = -1; /* the block comes back at once */
}

void rn_progress_event(const rn_event *ev, void *data)
{
    rn_progress *p = data;
    p->now = ev->elapsed;
    p->done = ev->steps_done;
    p->known = ev->steps_known;
    const char *name = ev->name ? ev->name : "";
    const char *msg = ev->message ? ev->message : "";
    switch (ev->kind) {
    case RN_EVENT_ATTEMPT_START:
        running_add(p, ev);
        if (ev->attempt > 1)
            say(p, "[%d/%d] retry    %s (attempt %d)", p->done, p->known, name, ev->attempt);
        break;
    case RN_EVENT_ATTEMPT_END:
        running_remove(p, name);
        break;
    case RN_EVENT_STEP_START:
        if (p->mode == RN_PROGRESS_LINES)
            say(p, "[%d/%d] start    %s (%s)", p->done, p->known, name,
                ev->step_type ? ev->step_type : "step");
        break;
    case RN_EVENT_STEP_END: {
        int bad = ev->status && strcmp(ev->status, "SUCCESS") != 0;
        if (p->mode == RN_PROGRESS_LINES || bad)
            say(p, "[%d/%d] %-8s %s (%s)%s  %.3f s%s%s", p->done, p->known,
                ev->status ? ev->status : "?", name, ev->step_type ? ev->step_type : "step",
                ev->reused ? " done before" : "", ev->step_seconds, *msg ? ": " : "", msg);
        break;
    }
    case RN_EVENT_LOG:
        if (ev->level >= p->log_level)
            say(p, "runnable: %s: %s", level_name(ev->level), msg);
        break;
    case RN_EVENT_RUN_END:
        if (p->mode == RN_PROGRESS_LIVE)
            erase_block(p);
        fflush(p->out);
        return;
    case RN_EVENT_RUN_START:
        return; /* nothing to draw before the scheduler has counted */
    case RN_EVENT_TICK:
        break;
    }
    if (p->mode == RN_PROGRESS_LIVE &&
        (p->last_draw < 0 || p->now - p->last_draw >= REDRAW_EVERY || ev->kind == RN_EVENT_TICK))
        draw(p);
    else if (p->mode == RN_PROGRESS_LINES)
        fflush(p->out);
}

void rn_progress_free(rn_progress *p)
{
    if (!p)
        return;
    if (p->mode == RN_PROGRESS_LIVE && p->drawn)
        erase_block(p);
    for (size_t i = 0; i < p->n_run; i++) {
        free(p->run[i].name);
        free(p->run[i].output_path);
    }
    free(p->run);
    free(p);
}
