#!/usr/bin/env bash
# Runs the ci-remedy steps the composite action's `mode` input names.
#
# Inputs arrive only as environment variables (INPUT_*), never spliced into the script. They are
# validated here: `mode`, `fail-on-error` and `history-from-api` against fixed lists; paths are
# passed as separate arguments, logs after `--`, so a path can never become an option or a command.
# The binaries write step outputs, the job summary and annotations themselves.
set -uo pipefail

bin="${CI_REMEDY_BIN:?CI_REMEDY_BIN is not set (the install step failed?)}"
mode="${INPUT_MODE:-self-heal}"
out="${INPUT_OUT:-.}"
fail_on_error="${INPUT_FAIL_ON_ERROR:-false}"
history_from_api="${INPUT_HISTORY_FROM_API:-true}"
baseline="${INPUT_BASELINE:-auto}"

case "$fail_on_error" in
  true|false) ;;
  *) echo "::error title=ci-remedy::fail-on-error must be true or false"; exit 2 ;;
esac
case "$history_from_api" in
  true|false) ;;
  *) echo "::error title=ci-remedy::history-from-api must be true or false"; exit 2 ;;
esac
case "$baseline" in
  auto|none) ;;
  *) echo "::error title=ci-remedy::baseline must be auto or none"; exit 2 ;;
esac
smoke_fail="${INPUT_SMOKE_FAIL_ON_FAILURE:-false}"
case "$smoke_fail" in
  true|false) ;;
  *) echo "::error title=ci-remedy::smoke-fail-on-failure must be true or false"; exit 2 ;;
esac
case "$mode" in
  self-heal|fix-agent|all|prepare|decide|execute|fix-prepare|fix-apply|dashboard|check-patch|comment|smoke) ;;
  *)
    echo "::error title=ci-remedy::mode must be one of self-heal, fix-agent, all, prepare, decide, execute, fix-prepare, fix-apply, dashboard, check-patch, comment, smoke"
    exit 2
    ;;
esac
pr="${INPUT_PR:-}"
if [ -n "$pr" ] && ! [[ "$pr" =~ ^[1-9][0-9]{0,9}$ ]]; then
  echo "::error title=ci-remedy::the pr input must be a pull request number"
  exit 2
fi
case "$out" in
  ""|-*) echo "::error title=ci-remedy::the out input must be a directory path not starting with '-'"; exit 2 ;;
esac

# Reads a newline-separated input into the named array, dropping blank lines and surrounding spaces.
lines_to_array() {
  local -n arr="$1"
  local line
  arr=()
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -n "$line" ] && arr+=("$line")
  done <<< "${2:-}"
}

# Adds `--flag=value` for an optional single path (the `=` form keeps a value starting with `-`
# from being read as an option).
opt() {
  local -n arr="$1"
  [ -n "${3:-}" ] && arr+=("$2=$3")
  return 0
}

status=0
step() {
  local name="$1"; shift
  echo "::group::ci-remedy $name"
  "$bin/$name" "$@"
  local code=$?
  echo "::endgroup::"
  if [ "$code" -ne 0 ]; then
    echo "::warning title=ci-remedy::$name exited with code $code (see its log above)"
    [ "$status" -eq 0 ] && status=$code
  fi
  return 0
}

common=(--out="$out")
policy=()
opt policy --policy "${INPUT_POLICY:-}"

