# bash completion for runnable(1): commands, options, option values,
# pipeline files, run ids (from the run-log store folder) and step names
# (from a run log).  Installed as $(datadir)/bash-completion/completions/runnable.
#
# The option lists are copied from each command's --help text;
# tests/cli/t_docs.sh fails when they drift apart.

_runnable_commands="execute retry validate visualize plugins runs timeline execute-single-node fan"

# Long options per command ("runs" = runs list).
_runnable_opts() {
    case $1 in
        execute) echo "--file --config --config-file --parameters --parameters-file --run-id --tag --log-level --timeout --plugin-path --dry-run --output --quiet --help" ;;
        retry) echo "--file --config --force --tag --timeout --log-level --plugin-path --quiet --help" ;;
        validate) echo "--file --config --plugin-path --help" ;;
        visualize) echo "--file --format --help" ;;
        plugins) echo "--plugin-path --help" ;;
        runs) echo "--config --status --since --until --tag --search --sort --limit --json --plugin-path --help" ;;
        "runs show") echo "--config --json --plugin-path --help" ;;
        "runs logs") echo "--config --plugin-path --help" ;;
        timeline) echo "--config --format --output --all --console --no-console --open --no-open --log-level --plugin-path --help" ;;
        execute-single-node) echo "--file --config --parameters-file --iter-variable --map-variable --tag --log-level --mode --plugin-path --help" ;;
        fan) echo "--file --config-file --config --parameters-file --output --quote-items --iter-variable --map-variable --tag --log-level --mode --plugin-path --help" ;;
    esac
}

# Options that take a value (the next word is not a positional argument).
_runnable_takes_value() {
    case $1 in
        -f|--file|-c|--config|--config-file|-p|--parameters|--parameters-file|--run-id|--tag|\
        --log-level|--timeout|--plugin-path|-F|--format|--status|--since|--until|--search|\
        --sort|--limit|-o|--output|--iter-variable|--map-variable|-m|--mode) return 0 ;;
    esac
    return 1
}

# The run-log store folder: log_folder of the configuration in use
# (RUNNABLE_CONFIGURATION_FILE, -c, ./runnable-config.yaml), else the
# default .run_log_store.  A plain text match keeps it fast; it handles
# `log_folder: x` in block or flow style.
_runnable_store() {
    local cfg=${RUNNABLE_CONFIGURATION_FILE:-$1} folder=
    [ -z "$cfg" ] && [ -r runnable-config.yaml ] && cfg=runnable-config.yaml
    cfg=${cfg/#\~/$HOME}
    if [ -n "$cfg" ] && [ -r "$cfg" ]; then
        folder=$(sed -n "s/.*log_folder[\"']\{0,1\}[[:space:]]*:[[:space:]]*[\"']\{0,1\}\([^\"',}[:space:]]*\).*/\1/p" "$cfg" 2>/dev/null | head -n 1)
    fi
    printf '%s\n' "${folder:-.run_log_store}"
}

# Run ids: <id>.json files (file-system) and <id>/ folders (chunked-fs).
_runnable_run_ids() {
    local store f
    store=$(_runnable_store "$1")
    [ -d "$store" ] || return 0
    for f in "$store"/*; do
        [ -e "$f" ] || continue
        f=${f##*/}
        if [ -d "$store/$f" ]; then
            printf '%s\n' "$f"
        elif [[ $f == *.json ]]; then
            printf '%s\n' "${f%.json}"
        fi
    done
}

# Step internal names of a run, at any depth, in the order of the run log.
_runnable_steps() {
    local store py=/usr/bin/python3
    store=$(_runnable_store "$1")
    [ -x "$py" ] || py=$(command -v python3) || return 0
    "$py" - "$store" "$2" 2>/dev/null <<'EOF'
import json, os, sys
store, run = sys.argv[1], sys.argv[2]
if "/" in run or run.startswith("."):
    sys.exit(0)
docs = []
if os.path.isfile(os.path.join(store, run + ".json")):
    docs.append(os.path.join(store, run + ".json"))
d = os.path.join(store, run)
if os.path.isdir(d):
    docs += [os.path.join(d, f) for f in sorted(os.listdir(d))
             if f.endswith(".json") and (f == "RunLog.json" or f.startswith("BranchLog-"))]
seen = []
def walk(steps):
    for name, st in (steps or {}).items():
        n = st.get("internal_name") or name
        if n not in seen:
            seen.append(n)
        for br in (st.get("branches") or {}).values():
            walk(br.get("steps"))
for p in docs:
    with open(p) as f:
        walk(json.load(f).get("steps"))
print("\n".join(seen))
EOF
}

# COMPREPLY from newline-separated words matching $cur, spaces escaped.
_runnable_reply() {
    local IFS=$'\n' w
    COMPREPLY=()
    for w in $1; do
        [[ $w == "$2"* ]] && COMPREPLY+=("${w// /\\ }")
    done
}

