#!/usr/bin/env bash
# Compares self-heal-prepare builds on one bench log, interleaved, because this kind of VM's
# speed drifts over minutes: runs every build in turn, RUNS times, and prints the min and
# median wall time of each (from ci-remedy-bench's own timing).
#
#   scripts/bench-ab.sh [-n RUNS] [-l LOG] PREPARE_BINARY...
#
# LOG defaults to /tmp/bench1g.log, generated (1 GiB, seed 1) when missing. Build with
# `cargo build --release --bins` first; copy a build's self-heal-prepare aside to compare it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
log=/tmp/bench1g.log
while getopts "n:l:" opt; do
  case "$opt" in
    n) runs=$OPTARG ;;
    l) log=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] [-l LOG] PREPARE_BINARY..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
  echo "usage: $0 [-n RUNS] [-l LOG] PREPARE_BINARY..." >&2
  exit 2
fi
bench=./target/release/ci-remedy-bench
if [ ! -x "$bench" ]; then
  echo "$bench is missing: run cargo build --release --bins" >&2
  exit 1
fi
if [ ! -f "$log" ]; then
  "$bench" --output "$log" --prepare /bin/true >/dev/null 2>&1 || true
  [ -f "$log" ] || { echo "could not generate $log" >&2; exit 1; }
fi
declare -A times
for _ in $(seq "$runs"); do
  for b in "$@"; do
    line=$("$bench" --log "$log" --prepare "$b" 2>&1 | tail -1)
    t=$(sed -nE 's/.* in ([0-9.]+) s .*/\1/p' <<<"$line")
    [ -n "$t" ] || { echo "no timing from $b: $line" >&2; exit 1; }
    times[$b]="${times[$b]:-} $t"
  done
done
for b in "$@"; do
  tr ' ' '\n' <<<"${times[$b]}" | sed '/^$/d' | sort -n |
    awk -v b="$b" '{a[NR]=$1} END {printf "%s: min %.3f s, median %.3f s (%d runs)\n", b, a[1], a[int((NR+1)/2)], NR}'
done
