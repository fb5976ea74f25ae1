/* The steps before a node's step in a pipeline's text (core/yaml_skip.c). */
#ifndef RN_YAML_SKIP_H
#define RN_YAML_SKIP_H

#include <stddef.h>

/*
 * 1 when the text's /dag/steps is a block mapping whose keys before the
 * plain key `only` could all be told apart line by line: [*from, *to) are
 * the lines of those steps (whole lines; *to is where `only`'s line
 * starts); *step_end is where the lines of `only` end (the next line
 * indented as little as its key, which libyaml only looks at to see the
 * step's value end, or the text's end).  0 when there is nothing to leave out or this reading is not
 * sure of the text: the caller reads it with libyaml.
 */
int rn_yaml_steps_before(const char *text, size_t len, const char *only, size_t *from,
                         size_t *to, size_t *step_end);

#endif
