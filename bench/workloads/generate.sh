# Generated workloads, each for N steps or jobs; sourced by bench/bench.sh.
# (The static ones live beside this file: map.yaml, map-config.yaml, jobs.smk.)
#
# Every tool starts one shell per job, `sh -c true` (true is a builtin):
# runnable's shell task runs `/bin/sh -c <command>`, make execs a recipe
# without shell syntax directly, ninja always runs `/bin/sh -c <command>`.
# So ninja's command is `true`: `sh -c true` there would start a second shell.

gen_linear_pipeline() { # N FILE: s1 -> s2 -> ... -> sN, each a shell `true`
    local i
    {
        echo "dag:"
        echo "  start_at: s1"
        echo "  steps:"
        for i in $(seq 1 "$1"); do
            echo "    s$i:"
            echo "      type: task"
            echo "      command_type: shell"
            echo "      command: \"true\""
            if [ "$i" -lt "$1" ]; then echo "      next: s$((i + 1))"; else echo "      next: success"; fi
        done
    } >"$2"
}

gen_items_params() { # N FILE: the parameters file for map.yaml
    seq 0 $(($1 - 1)) | awk 'BEGIN {printf "items: ["} {printf "%s%s", (NR > 1 ? ", " : ""), $1} END {print "]"}' >"$2"
}

gen_ninja() { # N FILE: N independent commands, each run as `/bin/sh -c true`
    local i
    {
        echo "rule t"
        echo "  command = true"
        for i in $(seq 1 "$1"); do echo "build o$i: t"; done
    } >"$2"
}

gen_make() { # N FILE: N independent phony targets, each exec'ing `sh -c true`
    local i
    {
        printf 'all:'
        for i in $(seq 1 "$1"); do printf ' o%d' "$i"; done
        printf '\n.PHONY: all'
        for i in $(seq 1 "$1"); do printf ' o%d' "$i"; done
        printf '\n'
        for i in $(seq 1 "$1"); do printf 'o%d:\n\t@sh -c true\n' "$i"; done
    } >"$2"
}
