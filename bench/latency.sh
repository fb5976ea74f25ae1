# Start-up cost: `runnable execute` of a one-step pipeline (runnable only);
# sourced by bench/bench.sh.

section_latency() {
    say "== one-step pipeline, $REPS_LATENCY runs"
    W_KIND=linear W_N=1 W_J=1
    BARE=1 # as before: no timeout wrapper around a ~10 ms run
    measure "one" "$REPS_LATENCY" runnable
    BARE=0
    row_values time "one"
    add_row "one-step pipeline (execute)" "<=15 ms: $(verdict "${V[runnable]}" 0.015)"
}
