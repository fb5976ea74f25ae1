/* Delays between the attempts of a task (a task's `retry:` mapping). */
#ifndef RN_BACKOFF_H
#define RN_BACKOFF_H

#include <jansson.h>

typedef struct rn_backoff {
    double delay;       /* seconds before the second attempt */
    double factor;      /* each later delay is this much longer */
    double max_delay;   /* no delay is longer */
    double jitter;      /* fraction of each delay left to chance: the delay
                           is scaled into [(1 - jitter) * d, d] */
} rn_backoff;

/* From a task's `retry:` mapping (validated at load); NULL: no block,
 * retries at once.  Inside a block: delay 1, factor 2, max_delay 60, no
 * jitter unless set (`jitter: true` is 0.5, a number is the fraction). */
int rn_backoff_parse(const json_t *retry, rn_backoff *out);
/* Delay after `failed_attempts` failures (1 for the first):
 * min(max_delay, delay * factor^(failed_attempts-1)), with jitter scaled
 * by 1 - jitter + jitter * random01 (random01 in [0, 1]). */
double rn_backoff_delay(const rn_backoff *b, int failed_attempts, double random01);

#endif
