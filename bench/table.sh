# The one table of ratios; sourced by bench/bench.sh.
#
# A section fills V[tool] (a number, or a failure text such as
# "FAILED (exit 1)") and F[tool] (the number formatted) for runnable and the
# other tools, then calls add_row LABEL CHECK.  Each other tool's cell is
# runnable / tool, with the tool's own figure in brackets.

OTHERS=(ninja make snakemake)
declare -A V=() F=()
TABLE=()

# row_values KIND KEY... : fill V and F from RES/RSS.
#   time KEY                 median wall time
#   flat KEY_N N KEY_BIG BIG time per unit at BIG / time per unit at N
#   rss KEY                  peak RSS
row_values() {
    local kind=$1 t a b
    shift
    V=() F=()
    for t in runnable "${OTHERS[@]}"; do
        case $kind in
        time)
            V[$t]=${RES[$1:$t]:-}
            if is_num "${V[$t]}"; then F[$t]=$(fmt_sec "${V[$t]}"); fi
            ;;
        flat)
            a=${RES[$1:$t]:-} b=${RES[$3:$t]:-}
            if ! is_num "$a"; then
                V[$t]=$a
            elif ! is_num "$b"; then
                V[$t]=$b
            else
                V[$t]=$(calc "($b / $4) / ($a / $2)")
                F[$t]=$(fmt_num "${V[$t]}")
            fi
            ;;
        rss)
            a=${RES[$1:$t]:-}
            if ! is_num "$a"; then
                V[$t]=$a
            elif [ -n "${RSS[$1:$t]:-}" ]; then
                V[$t]=${RSS[$1:$t]}
                F[$t]=$(fmt_mb "${V[$t]}")
            else
                V[$t]="n/a"
            fi
            ;;
        esac
    done
}

# ratio_to TOOL -> runnable / TOOL, or nothing when either is not a number
ratio_to() {
    if is_num "${V[runnable]:-}" && is_num "${V[$1]:-}"; then calc "${V[runnable]} / ${V[$1]}"; fi
}

# verdict VALUE TARGET [LIMIT] -> ok / OVER TARGET / OVER LIMIT
verdict() {
    awk -v v="$1" -v t="$2" -v l="${3:-}" 'BEGIN {
        if (v <= t) print "ok"; else if (l != "" && v <= l) print "over target"; else print "OVER LIMIT" }'
}

add_row() { # LABEL CHECK
    local label=$1 check=$2 t cell row r=${V[runnable]:-}
    if is_num "$r"; then row=${F[runnable]}; else row=${r:-"-"}; fi
    for t in "${OTHERS[@]}"; do
        if [ -n "${SKIPPED[$t]:-}" ]; then
            cell="(${SKIPPED[$t]})"
        elif [ -z "${V[$t]:-}" ]; then
            cell="-"
        elif ! is_num "${V[$t]}"; then
            cell=${V[$t]}
        elif is_num "$r"; then
            cell="$(fmt_num "$(ratio_to "$t")") (${F[$t]})"
        else
            cell="- (${F[$t]})"
        fi
        row+=$'\t'$cell
    done
    is_num "$r" || check="runnable: ${r:-not run}"
    TABLE+=("$label"$'\t'"$row"$'\t'"$check")
}

print_table() {
    local fmt='%-34s %-17s %-20s %-20s %-20s %s\n'
    printf '%-52s%s\n' "" "----------- runnable / tool  (tool's figure) -----------"
    # shellcheck disable=SC2059
    printf "$fmt" workload runnable "${OTHERS[@]}" check
    local line
    for line in "${TABLE[@]}"; do
        IFS=$'\t' read -r -a c <<<"$line"
        # shellcheck disable=SC2059
        printf "$fmt" "${c[@]}"
    done
}
