/* Formatting for the commands about past runs (runs_fmt.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "runnable/plugin.h"
#include "runs_fmt.h"

void rn_runs_fmt_seconds(char *out, size_t n, double s)
{
    if (s < 0)
        snprintf(out, n, "-");
    else if (s < 60)
        snprintf(out, n, "%.3f s", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

void rn_runs_fmt_kb(char *out, size_t n, long long kb)
{
    if (kb < 0)
        snprintf(out, n, "-");
    else if (kb < 1024)
        snprintf(out, n, "%lld KB", kb);
    else if (kb < 1024 * 1024)
        snprintf(out, n, "%.1f MB", kb / 1024.0);
    else
        snprintf(out, n, "%.2f GB", kb / (1024.0 * 1024.0));
}

double rn_runs_attempt_seconds(const json_t *a)
{
    const json_t *wall = json_object_get(json_object_get(a, "resources"), "wall_seconds");
    if (json_is_number(wall))
        return json_number_value(wall);
    double t0 = rn_history_ts_seconds(json_string_value(json_object_get(a, "start_time")));
    double t1 = rn_history_ts_seconds(json_string_value(json_object_get(a, "end_time")));
    return t0 >= 0 && t1 >= t0 ? t1 - t0 : -1;
}

/* name=value pairs; `scoped`: values are {kind, value} parameters. */
static char *fmt_pairs(const json_t *obj, size_t max_value, int scoped)
{
    rn_buf b = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        rn_buf_printf(&b, "%s%s=", b.len ? ", " : "", k);
        const json_t *value = scoped ? json_object_get(v, "value") : v;
        if (scoped && strcmp(json_string_value(json_object_get(v, "kind")) ?
                             json_string_value(json_object_get(v, "kind")) : "", "object") == 0) {
            rn_buf_printf(&b, "<object>");
            continue;
        }
        char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (text && strlen(text) > max_value) {
            size_t cut = max_value > 3 ? max_value - 3 : max_value;
            while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut--; /* not inside a UTF-8 sequence */
            rn_buf_printf(&b, "%.*s...", (int)cut, text);
        }
        else
            rn_buf_printf(&b, "%s", text ? text : "null");
        free(text);
    }
    if (!b.data)
        return strdup("");
    return b.data;
}

char *rn_runs_fmt_params(const json_t *params, size_t max_value)
{
    return fmt_pairs(params, max_value, 1);
}

char *rn_runs_fmt_values(const json_t *values, size_t max_value)
{
    return fmt_pairs(values, max_value, 0);
}

void rn_runs_put_line(rn_buf *line)
{
    size_t n = line->len;
    while (n > 0 && line->data[n - 1] == ' ')
        n--;
    printf("%.*s\n", (int)n, line->data ? line->data : "");
    line->len = 0;
}
