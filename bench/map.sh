# Map node run concurrently (workloads/map.yaml with map-config.yaml:
# enable_parallel, max_parallel 2); sourced by bench/bench.sh.
#
#   map:       MAP_N items, one shell `true` each, against MAP_N independent
#              `sh -c true` commands at -j2, with the default run-log store
#              (file-system) and again with chunked-fs;
#   map-flat:  FLAT_N and 10 x FLAT_N items: time per item must stay flat,
#              and the engine's peak RSS at 10 x FLAT_N under 64 MB.

MAP_JOBS=2 # must match max_parallel in workloads/map-config.yaml

section_map() {
    local n=$MAP_N r check
    say "== map, $n items, -j$MAP_JOBS"
    W_KIND=map W_J=$MAP_JOBS W_N=$n
    pick_tools "map$n" "$W_N"
    measure "map$n" "$REPS_SHORT" runnable runnable_chunked "${PICKED[@]}"
    row_values time "map$n"
    add_row "map $(fmt_int "$n") items -j$MAP_JOBS" "$(map_check)"
    # The same row for the chunked-fs store, against the same tools' runs.
    V[runnable]=${RES[map$n:runnable_chunked]:-}
    if is_num "${V[runnable]}"; then F[runnable]=$(fmt_sec "${V[runnable]}"); fi
    add_row "  the same, chunked-fs store" "$(map_check)"
}

map_check() {
    local r
    r=$(ratio_to ninja)
    if [ -n "$r" ]; then
        echo "<=1.3 vs ninja (aim 1.1): $(verdict "$r" 1.3)"
    else
        echo "no ninja figure to compare"
    fi
}

section_map_flat() {
    local n=$FLAT_N big=$((10 * FLAT_N)) small_rss
    say "== map, $n and $big items, -j$MAP_JOBS, peak RSS"
    if [ "$RSS_METHOD" = none ]; then
        note "no GNU time nor /usr/bin/python3: peak RSS not measured (as root: apt-get install time)"
    fi
    W_KIND=map W_J=$MAP_JOBS
    WANT_RSS=1
    W_N=$n
    pick_tools "map$n+rss" "$W_N"
    measure "map$n+rss" "$REPS_SHORT" runnable "${PICKED[@]}"
    W_N=$big
    pick_tools "map$big+rss" "$W_N"
    measure "map$big+rss" "$REPS_LONG" runnable "${PICKED[@]}"
    WANT_RSS=0

    row_values flat "map$n+rss" "$n" "map$big+rss" "$big"
    add_row "map per item, $(fmt_int "$big") vs $(fmt_int "$n")" "<=1.3: $(verdict "${V[runnable]}" 1.3)"

    small_rss=${RSS[map$n+rss:runnable]:-}
    row_values rss "map$big+rss"
    add_row "map $(fmt_int "$big") items, peak RSS" \
        "<64 MB: $(verdict "${V[runnable]}" 65535)${small_rss:+ (at $(fmt_int "$n"): $(fmt_mb "$small_rss"))}"
}