run_prepare() {
  local logs junit pw args=("${common[@]}" "${policy[@]}")
  lines_to_array logs "${INPUT_LOGS:-}"
  lines_to_array junit "${INPUT_JUNIT:-}"
  lines_to_array pw "${INPUT_PLAYWRIGHT_REPORT:-}"
  local p
  for p in "${junit[@]}"; do args+=("--junit=$p"); done
  for p in "${pw[@]}"; do args+=("--playwright-report=$p"); done
  # An explicit baseline-log wins; else `baseline: auto` finds the last green run of this job
  # through the API (best effort: the context's `baseline` says why when none was used).
  if [ -n "${INPUT_BASELINE_LOG:-}" ]; then
    opt args --baseline-log "${INPUT_BASELINE_LOG:-}"
  elif [ "$baseline" = auto ]; then
    args+=(--baseline-from-api)
  fi
  opt args --developer-agent-response "${INPUT_DEVELOPER_AGENT_RESPONSE:-}"
  opt args --smoke-report "${INPUT_SMOKE_REPORT:-}"
  # Flaky tests across attempts: a directory of reports, else the artifacts of this run's
  # attempts through the API (best effort: the context's tests.attempts_detail says why).
  if [ -n "${INPUT_ATTEMPT_REPORTS:-}" ]; then
    opt args --attempt-reports "${INPUT_ATTEMPT_REPORTS:-}"
  else
    opt args --attempt-reports-from-api "${INPUT_ATTEMPT_REPORTS_FROM_API:-}"
  fi
  step self-heal-prepare "${args[@]}" -- "${logs[@]}"
}
# Earlier self-heal attempts of other runs count toward max-attempts (best effort: without API
# access the gate says so and only the run attempt counts).
run_decide() {
  local args=("${common[@]}" "${policy[@]}")
  [ "$history_from_api" = true ] && args+=(--history-from-api --history-best-effort)
  step self-heal-decide "${args[@]}"
}
run_execute() { step self-heal-execute "${common[@]}" "${policy[@]}"; }
run_fix_prepare() {
  local args=("${common[@]}" "${policy[@]}")
  opt args --instructions "${INPUT_INSTRUCTIONS:-}"
  step fix-agent-prepare "${args[@]}"
}
run_fix_apply() { step fix-agent-apply "${common[@]}" "${policy[@]}"; }
run_dashboard() {
  local artifacts="${INPUT_ARTIFACTS:-$out}"
  step ci-dashboard --artifacts="$artifacts" --out="$out/dashboard"
}
# Re-checks a downloaded (untrusted) fix-agent artifact: zip layout, sha256, and the guard on the
# patch text itself. The checked copy lands in <out>/fix-agent/.
run_check_patch() {
  local artifacts="${INPUT_ARTIFACTS:-}"
  if [ -z "$artifacts" ]; then
    echo "::error title=ci-remedy::check-patch mode needs the artifacts input (the downloaded fix-agent artifact)"
    exit 2
  fi
  step fix-agent-fetch --from-dir="$artifacts" "${policy[@]}" --out="$out"
}
# ci-smoke exits 3 for failed checks only with --fail-on-failure: that fails the job on
# purpose, whatever fail-on-error says.
run_smoke() {
  local args=("${common[@]}" "--checks=${INPUT_SMOKE_CHECKS:-.github/ci-remedy-smoke.yml}")
  opt args --history "${INPUT_SMOKE_HISTORY:-}"
  [ "$smoke_fail" = true ] && args+=(--fail-on-failure)
  echo "::group::ci-remedy ci-smoke"
  "$bin/ci-smoke" "${args[@]}"
  local code=$?
  echo "::endgroup::"
  if [ "$code" -eq 3 ]; then
    echo "::error title=ci-remedy::smoke validation failed and smoke-fail-on-failure is true"
    exit 3
  elif [ "$code" -ne 0 ]; then
    echo "::warning title=ci-remedy::ci-smoke exited with code $code (see its log above)"
    [ "$status" -eq 0 ] && status=$code
  fi
  return 0
}
run_comment() {
  local args=(--dir="$out")
  [ -n "$pr" ] && args+=(--pr="$pr")
  step ci-comment "${args[@]}"
}

case "$mode" in
  self-heal) run_prepare; run_decide; run_execute ;;
  fix-agent)
    [ -f "$out/self-heal/context.json" ] || run_prepare
    run_fix_prepare; run_fix_apply ;;
  all) run_prepare; run_decide; run_execute; run_fix_prepare; run_fix_apply ;;
  prepare) run_prepare ;;
  decide) run_decide ;;
  execute) run_execute ;;
  fix-prepare) run_fix_prepare ;;
  fix-apply) run_fix_apply ;;
  dashboard) run_dashboard ;;
  check-patch) run_check_patch ;;
  comment) run_comment ;;
  smoke) run_smoke ;;
esac

if [ "$status" -ne 0 ] && [ "$fail_on_error" = true ]; then
  echo "::error title=ci-remedy::a step could not do its job (exit code $status) and fail-on-error is true"
  exit "$status"
fi
exit 0
