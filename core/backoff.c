/*
 * Exponential backoff between attempts.  Without a `retry:` block a
 * failed attempt is retried at once (max_attempts alone asks for nothing
 * more); with one, the defaults are the usual 1 s doubling up to a minute.
 */
#include "config.h"

#include <string.h>

#include "backoff.h"
#include "runnable/plugin.h"

static int number(const json_t *retry, const char *key, double min, double dflt,
                  double *out)
{
    const json_t *v = json_object_get(retry, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    /* !(x >= min) also refuses a NaN a caller may have built by hand. */
    if (!json_is_number(v) || !(json_number_value(v) >= min))
        return rn_error_set(RN_EINVAL, "retry '%s' must be a number of at least %g", key, min);
    *out = json_number_value(v);
    return 0;
}

int rn_backoff_parse(const json_t *retry, rn_backoff *out)
{
    *out = (rn_backoff){.delay = 0, .factor = 1, .max_delay = 0, .jitter = 0};
    if (!retry || json_is_null(retry))
        return 0;
    if (!json_is_object(retry))
        return rn_error_set(RN_EINVAL, "'retry' must be a mapping with delay, factor, "
                            "max_delay and jitter");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)retry, key, v)
        if (strcmp(key, "delay") && strcmp(key, "factor") && strcmp(key, "max_delay") &&
            strcmp(key, "jitter"))
            return rn_error_set(RN_EINVAL, "unknown retry key '%s'; retry accepts delay, "
                                "factor, max_delay and jitter", key);
    rn_backoff b;
    int rc;
    if ((rc = number(retry, "delay", 0, 1.0, &b.delay)) < 0 ||
        (rc = number(retry, "factor", 1, 2.0, &b.factor)) < 0 ||
        /* `delay: 120` alone means two minutes, not the default cap. */
        (rc = number(retry, "max_delay", 0, b.delay > 60.0 ? b.delay : 60.0,
                     &b.max_delay)) < 0)
        return rc;
    const json_t *j = json_object_get(retry, "jitter");
    if (!j || json_is_false(j))
        b.jitter = 0;
    else if (json_is_true(j))
        b.jitter = 0.5;
    else if (json_is_number(j) && json_number_value(j) >= 0 && json_number_value(j) <= 1)
        b.jitter = json_number_value(j);
    else
        return rn_error_set(RN_EINVAL, "retry 'jitter' must be true, false or a fraction "
                            "between 0 and 1");
    *out = b;
    return 0;
}

/* factor^n by squaring: O(log n) steps, and an overflow just reaches
 * infinity (IEEE), which the caller's cap turns into max_delay. */
static double power(double factor, unsigned n)
{
    double r = 1;
    while (n) {
        if (n & 1)
            r *= factor;
        factor *= factor;
        n >>= 1;
    }
    return r;
}

double rn_backoff_delay(const rn_backoff *b, int failed_attempts, double random01)
{
    if (!(b->delay > 0) || !(b->max_delay > 0))
        return 0;
    unsigned n = failed_attempts > 1 ? (unsigned)failed_attempts - 1 : 0;
    double d = b->delay * power(b->factor, n);
    /* !(d <= max) also catches the NaN of a hand-built 0 * inf. */
    if (!(d <= b->max_delay))
        d = b->max_delay;
    if (b->jitter > 0) {
        double j = b->jitter > 1 ? 1 : b->jitter;
        double r = !(random01 >= 0) ? 0 : random01 > 1 ? 1 : random01;
        d *= 1 - j + j * r;
    }
    return d;
}
