#include "config.h"
#include "runnable/runnable.h"

const char *rn_version(void)
{
    return PACKAGE_VERSION;
}
