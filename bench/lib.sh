# Helpers shared by the benchmark sections; sourced by bench/bench.sh.
#
#   find_runnable BUILD_DIR     sets RN (the binary) and the plugin path
#   ensure_tools TOOL...        installs missing tools with apt-get (root only)
#   timed CMD...                runs CMD once: T_SEC, T_RC, T_RSS (kB or "")
#   pick_tools KEY JOBS         PICKED = the other tools to run on JOBS jobs
#   measure KEY REPS TOOL...    runs run_<TOOL> REPS times, interleaved, and
#                               records the median in RES[KEY:TOOL]
#   median, calc, fmt_*         arithmetic with awk

# Tool name -> Debian package.
declare -A PKG=([ninja]=ninja-build [make]=make [snakemake]=snakemake [time]=time)
declare -A SKIPPED=()  # tool -> why it is not measured
declare -A RES=()      # KEY:TOOL -> median seconds, or "FAILED (exit N)" / "TIMEOUT (>S s)"
declare -A RSS=()      # KEY:TOOL -> peak RSS in kB (max over the repetitions)
NOTES=()               # printed under the table

note() { NOTES+=("$*"); }
say() { printf '%s\n' "$*" >&2; }  # progress, on stderr

calc() { awk "BEGIN {print $1}"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
is_num() { case $1 in '' | *[!0-9.e+-]*) return 1 ;; esac; }

find_runnable() { # BUILD_DIR
    local build=$1
    RN="$build/core/cli/runnable"
    [ -x "$RN" ] || { echo "no runnable binary at $RN: build first" >&2; exit 2; }
    export RUNNABLE_PLUGIN_PATH="$build/executors:$build/run_log_stores:$build/catalogs:$build/secrets:$build/plugins"
    # The in-tree binary is a libtool wrapper script; run the real ELF directly
    # (and so measure its memory, not the wrapper's).
    if [ -x "$build/core/cli/.libs/runnable" ]; then
        export LD_LIBRARY_PATH="$build/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        RN="$build/core/cli/.libs/runnable"
    fi
}

have() { # TOOL
    case $1 in
    time) /usr/bin/time --version 2>&1 | grep -q GNU ;;
    *) command -v "$1" >/dev/null ;;
    esac
}

# Installs the missing ones among TOOL... when root and apt-get exists (and
# INSTALL=1); marks the others SKIPPED with the package to install.
ensure_tools() {
    local t missing=() pkgs=()
    for t in "$@"; do have "$t" || { missing+=("$t"); pkgs+=("${PKG[$t]}"); }; done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${INSTALL:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${pkgs[*]} with apt-get ..."
        if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" ||
            { apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; } \
            >"$work/apt.log" 2>&1; then
            say "apt-get install ${pkgs[*]} failed:"
            tail -n 5 "$work/apt.log" >&2
        fi
    fi
    for t in "${missing[@]}"; do
        have "$t" && continue
        [ "$t" = time ] && continue # rss_method falls back on python
        SKIPPED[$t]="not installed"
        note "$t not installed: skipped (as root: apt-get install ${PKG[$t]})"
    done
}

tool_version() { # TOOL
    case $1 in
    runnable) "$RN" --version 2>/dev/null | head -n 1 ;;
    ninja) echo "ninja $(ninja --version)" ;;
    make) make --version | head -n 1 ;;
    snakemake) echo "snakemake $(snakemake --version 2>/dev/null)" ;;
    esac
}

# How to measure peak RSS: GNU time, else a /usr/bin/python3 wrapper, else not.
rss_method() {
    if have time; then
        echo gnu-time
    elif [ -x /usr/bin/python3 ]; then
        echo python
    else
        echo none
    fi
}

