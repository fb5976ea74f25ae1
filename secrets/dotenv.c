/*
 * secrets "dotenv": secrets from a KEY=value file (default ".env").
 *
 * The file is read once, at the first lookup, so a configuration naming a
 * dotenv file that is never needed does not fail.  The syntax is that of
 * python-dotenv, which runnable uses:
 *
 *   # comment                 blank lines and comment lines are skipped
 *   export KEY=value          "export " is optional
 *   KEY = value # note        unquoted: trimmed, " #..." is a comment
 *   KEY='literal ${X}'        single quotes: only \' and \\ are escapes
 *   KEY="a\nb ${X:-dflt}"     double quotes: C-like escapes, may span lines
 *
 * ${NAME} and ${NAME:-default} in unquoted and double-quoted values expand
 * from keys defined earlier in the file, then the environment (python-
 * dotenv's dotenv_values()).  A later definition of a key wins.
 *
 * Unlike python-dotenv, which skips malformed lines with a warning, a
 * malformed line is an error: a silently dropped secret shows up much later
 * as a confusing "not defined".  No message ever contains a value.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"

struct dotenv_item {
    char *key;
    char *value;
};

struct dotenv {
    char *path;
    int loaded;
    struct dotenv_item *items;
    size_t n, cap;
};

static const char *const dotenv_config_keys[] = {"location", NULL};

/* Secret bytes are zeroed before their memory is released; the volatile
 * pointer keeps the compiler from treating the stores as dead. */
static void dotenv_wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

static void dotenv_free_secret(char *s)
{
    if (s) {
        dotenv_wipe(s, strlen(s));
        free(s);
    }
}

/* A value under construction.  Growing copies and wipes rather than using
 * realloc(), which could leave a stale copy of the secret in freed memory. */
struct dotenv_str {
    char *data;
    size_t len, cap;
};

static int dotenv_str_add(struct dotenv_str *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 32;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *d = malloc(cap);
        if (!d)
            return rn_error_set(RN_ENOMEM, "out of memory");
        if (s->data) {
            memcpy(d, s->data, s->len);
            dotenv_wipe(s->data, s->cap);
            free(s->data);
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
    return 0;
}

static void dotenv_str_free(struct dotenv_str *s)
{
    if (s->data) {
        dotenv_wipe(s->data, s->cap);
        free(s->data);
    }
    s->data = NULL;
    s->len = s->cap = 0;
}

/* Hand over the text as a malloc'd string ("" when nothing was added). */
static char *dotenv_str_take(struct dotenv_str *s)
{
    if (!s->data && dotenv_str_add(s, "", 0) < 0)
        return NULL;
    char *d = s->data;
    s->data = NULL;
    s->len = s->cap = 0;
    return d;
}

static void dotenv_clear(struct dotenv *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].key);
        dotenv_free_secret(d->items[i].value);
    }
    free(d->items);
    d->items = NULL;
    d->n = d->cap = 0;
}

static const char *dotenv_lookup(const struct dotenv *d, const char *key, size_t keylen)
{
    /* From the end: the last definition of a key is the one that counts. */
    for (size_t i = d->n; i-- > 0;) {
        if (strlen(d->items[i].key) == keylen && memcmp(d->items[i].key, key, keylen) == 0)
            return d->items[i].value;
    }
    return NULL;
}

/* ${NAME} / ${NAME:-default}: from the file's earlier keys, then the
 * environment, else the default or "".  Anything that is not exactly this
 * form stays literal text, as in python-dotenv. */
static int dotenv_expand(const struct dotenv *d, const char *v, size_t n, struct dotenv_str *out)
{
    size_t i = 0;
    while (i < n) {
        if (v[i] != '$' || i + 1 >= n || v[i + 1] != '{') {
            if (dotenv_str_add(out, v + i, 1) < 0)
                return RN_ENOMEM;
            i++;
            continue;
        }
        size_t name = i + 2, j = name;
        while (j < n && v[j] != '}' && v[j] != ':')
            j++;
        size_t name_len = j - name, dflt = 0, dflt_len = 0;
        int has_default = 0;
        if (j < n && v[j] == ':') {
            if (j + 1 < n && v[j + 1] == '-') {
                has_default = 1;
                dflt = j + 2;
                j = dflt;
                while (j < n && v[j] != '}')
                    j++;
                dflt_len = j - dflt;
            } else {
                j = n; /* not the form: keep the '$' literally */
            }
        }
        if (j >= n) {
            if (dotenv_str_add(out, "$", 1) < 0)
                return RN_ENOMEM;
            i++;
            continue;
        }
        const char *val = dotenv_lookup(d, v + name, name_len);
        if (!val && name_len > 0) {
            char *key = strndup(v + name, name_len);
            if (!key)
                return rn_error_set(RN_ENOMEM, "out of memory");
            val = getenv(key);
            free(key);
        }
        int rc = 0;
        if (val)
            rc = dotenv_str_add(out, val, strlen(val));
        else if (has_default)
            rc = dotenv_str_add(out, v + dflt, dflt_len);
        if (rc < 0)
            return rc;
        i = j + 1;
    }
    return 0;
}

