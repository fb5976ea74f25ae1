#!/bin/bash
# The man pages and the bash completion against the binary they describe:
#   1. every command `runnable --help` lists, and every long option each
#      `runnable CMD --help` prints, is in runnable.1 under that command;
#      every option runnable.1 gives a command the binary knows is accepted;
#   2. the three pages render without warnings (man --warnings, groff -ww)
#      and have a NAME line lexgrog reads (what lintian checks);
#   3. runnable-config.5 documents every provider `runnable plugins` finds
#      and every setting it accepts (as `runnable validate` lists them);
#      runnable-plugin.7 names every kind, vtable, operation and function
#      of the SDK header, and its EXAMPLE compiles and works as a plugin;
#   4. completion: commands, each command's options (as --help prints
#      them), option values, run ids of a file-system and a chunked-fs
#      store, step names of a run for `runs logs RUN_ID`;
#   5. `make install` puts the pages and the completion file in place.
. "$(dirname "$0")/lib.sh"

MAN=$RN_SRCDIR/docs/man
COMPLETION=$RN_SRCDIR/completion/runnable.bash

# roff source with \- turned into -, so options read as on the screen.
plain() { sed 's/\\-/-/g' "$1"; }

# section FILE TITLE: the text of `.SS "TITLE"` (or .SH) up to the next header.
section() {
    plain "$1" | awk -v t="$2" '
        /^\.S[SH] / { s = $0; sub(/^\.S[SH] +/, "", s); gsub(/"/, "", s); on = (s == t); next }
        on { print }'
}

# long_opts: the long options in stdin, one per line.
long_opts() { grep -o -E -e '--[a-z][a-z0-9-]*' | sort -u; }

# ---------------------------------------------------------------- 1. runnable.1
workdir cli
rn --help
expect_rc 0 "runnable --help"
# A command line of the usage: two spaces, then words until the first
# argument in capitals ("runs show RUN_ID" is the command "runs show").
commands=$(sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)*\)\( .*\)\{0,1\}$/\1/p' "$OUT" |
    sed 's/  .*//' | awk '{ c = $1; if ($2 ~ /^[a-z][a-z-]*$/) c = c " " $2; print c }' | sort -u)
ncmd=$(printf '%s\n' "$commands" | grep -c .)
[ "$ncmd" -ge 8 ] || fail "commands parsed from runnable --help" "got: $commands"
pass "runnable --help lists $ncmd commands"

while IFS= read -r cmd; do
    text=$(section "$MAN/runnable.1" "runnable $cmd")
    [ -n "$text" ] || fail "runnable.1 has a section for 'runnable $cmd'" \
        "add .SS \"runnable $cmd\" to docs/man/runnable.1"
    # shellcheck disable=SC2086
    rn $cmd --help
    [ "$RC" -eq 0 ] || fail "runnable $cmd --help exits 0"
    help_opts=$(long_opts <"$OUT")
    for o in $help_opts; do
        grep -q -e "$o\\b" <<<"$text" || grep -q -e "$o\$" <<<"$text" ||
            fail "runnable.1 documents $o of 'runnable $cmd'" \
                "'runnable $cmd --help' prints $o; the man page section does not"
    done
    # The reverse: what the page documents, the binary accepts.
    for o in $(long_opts <<<"$text"); do
        grep -q -x -e "$o" <<<"$help_opts" && continue
        # shellcheck disable=SC2086
        rn $cmd "$o"
        if grep -q "unknown option" "$ERR"; then
            # shellcheck disable=SC2086
            rn $cmd "$o=x"
            grep -q "unknown option" "$ERR" &&
                fail "'runnable $cmd' accepts $o, which runnable.1 documents"
        fi
    done
    pass "runnable.1: 'runnable $cmd' and its $(grep -c . <<<"$help_opts") options"
done <<<"$commands"

# ---------------------------------------------------------------- 2. rendering
for page in runnable.1 runnable-config.5 runnable-plugin.7; do
    command -v man >/dev/null || fail "man is installed (man-db, scripts/deps.sh)"
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$MAN/$page" \
        >"$RN_OUT/page" 2>"$RN_OUT/warnings" || fail "man -l $page" "$(cat "$RN_OUT/warnings")"
    [ ! -s "$RN_OUT/warnings" ] || fail "$page renders without warnings" "$(cat "$RN_OUT/warnings")"
    [ -s "$RN_OUT/page" ] || fail "$page renders to something"
    groff -man -ww -z "$MAN/$page" 2>"$RN_OUT/warnings" &&
        [ ! -s "$RN_OUT/warnings" ] || fail "groff -man -ww $page" "$(cat "$RN_OUT/warnings")"
    whatis=$(lexgrog "$MAN/$page") || fail "lexgrog reads the NAME of $page" "$whatis"
    grep -q -e "\"${page%.*} - " <<<"$whatis" || fail "$page NAME line" "$whatis"
    pass "$page renders without warnings ($(wc -l <"$RN_OUT/page") lines)"