# timed CMD... : run CMD in the current folder, output to $work/last.log.
# Sets T_SEC (wall seconds), T_RC (exit status; 124 = timed out) and, when
# WANT_RSS=1, T_RSS (peak RSS in kB of CMD's process, or of its largest
# waited-for child if that is larger: the engine dominates).  The wrapper
# processes (timeout, GNU time) cost the same for every tool; BARE=1 runs
# CMD without them (no time-out either).
timed() {
    local t0 t1 pre=()
    T_RSS=""
    if [ "${WANT_RSS:-0}" = 1 ]; then
        case $RSS_METHOD in
        gnu-time) pre=(/usr/bin/time -q -o "$work/rss.out" -f %M) ;;
        python) pre=(/usr/bin/python3 "$BENCH_DIR/maxrss.py" "$work/rss.out") ;;
        esac
    fi
    [ "${BARE:-0}" = 1 ] || pre=(timeout "$TIMEOUT" "${pre[@]}")
    rm -f "$work/rss.out"
    t0=$EPOCHREALTIME
    T_RC=0
    "${pre[@]}" "$@" >"$work/last.log" 2>&1 || T_RC=$?
    t1=$EPOCHREALTIME
    T_SEC=$(calc "$t1 - $t0")
    if [ -s "$work/rss.out" ]; then T_RSS=$(tail -n 1 "$work/rss.out"); fi
    is_num "$T_RSS" || T_RSS=""
}

# pick_tools KEY JOBS: PICKED = the selected other tools that run workloads
# of JOBS jobs; snakemake is left out above SNAKEMAKE_MAX (its scheduler is
# quadratic: about an hour at 10,000 jobs), with the reason as its result.
pick_tools() {
    local t
    PICKED=()
    for t in "${TOOLS[@]}"; do
        if [ "$t" = snakemake ] && [ "$2" -gt "$SNAKEMAKE_MAX" ]; then
            RES[$1:$t]="(over $(fmt_int "$SNAKEMAKE_MAX") jobs)"
        else
            PICKED+=("$t")
        fi
    done
}

# measure KEY REPS TOOL... : for each repetition, run `run_<TOOL>` for every
# TOOL in turn (side by side, so drift hits them alike).  A tool's first
# failure stops its repetitions and is recorded instead of a time.
measure() {
    local key=$1 reps=$2 i t
    shift 2
    local -A times=()
    for i in $(seq 1 "$reps"); do
        for t in "$@"; do
            [ -n "${SKIPPED[$t]:-}" ] && continue
            [ -n "${RES[$key:$t]:-}" ] && continue  # already failed
            say "  $key: $t ($i/$reps)"
            mkdir -p "$work/$t" && cd "$work/$t" || exit 2
            "run_$t"
            if [ "$T_RC" = 124 ]; then
                RES[$key:$t]="TIMEOUT (>${TIMEOUT} s)"
            elif [ "$T_RC" != 0 ]; then
                RES[$key:$t]="FAILED (exit $T_RC)"
                note "${key%+rss}, $t exited $T_RC; last lines of its output:"
                while IFS= read -r line; do note "    $line"; done < <(tail -n 3 "$work/last.log")
            else
                times[$t]+="$T_SEC "
                if [ -n "$T_RSS" ] && { [ -z "${RSS[$key:$t]:-}" ] || [ "$T_RSS" -gt "${RSS[$key:$t]}" ]; }; then
                    RSS[$key:$t]=$T_RSS
                fi
            fi
        done
    done
    cd "$work" || exit 2
    for t in "$@"; do
        [ -n "${SKIPPED[$t]:-}" ] && continue
        [ -n "${RES[$key:$t]:-}" ] && continue
        # shellcheck disable=SC2086 # split the list of times
        RES[$key:$t]=$(printf '%s\n' ${times[$t]} | median)
    done
}

fmt_sec() { # SECONDS -> "1.234 s" / "12.3 ms"
    awk -v s="$1" 'BEGIN {if (s < 1) printf "%.1f ms", s * 1000; else printf "%.3f s", s}'
}
fmt_mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }
fmt_num() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }
fmt_int() { printf '%d\n' "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }  # 10000 -> 10,000
