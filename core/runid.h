/* Generated run ids. */
#ifndef RN_RUNID_H
#define RN_RUNID_H

#include <stddef.h>

/* Longest id rn_run_id_generate() can produce, with its NUL. */
#define RN_RUN_ID_GENERATED_MAX 64

/* A fresh id "<adjective>-<surname>-<HHMM>" (local time) in `out`;
 * RN_EINVAL if `n` bytes cannot hold it. */
int rn_run_id_generate(char *out, size_t n);

#endif
