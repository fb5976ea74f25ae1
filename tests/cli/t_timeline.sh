#!/bin/bash
# runnable timeline (docs/timeline.md): the text Gantt chart of linear,
# retried, parallel and nested-map runs; the Chrome trace (one complete
# event per attempt, with the run log's durations); the HTML page, free of
# URLs and drawn by real headless Chromium (DOM and screenshot); open bars
# of a run still in progress; run ids, JSON files and -o; and
# `visualize --format svg` with and without Graphviz.
. "$(dirname "$0")/lib.sh"

C=$FIXTURES/composites
export COLUMNS=100 # the text chart's width off a terminal

# bar_start FILE ERE: the column (0-based, inside |...|) where the bar of
# the first row matching ^ERE begins; bar_end: where it ends.
bar_start() {
    awk -v l="^$2" '$0 ~ l { i = index($0, "|"); s = substr($0, i + 1);
        match(s, /[^ ]/); print RSTART - 1; exit }' "$1"
}
bar_end() {
    awk -v l="^$2" '$0 ~ l { i = index($0, "|"); s = substr($0, i + 1, length($0) - i - 1);
        sub(/ +$/, "", s); print length(s); exit }' "$1"
}

# ---------------------------------------------------------------- linear
workdir linear
cat >lin.yaml <<'EOF'
dag:
  start_at: first
  steps:
    first:
      type: task
      command_type: shell
      command: sleep 0.2
      next: second
    second:
      type: task
      command_type: shell
      command: sleep 0.4
      next: third
    third:
      type: stub
      next: success
    success: {type: success}
    fail: {type: fail}
EOF
rn execute lin.yaml --run-id lin
expect_rc 0 "a linear run"
rn timeline lin
expect_rc 0 "timeline RUN_ID"
expect_out_re '^run lin: SUCCESS  started 20[0-9-]{8} [0-9:.]+  [0-9.]+ (ms|s)  4 steps, 4 attempts$' \
    "linear: header with status, start, duration and counts"
expect_out_re '^STEP +STATUS +DURATION 0 ' "linear: column header and time axis"
[ "$(awk 'NR > 2 && /\|$/ { print $1 }' "$OUT" | tr '\n' ' ')" = "first second third " ] ||
    fail "linear: one row per step in run order, success step hidden" "$(cat "$OUT")"
pass "linear: one row per step in run order, success step hidden"
expect_out_re '^second +SUCCESS +4[0-9.]+ ms \|' "linear: second's duration (sleep 0.4)"
awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$OUT" ||
    fail "linear: no line wider than COLUMNS=100" "$(awk '{ print length($0) }' "$OUT" | sort -n | tail -1)"
pass "linear: the chart fits COLUMNS=100"
if grep -q $'\033' "$OUT"; then fail "linear: no colour codes on a pipe"; fi
pass "linear: no colour codes on a pipe"
s1=$(bar_start "$OUT" first) e1=$(bar_end "$OUT" first) s2=$(bar_start "$OUT" second)
e2=$(bar_end "$OUT" second)
# the bar area: what lies between the pipes of a row
width=$(awk -F'|' '/\|$/ { print length($2); exit }' "$OUT")
[ "$s1" -eq 0 ] && [ "$s2" -ge $((e1 - 1)) ] && [ "$e2" -ge $((width - 2)) ] &&
    [ $((e2 - s2)) -gt $((3 * (e1 - s1) / 2)) ] ||
    fail "linear: bars one after the other, second twice as long" "first $s1-$e1, second $s2-$e2"
pass "linear: bars one after the other, the longer step the longer bar"
COLUMNS=60 rn timeline lin
awk 'length($0) > 60 { bad = 1 } END { exit bad }' "$OUT" || fail "COLUMNS=60: the chart is narrower"
pass "COLUMNS=60: the chart is narrower"
# On a terminal (a real pty, 70 columns): its width, and colour.
if command -v script >/dev/null 2>&1; then
    RN_LAST_CMD="runnable timeline lin (on a 70-column pty)"
    COLUMNS= script -q -e -c "stty cols 70; $(printf '%q' "$RUNNABLE") timeline lin" /dev/null \
        >"$RN_OUT/tty" 2>&1 </dev/null || fail "timeline on a pty" "$(cat "$RN_OUT/tty")"
    $PY - "$RN_OUT/tty" <<'EOF2' || fail "on a terminal: coloured bars within its 70 columns" "$(cat -v "$RN_OUT/tty")"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read().replace("\r", "")
