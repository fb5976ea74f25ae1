# How each tool runs the current workload once; sourced by bench/bench.sh.
#
# A section sets W_KIND (linear | map), W_N (steps or items) and W_J (jobs at
# a time), then `measure` calls run_<tool> in that tool's own folder.  Each
# run_<tool> writes its inputs on first use, clears what a previous run left
# (not timed), then runs the tool under `timed`.
#
# The other tools run W_N independent `sh -c true` commands at -jW_J: at -j1
# that is the same sequence of processes as runnable's linear chain.

# What a previous run left is moved aside, not deleted: ext4 walks past
# recently freed inodes when it allocates new ones, so deleting thousands of
# files just before a run would slow the run's own file creation for a
# while after (the folder is removed once, at the end of the benchmark).
set_aside() {
    local d
    mkdir -p ../set-aside
    for d in "$@"; do
        [ -e "$d" ] && mv "$d" "$(mktemp -d ../set-aside/XXXXXX)/"
    done
    return 0
}

run_runnable() {
    local f
    set_aside .run_log_store .catalog
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
            -p "$f" -c "$BENCH_DIR/workloads/${MAP_CONFIG:-map-config.yaml}"
        ;;
    esac
}

# The map with the chunked-fs store (a row of its own in bench/map.sh).
run_runnable_chunked() { MAP_CONFIG=map-chunked-config.yaml run_runnable; }

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
    set_aside out .snakemake
    timed snakemake -s "$BENCH_DIR/workloads/jobs.smk" --cores "$W_J" --config "n=$W_N" \
        --nolock --quiet --scheduler greedy
}
