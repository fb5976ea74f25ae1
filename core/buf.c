/* A growable byte buffer, always NUL-terminated so `data` is a C string. */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"

static int reserve(rn_buf *b, size_t extra)
{
    if (extra > (size_t)-1 - b->len - 1)
        return RN_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    /* Doubling keeps appends amortised O(1); run logs are built by
     * thousands of small appends. */
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > (size_t)-1 / 2 ? need : ncap * 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return rn_error_set(RN_ENOMEM, "out of memory");
    b->data = p;
    b->cap = ncap;
    return 0;
}

int rn_buf_append(rn_buf *b, const char *s, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int rn_buf_printf(rn_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return rn_error_set(RN_EINVAL, "bad format string");
    if ((size_t)n < sizeof small)
        return rn_buf_append(b, small, (size_t)n);

    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void rn_buf_free(rn_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
