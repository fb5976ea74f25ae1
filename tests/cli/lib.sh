# Helpers shared by the end-to-end tests (tests/cli/t_*.sh).  Source it:
#
#     . "$(dirname "$0")/lib.sh"
#
# Every test runs the real binary with the real plugins in a fresh temporary
# folder and asserts on what a user sees: exit status, stdout/stderr, the run
# log in .run_log_store/ and the files in .catalog/.  Each check prints one
# line; the first failure prints what was expected, what was found and the
# last command's output, then exits 1.
#
# Environment (set by `make check` through AM_TESTS_ENVIRONMENT):
#   RN_BUILDDIR           build tree (the binary is core/cli/runnable)
#   RN_SRCDIR             source tree (examples/, tests/fixtures/)
#   RN_SHARED_DIR         the project's shared folder (compatibility corpus)
#   RUNNABLE_PLUGIN_PATH  the build tree's plugin folders
# Run by hand: RN_BUILDDIR=/tmp/build bash tests/cli/t_execute.sh
# (RN_KEEP_TMP=1 keeps the temporary folder for a look afterwards.)

set -eu

_rn_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RN_SRCDIR:=$(cd "$_rn_lib_dir/../.." && pwd)}"
: "${RN_BUILDDIR:=$RN_SRCDIR}"
RN_SRCDIR=$(cd "$RN_SRCDIR" && pwd)
RN_BUILDDIR=$(cd "$RN_BUILDDIR" && pwd)
: "${RN_SHARED_DIR:=$RN_SRCDIR/../shared}"
if [ -z "${RUNNABLE_PLUGIN_PATH:-}" ]; then
    RUNNABLE_PLUGIN_PATH=$RN_BUILDDIR/executors:$RN_BUILDDIR/run_log_stores:$RN_BUILDDIR/catalogs:$RN_BUILDDIR/secrets:$RN_BUILDDIR/plugins
fi
export RN_SRCDIR RN_BUILDDIR RN_SHARED_DIR RUNNABLE_PLUGIN_PATH

RUNNABLE=$RN_BUILDDIR/core/cli/runnable
PY=/usr/bin/python3
FIXTURES=$RN_SRCDIR/tests/fixtures
CORPUS=$RN_SHARED_DIR/runnable-examples
TEST_NAME=$(basename "$0" .sh)

# A user's own RUNNABLE_* settings must not leak into the tests.
for _rn_v in $(compgen -e); do
    case $_rn_v in
        RUNNABLE_PLUGIN_PATH) ;;
        RUNNABLE_*) unset "$_rn_v" ;;
    esac
done
unset _rn_v

if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found (needed for JSON assertions)"
    exit 77
fi
if [ ! -e "$RUNNABLE" ]; then
    echo "FAIL: $RUNNABLE does not exist (build first)"
    exit 1
fi

RN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rn-$TEST_NAME-XXXXXX")
RN_TMP=$(cd "$RN_TMP" && pwd -P)
_rn_cleanup() {
    cd /
    if [ -n "${RN_PY_PID:-}" ]; then
        kill "$RN_PY_PID" 2>/dev/null || true
        wait "$RN_PY_PID" 2>/dev/null || true
    fi
    if [ "${RN_KEEP_TMP:-0}" = 1 ]; then
        echo "(kept $RN_TMP)"
    else
        rm -rf "$RN_TMP"
    fi
}
trap _rn_cleanup EXIT
# Command output goes here, outside every work folder, so "nothing was
# written" checks only see what runnable wrote.
RN_OUT=$RN_TMP/.out
mkdir "$RN_OUT"
OUT=$RN_OUT/stdout
ERR=$RN_OUT/stderr
: >"$OUT"
: >"$ERR"
RC=0
RN_LAST_CMD="(none yet)"
RN_CHECKS=0

# ---------------------------------------------------------------- reporting

pass() {
    RN_CHECKS=$((RN_CHECKS + 1))
    echo "ok $RN_CHECKS - $*"
}

_rn_indent() { sed 's/^/    | /' "$1" | tail -n "${2:-40}"; }

show_last() {
    {
    echo "  last command: $RN_LAST_CMD"
    echo "  in folder:    $PWD"
    echo "  exit status:  $RC"
    echo "  stdout:"
    _rn_indent "$OUT"
    echo "  stderr:"
    _rn_indent "$ERR"
    } >&2
}

# fail WHAT [DETAIL...]: report and stop.  (To stderr, so a failure inside
# a command substitution is still seen; set -e then stops the test.)
fail() {
    {
        echo "FAIL - $1"
        shift
        for line in "$@"; do
            echo "  $line"
        done
    } >&2
    show_last
    exit 1
}

