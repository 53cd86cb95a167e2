#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls it): installs what the tests use as
# real clients, then runs `cargo test --locked`. Extra arguments go to cargo test.
#
# Real clients: git (git apply --check), patch (patch -p1), bash (the composite action's
# scripts), Debian's chromium and node/npm with playwright-core pinned by
# tests/browser/package-lock.json (the dashboard's browser check; no browser is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in git patch bash chromium node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      node) missing+=(nodejs) ;;
      *) missing+=("$tool") ;;
    esac
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "==> npm ci --prefix tests/browser"
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

# Tests create commits in fixture repositories: give git an identity when none is configured.
if ! git config user.email >/dev/null 2>&1; then
  export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-ci-remedy tests}"
  export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tests@ci-remedy.invalid}"
  export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}"
  export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"
fi

echo "==> cargo test --locked"
cargo test --locked "$@"
