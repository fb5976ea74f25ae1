/* Building blocks of the run log document (spec/run-log.md §3). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "engine.h"

void rn_timestamp(char *out, size_t n)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
    /* Python omits the fraction when the microseconds are 0. */
    if (tv.tv_usec != 0 && k < n)
        snprintf(out + k, n - k, ".%06ld", (long)tv.tv_usec);
}

json_t *rn_param_new(const char *kind, json_t *value)
{
    json_t *desc;
    if (strcmp(kind, "object") == 0) {
        char buf[512];
        snprintf(buf, sizeof buf, "Pickled object stored in catalog as: %s",
                 json_is_string(value) ? json_string_value(value) : "");
        desc = json_string(buf);
    } else if (json_is_string(value) && json_string_length(value) > 10) {
        /* First 10 characters (not bytes) and "...". */
        const char *s = json_string_value(value);
        size_t i = 0;
        for (int chars = 0; s[i] && chars < 10; chars++) {
            i++;
            while ((s[i] & 0xC0) == 0x80)
                i++;
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s...", (int)i, s);
        desc = json_string(buf);
    } else {
        desc = json_incref(value);
    }
    return json_pack("{s:s, s:o, s:o}", "kind", kind, "value", value, "description", desc);
}

json_t *rn_step_log_new(const char *name, const char *internal_name, const char *step_type)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[], s:{}, s:[]}", "name", name,
                     "internal_name", internal_name, "status", "CREATED", "step_type",
                     step_type, "message", "", "mock", 0, "attempts", "branches",
                     "data_catalog");
}

json_t *rn_attempt_new(int number, const char *start_time)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:{}, s:{}, s:{}, s:s, s:[]}", "attempt_number",
                     number, "start_time", start_time, "end_time", "", "status", "FAIL",
                     "message", "", "input_parameters", "output_parameters",
                     "user_defined_metrics", "retry_indicator", "", "code_identities");
}