static int dotenv_add(struct dotenv *d, char *key, char *value)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct dotenv_item *items = realloc(d->items, cap * sizeof *items);
        if (!items)
            return rn_error_set(RN_ENOMEM, "out of memory");
        d->items = items;
        d->cap = cap;
    }
    d->items[d->n].key = key;
    d->items[d->n].value = value;
    d->n++;
    return 0;
}

static int dotenv_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int dotenv_malformed(const struct dotenv *d, int line, const char *why)
{
    return rn_error_set(RN_EINVAL, "dotenv file '%s', line %d: %s", d->path, line, why);
}

/* Decode a quoted value starting just after its opening quote.  `*p` ends
 * just after the closing quote; `*line` counts newlines inside it. */
static int dotenv_quoted(const struct dotenv *d, const char **p, const char *end, char quote,
                         int *line, struct dotenv_str *raw)
{
    int start_line = *line;
    const char *s = *p;
    while (s < end && *s != quote) {
        char c = *s++;
        if (c == '\n')
            (*line)++;
        if (c == '\\' && s < end) {
            char e = *s;
            char out = 0;
            if (quote == '\'') {
                if (e == '\'' || e == '\\')
                    out = e;
            } else {
                switch (e) {
                case 'n': out = '\n'; break;
                case 't': out = '\t'; break;
                case 'r': out = '\r'; break;
                case 'a': out = '\a'; break;
                case 'b': out = '\b'; break;
                case 'f': out = '\f'; break;
                case 'v': out = '\v'; break;
                case '"': case '\'': case '\\': out = e; break;
                default: break;
                }
            }
            if (out) {
                s++;
                if (dotenv_str_add(raw, &out, 1) < 0)
                    return RN_ENOMEM;
                continue;
            }
            /* an unknown escape stays as written, backslash included */
        }
        if (dotenv_str_add(raw, &c, 1) < 0)
            return RN_ENOMEM;
    }
    if (s >= end)
        return dotenv_malformed(d, start_line, "the quoted value is never closed");
    *p = s + 1;
    return 0;
}

/* Parse one KEY=value definition starting at a non-blank, non-comment
 * character; `*p` ends at the end of its (last) line. */
static int dotenv_definition(struct dotenv *d, const char **p, const char *end, int *line)
{
    const char *s = *p;
    int start_line = *line;

    if (end - s > 6 && memcmp(s, "export", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
        s += 6;
        while (s < end && dotenv_is_blank(*s))
            s++;
    }
    const char *key = s;
    while (s < end && *s != '=' && *s != '#' && *s != '\n' && *s != '\'' && *s != '"' &&
           !dotenv_is_blank(*s))
        s++;
    size_t key_len = (size_t)(s - key);
    while (s < end && dotenv_is_blank(*s))
        s++;
    if (key_len == 0 || s >= end || *s != '=')
        return dotenv_malformed(d, start_line, "expected KEY=value");
    s++;
    while (s < end && dotenv_is_blank(*s))
        s++;

    struct dotenv_str raw = {0}, val = {0};
    int expand = 1, rc = 0;
    if (s < end && (*s == '"' || *s == '\'')) {
        char quote = *s++;
        expand = quote == '"';
        if ((rc = dotenv_quoted(d, &s, end, quote, line, &raw)) < 0)
            goto out;
        while (s < end && dotenv_is_blank(*s))
            s++;
        if (s < end && *s == '#') {
            while (s < end && *s != '\n')
                s++;
        }
        if (s < end && *s != '\n') {
            rc = dotenv_malformed(d, *line, "unexpected text after the closing quote");
            goto out;
        }
    } else {
        const char *v = s;
        while (s < end && *s != '\n')
            s++;
        /* A '#' starts a comment only after whitespace: "a#b" is a value. */
        const char *stop = s;
        for (const char *q = v; q < s; q++) {
            if (*q == '#' && q > v && dotenv_is_blank(q[-1])) {
                stop = q;
                break;
            }
        }
        while (stop > v && dotenv_is_blank(stop[-1]))
            stop--;
        if ((rc = dotenv_str_add(&raw, v, (size_t)(stop - v))) < 0)
            goto out;
    }

    if (expand)
        rc = dotenv_expand(d, raw.data ? raw.data : "", raw.len, &val);
    else
        rc = dotenv_str_add(&val, raw.data ? raw.data : "", raw.len);
    if (rc < 0)
        goto out;
    char *k = strndup(key, key_len);
    char *v = dotenv_str_take(&val);
    if (!k || !v) {
        free(k);
        dotenv_free_secret(v);
        rc = rn_error_set(RN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = dotenv_add(d, k, v)) < 0) {
        free(k);
        dotenv_free_secret(v);
        goto out;
    }
    *p = s;
out:
    dotenv_str_free(&raw);
    dotenv_str_free(&val);
    return rc;
}

static int dotenv_parse(struct dotenv *d, const char *text, size_t len)
{
    const char *s = text, *end = text + len;
    int line = 1;
    /* Editors on some systems start UTF-8 files with a byte order mark;
     * it is not part of the first key. */
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    while (s < end) {
        while (s < end && dotenv_is_blank(*s))
            s++;
        if (s < end && *s == '#') {
            while (s < end && *s != '\n')
                s++;
        } else if (s < end && *s != '\n') {
            int rc = dotenv_definition(d, &s, end, &line);
            if (rc < 0)
                return rc;
        }
        if (s < end) {
            s++; /* the newline */
            line++;
        }
    }
    return 0;
}

static int dotenv_read(const struct dotenv *d, const char *secret, char **out, size_t *out_len)
{
    FILE *f = fopen(d->path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return rn_error_set(RN_ENOENT,
                                "dotenv file '%s' does not exist (needed for secret '%s'); "
                                "create it or set the secrets location", d->path, secret);
        return rn_error_set(RN_EIO, "cannot open dotenv file '%s': %s", d->path,
                            strerror(errno));
    }
    struct dotenv_str buf = {0};
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = dotenv_str_add(&buf, chunk, n)) < 0)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = rn_error_set(RN_EIO, "cannot read dotenv file '%s'", d->path);
    dotenv_wipe(chunk, sizeof chunk);
    fclose(f);
    if (rc < 0) {
        dotenv_str_free(&buf);
        return rc;
    }
    *out_len = buf.len;
    *out = dotenv_str_take(&buf);
    return *out ? 0 : RN_ENOMEM;
}

