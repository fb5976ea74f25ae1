#!/bin/bash
# `runnable plugins` lists every provider; broken plugins (built by `make
# check` into tests/fixtures/plugins) are refused with the file and the
# reason, both when listed and when a configuration selects them.
. "$(dirname "$0")/lib.sh"

BROKEN=$RN_BUILDDIR/tests/fixtures/plugins
STUB=$FIXTURES/pipelines/stub.yaml

EXPECTED="executor:local
run-log-store:buffered
run-log-store:file-system
run-log-store:chunked-fs
catalog:do-nothing
catalog:file-system
secrets:do-nothing
secrets:env-secrets
secrets:dotenv
experiment-tracker:do-nothing
task:shell"

# expect_listed WHAT: every expected provider is on stdout with a version
# and an existing file named <kind>-<type>.
expect_listed() {
    local kt kind type line version file
    for kt in $EXPECTED; do
        kind=${kt%%:*}
        type=${kt#*:}
        line=$(awk -v k="$kind" -v t="$type" '$1 == k && $2 == t' "$OUT")
        [ -n "$line" ] || fail "$1: $kind $type listed" "no line '$kind $type ...' on stdout"
        [ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || fail "$1: $kind $type listed once" "$line"
        version=$(printf '%s\n' "$line" | awk '{print $3}')
        file=$(printf '%s\n' "$line" | awk '{print $4}')
        [ -n "$version" ] && [ "$version" != "?" ] ||
            fail "$1: $kind $type has a version" "line: $line"
        [ -f "$file" ] || fail "$1: $kind $type names its file" "no such file: '$file' (line: $line)"
        case ${file##*/} in
            "$kind-$type".la | "$kind-$type".so | "$kind-$type".so.*) ;;
            *) fail "$1: $kind $type file is named $kind-$type" "file: $file" ;;
        esac
    done
    pass "$1: all $(echo "$EXPECTED" | wc -l) providers listed with version and file"
}

# ---------------------------------------------------------------- listing
workdir list
rn plugins
expect_rc 0 "runnable plugins"
expect_out_re '^KIND +TYPE +VERSION +FILE' "header line"
expect_listed "runnable plugins"
if grep -F -e "$RN_BUILDDIR" "$ERR" >/dev/null; then
    fail "no warnings about the build tree's plugins"
fi
pass "no warnings about the build tree's plugins"

# ---------------------------------------------------------------- broken
[ -d "$BROKEN" ] && [ -f "$BROKEN/catalog-badmagic.la" ] ||
    fail "broken fixture plugins are built" "missing $BROKEN/catalog-*.la (run through make check)"
pass "broken fixture plugins are built"

# name|reason (a fixed string the message must contain)
CASES="badmagic|bad magic
badabi|ABI
wrongkind|is a secrets plugin, expected a catalog plugin
noget|required operation 'get' is missing
nodesc|exports no descriptor"

workdir list_broken
RUNNABLE_PLUGIN_PATH=$BROKEN:$RUNNABLE_PLUGIN_PATH rn plugins
expect_rc 0 "runnable plugins with broken plugins on the path still succeeds"
while IFS='|' read -r name reason; do
    grep -F "catalog-$name" "$ERR" | grep -F -q -e "$reason" ||
        fail "plugins warns about catalog-$name: $reason" "no stderr line naming catalog-$name with '$reason'"
    pass "plugins warns about catalog-$name: $reason"
    if awk -v t="$name" '$2 == t' "$OUT" | grep -q .; then
        fail "catalog-$name is not listed as a provider"
    fi
done <<<"$CASES"
expect_err_re '^runnable: warning: ' "warnings carry the 'runnable: warning:' prefix"
expect_listed "with broken plugins on the path"

rn plugins --plugin-path "$BROKEN"
expect_rc 0 "runnable plugins --plugin-path"
expect_err_has "catalog-badmagic" "--plugin-path folders are searched too"

while IFS='|' read -r name reason; do
    workdir "select-$name"
    printf '# selects a broken plugin\ncatalog:\n  type: %s\n' "$name" >config.yaml
    RUNNABLE_PLUGIN_PATH=$BROKEN:$RUNNABLE_PLUGIN_PATH rn execute "$STUB" -c config.yaml
    expect_rc 2 "catalog type $name is refused"
    expect_err_re "^runnable: error: config\.yaml:(2|3):[0-9]+: .*catalog-$name" \
        "catalog $name: error at the config's line, naming the file"
    expect_err_has "$reason" "catalog $name: the reason: $reason"
    expect_nothing_written "catalog $name"
    rn execute "$STUB" -c config.yaml --plugin-path "$BROKEN"
    expect_rc 2 "catalog type $name is refused (--plugin-path)"
    expect_err_has "$reason" "catalog $name (--plugin-path): $reason"
done <<<"$CASES"

# A good provider is still found behind the broken folder.
workdir good_behind_broken
printf 'catalog:\n  type: file-system\n' >config.yaml
RUNNABLE_PLUGIN_PATH=$BROKEN:$RUNNABLE_PLUGIN_PATH rn execute "$STUB" ok -c config.yaml
expect_rc 0 "a good provider is found behind a folder of broken ones"

done_testing
