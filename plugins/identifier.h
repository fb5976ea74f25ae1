/* A name that is an identifier, [A-Za-z_][A-Za-z0-9_]*: a Python name
 * (task-python, task-notebook) and a shell variable name (task-shell),
 * which both paste such names into code they generate, so this check is
 * what keeps a name from becoming code.  Shared by the task plugins. */
#ifndef RN_PLUGINS_IDENTIFIER_H
#define RN_PLUGINS_IDENTIFIER_H

static inline int rn_is_identifier(const char *s)
{
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

#endif
