/* How the commands about past runs write times, sizes and parameters for
 * people (runs_fmt.c): one look for `runs`, `runs show` and `runs logs`. */
#ifndef RN_CLI_RUNS_FMT_H
#define RN_CLI_RUNS_FMT_H

#include <stddef.h>
#include <jansson.h>

/* "0.012 s", "4m05s", "2h10m"; "-" for a negative (unknown) duration. */
void rn_runs_fmt_seconds(char *out, size_t n, double seconds);
/* "812 KB", "8.3 MB", "1.25 GB"; "-" for a negative (unknown) size. */
void rn_runs_fmt_kb(char *out, size_t n, long long kb);
/* An attempt's duration in seconds: its measured wall time, else its end
 * minus its start; -1 when neither is known.  */
double rn_runs_attempt_seconds(const json_t *attempt);
/* `name=value, ...` of a parameter scope (name -> {kind, value}), values
 * as compact JSON, objects as <object>, each cut to fit; malloc'd. */
char *rn_runs_fmt_params(const json_t *params, size_t max_value);
/* The same for plain name -> value objects (metrics). */
char *rn_runs_fmt_values(const json_t *values, size_t max_value);

/* Print a table line built in `line` without its trailing blanks (empty
 * last cells), then empty it for the next one. */
struct rn_buf;
void rn_runs_put_line(struct rn_buf *line);

#endif