done_testing() {
    echo "PASS: $TEST_NAME ($RN_CHECKS checks)"
    exit 0
}

require_corpus() {
    if [ ! -d "$CORPUS" ]; then
        echo "SKIP: shared corpus not found ($CORPUS)"
        exit 77
    fi
}

# ---------------------------------------------------------------- folders

# workdir NAME: a fresh, empty work folder; cd into it.
workdir() {
    WORK=$RN_TMP/$1
    rm -rf "$WORK"
    mkdir -p "$WORK"
    cd "$WORK"
}

# ---------------------------------------------------------------- running

# In a build tree core/cli/runnable is libtool's wrapper script, whose own
# start-up (~0.1 s a call) would be most of the suite's run time.  When the
# wrapper is the plain kind (no relinking), run the program it would run,
# with the library path it would set.  RN_USE_WRAPPER=1 keeps the wrapper.
RN_PROG=$RUNNABLE
RN_PROG_LIBPATH=
if [ "${RN_USE_WRAPPER:-0}" != 1 ] &&
    grep -q -e '- temporary wrapper script for \.libs/runnable$' "$RUNNABLE" 2>/dev/null &&
    grep -q -x -e 'relink_command=""' "$RUNNABLE"; then
    _rn_lp=$(sed -n 's/^ *LD_LIBRARY_PATH="\(.*\):\$LD_LIBRARY_PATH"$/\1/p' "$RUNNABLE")
    if [ -n "$_rn_lp" ] && [ "$(printf '%s\n' "$_rn_lp" | wc -l)" -eq 1 ] &&
        [ -x "$(dirname "$RUNNABLE")/.libs/runnable" ]; then
        RN_PROG=$(dirname "$RUNNABLE")/.libs/runnable
        RN_PROG_LIBPATH=$_rn_lp
    fi
    unset _rn_lp
fi
echo "# runnable: $RN_PROG${RN_PROG_LIBPATH:+ (LD_LIBRARY_PATH=$RN_PROG_LIBPATH)}"

# rn ARGS...: run `runnable ARGS...` in the current folder; sets RC and
# leaves stdout in $OUT and stderr in $ERR.  Never stops the test by itself.
# Prefix assignments work: `RUNNABLE_RUN_ID=x rn execute p.yaml`.
rn() {
    RN_LAST_CMD="runnable $*"
    RC=0
    if [ -n "$RN_PROG_LIBPATH" ]; then
        LD_LIBRARY_PATH=$RN_PROG_LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
            "$RN_PROG" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
    else
        "$RUNNABLE" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
    fi
}

# rn_bg ARGS...: start `runnable ARGS...` in the background (output in
# $OUT/$ERR); its pid in ENGINE.  Collect it with rn_wait.
rn_bg() {
    RN_LAST_CMD="runnable $* (in the background)"
    if [ -n "$RN_PROG_LIBPATH" ]; then
        LD_LIBRARY_PATH=$RN_PROG_LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
            "$RN_PROG" "$@" >"$OUT" 2>"$ERR" </dev/null &
    else
        "$RUNNABLE" "$@" >"$OUT" 2>"$ERR" </dev/null &
    fi
    ENGINE=$!
}

# rn_wait: wait for the background runnable; sets RC.
rn_wait() {
    RC=0
    wait "$ENGINE" || RC=$?
}

# ---------------------------------------------------------------- assertions

expect_rc() {
    if [ "$RC" -ne "$1" ]; then
        fail "$2" "expected exit status $1, got $RC"
    fi
    pass "$2 (exit $1)"
}

# expect_out_re ERE WHAT / expect_err_re ERE WHAT: a line of stdout/stderr
# matches the extended regular expression.
expect_out_re() {
    grep -E -q -e "$1" "$OUT" || fail "$2" "expected a stdout line matching: $1"
    pass "$2"
}
expect_err_re() {
    grep -E -q -e "$1" "$ERR" || fail "$2" "expected a stderr line matching: $1"
    pass "$2"
}
# expect_err_has TEXT WHAT: stderr contains TEXT (fixed string).
expect_err_has() {
    grep -F -q -e "$1" "$ERR" || fail "$2" "expected stderr to contain: $1"
    pass "$2"
}
expect_out_has() {
    grep -F -q -e "$1" "$OUT" || fail "$2" "expected stdout to contain: $1"
    pass "$2"
}
expect_err_lacks() {
    if grep -F -q -e "$1" "$ERR"; then
        fail "$2" "stderr must not contain: $1"
    fi
    pass "$2"
}