assert "\033[32m=" in text, "no green bar"
plain = re.sub(r"\033\[[0-9;]*m", "", text)
assert max(len(l) for l in plain.split("\n")) == 70, [len(l) for l in plain.split("\n")]
EOF2
    pass "on a terminal: coloured bars, exactly the terminal's 70 columns wide"
else
    echo "# script(1) not installed: terminal mode not checked"
fi

# A run log file instead of a run id; a copy anywhere works.
cp .run_log_store/lin.json "$RN_TMP/copy.json"
rn timeline lin >/dev/null
cp "$OUT" "$RN_OUT/by_id"
rn timeline "$RN_TMP/copy.json"
expect_rc 0 "timeline PATH.json"
cmp -s "$OUT" "$RN_OUT/by_id" || fail "a run log file draws the same chart as its run id"
pass "a run log file draws the same chart as its run id"
rn timeline no-such-run
expect_rc 2 "no such run"
expect_err_has "runnable runs" "no such run: the hint names 'runnable runs'"
echo '{"not": "a run log"' >bad.json
rn timeline bad.json
expect_rc 2 "a file that is not JSON"
expect_err_re '^runnable: error: bad\.json:[0-9]+:[0-9]+: not a run log' "bad JSON: file, line and column"
rn timeline lin --format png
expect_rc 2 "unknown --format"
expect_err_has "use text, html or chrome" "unknown --format names the formats"
rn timeline
expect_rc 2 "no run given"

# -o: the file only; its extension picks the format.
rn timeline lin -o chart.txt
expect_rc 0 "-o chart.txt"
[ ! -s "$OUT" ] || fail "-o: nothing on stdout"
cmp -s chart.txt "$RN_OUT/by_id" || fail "-o chart.txt holds the text chart"
pass "-o FILE: the chart in the file, nothing on stdout"
rn timeline lin -o page.html
grep -q '^<!DOCTYPE html>' page.html || fail "-o page.html writes HTML"
pass "-o page.html writes HTML without --format"
rn timeline lin -o trace.json --console
$PY -c 'import json, sys; json.load(open(sys.argv[1]))["traceEvents"]' trace.json ||
    fail "-o trace.json writes a Chrome trace"
expect_out_re '^run lin: SUCCESS' "--console with -o also prints the text chart"

# chunked-fs, named by -c.
printf 'run-log-store:\n  type: chunked-fs\n' >chunked.yaml
rn execute lin.yaml -c chunked.yaml --run-id lin-chunked
expect_rc 0 "a run in a chunked-fs store"
rn timeline -c chunked.yaml lin-chunked
expect_rc 0 "timeline -c CONFIG RUN_ID (chunked-fs)"
expect_out_re '^second +SUCCESS' "chunked-fs: the chart"

# ---------------------------------------------------------------- retries
workdir retries
rn execute "$FIXTURES/failures/retries.yaml" --run-id retried
expect_rc 1 "a run with retries that fails"
rn timeline retried
expect_rc 0 "timeline of a failed run exits 0"
expect_out_re '^run retried: FAIL ' "retries: FAIL in the header"
expect_out_re '^flaky +1/3 FAIL ' "retries: flaky's first attempt failed"
expect_out_re '^flaky +2/3 FAIL ' "retries: flaky's second attempt failed"
expect_out_re '^flaky +3/3 SUCCESS ' "retries: flaky's third attempt succeeded"
expect_out_re '^slow +1/2 FAIL +5[0-9.]+ ms \|' "retries: slow timed out after 0.5 s"
expect_out_re '^slow +2/2 FAIL .*x+ *\|$' "retries: a failed attempt is drawn with x"
[ "$(bar_start "$OUT" 'flaky +1/3')" -lt "$(bar_start "$OUT" 'flaky +2/3')" ] ||
    fail "retries: the retry starts after the backoff"
pass "retries: the second attempt starts later than the first"

