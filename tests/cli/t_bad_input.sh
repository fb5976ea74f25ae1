#!/bin/bash
# Bad input: every case exits 2, says `runnable: error: FILE:LINE:COL: ...`
# at the right place, and writes nothing (no .run_log_store, no .catalog).
. "$(dirname "$0")/lib.sh"

B=$FIXTURES/bad
STUB=$FIXTURES/pipelines/stub.yaml

# bad_case NAME FIXTURE...: fresh folder holding copies of the fixtures, so
# messages carry short relative file names.
bad_case() {
    workdir "$1"
    shift
    for f in "$@"; do
        cp "$f" .
    done
}

# expect_error ERE WHAT: a `runnable: error: ` line matches ERE (anchored
# after the prefix).
expect_error() {
    expect_err_re "^runnable: error: $1" "$2"
}

# ---------------------------------------------------------------- pipeline
bad_case syntax "$B/syntax.yaml"
rn execute syntax.yaml
expect_rc 2 "YAML syntax error"
expect_error 'syntax\.yaml:4:12: ' "YAML syntax error reported at syntax.yaml:4:12"
expect_nothing_written "YAML syntax error"
rn validate syntax.yaml
expect_rc 2 "validate: YAML syntax error"
expect_error 'syntax\.yaml:4:12: ' "validate: YAML syntax error at syntax.yaml:4:12"

bad_case missing_next "$B/missing_next.yaml"
rn execute missing_next.yaml
expect_rc 2 "next names a step that does not exist"
# Column of the `next` key (7) or of its value (13).
expect_error 'missing_next\.yaml:6:(7|13): .*nowhere' "missing next target reported at line 6, naming it"
expect_nothing_written "missing next target"

bad_case cycle "$B/cycle.yaml"
rn execute cycle.yaml
expect_rc 2 "a cycle a -> b -> c -> a"
# Any line of the cycle's steps is a fair place to point at.
expect_error 'cycle\.yaml:([4-9]|1[0-2]):[0-9]+: .*[Cc]ycl' "cycle reported on a line of the cycle, saying cycle"
expect_nothing_written "cycle"

bad_case unknown_field "$B/unknown_field.yaml"
rn execute unknown_field.yaml
expect_rc 2 "unknown field on a task"
expect_error 'unknown_field\.yaml:8:7: .*colour' "unknown field reported at unknown_field.yaml:8:7, naming it"
expect_nothing_written "unknown field on a task"

bad_case success_task "$B/success_task.yaml"
rn execute success_task.yaml
expect_rc 2 "a task named success"
expect_error 'success_task\.yaml:(7:5|8:[0-9]+): .*success' "task named success reported at its definition (line 7)"
expect_nothing_written "a task named success"

# ---------------------------------------------------------------- config
bad_case unknown_type "$B/unknown_type.config.yaml" "$STUB"
rn execute stub.yaml -c unknown_type.config.yaml
expect_rc 2 "unknown provider type in the config"
expect_error 'unknown_type\.config\.yaml:(4:1|5:[0-9]+): .*nosuch' \
    "unknown provider type reported at its line (4 or 5), naming the type"
expect_err_re "^runnable: error: .*catalog.*nosuch|^runnable: error: .*nosuch.*catalog" \
    "the message names the kind (catalog)"
IFS=: read -r -a dirs <<<"$RUNNABLE_PLUGIN_PATH"
for d in "${dirs[@]}"; do
    [ -n "$d" ] || continue
    grep -F -q -e "$d" "$ERR" || fail "the message names the folders searched" "missing folder: $d"
done
pass "the message names the folders searched (${#dirs[@]} on RUNNABLE_PLUGIN_PATH)"
expect_nothing_written "unknown provider type"
rn validate stub.yaml -c unknown_type.config.yaml
expect_rc 2 "validate: unknown provider type"
expect_error 'unknown_type\.config\.yaml:(4:1|5:[0-9]+): .*nosuch' "validate reports it the same way"

bad_case unknown_key "$B/unknown_key.config.yaml" "$STUB"
rn execute stub.yaml -c unknown_key.config.yaml
expect_rc 2 "unknown configuration key"
expect_error 'unknown_key\.config\.yaml:3:1: .*colour' "unknown key reported at unknown_key.config.yaml:3:1, naming it"
expect_nothing_written "unknown configuration key"

bad_case missing_config "$STUB"
rn execute stub.yaml -c no-such-config.yaml
expect_rc 2 "missing configuration file"
expect_error 'no-such-config\.yaml: ' "missing configuration file named"
expect_nothing_written "missing configuration file"

