/* Run summaries for `runnable runs` (run-log-store ops version 3), kept as
 * small JSON files in <log_folder>/.summaries/<run_id>.json beside the run
 * logs; shared by the file stores (summaries.c). */
#ifndef RN_STORE_SUMMARIES_H
#define RN_STORE_SUMMARIES_H

#include "runnable/plugin.h"

/* Write the summary of `run_id` (atomically, creating the folder). */
int rn_summary_put(const char *log_folder, const char *run_id, const json_t *summary,
                   int fsync_it);

/* What a list_runs callback gets, and whether to go on. */
typedef int (*rn_summary_fn)(const char *run_id, const json_t *summary, void *data);

/* How the store lays out its runs, for finding them. */
typedef enum {
    RN_RUNS_AS_FILES = 1,   /* <log_folder>/<run_id>.json (file-system) */
    RN_RUNS_AS_FOLDERS = 2  /* <log_folder>/<run_id>/RunLog.json (chunked-fs) */
} rn_runs_layout;

/* Call fn(run_id, summary or NULL, data) for every run in log_folder;
 * NULL when the run has no readable summary (the caller reads its log).
 * A missing folder is an empty store. */
int rn_summary_list(const char *log_folder, rn_runs_layout layout, rn_summary_fn fn,
                    void *data);

#endif
