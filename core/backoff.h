/* Delays between the attempts of a task (a task's `retry:` mapping). */
#ifndef RN_BACKOFF_H
#define RN_BACKOFF_H

#include <jansson.h>

typedef struct rn_backoff {
    double delay;       /* seconds before the second attempt */
    double factor;      /* each later delay is this many times longer */
    double max_delay;   /* no delay is longer */
    double jitter;      /* fraction of each delay left to chance, 0..1:
                           the delay is scaled into [(1 - jitter) * d, d] */
} rn_backoff;

/* From a task's `retry:` mapping.  NULL or JSON null: no block, retries
 * at once (delay 0).  Inside a block every key is optional: delay 1,
 * factor 2, max_delay 60 (or delay, if that is longer), no jitter;
 * `jitter: true` is 0.5 (between half and all of each delay), a number is
 * the fraction itself.  RN_EINVAL for what the pipeline loader would
 * reject: not a mapping, an unknown key, negative delays, factor < 1,
 * jitter outside 0..1. */
int rn_backoff_parse(const json_t *retry, rn_backoff *out);

/* Seconds to wait after `failed_attempts` failures (1 after the first;
 * smaller counts as 1): min(max_delay, delay * factor^(failed_attempts-1)),
 * then with jitter scaled by 1 - jitter + jitter * random01 (random01 in
 * [0, 1], clamped).  Never overflows: a huge power gives max_delay. */
double rn_backoff_delay(const rn_backoff *b, int failed_attempts, double random01);

#endif
