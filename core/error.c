/* Thread-local last-error message: the library reports, the caller prints. */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "runnable/plugin.h"

/* Fixed-size so that setting an error never needs to allocate (it is
 * often called precisely because allocation failed). */
static _Thread_local char rn_last_error[4096];

int rn_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    char tmp[sizeof rn_last_error];

    /* Format into a scratch buffer first: callers may pass
     * rn_error_last() as an argument to wrap the previous message. */
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    snprintf(rn_last_error, sizeof rn_last_error, "%s", tmp);
    return code;
}

const char *rn_error_last(void)
{
    return rn_last_error;
}

const char *rn_error_name(int code)
{
    switch (code) {
    case RN_OK: return "RN_OK";
    case RN_EINVAL: return "RN_EINVAL";
    case RN_ENOENT: return "RN_ENOENT";
    case RN_EEXIST: return "RN_EEXIST";
    case RN_EIO: return "RN_EIO";
    case RN_ENOMEM: return "RN_ENOMEM";
    case RN_EPLUGIN: return "RN_EPLUGIN";
    case RN_EUNSUPPORTED: return "RN_EUNSUPPORTED";
    case RN_EFAIL: return "RN_EFAIL";
    case RN_EINTERRUPTED: return "RN_EINTERRUPTED";
    default: return "RN_E_UNKNOWN";
    }
}
