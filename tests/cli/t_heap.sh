#!/bin/bash
# The program's heap (core/cli/heap.c): `runnable` advises the part of its
# heap past the first 16 kB for transparent huge pages (what halves the
# Argo render's time on a VM), and RUNNABLE_HUGE_PAGES=0 turns that off.
# A shell task reads its parent's (the engine's) memory map: the VmFlags of
# its `[heap]` mappings carry `hg` where the advice is.
. "$(dirname "$0")/lib.sh"

workdir heap
cat >p.yaml <<'YAML'
dag:
  start_at: look
  steps:
    look:
      type: task
      command_type: shell
      command: |
        cat /proc/$PPID/comm >comm.txt
        awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
             /^VmFlags:/ && name == "[heap]" { n++; if ($0 ~ / hg( |$)/) hg++ }
             END { print n + 0, hg + 0 }' /proc/$PPID/smaps >heap.txt
        grep -c -E 'lib(asan|tsan|msan)' /proc/$PPID/maps >sanitizer.txt || true
      next: success
YAML

rn execute p.yaml
expect_rc 0 "a task that reads the engine's memory map runs"
[ "$(cat comm.txt)" = runnable ] ||
    fail "the task's parent is the engine" "parent is '$(cat comm.txt)'"
pass "the task's parent is the engine"
read -r maps advised <heap.txt
if [ "$(cat sanitizer.txt)" != 0 ] || [ "$maps" = 0 ]; then
    # A sanitizer's allocator has no brk heap and refuses mallopt: the
    # program leaves the heap alone, which the plain build checks below.
    echo "ok - (not checked in this build: malloc is a sanitizer's, no brk heap)"
    done_testing
fi
[ "$advised" -ge 1 ] ||
    fail "the engine's heap is advised for huge pages" "[heap] mappings: $maps, with hg: $advised"
pass "the engine's heap is advised for huge pages ($advised of $maps [heap] mappings)"
[ "$maps" -ge 2 ] ||
    fail "the heap's first pages are not advised" "one [heap] mapping, and it has hg"
pass "the heap's first pages are not advised (small commands stay in 4 kB pages)"

RUNNABLE_HUGE_PAGES=0 rn execute p.yaml
expect_rc 0 "RUNNABLE_HUGE_PAGES=0: the run succeeds"
read -r maps advised <heap.txt
[ "$maps" -ge 1 ] && [ "$advised" = 0 ] ||
    fail "RUNNABLE_HUGE_PAGES=0 leaves the heap unadvised" "[heap] mappings: $maps, with hg: $advised"
pass "RUNNABLE_HUGE_PAGES=0 leaves the heap unadvised"

done_testing
