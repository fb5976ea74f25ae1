/* Progress of a run on standard error: a live block on a terminal, plain
 * lines elsewhere (progress.c, docs/progress.md). */
#ifndef RN_CLI_PROGRESS_H
#define RN_CLI_PROGRESS_H

#include <stdio.h>
#include "runnable/runnable.h"

typedef enum { RN_PROGRESS_LINES = 1, RN_PROGRESS_LIVE = 2 } rn_progress_mode;

typedef struct rn_progress rn_progress;

/* Live only on a terminal, and not with --quiet, NO_COLOR, CI or
 * TERM=dumb. */
rn_progress_mode rn_progress_choose(int quiet);
/* log_level: engine messages at or above it are shown (10 debug .. 50). */
rn_progress *rn_progress_new(rn_progress_mode mode, FILE *out, int log_level);
/* An rn_event_fn: pass the rn_progress as its data. */
void rn_progress_event(const rn_event *ev, void *data);
/* Clears the live block if one is drawn. */
void rn_progress_free(rn_progress *p);

#endif
