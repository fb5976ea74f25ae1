#!/bin/bash
# Side-by-side benchmark: runnable vs ninja, GNU make and snakemake running
# the same `sh -c true` commands.  Prints one table of ratios.
#
#   bench/bench.sh [OPTIONS] [BUILD_DIR]   (default: the source tree's in-place build)
#
#   --quick          sizes / 10, fewer repetitions: a smoke run, limits do not apply
#   --only LIST      sections, comma-separated (default: all):
#                      linear    1,000-step linear chain at -j1; 10,000 steps: flat
#                      map       map over 2,000 items, 2 at a time, vs -j2
#                      map-flat  map over 1,000 and 10,000 items: flat, peak RSS
#                      latency   `runnable execute` of a one-step pipeline
#   --tools LIST     other tools (default: ninja,make,snakemake)
#   --reps N         repetitions of every timed figure (default 5; 3 for 10x sizes)
#   --snakemake-max N  largest workload given to snakemake (default 2000; its
#                    scheduler is quadratic: about an hour at 10,000 jobs)
#   --timeout S      give up on one run after S seconds (default 1800)
#   --no-install     do not apt-get install missing tools
#
# Missing tools (ninja-build, make, snakemake, time) are installed with apt-get
# when running as root; otherwise the table says what is skipped.  Every figure
# is a median of repetitions run in turn with the other tools' (side by side).
# Exit status: 0, or 1 when a runnable run failed.
set -eu
export LC_ALL=C # awk and $EPOCHREALTIME: a '.' as decimal point
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/lib.sh"
. "$BENCH_DIR/workloads/generate.sh"
. "$BENCH_DIR/runners.sh"
. "$BENCH_DIR/table.sh"
. "$BENCH_DIR/linear.sh"
. "$BENCH_DIR/map.sh"
. "$BENCH_DIR/latency.sh"

usage() { sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; }

scale=1 reps="" only="linear,map,map-flat,latency" tools="ninja,make,snakemake" build=""
SNAKEMAKE_MAX=2000 TIMEOUT=1800 INSTALL=1 quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 scale=10 ;;
    --only) only=$2 && shift ;;
    --tools) tools=$2 && shift ;;
    --reps) reps=$2 && shift ;;
    --snakemake-max) SNAKEMAKE_MAX=$2 && shift ;;
    --timeout) TIMEOUT=$2 && shift ;;
    --no-install) INSTALL=0 ;;
    -h | --help) usage && exit 0 ;;
    -*) echo "bench.sh: unknown option $1" >&2 && usage >&2 && exit 2 ;;
    *) build=$1 ;;
    esac
    shift
done
LINEAR_N=$((1000 / scale)) MAP_N=$((2000 / scale)) FLAT_N=$((1000 / scale))
if [ $quick = 1 ]; then
    REPS_SHORT=3 REPS_LONG=3 REPS_LATENCY=5
else
    REPS_SHORT=5 REPS_LONG=3 REPS_LATENCY=10
fi
if [ -n "$reps" ]; then REPS_SHORT=$reps REPS_LONG=$reps REPS_LATENCY=$reps; fi

find_runnable "${build:-$(cd "$BENCH_DIR/.." && pwd)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

IFS=, read -r -a TOOLS <<<"$tools"
IFS=, read -r -a SECTIONS <<<"$only"
for s in "${SECTIONS[@]}"; do
    case $s in linear | map | map-flat | latency) ;; *) echo "bench.sh: no section $s" >&2 && exit 2 ;; esac
done
for t in "${TOOLS[@]}"; do
    case $t in ninja | make | snakemake) ;; *) echo "bench.sh: no tool $t" >&2 && exit 2 ;; esac
done
for t in "${OTHERS[@]}"; do
    case ",$tools," in *",$t,"*) ;; *) SKIPPED[$t]="not selected" ;; esac
done
case ",$only," in *,map-flat,*) ensure_tools "${TOOLS[@]}" time ;; *) ensure_tools "${TOOLS[@]}" ;; esac
RSS_METHOD=$(rss_method)
RN_VERSION=$(tool_version runnable)
sel=()
for t in "${TOOLS[@]}"; do if [ -z "${SKIPPED[$t]:-}" ]; then sel+=("$t"); fi; done
TOOLS=(${sel[@]+"${sel[@]}"})

for s in linear map map-flat latency; do # the table's order, whatever --only's
    case ",$only," in *",$s,"*) ;; *) continue ;; esac
    case $s in
    linear) section_linear ;;
    map) section_map ;;
    map-flat) section_map_flat ;;
    latency) section_latency ;;
    esac
done

echo "machine: $(nproc) cores, Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "runnable: $RN${RN_VERSION:+ ($RN_VERSION)}"
for t in "${TOOLS[@]}"; do echo "$t: $(tool_version "$t")"; done
echo "figures: median of $REPS_SHORT runs ($REPS_LONG at 10x sizes, $REPS_LATENCY for the one-step pipeline); peak RSS: $RSS_METHOD"
if [ $quick = 1 ]; then echo "--quick: sizes / 10, a smoke run: the limits in the check column do not apply"; fi
echo
print_table
if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    printf '%s\n' "${NOTES[@]}"
fi
for k in "${!RES[@]}"; do
    case $k:${RES[$k]} in *:runnable:FAILED* | *:runnable:TIMEOUT*) exit 1 ;; esac
done
exit 0
