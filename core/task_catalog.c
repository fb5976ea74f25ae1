/*
 * The run's catalog as task plugins see it (plugin.h, rn_task_catalog_*):
 * python and notebook tasks keep pickled objects and executed notebooks
 * there.  The request carries the engine in `engine_private`; a task
 * plugin never sees the catalog provider itself, so what it may do stays
 * this small.
 */
#include "config.h"

#include <stdlib.h>

#include "engine.h"

static int task_catalog(const rn_task_request *req, const rn_catalog_ops **ops, void **self)
{
    if (!req || req->version < 2 || !req->engine_private)
        return rn_error_set(RN_EUNSUPPORTED, "this attempt has no catalog (a test run, or an "
                            "engine older than the task plugin)");
    rn_engine *e = req->engine_private;
    rn_provider *p = e->svc[RN_SVC_CATALOG];
    if (!p)
        return rn_error_set(RN_EUNSUPPORTED, "no catalog is configured");
    *ops = p->ops;
    *self = p->self;
    return 0;
}

int rn_task_catalog_put(const rn_task_request *req, const char *name, const char *local_path)
{
    const rn_catalog_ops *o = NULL;
    void *self = NULL;
    int rc = task_catalog(req, &o, &self);
    if (rc < 0)
        return rc;
    return o->put_file(self, req->run_id, local_path, name);
}

int rn_task_catalog_locate(const rn_task_request *req, const char *name, char **out_path)
{
    const rn_catalog_ops *o = NULL;
    void *self = NULL;
    *out_path = NULL;
    int rc = task_catalog(req, &o, &self);
    if (rc < 0)
        return rc;
    if (!o->locate)
        return rn_error_set(RN_EUNSUPPORTED, "the catalog does not keep files locally");
    return o->locate(self, req->run_id, name, out_path);
}

int rn_task_catalog_get(const rn_task_request *req, const char *name, const char *local_path)
{
    char *path = NULL;
    int rc = rn_task_catalog_locate(req, name, &path);
    if (rc < 0) {
        if (rc == RN_EUNSUPPORTED)
            return rn_error_set(RN_EUNSUPPORTED, "cannot read '%s' back from the catalog: %s",
                                name, rn_error_last());
        return rc;
    }
    rc = rn_copy_file(path, local_path);
    if (rc < 0)
        rc = rn_error_set(RN_ENOENT, "'%s' is not in the run's catalog (%s)", name,
                          rn_error_last());
    free(path);
    return rc;
}
