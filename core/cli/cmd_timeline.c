/* runnable timeline RUN_ID_OR_PATH: when each step of a run ran, as a text
 * Gantt chart, a self-contained HTML page or a Chrome trace
 * (docs/timeline.md).  Reads one run log, from the configured store or a
 * JSON file; writes only standard output or the -o file. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "loader.h"
#include "runnable/plugin.h"
#include "runnable/runnable.h"
#include "timeline.h"

static const char help[] =
    "usage: runnable timeline [OPTIONS] RUN_ID_OR_PATH\n"
    "\n"
    "Show when each step of a run ran, every attempt of every step at any depth, from\n"
    "its run log: a run id of the configured run-log store, or a run log JSON file\n"
    "(an argument that is an existing file or ends in .json).  A run still in progress\n"
    "is drawn up to now, its running steps as open bars.\n"
    "\n"
    "  -c, --config FILE      configuration naming the run-log store\n"
    "  -F, --format FORMAT    text (default: a Gantt chart), html (a self-contained\n"
    "                         page with the timeline and the graph) or chrome (a\n"
    "                         Chrome trace for Perfetto or chrome://tracing)\n"
    "  -o, --output FILE      write to FILE instead of standard output; without\n"
    "                         --format, a .html or .json FILE picks html or chrome\n"
    "      --all              text: every iteration of big maps and loops, and the\n"
    "                         success steps, instead of folding them\n"
    "      --console          with -o, also print the text chart (runnable's option)\n"
    "      --no-console       print nothing but the --format output (the default)\n"
    "      --open, --no-open  accepted for runnable's command line; nothing is opened\n"
    "      --log-level LEVEL  accepted for runnable's command line\n"
    "      --plugin-path DIRS extra plugin folders, searched first\n"
    "\n"
    "Exit status: 0, 1 the output could not be written, 2 bad usage or no such run.\n";

typedef enum { FMT_TEXT, FMT_HTML, FMT_CHROME } fmt_t;

static int parse_format(const char *s, fmt_t *f)
{
    if (!strcasecmp(s, "text"))
        *f = FMT_TEXT;
    else if (!strcasecmp(s, "html"))
        *f = FMT_HTML;
    else if (!strcasecmp(s, "chrome"))
        *f = FMT_CHROME;
    else
        return -1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

/* runnable's rule: a path if it exists as a file or ends in .json. */
static int is_path(const char *arg)
{
    struct stat st;
    return ends_with(arg, ".json") || (stat(arg, &st) == 0 && S_ISREG(st.st_mode));
}

static int load_file(const char *path, json_t **doc)
{
    struct stat st;
    *doc = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* jansson would call an empty read a syntax error */
        fprintf(stderr, "runnable: error: %s: a folder, not a run log file\n", path);
        return RN_EXIT_USAGE;
    }
    json_error_t err;
    *doc = json_load_file(path, 0, &err);
    if (!*doc) {
        if (err.line > 0)
            fprintf(stderr, "runnable: error: %s:%d:%d: not a run log: %s\n", path, err.line,
                    err.column, err.text);
        else
            fprintf(stderr, "runnable: error: %s: %s\n", path, err.text);
        return RN_EXIT_USAGE;
    }
    if (!json_is_object(*doc) || !json_is_object(json_object_get(*doc, "steps"))) {
        fprintf(stderr, "runnable: error: %s: not a run log (no \"steps\" object)\n", path);
        json_decref(*doc);
        *doc = NULL;
        return RN_EXIT_USAGE;
    }
    return RN_EXIT_OK;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The chart's width: the terminal's, else $COLUMNS, else 100, so that a
 * chart piped to a file or a CI log is the same every time. */
