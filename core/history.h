/* Run history: the summary each run leaves in its store, and the listing
 * `runnable runs` filters and sorts (history.c, docs/runs.md). */
#ifndef RN_HISTORY_H
#define RN_HISTORY_H

#include <jansson.h>
#include "engine.h"

/* Store the run's summary (`ended`: 0 when it starts, 1 when it ends) if
 * the store keeps summaries.  A failure is reported as a warning event,
 * never a failed run: the summary is an index, the run log is the record. */
void rn_history_put(rn_engine *e, int ended);

/* The summary of a run from its run log alone (runs written by another
 * engine, or killed before the first summary).  New reference. */
json_t *rn_history_from_log(const char *run_id, const json_t *runlog);

/* Seconds since the epoch of a run-log timestamp ("YYYY-MM-DD HH:MM:SS[.f]",
 * local time), or -1 when it is not one. */
double rn_history_ts_seconds(const char *ts);

/* Which runs to list and how. */
typedef struct rn_history_query {
    const char *status;        /* "SUCCESS", "FAIL", "PROCESSING" or NULL */
    const char *since, *until; /* timestamps "YYYY-MM-DD[ HH:MM[:SS]]" or NULL */
    const char *tag;           /* exact tag, or NULL */
    const char *search;        /* substring of run id, tag or a step name */
    const char *sort;          /* summary field; "-" first for descending;
                                  NULL: newest first */
    long limit;                /* 0: all */
} rn_history_query;

/* Turn --since/--until text into a comparable timestamp ("2026-12-01",
 * "2026-12-01 10:30", "30m", "2h", "7d" ago).  0, or RN_EINVAL with a
 * message.  `now` is the current time as a timestamp (tests fix it). */
int rn_history_parse_time(const char *text, const char *now, char out[40]);

/* Every run of the store that matches, as summaries in the query's order.
 * RN_EUNSUPPORTED when the store keeps no history (e.g. buffered). */
int rn_history_list(const rn_provider *store, const rn_history_query *q, json_t **out);

/* Fields --sort accepts, for messages. */
extern const char rn_history_sort_fields[];

#endif
