/*
 * Exponential backoff between attempts.  Without a `retry:` block a
 * failed attempt is retried at once (max_attempts alone asks for nothing
 * more); with one, the defaults are the usual 1 s doubling up to a minute.
 */
#include "config.h"

#include "backoff.h"

static double number(const json_t *o, const char *key, double dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int rn_backoff_parse(const json_t *retry, rn_backoff *out)
{
    if (!retry || !json_is_object(retry)) {
        *out = (rn_backoff){.delay = 0, .factor = 1, .max_delay = 0, .jitter = 0};
        return 0;
    }
    out->delay = number(retry, "delay", 1.0);
    out->factor = number(retry, "factor", 2.0);
    out->max_delay = number(retry, "max_delay", 60.0);
    const json_t *j = json_object_get(retry, "jitter");
    out->jitter = json_is_true(j) ? 0.5 : json_is_number(j) ? json_number_value(j) : 0;
    if (out->jitter < 0)
        out->jitter = 0;
    if (out->jitter > 1)
        out->jitter = 1;
    if (out->delay < 0)
        out->delay = 0;
    if (out->factor < 1)
        out->factor = 1;
    if (out->max_delay < out->delay)
        out->max_delay = out->delay;
    return 0;
}

double rn_backoff_delay(const rn_backoff *b, int failed_attempts, double random01)
{
    if (b->delay <= 0)
        return 0;
    /* Grow step by step and stop at the cap: no overflow however many
     * attempts. */
    double d = b->delay;
    for (int i = 1; i < failed_attempts && d < b->max_delay; i++)
        d *= b->factor;
    if (d > b->max_delay)
        d = b->max_delay;
    if (b->jitter > 0) {
        if (random01 < 0)
            random01 = 0;
        if (random01 > 1)
            random01 = 1;
        d *= 1 - b->jitter + b->jitter * random01;
    }
    return d;
}
