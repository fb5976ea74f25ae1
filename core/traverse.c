/*
 * The executor's entry into the engine: run the whole pipeline in this
 * process with the scheduler (sched.c).
 */
#include "config.h"

#include "engine.h"

int rn_engine_traverse(rn_engine *e, const rn_traverse_opts *opts)
{
    return rn_sched_run(e, opts);
}