# expect_nothing_written WHAT: no run log store and no catalog in $PWD.
expect_nothing_written() {
    local found="" f
    for f in .run_log_store .catalog; do
        [ ! -e "$f" ] || found="$found $f"
    done
    if [ -n "$found" ]; then
        fail "$1: nothing written" "found in $PWD:$found" \
            "$(find . | head -n 20 | tr '\n' ' ')"
    fi
    pass "$1: nothing written"
}

expect_file() {
    [ -f "$1" ] || fail "$2" "expected file $1 to exist" \
        "folder has: $(find "$(dirname "$1")" -maxdepth 2 2>/dev/null | head -n 20 | tr '\n' ' ')"
    pass "$2"
}
expect_no_file() {
    if [ -e "$1" ]; then
        fail "$2" "expected $1 not to exist"
    fi
    pass "$2"
}

# run_id_from_stdout: the run id of the summary line "run ID: STATUS  (...)".
run_id_from_stdout() {
    sed -n 's/^run \([^ :]*\): .*/\1/p' "$OUT" | head -n 1
}

# log_of RUN_ID: the run log of a run in the default file-system store.
log_of() { printf '.run_log_store/%s.json' "$1"; }

# only_run_log: path of the one file-system run log in .run_log_store.
only_run_log() {
    local n
    n=$(find .run_log_store -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)
    if [ "$n" -ne 1 ]; then
        fail "exactly one run log in .run_log_store" "found $n: $(ls -A .run_log_store 2>/dev/null | tr '\n' ' ')"
    fi
    find .run_log_store -maxdepth 1 -name '*.json'
}

# same_run_log REF REF_CONFIG RUN RUN_CONFIG WHAT: run RUN's log has the
# shape of run REF's (tests/cli/runlog_shape.py: statuses, attempts,
# parameters in every scope, branches), each read from the store its
# configuration names; else fail WHAT with the difference.  Leaves REF.json
# and RUN.json, the two run logs, in the folder.
same_run_log() {
    local ref=$1 rcfg=$2 run=$3 cfg=$4 what=$5
    rn runs show "$ref" --json -c "$rcfg"
    cp "$OUT" "$ref.json"
    rn runs show "$run" --json -c "$cfg"
    cp "$OUT" "$run.json"
    "$PY" "$RN_SRCDIR/tests/cli/runlog_shape.py" "$ref.json" >"$ref.shape"
    "$PY" "$RN_SRCDIR/tests/cli/runlog_shape.py" "$run.json" >"$run.shape"
    diff -u "$ref.shape" "$run.shape" >"$run.diff" || fail "$what" "$(head -60 "$run.diff")"
}

# The Python side of the JSON assertions.  One checker process serves the
# whole test (a Python start per check would dominate the run time).  In
# expressions:
#   doc                    the JSON document
#   steps                  doc["steps"]
#   step(n), attempt(n[, i])  a step log; its attempt (last by default)
#   values(params)         {name: value} of a parameters object
#   statuses(s=steps)      {name: status} of a steps object
#   is_ts(s)               s is a Python str(datetime.now()) timestamp
#   ts(s)                  the timestamp as a datetime (for comparisons)
#   strict_eq(a, b)        equal as JSON (1 != 1.0 != true; lists ordered)
#   re, json, hashlib, os, datetime
cat >"$RN_OUT/check.py" <<'PYEOF'
"""JSON checks for tests/cli/lib.sh.

Request (stdin):  cwd NUL mode NUL file NUL expr NUL expected NUL
Reply (stdout):   status LF message NUL     (status 0: passed / the value)
"""
import datetime, hashlib, json, os, re, sys

TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


def is_ts(s):
    if not isinstance(s, str) or not TS.match(s):
        return False
    try:
        datetime.datetime.fromisoformat(s)
    except ValueError:
        return False
    return True


def ts(s):
    return datetime.datetime.fromisoformat(s)


def canon(x):
    return json.dumps(x, sort_keys=True)


def strict_eq(a, b):
    try:
        return canon(a) == canon(b)
    except TypeError:
        return a == b


def show(x):
    try:
        s = json.dumps(x, sort_keys=True)
    except TypeError:
        s = repr(x)
    return s if len(s) < 3000 else s[:3000] + " ..."


