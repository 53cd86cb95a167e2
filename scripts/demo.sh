#!/usr/bin/env bash
# Builds the binaries and runs the whole self-heal pipeline (prepare -> decide -> execute) on a
# bundled real failing GitHub Actions log, then points at the artifacts.
#
# Usage: bash scripts/demo.sh [LOG] [OUT_DIR]
#   LOG      default: fixtures/cidiff/cv_45/fail.log (a real raw GitHub Actions log, CiDiff dataset)
#   OUT_DIR  default: out/demo
set -euo pipefail
cd "$(dirname "$0")/.."
log_file="${1:-fixtures/cidiff/cv_45/fail.log}"
out="${2:-out/demo}"

# The debug profile: it shares the build with `cargo test` (dependencies are optimised anyway).
# cargo shows its progress on stderr; say first how long that can take.
if [ ! -x target/debug/self-heal-prepare ]; then
  echo "== building the binaries (the first build compiles about 250 crates: 5 to 6 minutes on 2 cores; later runs take seconds)" >&2
fi
cargo build --locked --bins
bin=target/debug
rm -rf -- "$out"
mkdir -p -- "$out"

# Outside GitHub Actions, run metadata is `local`; give the demo a run id so the report is named.
export GITHUB_RUN_ID="${GITHUB_RUN_ID:-demo}"

echo "== self-heal-prepare: why did it fail?"
"$bin/self-heal-prepare" --out "$out" --log "$log_file" || true
echo
echo "== self-heal-decide: may safe actions run? (policy: built-in defaults)"
"$bin/self-heal-decide" --out "$out" || true
echo
echo "== self-heal-execute: run what was decided"
"$bin/self-heal-execute" --out "$out" || true
echo
echo "artifacts:"
find "$out" -type f | sort | sed 's/^/  /'