rn timeline retried --format chrome
expect_rc 0 "--format chrome"
cp "$OUT" retried.trace
cp .run_log_store/retried.json retried.log
# chrome_check TRACE LOG: one X event per attempt of the run log, each with
# the attempt's duration to the microsecond, and every event well formed.
chrome_check() {
    $PY - "$1" "$2" <<'EOF'
import datetime, json, sys
trace = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
ts = datetime.datetime.fromisoformat
want = []
def walk(steps):
    for st in steps.values():
        for a in st.get("attempts", []):
            want.append((st["internal_name"], a["attempt_number"],
                         (ts(a["end_time"]) - ts(a["start_time"])) // datetime.timedelta(microseconds=1)))
        for b in (st.get("branches") or {}).values():
            walk(b["steps"])
walk(log["steps"])
ev = [e for e in trace["traceEvents"] if e.get("ph") == "X" and e.get("cat") == "attempt"]
got = sorted((e["args"]["internal_name"], e["args"]["attempt"], e["dur"]) for e in ev)
if got != sorted(want):
    sys.exit("attempts differ:\n got  %s\n want %s" % (got, sorted(want)))
first = min(ts(a) for a in [e["args"]["start_time"] for e in ev])
for e in trace["traceEvents"]:
    assert e["ph"] in ("X", "M"), e
    assert isinstance(e["pid"], int) and isinstance(e["tid"], int), e
    if e["ph"] == "X":
        assert isinstance(e["ts"], int) and e["ts"] >= 0 and e["dur"] >= 0, e
        if e["cat"] == "attempt":
            off = (ts(e["args"]["start_time"]) - first) // datetime.timedelta(microseconds=1)
            assert e["ts"] == off, (e, off)
# no two attempts overlap on one thread (Perfetto needs nested slices)
lanes = {}
for e in sorted(ev, key=lambda e: e["ts"]):
    k = (e["pid"], e["tid"])
    assert lanes.get(k, 0) <= e["ts"], ("overlap on lane", k, e)
    lanes[k] = e["ts"] + e["dur"]
print(len(ev), len(lanes))
EOF
}
res=$(chrome_check retried.trace retried.log) || fail "chrome trace of the retried run" "$res"
[ "${res% *}" = 6 ] || fail "chrome: 6 attempt events (3 flaky, 2 slow, 1 fail)" "got $res"
pass "chrome: one X event per attempt with the run log's durations (${res% *} events)"
assert_py retried.trace 'len([e for e in doc["traceEvents"] if e["ph"] == "X" and e["args"]["status"] == "FAIL"]) == 4' \
    "chrome: the failed attempts are marked FAIL"

# ---------------------------------------------------------------- parallel
workdir parallel
printf 'seed: 7\nshared: root\n' >params.yaml
rn execute "$C/parallel.yaml" -c "$C/parallel.config.yaml" -p params.yaml --run-id par
expect_rc 0 "a parallel run"
rn timeline par
expect_rc 0 "timeline of a parallel run"
expect_out_re '^split \[parallel\] +SUCCESS +[0-9.]+ ms \|\[-+\]' "parallel: the composite spans its branches"
expect_out_re '^  zeta\.slow +SUCCESS ' "parallel: branch steps nested, named branch.step"
expect_out_re '^  alpha\.use +SUCCESS ' "parallel: every branch's steps"
expect_out_re '^check +SUCCESS ' "parallel: the step after it"
[ "$(bar_start "$OUT" '  alpha.set')" -lt "$(bar_end "$OUT" '  zeta.slow')" ] &&
    [ "$(bar_start "$OUT" check)" -ge $(($(bar_end "$OUT" '  zeta.slow') - 1)) ] ||
    fail "parallel: alpha runs while zeta sleeps, check after both"
pass "parallel: branches overlap, the next step follows them"
rn timeline par --format chrome
cp "$OUT" par.trace
res=$(chrome_check par.trace .run_log_store/par.json) || fail "chrome trace of the parallel run" "$res"
[ "${res#* }" -ge 2 ] || fail "chrome: overlapping attempts on separate lanes" "$res"
pass "chrome: parallel attempts on ${res#* } lanes, none overlapping on one"
assert_py par.trace '[e["name"] for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "composite"] == ["split"]' \
    "chrome: the composite is an event of its own"

# ---------------------------------------------------------------- nested map
workdir nested
printf 'seed: 7\nfail_at: none\n' >params.yaml
rn execute "$C/nested.yaml" -p params.yaml --run-id nest
expect_rc 0 "a nested map run"
rn timeline nest
expect_rc 0 "timeline of a nested run"
expect_out_re '^outer \[parallel\] +SUCCESS' "nested: the parallel"
expect_out_re '^  left\.m1 \[map\] +SUCCESS' "nested: a map in a branch"
expect_out_re '^    2\.mkcols +SUCCESS' "nested: the map's iterations"
expect_out_re '^    1\.m2 \[map\] +SUCCESS' "nested: a map in a map"
expect_out_re '^      b2\.cell +SUCCESS' "nested: the inner map's iterations, at depth 3"
rn timeline nest --format chrome
cp "$OUT" nest.trace
res=$(chrome_check nest.trace .run_log_store/nest.json) || fail "chrome trace of the nested run" "$res"
pass "chrome: nested run, ${res% *} attempt events"

# A wide map folds in text; --all shows every iteration.
cat >wide.yaml <<'EOF'
dag:
  start_at: make
  steps:
    make:
      type: task
      command_type: shell
      command: export items="[$(seq -s, 1 20)]"
      returns: [{name: items}]
      next: each
    each:
      type: map
      iterate_on: items
      iterate_as: i
      branch:
        start_at: work
        steps:
          work:
            type: task
            command_type: shell
            command: '[ "$i" != 11 ]'
            next: success
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
EOF
rn execute wide.yaml --run-id wide
expect_rc 1 "a 20-item map with one failing item"
rn timeline wide
expect_out_re '^  1\.work +SUCCESS' "wide map: the first iterations are shown"
expect_out_re '^  11\.work +FAIL' "wide map: the failed iteration is never folded"
expect_out_re '^  20\.work +SUCCESS' "wide map: the last iteration is shown"
expect_out_re '^  \(15 more iterations, 15 attempts\) +SUCCESS' "wide map: the rest folded into one row"
expect_out_has "(--all shows every iteration)" "wide map: the legend says how to unfold"
rn timeline wide --all
[ "$(grep -c -E '^  [0-9]+\.work ' "$OUT")" -eq 20 ] || fail "--all: every iteration"
grep -q -E '^  5\.success ' "$OUT" || fail "--all: success steps too"
pass "--all: every iteration and the success steps"

# ---------------------------------------------------------------- HTML
rn timeline wide --format html -o wide.html
expect_rc 0 "--format html -o FILE"
if grep -n -i -E 'https?://|//[a-z0-9.-]+\.[a-z]{2,}/' wide.html; then
    fail "the HTML page references no URL" "$(grep -n -i -E 'https?://' wide.html | head -3)"
fi
if grep -q -i -E '<(link|img|iframe|object|embed)\b|<script[^>]+src=|@import|url\([^#]' wide.html; then
    fail "the HTML page loads nothing from elsewhere"
fi
pass "HTML: self-contained (no URL, no external script, style or image)"
grep -q '<svg class="graph"' wide.html && grep -q 'data-step="each.\*.work"' wide.html ||
    fail "HTML: the pipeline graph is inline SVG"
pass "HTML: the pipeline graph is inline SVG, with the map's branch"
grep -q '<g class="node st-FAIL" data-step="each.\*.work"' wide.html ||
    fail "HTML: the graph marks the failed step"
pass "HTML: the graph colours the failed step"

command -v chromium >/dev/null 2>&1 ||
    fail "chromium is installed (scripts/deps.sh) to check the HTML page"
# chrome_run ARGS...: headless Chromium on this page (root in CI needs
# --no-sandbox), its own profile, a time limit.
chrome_run() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --user-data-dir="$RN_TMP/chrome-profile" "$@" 2>"$RN_OUT/chrome.err"
}
chrome_run --dump-dom "file://$PWD/wide.html" >dom.html ||
    fail "chromium --dump-dom the page" "$(tail -5 "$RN_OUT/chrome.err")"
attempts=$($PY -c 'import json, sys
n = 0
def walk(s):
    global n
    for st in s.values():
        n += len(st.get("attempts", []))
        for b in (st.get("branches") or {}).values(): walk(b["steps"])
walk(json.load(open(sys.argv[1]))["steps"]); print(n)' .run_log_store/wide.json)
grep -q "<body data-bars=\"$attempts\">" dom.html ||
    fail "Chromium ran the page's script: data-bars=$attempts on <body>" "$(grep -o '<body[^>]*>' dom.html)"
grep -q "$attempts attempt bars drawn" dom.html || fail "the page says how many bars it drew"
bars=$(grep -o 'class="bar' dom.html | wc -l)
[ "$bars" -ge "$attempts" ] || fail "the DOM holds a bar per attempt" "$bars bars for $attempts attempts"
pass "Chromium: the script drew $bars bars ($attempts attempts and the composite)"

chrome_run --screenshot="$PWD/shot.png" --window-size=1200,800 "file://$PWD/wide.html" >/dev/null ||
    fail "chromium --screenshot" "$(tail -5 "$RN_OUT/chrome.err")"
[ -s shot.png ] || fail "the screenshot exists"
# png_colours FILE: width, height, distinct colours and pixels of the bar
# colours (#43a047 ran, #e53935 failed), read with zlib alone.
png_colours() {
    $PY - "$1" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
colours, green, red = set(), 0, 0
for line in rows:
    for x in range(0, stride, bpp):
        px = line[x:x + 3]
        colours.add(px)
        green += px == b"\x43\xa0\x47"
        red += px == b"\xe5\x39\x35"
print(w, h, len(colours), green, red)
EOF
}
read -r w h ncol green red < <(png_colours shot.png) || fail "the screenshot is a PNG we can read"
[ "$w" -eq 1200 ] && [ "$h" -eq 800 ] || fail "screenshot is 1200x800" "got ${w}x$h"
[ "$ncol" -gt 8 ] || fail "the screenshot is not blank" "$ncol distinct colours"
[ "$green" -gt 500 ] || fail "the screenshot shows green bars of attempts that ran" "$green pixels"
[ "$red" -gt 20 ] || fail "the screenshot shows the failed attempt in red" "$red pixels"
pass "Chromium screenshot: ${w}x$h, $ncol colours, $green px of ran bars, $red px of the failed one"

# A step message with markup cannot break out of the page.
$PY - .run_log_store/wide.json evil.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["run_id"] = "evil</title><script>document.title='pwned'</script>"
d["steps"]["make"]["attempts"][0]["message"] = "</script><script>document.body.dataset.bars=-1</script>"
json.dump(d, open(sys.argv[2], "w"))
EOF
rn timeline evil.json -F html -o evil.html
expect_rc 0 "a run log with markup in its strings"
chrome_run --dump-dom "file://$PWD/evil.html" >evil-dom.html || fail "chromium loads the page"
grep -q "<body data-bars=\"$attempts\">" evil-dom.html && ! grep -q '<title>pwned' evil-dom.html &&
    [ "$(grep -o '<script' evil-dom.html | wc -l)" -eq 2 ] ||
    fail "markup in a run log stays text" "$(grep -o '<body[^>]*>' evil-dom.html)"
pass "HTML: markup in run ids and messages stays text"

# ---------------------------------------------------------------- in progress
workdir live
cat >live.yaml <<'EOF'
dag:
  start_at: quick
  steps:
    quick:
      type: task
      command_type: shell
      command: 'true'
      next: long
    long:
      type: task
      command_type: shell
      command: touch started && sleep 3
      next: success
    success: {type: success}
    fail: {type: fail}
EOF
rn_bg execute live.yaml --run-id live
for _ in $(seq 100); do [ -e started ] && break; sleep 0.05; done
[ -e started ] || fail "the long step started"
sleep 0.3
# the engine in the background writes to $OUT and $ERR: look elsewhere
BG_OUT=$OUT BG_ERR=$ERR OUT=$RN_OUT/live.out ERR=$RN_OUT/live.err
rn timeline live
expect_rc 0 "timeline of a run in progress"
expect_out_re '^run live: RUNNING .* so far ' "in progress: RUNNING, duration so far"
expect_out_re '^long +RUNNING +[0-9.]+ ms \| *=*>\|$' "in progress: the running step is an open bar"
rn timeline live --format chrome
assert_py "$OUT" '[e["args"].get("running") for e in doc["traceEvents"] if e["ph"] == "X"] == [None, True]' \
    "in progress: chrome marks the running attempt"
OUT=$BG_OUT ERR=$BG_ERR
rn_wait
expect_rc 0 "the run finishes"

# ---------------------------------------------------------------- visualize svg
workdir svg
if command -v dot >/dev/null 2>&1; then
    rn visualize --format svg "$C/parallel.yaml"
    expect_rc 0 "visualize --format svg"
    $PY - "$OUT" <<'EOF' || fail "visualize svg: valid XML with every step name"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
for name in ("split", "slow", "set", "use", "noop", "check"):
    assert name in text, (name, text)
EOF
    pass "visualize --format svg: valid SVG naming every step"
else
    echo "# dot (graphviz) not installed: svg output not checked"
fi
mkdir nodot
PATH=$PWD/nodot rn visualize --format svg "$C/parallel.yaml"
expect_rc 2 "visualize --format svg without Graphviz"
expect_err_has "needs Graphviz's 'dot' program, which is not on PATH" "no dot: says what is missing"
expect_err_has "Install graphviz" "no dot: says what to install"
[ ! -s "$OUT" ] || fail "no dot: nothing on stdout"
pass "no dot: nothing on stdout"

done_testing
