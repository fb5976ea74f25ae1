# Linear chain at -j1 (the original benchmark); sourced by bench/bench.sh.
#
#   linear:  LINEAR_N steps s1 -> s2 -> ... each a shell `true`, default
#            configuration (file-system run log and catalog), against
#            LINEAR_N independent `sh -c true` commands at -j1;
#            then 10 x LINEAR_N: time per step must stay flat.

section_linear() {
    local n=$LINEAR_N big=$((10 * LINEAR_N)) r check
    say "== linear chain, $n and $big steps, -j1"
    W_KIND=linear W_J=1
    W_N=$n
    pick_tools "linear$n" "$W_N"
    measure "linear$n" "$REPS_SHORT" runnable "${PICKED[@]}"
    row_values time "linear$n"
    r=$(ratio_to ninja)
    if [ -n "$r" ]; then
        check="<=1.2 vs ninja (limit 1.5): $(verdict "$r" 1.2 1.5)"
    else
        check="no ninja figure to compare"
    fi
    add_row "linear chain $(fmt_int "$n") steps -j1" "$check"

    W_N=$big
    pick_tools "linear$big" "$W_N"
    measure "linear$big" "$REPS_LONG" runnable "${PICKED[@]}"
    row_values flat "linear$n" "$n" "linear$big" "$big"
    add_row "  per step, $(fmt_int "$big") vs $(fmt_int "$n")" "<=1.3: $(verdict "${V[runnable]}" 1.3)"
}