static int text_width(int to_tty)
{
    struct winsize ws;
    if (to_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n >= 40 ? n : 100;
}

static int write_format(FILE *out, const rn_tl *tl, fmt_t f, const rn_tl_text_opts *to)
{
    switch (f) {
    case FMT_HTML:
        return rn_tl_write_html(out, tl);
    case FMT_CHROME:
        return rn_tl_write_chrome(out, tl);
    default:
        return rn_tl_write_text(out, tl, to);
    }
}

/* The -o file is written whole (temporary file, then rename): a reader
 * never sees half a page. */
static int write_file(const char *path, const rn_tl *tl, fmt_t f, const rn_tl_text_opts *to)
{
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    if (!mem) {
        fprintf(stderr, "runnable: error: out of memory\n");
        return RN_EXIT_FAILED;
    }
    int rc = write_format(mem, tl, f, to);
    if (fclose(mem) != 0)
        rc = -1;
    if (rc == 0 && rn_write_file_atomic(path, data, len, 0) < 0) {
        fprintf(stderr, "runnable: error: cannot write %s: %s\n", path, rn_error_last());
        free(data);
        return RN_EXIT_FAILED;
    }
    free(data);
    if (rc < 0) {
        fprintf(stderr, "runnable: error: out of memory drawing the timeline\n");
        return RN_EXIT_FAILED;
    }
    return RN_EXIT_OK;
}

int rn_cmd_timeline(int argc, char **argv)
{
    enum { OPT_ALL = 256, OPT_CONSOLE, OPT_NO_CONSOLE, OPT_OPEN };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"all", no_argument, NULL, OPT_ALL},
        {"console", no_argument, NULL, OPT_CONSOLE},
        {"no-console", no_argument, NULL, OPT_NO_CONSOLE},
        {"open", no_argument, NULL, OPT_OPEN},
        {"no-open", no_argument, NULL, OPT_OPEN},
        {"log-level", required_argument, NULL, 'l'},
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rn_run_options o = {.version = 4};
    const char *unused_file = NULL, *format = NULL, *output = NULL;
    int all = 0, console = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:F:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'F': format = optarg; continue;
        case 'o': output = optarg; continue;
        case OPT_ALL: all = 1; continue;
        case OPT_CONSOLE: console = 1; continue;
        case OPT_NO_CONSOLE: console = 0; continue;
        case OPT_OPEN: continue;
        default: break;
        }
        int r = rn_cli_option("timeline", c, argv, help, &unused_file, &o);
        if (r != RN_CLI_HANDLED)
            return r;
    }
    if (optind >= argc)
        return rn_cli_usage_error("timeline", "which run? give its RUN_ID ('runnable runs' "
                                  "lists them) or a run log JSON file");
    const char *arg = argv[optind++];
    if (optind < argc)
        return rn_cli_usage_error("timeline", "unexpected argument '%s'", argv[optind]);
    if (output && !strcmp(output, "-"))
        output = NULL;
    fmt_t fmt = FMT_TEXT;
    if (format && parse_format(format, &fmt) < 0)
        return rn_cli_usage_error("timeline", "unknown --format '%s'; use text, html or chrome",
                                  format);
    if (!format && output)
        fmt = ends_with(output, ".html") || ends_with(output, ".htm") ? FMT_HTML
              : ends_with(output, ".json")                            ? FMT_CHROME
                                                                      : FMT_TEXT;

    rn_config *conf = NULL;
    rn_provider *store = NULL;
    json_t *doc = NULL;
    char *run_id = NULL;
    int code;
    if (is_path(arg)) {
        code = load_file(arg, &doc);
        if (code == RN_EXIT_OK) {
            const char *id = json_string_value(json_object_get(doc, "run_id"));
            if (!id) { /* the file name is the run id in a file-system store */
                const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
                size_t n = ends_with(base, ".json") ? strlen(base) - 5 : strlen(base);
                run_id = strndup(base, n);
            } else {
                run_id = strdup(id);
            }
        }
    } else {
        code = rn_cli_open_store(o.config_file, &conf, &store);
        if (code == RN_EXIT_OK)
            code = rn_cli_get_run(store, arg, &doc);
        if (code == RN_EXIT_OK)
            run_id = strdup(arg);
    }
    if (code == RN_EXIT_OK && !run_id) {
        fprintf(stderr, "runnable: error: out of memory\n");
        code = RN_EXIT_FAILED;
    }

    rn_tl tl;
    int built = 0;
    if (code == RN_EXIT_OK) {
        if (rn_tl_build(&tl, run_id, doc, now_us()) < 0) {
            fprintf(stderr, "runnable: error: out of memory reading the run log\n");
            code = RN_EXIT_FAILED;
        }
        built = 1;
    }
    if (code == RN_EXIT_OK) {
        int tty = !output && isatty(STDOUT_FILENO);
        const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
        rn_tl_text_opts to = {.width = text_width(tty),
                              .colour = tty && !(nc && *nc) && !(term && !strcmp(term, "dumb")),
                              .all = all};
        if (output) {
            code = write_file(output, &tl, fmt, &to);
            if (code == RN_EXIT_OK && console && fmt != FMT_TEXT) {
                to.width = text_width(isatty(STDOUT_FILENO));
                to.colour = isatty(STDOUT_FILENO) && !(nc && *nc);
                if (rn_tl_write_text(stdout, &tl, &to) < 0)
                    code = RN_EXIT_FAILED;
            }
        } else if (write_format(stdout, &tl, fmt, &to) < 0 || fflush(stdout) != 0) {
            fprintf(stderr, "runnable: error: cannot write the timeline: %s\n", strerror(errno));
            code = RN_EXIT_FAILED;
        }
    }
    if (built)
        rn_tl_free(&tl);
    free(run_id);
    json_decref(doc);
    rn_provider_close(store);
    rn_config_free(conf);
    return code;
}
