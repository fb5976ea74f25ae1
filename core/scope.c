/*
 * Layered parameter scopes: a branch reads through to its parents, writes
 * only its own layer.  Layers share values, so a large parameter is held
 * (and stored in the run log) once however many branches see it.
 */
#include "config.h"

#include "engine.h"

json_t *rn_scope_get(const rn_scope *scope, const char *name)
{
    for (const rn_scope *s = scope; s; s = s->parent) {
        json_t *v = json_object_get(s->params, name);
        if (v)
            return v;
    }
    return NULL;
}

static void fill(json_t *view, const rn_scope *s)
{
    if (!s)
        return;
    fill(view, s->parent);
    json_object_update(view, s->params);
}

json_t *rn_scope_view(const rn_scope *scope)
{
    json_t *view = json_object();
    if (view)
        fill(view, scope);
    return view;
}