static int dotenv_load(struct dotenv *d, const char *secret)
{
    char *text = NULL;
    size_t len = 0;
    int rc = dotenv_read(d, secret, &text, &len);
    if (rc < 0)
        return rc;
    rc = dotenv_parse(d, text, len);
    dotenv_wipe(text, len);
    free(text);
    if (rc < 0) {
        /* Nothing half-read is kept; the next lookup tries again. */
        dotenv_clear(d);
        return rc;
    }
    d->loaded = 1;
    return 0;
}

static int dotenv_create(void **self, const rn_plugin_env *env, const json_t *config)
{
    const char *loc;
    int rc = rn_config_string(config, "location", ".env", &loc);
    if (rc < 0)
        return rc;
    if (!loc[0])
        return rn_error_set(RN_EINVAL, "location must not be empty");
    struct dotenv *d = calloc(1, sizeof *d);
    if (!d)
        return rn_error_set(RN_ENOMEM, "out of memory");
    /* Relative to the engine's working directory, where runnable (which
     * uses the process cwd) looks for it. */
    if (loc[0] != '/' && env && env->work_dir && strcmp(env->work_dir, ".") != 0) {
        size_t a = strlen(env->work_dir), b = strlen(loc);
        d->path = malloc(a + b + 2);
        if (d->path)
            snprintf(d->path, a + b + 2, "%s/%s", env->work_dir, loc);
    } else {
        d->path = strdup(loc);
    }
    if (!d->path) {
        free(d);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    *self = d;
    return 0;
}

static void dotenv_destroy(void *self)
{
    struct dotenv *d = self;
    if (!d)
        return;
    dotenv_clear(d);
    free(d->path);
    free(d);
}

static int dotenv_get(void *self, const char *name, const char **out_value)
{
    struct dotenv *d = self;
    *out_value = NULL;
    if (!name || !name[0])
        return rn_error_set(RN_EINVAL, "secret name is missing");
    if (!d->loaded) {
        int rc = dotenv_load(d, name);
        if (rc < 0)
            return rc;
    }
    const char *v = dotenv_lookup(d, name, strlen(name));
    if (!v)
        return rn_error_set(RN_ENOENT,
                            "secret '%s' is not defined in dotenv file '%s'; add a line "
                            "%s=... to it", name, d->path, name);
    *out_value = v;
    return 0;
}

static const rn_secrets_ops dotenv_ops = {
    .version = RN_SECRETS_OPS_VERSION,
    .create = dotenv_create,
    .destroy = dotenv_destroy,
    .get = dotenv_get,
};

RN_PLUGIN_DESCRIPTOR(secrets_dotenv) = {
    .magic = RN_PLUGIN_MAGIC,
    .abi_major = RN_ABI_MAJOR,
    .abi_minor = RN_ABI_MINOR,
    .kind = RN_KIND_SECRETS,
    .type_name = "dotenv",
    .version = "0.1.0",
    .summary = "secrets from a KEY=value file (default .env)",
    .config_keys = dotenv_config_keys,
    .ops = &dotenv_ops,
};
