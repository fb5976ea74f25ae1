#!/bin/bash
# What `runnable execute` shows while it runs (docs/progress.md): plain
# lines on a pipe, with --quiet or NO_COLOR; a live block redrawn in place
# on a terminal (driven through a real pty with script(1)); engine messages
# with --log-level debug; the summary on standard output in every mode.
. "$(dirname "$0")/lib.sh"

P=$FIXTURES/progress
command -v script >/dev/null || fail "script(1) is installed (util-linux)" "not found"

# ------------------------------------------------------------ plain lines
workdir lines
rn execute "$P/live.yaml" -p "$P/params.yaml" -c "$P/parallel.config.yaml" --run-id lines
expect_rc 0 "a run with a failure it recovers from"
expect_out_re '^run lines: SUCCESS  \(' "the summary is on standard output"
for s in m m.1.t m.4.t m.4.success after cleanup success; do
    grep -E -q "^\[[0-9]+/[0-9]+\] start +$s \(" "$ERR" || fail "a start line for $s" "$(cat "$ERR")"
    grep -E -q "^\[[0-9]+/[0-9]+\] (SUCCESS|FAIL) +$s \(.*[0-9] s" "$ERR" ||
        fail "an end line for $s with its duration" "$(cat "$ERR")"
done
pass "one start and one end line per step, with status and duration"
n_start=$(grep -c '\] start ' "$ERR")
n_steps=$(json_get "$(log_of lines)" 'len(steps) + sum(len(b["steps"]) for b in step("m")["branches"].values())')
[ "$n_start" -eq "$n_steps" ] || fail "as many start lines as steps in the run log" "$n_start lines, $n_steps steps"
pass "as many start lines as steps in the run log ($n_steps)"
expect_err_re '^\[[0-9]+/[0-9]+\] FAIL +after \(task\) .*: command exited with status 1' \
    "a failed step's line says why"
last=$(grep -E '^\[' "$ERR" | tail -n 1)
[[ $last =~ ^\[([0-9]+)/([0-9]+)\] ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
    fail "the count ends with all steps done" "last line: $last"
pass "the count ends with all steps done ($last)"
grep -q $'\033' "$ERR" && fail "no escape sequences off a terminal" "$(cat -v "$ERR" | head)"
pass "no escape sequences off a terminal"

# ---------------------------------------------------------------- debug
rn execute "$P/live.yaml" -p "$P/params.yaml" -c "$P/parallel.config.yaml" --run-id dbg --log-level debug
expect_rc 0 "--log-level debug"
expect_err_re '^runnable: debug: scheduler: 2 tasks at once' "debug: the scheduler says how it runs"
expect_err_re '^runnable: debug: m\.1\.t: attempt 1 started, pid [0-9]+' "debug: each process started"
rn execute "$P/live.yaml" -p "$P/params.yaml" -c "$P/parallel.config.yaml" --run-id nodbg
grep -q 'runnable: debug' "$ERR" && fail "no debug lines by default" "$(grep debug "$ERR")"
pass "no debug lines by default"

# ------------------------------------------------------------- terminal
# script(1) gives the run a real terminal; its output is what a user sees.
on_tty() {
    local out=$1
    shift
    # shellcheck disable=SC2145
    COLUMNS=100 TERM=xterm script -qfec "$*" /dev/null >"$out" 2>&1
}
cmd="$(printf '%q ' env LD_LIBRARY_PATH="${RN_PROG_LIBPATH:-}" RUNNABLE_PLUGIN_PATH="$RUNNABLE_PLUGIN_PATH" "$RN_PROG" execute "$P/live.yaml" -p "$P/params.yaml" -c "$P/parallel.config.yaml")"

workdir live
unset NO_COLOR CI || true
on_tty tty.out "env -u NO_COLOR -u CI $cmd --run-id live"
grep -q 'run live: SUCCESS' tty.out || fail "live: the run succeeds and prints its summary" "$(cat -v tty.out | tail)"
pass "live: the summary is printed"
grep -q $'\033\[[0-9]*A' tty.out || fail "live: the block is redrawn in place (cursor up)" "$(cat -v tty.out | head)"
pass "live: the block is redrawn in place"
grep -q $'\xe2\x96\x88' tty.out && grep -q $'\xe2\x96\x91' tty.out ||
    fail "live: a progress bar (filled and empty cells)" "$(cat -v tty.out | head)"
pass "live: a progress bar"
grep -E -q '[0-9]+/[0-9]+ steps +[0-9]+ running' tty.out || fail "live: steps done/known and running" "$(cat -v tty.out | head)"
pass "live: steps done/known and how many run"
grep -E -q 'm\.[1-4]\.t +[0-9.]+s +\| item [1-4] line [1-3]' tty.out ||
    fail "live: running steps with elapsed time and their last output line" "$(cat -v tty.out | head -20)"
pass "live: running steps with elapsed time and their last output line"
grep -E -q 'FAIL +after \(task\)' tty.out || fail "live: a failure is printed and stays" "$(cat -v tty.out | tail)"
pass "live: a failed step gets a line of its own"
grep -E -q '\] start ' tty.out && fail "live: no plain start lines on a terminal" "$(grep start tty.out | head -3)"
pass "live: no plain lines on a terminal"
# The block is gone before the summary: the last thing drawn is cleared.
tail -c 200 tty.out | grep -q $'\033\[J' || fail "live: the block is cleared at the end" "$(tail -c 200 tty.out | cat -v)"
pass "live: the block is cleared at the end"

for how in "--quiet" "NO_COLOR=1" "CI=true"; do
    workdir "plain-${how%%=*}"
    case $how in
    --quiet) on_tty tty.out "env -u NO_COLOR -u CI $cmd --run-id q --quiet" ;;
    *) on_tty tty.out "env -u NO_COLOR -u CI $how $cmd --run-id q" ;;
    esac
    grep -q 'run q: SUCCESS' tty.out || fail "$how on a terminal: the summary" "$(cat -v tty.out | tail)"
    grep -E -q '^\[[0-9]+/[0-9]+\] start +m\.1\.t' tty.out || fail "$how on a terminal: plain lines" "$(cat -v tty.out | head)"
    grep -q $'\033' tty.out && fail "$how on a terminal: no escape sequences" "$(cat -v tty.out | head)"
    pass "$how on a terminal: plain lines, no escape sequences, the summary"
done
done_testing
