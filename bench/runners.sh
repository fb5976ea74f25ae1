# How each tool runs the current workload once; sourced by bench/bench.sh.
#
# A section sets W_KIND (linear | map), W_N (steps or items) and W_J (jobs at
# a time), then `measure` calls run_<tool> in that tool's own folder.  Each
# run_<tool> writes its inputs on first use, clears what a previous run left
# (not timed), then runs the tool under `timed`.
#
# The other tools run W_N independent `sh -c true` commands at -jW_J: at -j1
# that is the same sequence of processes as runnable's linear chain.

run_runnable() {
    local f
    rm -rf .run_log_store .catalog
    case $W_KIND in
    linear)
        f="linear-$W_N.yaml"
        [ -f "$f" ] || gen_linear_pipeline "$W_N" "$f"
        timed "$RN" execute -q "$f" "bench-$W_KIND-$W_N-$$"
        ;;
    map)
        f="params-$W_N.yaml"
        [ -f "$f" ] || gen_items_params "$W_N" "$f"
        timed "$RN" execute -q "$BENCH_DIR/workloads/map.yaml" "bench-$W_KIND-$W_N-$$" \
            -p "$f" -c "$BENCH_DIR/workloads/map-config.yaml"
        ;;
    esac
}

run_ninja() {
    local f="jobs-$W_N.ninja"
    [ -f "$f" ] || gen_ninja "$W_N" "$f"
    rm -f .ninja_log .ninja_deps
    timed ninja -j "$W_J" -f "$f"
}

run_make() {
    local f="jobs-$W_N.mk"
    [ -f "$f" ] || gen_make "$W_N" "$f"
    timed make -s -j "$W_J" -f "$f"
}

# --scheduler greedy: the default ILP scheduler costs snakemake 4x more
# time on thousands of identical jobs; greedy is its fastest setting here.
run_snakemake() {
    rm -rf out .snakemake
    timed snakemake -s "$BENCH_DIR/workloads/jobs.smk" --cores "$W_J" --config "n=$W_N" \
        --nolock --quiet --scheduler greedy
}