# ---------------------------------------------------------------- command line
bad_case log_level "$STUB"
rn execute stub.yaml --log-level LOUD
expect_rc 2 "bad --log-level"
expect_err_has "LOUD" "bad --log-level: the message quotes the value"
expect_err_has "log-level" "bad --log-level: the message names the option"
expect_nothing_written "bad --log-level"
rn execute stub.yaml --log-level debug
expect_rc 0 "--log-level debug is accepted (case-insensitive)"

bad_case missing_pipeline
rn execute no-such-pipeline.yaml
expect_rc 2 "missing pipeline file"
expect_error 'no-such-pipeline\.yaml: ' "missing pipeline file named"
expect_nothing_written "missing pipeline file"
rn execute
expect_rc 2 "execute without a pipeline"
expect_nothing_written "execute without a pipeline"
rn execute --no-such-option "$STUB"
expect_rc 2 "unknown option"
expect_nothing_written "unknown option"
# Options of the same name fail the same way in every command.
for cmd in execute validate visualize retry; do
    rn $cmd --no-such-option x
    expect_rc 2 "$cmd: unknown option"
    expect_err_has "runnable $cmd: unknown option '--no-such-option'" "$cmd: the option is quoted"
    expect_err_has "Try 'runnable $cmd --help'" "$cmd: points at --help"
    rn $cmd x -f
    expect_rc 2 "$cmd: -f without a value"
    expect_err_has "option '-f' needs a value" "$cmd: says -f needs a value"
    rn $cmd --help
    expect_rc 0 "$cmd --help"
    expect_out_has "runnable $cmd" "$cmd --help prints its usage"
done
for cmd in validate visualize; do
    rn $cmd "$STUB" extra
    expect_rc 2 "$cmd: a second argument"
    expect_err_has "unexpected argument 'extra'" "$cmd: the extra argument is quoted"
    rn $cmd
    expect_rc 2 "$cmd: no pipeline"
    expect_err_has "missing PIPELINE.yaml" "$cmd: says the pipeline is missing"
done
for cmd in "execute $STUB" "retry some-run"; do
    rn $cmd --timeout 0
    expect_rc 2 "${cmd%% *}: --timeout 0"
    expect_err_has "--timeout needs a number of seconds above 0, not '0'" "${cmd%% *}: --timeout 0 explained"
done
expect_nothing_written "shared options"

bad_case bad_run_id "$STUB"
rn execute stub.yaml ../escape
expect_rc 2 "a run id that is not a plain file name"
expect_err_has "../escape" "the bad run id is quoted"
expect_nothing_written "bad run id"
[ ! -e ../escape.json ] && [ ! -e ../escape ] || fail "nothing written outside the working folder"
pass "nothing written outside the working folder"

# ---------------------------------------------------------------- validate
bad_case three_problems "$B/three_problems.yaml"
rn validate three_problems.yaml
expect_rc 2 "validate a pipeline with three problems"
n=$(grep -c '^runnable: error: ' "$ERR" || true)
[ "$n" -eq 3 ] || fail "validate reports exactly 3 problems" "got $n error lines"
pass "validate reports exactly 3 problems"
expect_error 'three_problems\.yaml:9:7: .*colour' "problem 1: unknown field colour at 9:7"
expect_error 'three_problems\.yaml:13:(7|13): .*nowhere' "problem 2: missing next target at line 13"
expect_error 'three_problems\.yaml:(14:5|15:[0-9]+): .*bogus' "problem 3: unknown node type bogus at line 14/15"
expect_err_re '3 problems' "validate counts the problems"
expect_nothing_written "validate"
rn execute three_problems.yaml
expect_rc 2 "execute reports the same problems"
n=$(grep -c '^runnable: error: ' "$ERR" || true)
[ "$n" -eq 3 ] || fail "execute reports all 3 problems too" "got $n error lines"
pass "execute reports all 3 problems too"
expect_nothing_written "execute of an invalid pipeline"

# ---------------------------------------------------------------- parameters
bad_case params_not_mapping "$STUB" "$B/not_mapping.params.yaml"
rn execute stub.yaml -p not_mapping.params.yaml
expect_rc 2 "parameters file that is not a mapping"
expect_error 'not_mapping\.params\.yaml:1(:1)?: ' "parameters file that is not a mapping: error at its line 1"
expect_nothing_written "parameters file that is not a mapping"

# Not a typo-tolerant default: a -p naming no file is an error, not "no
# parameters".
bad_case params_missing "$STUB"
rn execute stub.yaml -p no-such-params.yaml
expect_rc 2 "missing parameters file"
expect_error 'no-such-params\.yaml' "missing parameters file named"
expect_nothing_written "missing parameters file"

done_testing