done

# ---------------------------------------------------------------- 3. config(5)
rn plugins
expect_rc 0 "runnable plugins"
cp "$RN_SRCDIR/examples/hello.yaml" .
nprov=0
while read -r kind type _; do
    case $kind in
        executor) title="PIPELINE EXECUTORS" key=pipeline-executor ;;
        run-log-store) title="RUN-LOG STORES" key=run-log-store ;;
        catalog) title=CATALOGS key=catalog ;;
        secrets) title=SECRETS key=secrets ;;
        experiment-tracker) title="EXPERIMENT TRACKERS" key=experiment-tracker ;;
        task)
            section "$MAN/runnable-config.5" "TASK TYPES" | grep -q -x -e "\.BR* $type\( .*\)\{0,1\}" ||
                fail "runnable-config.5 names task type $type under TASK TYPES"
            nprov=$((nprov + 1))
            continue ;;
        *) continue ;;
    esac
    # The same type name may exist for several kinds: take the one under
    # this kind's .SH.
    text=$(plain "$MAN/runnable-config.5" | awk -v sh="$title" -v ss="type: $type" '
        /^\.SH / { s = $0; sub(/^\.SH +/, "", s); gsub(/"/, "", s); insh = (s == sh); on = 0; next }
        /^\.SS / { s = $0; sub(/^\.SS +/, "", s); gsub(/"/, "", s); on = insh && (s == ss); next }
        on { print }')
    [ -n "$text" ] || fail "runnable-config.5 documents $kind '$type'" \
        "add .SS \"type: $type\" under .SH $title"
    printf '%s:\n  type: %s\n  config: {zz_not_a_setting: 1}\n' "$key" "$type" >c.yaml
    rn validate hello.yaml -c c.yaml
    accepted=$(sed -n 's/.*has no setting .zz_not_a_setting.; it accepts: //p' "$ERR" | tr -d ',')
    grep -q "zz_not_a_setting" "$ERR" || fail "validate names the bad setting of $kind $type"
    # Settings are the .TP tags: `.BR key " (type, default)"`, or several
    # keys on one tag.
    tags=$(awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' <<<"$text")
    for k in $accepted; do
        grep -q -w -e "$k" <<<"$tags" ||
            fail "runnable-config.5 documents setting '$k' of $kind '$type'"
    done
    nprov=$((nprov + 1))
done < <(awk 'NR > 1 && /^[a-z]/ { print $1, $2 }' "$OUT")
[ "$nprov" -ge 10 ] || fail "providers found by runnable plugins" "only $nprov"
pass "runnable-config.5: all $nprov providers and their settings"

# ---------------------------------------------------------------- 3b. plugin(7)
header=$RN_SRCDIR/core/include/runnable/plugin.h
page=$(plain "$MAN/runnable-plugin.7")
names=$( { grep -o -E 'RN_KIND_[A-Z_]+|rn_[a-z_]+_ops\b' "$header"
           grep -o -E '\brn_[a-z0-9_]+\(' "$header" | tr -d '('
           grep -o -E '\(\*[a-z_]+\)\(' "$header" | tr -d '(*)' | grep -v -x fn; } | sort -u)
for n in $names; do
    grep -q -w -e "$n" <<<"$page" || fail "runnable-plugin.7 names $n (declared in plugin.h)"
done
pass "runnable-plugin.7 names all $(wc -w <<<"$names") kinds, vtables, operations and functions"

# Its example is a working plugin.
plug=$RN_TMP/plug
mkdir -p "$plug"
plain "$MAN/runnable-plugin.7" | awk '/^\.SH EXAMPLE/ { on = 1; next } on && /^\.EX/ { ex = 1; next }
    ex && /^\.EE/ { exit } ex { print }' | sed 's/\\e/\\/g' >"$plug/prefixed.c"
grep -q RN_PLUGIN_DESCRIPTOR "$plug/prefixed.c" || fail "EXAMPLE of runnable-plugin.7 extracted"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -I"$RN_SRCDIR/core/include" \
    $(pkg-config --cflags jansson) -o "$plug/secrets-prefixed.so" "$plug/prefixed.c" \
    -L"$RN_BUILDDIR/core/.libs" -lrunnable 2>"$RN_OUT/cc" ||
    fail "the EXAMPLE of runnable-plugin.7 compiles with -Wall -Wextra -Werror" "$(cat "$RN_OUT/cc")"
cat >secret.yaml <<'EOF'
dag:
  start_at: check
  steps:
    check:
      type: task
      command_type: shell
      command: '[ "$TOKEN" = s3cr3t ]'
      secrets: [TOKEN]
      next: success
EOF
printf 'secrets:\n  type: prefixed\n  config: {prefix: APP_}\n' >prefixed.yaml
LD_LIBRARY_PATH=$RN_BUILDDIR/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    APP_TOKEN=s3cr3t rn execute secret.yaml -c prefixed.yaml --plugin-path "$plug" --run-id ex-ok
expect_rc 0 "the EXAMPLE plugin serves APP_TOKEN as secret TOKEN"
LD_LIBRARY_PATH=$RN_BUILDDIR/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    rn execute secret.yaml -c prefixed.yaml --plugin-path "$plug" --run-id ex-missing
expect_rc 1 "the EXAMPLE plugin: a missing variable fails the step"

# ---------------------------------------------------------------- 4. completion
# complete WORDS...: COMPREPLY for the command line WORDS (the last one is
# being completed), one per line, sorted.
complete_words() {
    bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _runnable runnable "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" 2>"$RN_OUT/comp.err" | sort
    [ ! -s "$RN_OUT/comp.err" ] || fail "completion runs without errors" "$(cat "$RN_OUT/comp.err")"
}
# expect_completion "WHAT" "EXPECTED (sorted, newline-separated)" WORDS...
expect_completion() {
    local what=$1 want=$2 got
    shift 2
    got=$(complete_words "$@")
    [ "$got" = "$want" ] || fail "completion: $what" "words: $*" "expected: $(echo $want)" "got:      $(echo $got)"
    pass "completion: $what"
}

bash -n "$COMPLETION" || fail "completion/runnable.bash parses"
got=$(complete_words runnable "")
for cmd in $(printf '%s\n' "$commands" | awk '{ print $1 }' | sort -u); do
    grep -q -x -e "$cmd" <<<"$got" || fail "completion offers command '$cmd'" "got: $(echo $got)"
done
pass "completion: every command of runnable --help"
expect_completion "commands starting with 'r'" $'retry\nruns' runnable r

# Every command's options: all that --help prints, and only options the
# binary accepts.
while IFS= read -r cmd; do
    # shellcheck disable=SC2086
    offered=$(complete_words runnable $cmd --)
    # shellcheck disable=SC2086
    rn $cmd --help
    for o in $(long_opts <"$OUT"); do
        grep -q -x -e "$o" <<<"$offered" ||
            fail "completion offers $o for 'runnable $cmd'" "--help prints it; offered: $(echo $offered)"
    done
    for o in $offered; do
        # shellcheck disable=SC2086
        rn $cmd "$o"
        if grep -q "unknown option" "$ERR"; then
            # shellcheck disable=SC2086
            rn $cmd "$o=x"
            grep -q "unknown option" "$ERR" && fail "'runnable $cmd' accepts $o, which completion offers"
        fi
    done
    pass "completion: options of 'runnable $cmd' ($(wc -w <<<"$offered"))"
done <<<"$commands"
expect_completion "execute --d" "--dry-run" runnable execute --d
expect_completion "visualize --format" $'dot\nmermaid\nsvg\ntext' runnable visualize --format ""
expect_completion "timeline --format" $'chrome\nhtml\ntext' runnable timeline --format ""
expect_completion "runs --status" $'FAIL\nPROCESSING\nSUCCESS' runnable runs --status ""
expect_completion "execute --log-level W" "WARNING" runnable execute --log-level W

# Pipeline files.
workdir comp
mkdir sub
: >a.yaml
: >b.yml
: >notes.txt
expect_completion "execute: pipeline files and folders" $'a.yaml\nb.yml\nsub' runnable execute ""
expect_completion "execute -c: yaml files" $'a.yaml\nb.yml\nsub' runnable execute p.yaml -c ""

# Run ids and step names.
cat >steps.yaml <<'EOF'
dag:
  start_at: make list
  steps:
    make list:
      type: task
      command_type: shell
      command: export items='[1, 2]'
      returns: [{name: items}]
      next: fan
    fan:
      type: map
      iterate_on: items
      iterate_as: i
      branch:
        start_at: say
        steps:
          say:
            type: task
            command_type: shell
            command: echo "item $i"
            next: success
          success: {type: success}
          fail: {type: fail}
      next: success
    success: {type: success}
    fail: {type: fail}
EOF
rn execute steps.yaml --run-id first-run
expect_rc 0 "first run"
rn execute steps.yaml --run-id second-run
expect_rc 0 "second run"
[ -d .run_log_store/.summaries ] || fail "the store keeps .summaries (the test needs it to be ignored)"
expect_completion "retry RUN_ID (file-system store)" $'first-run\nsecond-run' runnable retry ""
expect_completion "runs show f" "first-run" runnable runs show f
expect_completion "timeline RUN_ID" $'first-run\nsecond-run' runnable timeline ""
expect_completion "runs logs RUN_ID STEP" \
    $'fan\nfan.1.say\nfan.1.success\nfan.2.say\nfan.2.success\nmake\\ list\nsuccess' runnable runs logs first-run ""
expect_completion "runs logs RUN_ID fan." $'fan.1.say\nfan.1.success\nfan.2.say\nfan.2.success' runnable runs logs first-run fan.
rn runs logs first-run fan.2.say
expect_rc 0 "a completed step name works with runs logs"
expect_out_has "item 2" "runs logs fan.2.say prints the step's output"
expect_completion "runs logs, no such run" "" runnable runs logs no-such-run ""

# A chunked-fs store in another folder, named by -c.
printf 'run-log-store:\n  type: chunked-fs\n  config:\n    log_folder: "elsewhere/logs"\n' >chunked.yaml
rn execute steps.yaml -c chunked.yaml --run-id chunked-run
expect_rc 0 "chunked-fs run"
expect_completion "runs show -c CONFIG RUN_ID (chunked-fs)" "chunked-run" runnable runs show -c chunked.yaml ""
expect_completion "runs logs -c CONFIG RUN_ID STEP (chunked-fs)" \
    $'fan\nfan.1.say\nfan.1.success\nfan.2.say\nfan.2.success\nmake\\ list\nsuccess' runnable runs logs -c chunked.yaml chunked-run ""
RUNNABLE_CONFIGURATION_FILE=chunked.yaml expect_completion "retry with RUNNABLE_CONFIGURATION_FILE" \
    "chunked-run" runnable retry ""

# Fast enough to press TAB: 50 completions of step names.
start=$(date +%s%N)
for _ in $(seq 50); do complete_words runnable runs logs first-run "" >/dev/null; done
ms=$(( ($(date +%s%N) - start) / 50000000 ))
[ "$ms" -lt 300 ] || fail "step-name completion takes under 300 ms" "took $ms ms"
pass "step-name completion takes $ms ms"

# ---------------------------------------------------------------- 5. install
# The prerequisites of install-data-am (continuation lines joined).
rule=$(sed -e :a -e '/\\$/N; s/\\\n//; ta' "$RN_BUILDDIR/Makefile" | grep -E '^install-data-am:')
grep -q -w install-man <<<"$rule" && grep -q -w install-bashcompletionDATA <<<"$rule" ||
    fail "make install installs the man pages and the completion" "$rule"
dest=$RN_TMP/dest
make -s -C "$RN_BUILDDIR" install-man install-bashcompletionDATA DESTDIR="$dest" \
    >"$RN_OUT/install" 2>&1 || fail "make install-man install-bashcompletionDATA" "$(cat "$RN_OUT/install")"
prefix=$(sed -n 's/^prefix = //p' "$RN_BUILDDIR/Makefile")
for f in share/man/man1/runnable.1 share/man/man5/runnable-config.5 share/man/man7/runnable-plugin.7 \
    share/bash-completion/completions/runnable; do
    [ -f "$dest$prefix/$f" ] || fail "installed $prefix/$f" "$(cd "$dest" && find . -type f)"
done
cmp -s "$dest$prefix/share/bash-completion/completions/runnable" "$COMPLETION" ||
    fail "the installed completion is completion/runnable.bash"
LC_ALL=C.UTF-8 man -l "$dest$prefix/share/man/man1/runnable.1" 2>&1 | grep -q "runs logs" ||
    fail "the installed runnable(1) reads"
pass "make install: man pages in $prefix/share/man, completion in $prefix/share/bash-completion/completions"

done_testing