_runnable_files() {
    compopt -o filenames 2>/dev/null
    if [ "$2" = yaml ]; then
        mapfile -t COMPREPLY < <(compgen -d -- "$1"; compgen -f -X '!*.y*ml' -- "$1")
    elif [ "$2" = dir ]; then
        mapfile -t COMPREPLY < <(compgen -d -- "$1")
    else
        mapfile -t COMPREPLY < <(compgen -f -- "$1")
    fi
}

_runnable() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd='' cfg='' i w first=1
    local -a pos=()
    COMPREPLY=()
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # --opt=value is split at '=' by COMP_WORDBREAKS.
    if [ "$cur" = "=" ]; then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        cur=
    elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    if [ "$COMP_CWORD" -eq 1 ]; then
        if [[ $cur == -* ]]; then
            _runnable_reply $'--help\n--version' "$cur"
        else
            _runnable_reply "${_runnable_commands// /$'\n'}" "$cur"
        fi
        return 0
    fi
    cmd=${COMP_WORDS[1]}

    # Positional words before the cursor, and the -c value.
    i=2
    while [ "$i" -lt "$COMP_CWORD" ]; do
        w=${COMP_WORDS[i]}
        if [ "$w" = "=" ]; then
            i=$((i + 2))
            continue
        fi
        if [[ $w == -* ]]; then
            if [[ $w != *=* ]] && _runnable_takes_value "$w" && [ "${COMP_WORDS[i + 1]}" != "=" ]; then
                case $w in -c|--config|--config-file) cfg=${COMP_WORDS[i + 1]} ;; esac
                i=$((i + 2))
                continue
            fi
            case $w in
                -c=*|--config=*|--config-file=*) cfg=${w#*=} ;;
                -c|--config|--config-file) cfg=${COMP_WORDS[i + 2]} ;;
            esac
        else
            pos+=("$w")
        fi
        i=$((i + 1))
    done
    # `runs show` and `runs logs` are commands of their own.
    if [ "$cmd" = runs ] && [ "${#pos[@]}" -gt 0 ]; then
        case ${pos[0]} in
            show|logs) cmd="runs ${pos[0]}"; pos=("${pos[@]:1}") ;;
            list) pos=("${pos[@]:1}") ;;
        esac
        first=0
    fi

    case $prev in
        -f|--file|-p|--parameters|--parameters-file|-c|--config|--config-file)
            _runnable_files "$cur" yaml; return 0 ;;
        -o|--output) _runnable_files "$cur"; return 0 ;;
        --plugin-path) _runnable_files "$cur" dir; return 0 ;;
        -F|--format)
            if [ "$cmd" = timeline ]; then
                _runnable_reply $'text\nhtml\nchrome' "$cur"
            else
                _runnable_reply $'text\ndot\nmermaid\nsvg' "$cur"
            fi
            return 0 ;;
        --log-level) _runnable_reply $'DEBUG\nINFO\nWARNING\nERROR\nCRITICAL' "$cur"; return 0 ;;
        --status) _runnable_reply $'SUCCESS\nFAIL\nPROCESSING' "$cur"; return 0 ;;
        --sort)
            _runnable_reply $'started\nended\nduration\nrun_id\nstatus\ntag\npipeline\nsteps\nfailed' "$cur"
            return 0 ;;
        -m|--mode) _runnable_reply yaml "$cur"; return 0 ;;
    esac
    _runnable_takes_value "$prev" && return 0

    if [[ $cur == -* ]]; then
        local opts
        opts=$(_runnable_opts "$cmd")
        _runnable_reply "${opts// /$'\n'}" "$cur"
        return 0
    fi

    local n=${#pos[@]}
    case $cmd in
        execute|validate|visualize)
            [ "$n" -eq 0 ] && _runnable_files "$cur" yaml ;;
        retry|timeline|"runs show")
            [ "$n" -eq 0 ] && _runnable_reply "$(_runnable_run_ids "$cfg")" "$cur" ;;
        "runs logs")
            if [ "$n" -eq 0 ]; then
                _runnable_reply "$(_runnable_run_ids "$cfg")" "$cur"
            elif [ "$n" -eq 1 ]; then
                _runnable_reply "$(_runnable_steps "$cfg" "${pos[0]}")" "$cur"
            fi ;;
        runs)
            [ "$n" -eq 0 ] && [ "$first" = 1 ] && _runnable_reply $'list\nshow\nlogs' "$cur" ;;
        execute-single-node)
            case $n in
                0) _runnable_reply "$(_runnable_run_ids "$cfg")" "$cur" ;;
                1) _runnable_files "$cur" yaml ;;
            esac ;;
        fan)
            case $n in
                0) _runnable_reply "$(_runnable_run_ids "$cfg")" "$cur" ;;
                2) _runnable_files "$cur" yaml ;;
                3) _runnable_reply $'in\nout' "$cur" ;;
            esac ;;
    esac
    return 0
}

complete -F _runnable runnable