def check(mode, path, expr, expected):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except Exception as e:
        return 2, "  cannot read %s as JSON: %s" % (path, e)
    steps = doc.get("steps", {}) if isinstance(doc, dict) else {}

    def step(name):
        # Any depth, by the run log's lookup rule (run-log.md §2):
        # a -> branches[a.b] -> steps[a.b.c] -> ...
        if name in steps:
            return steps[name]
        parts = name.split(".")
        cur = steps[parts[0]]
        for i in range(1, len(parts), 2):
            branch = cur["branches"][".".join(parts[:i + 1])]
            cur = branch["steps"][".".join(parts[:i + 2])]
        return cur

    def attempt(name, i=-1):
        return step(name)["attempts"][i]

    def values(params):
        return {k: v.get("value") for k, v in params.items()}

    def statuses(s=None):
        return {k: v.get("status") for k, v in (steps if s is None else s).items()}

    env = dict(doc=doc, steps=steps, step=step, attempt=attempt, values=values,
               statuses=statuses, is_ts=is_ts, ts=ts, strict_eq=strict_eq, re=re,
               json=json, hashlib=hashlib, os=os, datetime=datetime)
    where = "  in %s\n" % path
    try:
        got = eval(expr, env)
    except Exception as e:
        return 1, where + "  evaluating: %s\n  raised %s: %s" % (expr, type(e).__name__, e)
    if mode == "get":
        return 0, got if isinstance(got, str) else show(got)
    if mode == "true":
        if not got:
            return 1, where + "  expected true: %s" % expr
        return 0, ""
    try:
        want = eval(expected, env)
    except Exception as e:
        return 1, where + "  evaluating the expected value: %s\n  raised %s: %s" % (
            expected, type(e).__name__, e)
    if not strict_eq(got, want):
        return 1, where + "  expression: %s\n  expected:   %s\n  got:        %s" % (
            expr, show(want), show(got))
    return 0, ""


def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    buf, fields = b"", []
    while True:
        chunk = inp.read1(65536)
        if not chunk:
            return
        buf += chunk
        while b"\0" in buf:
            field, buf = buf.split(b"\0", 1)
            fields.append(field.decode("utf-8", "replace"))
            if len(fields) < 5:
                continue
            cwd, mode, path, expr, expected = fields
            fields = []
            try:
                status, msg = check(mode, os.path.join(cwd, path), expr, expected)
            except Exception as e:  # never leave the shell waiting
                status, msg = 3, "  checker error: %s: %s" % (type(e).__name__, e)
            out.write(("%d\n%s" % (status, msg)).encode("utf-8", "replace") + b"\0")
            out.flush()


main()
PYEOF

RN_PY_PID=
# _rn_py MODE FILE EXPR [EXPECTED]: ask the checker; sets RN_PY_STATUS and
# RN_PY_MSG.  Started on first use.
_rn_py() {
    if [ -z "$RN_PY_PID" ]; then
        coproc RN_PYSRV { exec "$PY" -u "$RN_OUT/check.py"; }
        RN_PY_PID=$RN_PYSRV_PID
        RN_PY_IN=${RN_PYSRV[1]}
        RN_PY_OUT=${RN_PYSRV[0]}
    fi
    local reply
    printf '%s\0%s\0%s\0%s\0%s\0' "$PWD" "$1" "$2" "$3" "${4-}" >&"$RN_PY_IN"
    if ! IFS= read -r -d '' -t 120 reply <&"$RN_PY_OUT"; then
        RN_PY_PID=
        fail "the JSON checker ($PY) answered" "no reply to: $3"
    fi
    RN_PY_STATUS=${reply%%$'\n'*}
    RN_PY_MSG=${reply#*$'\n'}
}

# assert_py FILE EXPR [WHAT]: EXPR (Python, see above) is true for FILE.
assert_py() {
    _rn_py true "$1" "$2"
    if [ "$RN_PY_STATUS" != 0 ]; then
        printf 'FAIL - %s\n%s\n' "${3:-$2}" "$RN_PY_MSG" >&2
        show_last
        exit 1
    fi
    pass "${3:-$2}"
}

# assert_eq_py FILE EXPR EXPECTED [WHAT]: EXPR equals EXPECTED (both Python
# expressions) as JSON values: 3 != 3.0, True != 1.
assert_eq_py() {
    _rn_py eq "$1" "$2" "$3"
    if [ "$RN_PY_STATUS" != 0 ]; then
        printf 'FAIL - %s\n%s\n' "${4:-$2 == $3}" "$RN_PY_MSG" >&2
        show_last
        exit 1
    fi
    pass "${4:-$2 == $3}"
}

# json_get FILE EXPR: print EXPR's value (strings raw, others as JSON).
json_get() {
    _rn_py get "$1" "$2"
    if [ "$RN_PY_STATUS" != 0 ]; then
        fail "read $2 from $1" "$RN_PY_MSG"
    fi
    printf '%s\n' "$RN_PY_MSG"
}

# settled LOG WHAT: no step or branch of the run is left PROCESSING or
# CREATED (a run that ended says how every part of it ended).
settled() {
    assert_py "$1" 'not re.search(r"\"status\": *\"(PROCESSING|CREATED)", json.dumps(doc))' \
        "$2: nothing left PROCESSING or CREATED"
}
