#!/bin/bash
# Resource accounting: every task attempt records the wall time, user and
# system CPU seconds and peak RSS of its process tree (wait4's rusage) as
# `resources` in the run log (docs/resources.md).
. "$(dirname "$0")/lib.sh"

workdir resources
rn execute "$FIXTURES/resources/resources.yaml" res
expect_rc 0 "a pipeline of measured tasks"
LOG=$(log_of res)
assert_py "$LOG" 'all(sorted(attempt(s)["resources"]) == ["max_rss_kb", "system_cpu_seconds", "user_cpu_seconds", "wall_seconds"] for s in ("alloc", "burn", "nap"))' \
    "every task attempt has resources {wall_seconds, user_cpu_seconds, system_cpu_seconds, max_rss_kb}"
assert_py "$LOG" 'attempt("alloc")["resources"]["max_rss_kb"] >= 200 * 1024' \
    "a task whose child allocates 200 MB reports at least 200 MB peak RSS"
assert_py "$LOG" 'attempt("nap")["resources"]["max_rss_kb"] < 50 * 1024' \
    "a sleeping task reports a small peak RSS (not the largest so far)"
# (its loop asks the kernel for the time: user and system CPU together)
assert_py "$LOG" '0.28 <= attempt("burn")["resources"]["user_cpu_seconds"] + attempt("burn")["resources"]["system_cpu_seconds"] < 5' \
    "a task that burns 0.3 s of CPU reports about that much CPU"
assert_py "$LOG" 'attempt("burn")["resources"]["wall_seconds"] >= attempt("burn")["resources"]["user_cpu_seconds"] + attempt("burn")["resources"]["system_cpu_seconds"] - 0.05' \
    "one thread cannot use more CPU than wall time"
assert_py "$LOG" '0.3 <= attempt("nap")["resources"]["wall_seconds"] < 3 and attempt("nap")["resources"]["user_cpu_seconds"] < 0.1' \
    "a sleeping task: wall time, almost no CPU"
assert_py "$LOG" 'all(isinstance(v, (int, float)) and v >= 0 for s in ("alloc", "burn", "nap") for v in attempt(s)["resources"].values())' \
    "resource figures are non-negative numbers"
assert_py "$LOG" '"resources" not in attempt("quiet")' "a stub runs no process: no resources"

# A failed attempt is measured too, and each retry on its own.
workdir retried
cat >p.yaml <<'YAML'
dag:
  start_at: flaky
  steps:
    flaky:
      type: task
      command_type: shell
      command: sleep 0.1; exit 3
      max_attempts: 2
      next: success
YAML
rn execute p.yaml retried
expect_rc 1 "a task failing twice"
LOG=$(log_of retried)
assert_py "$LOG" 'len(step("flaky")["attempts"]) == 2 and all(a["resources"]["wall_seconds"] >= 0.1 for a in step("flaky")["attempts"])' \
    "each failed attempt records its own resources"
assert_py "$LOG" '[a["exit_code"] for a in step("flaky")["attempts"]] == [3, 3]' \
    "each attempt records its exit code"

# A task ended by a signal records the signal, not an exit code.
workdir signalled
cat >p.yaml <<'YAML'
dag:
  start_at: ok
  steps:
    ok:
      type: task
      command_type: shell
      command: "true"
      next: killed
    killed:
      type: task
      command_type: shell
      command: kill -TERM $$
      next: success
YAML
rn execute p.yaml sig
expect_rc 1 "a task killed by a signal"
LOG=$(log_of sig)
assert_py "$LOG" 'attempt("ok")["exit_code"] == 0 and "term_signal" not in attempt("ok")' \
    "a successful task: exit_code 0"
assert_py "$LOG" 'attempt("killed")["term_signal"] == 15 and "exit_code" not in attempt("killed")' \
    "a task killed by SIGTERM: term_signal 15, no exit_code"
done_testing
