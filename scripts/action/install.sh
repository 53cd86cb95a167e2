#!/usr/bin/env bash
# Installs the ci-remedy binaries for the composite action and writes `bin-dir` to GITHUB_OUTPUT.
#
# Order: CI_REMEDY_BIN_DIR (an explicit directory of binaries) > a prebuilt release archive whose
# sha256 is pinned in dist/sha256sums.txt > `cargo build --release --locked` from the action's
# own checkout. The log says which path was taken.
#
# Environment: GITHUB_ACTION_PATH, GITHUB_OUTPUT, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP (from the
# runner); CI_REMEDY_VERSION and CI_REMEDY_BIN_DIR (from the action inputs).
set -euo pipefail

action_path="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set (run this through action.yml)}"
tmp="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
bins=(self-heal-prepare self-heal-decide self-heal-execute fix-agent-prepare fix-agent-apply fix-agent-fetch ci-comment ci-dashboard)

emit() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'bin-dir=%s\n' "$1" >> "$GITHUB_OUTPUT"
  fi
}

check_dir() {
  local dir="$1" b
  for b in "${bins[@]}"; do
    if [ ! -x "$dir/$b" ]; then
      echo "::error title=ci-remedy install::$b not found or not executable in the bin-dir input"
      return 1
    fi
  done
}

# 1. Explicit binaries.
if [ -n "${CI_REMEDY_BIN_DIR:-}" ]; then
  dir="$(cd -- "$CI_REMEDY_BIN_DIR" 2>/dev/null && pwd)" || {
    echo "::error title=ci-remedy install::the bin-dir input is not a directory"
    exit 1
  }
  check_dir "$dir"
  echo "ci-remedy: using the binaries in the bin-dir input (no download, no build)"
  emit "$dir"
  exit 0
fi

version="${CI_REMEDY_VERSION:-}"
case "$version" in
  ""|source) ;;
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *)
    echo "::error title=ci-remedy install::the version input must be empty, 'source' or a release tag like v0.1.0"
    exit 1
    ;;
esac

# 2. A prebuilt archive pinned in dist/sha256sums.txt.
target=""
case "${RUNNER_OS:-}-${RUNNER_ARCH:-}" in
  Linux-X64) target=x86_64-unknown-linux-musl ;;
  Linux-ARM64) target=aarch64-unknown-linux-musl ;;
  macOS-ARM64) target=aarch64-apple-darwin ;;
  macOS-X64) target=x86_64-apple-darwin ;;
esac
if [ "$version" != source ] && [ -n "$target" ]; then
  sums="$action_path/dist/sha256sums.txt"
  line=""
  if [ -n "$version" ]; then
    line="$(grep -E "^[0-9a-f]{64}  ci-remedy-${version//./\\.}-${target}\.tar\.gz$" "$sums" || true)"
  else
    line="$(grep -E "^[0-9a-f]{64}  ci-remedy-v[0-9.]+-${target}\.tar\.gz$" "$sums" | tail -n 1 || true)"
  fi
  if [ -n "$line" ]; then
    sum="${line%%  *}"
    archive="${line#*  }"
    tag="${archive#ci-remedy-}"; tag="${tag%-"$target".tar.gz}"
    url="${GITHUB_SERVER_URL:-https://github.com}/${CI_REMEDY_REPOSITORY:-ci-remedy/ci-remedy}/releases/download/${tag}/${archive}"
    dest="$tmp/ci-remedy-$tag"
    mkdir -p "$dest"
    echo "ci-remedy: installing prebuilt $archive (sha256 pinned in dist/sha256sums.txt)"
    curl --fail --silent --show-error --location --retry 3 --max-time 120 \
      -o "$dest/$archive" "$url"
    echo "$sum  $dest/$archive" | sha256sum --check --status || {
      echo "::error title=ci-remedy install::sha256 mismatch for $archive; refusing to install"
      exit 1
    }
    tar -xzf "$dest/$archive" -C "$dest"
    check_dir "$dest"
    emit "$dest"
    exit 0
  fi
  [ "$version" = "" ] || echo "ci-remedy: no pinned archive for $version on $target"
fi

# 3. Build from the action's checkout.
echo "ci-remedy: building from source (cargo build --release --locked) in $action_path"
if ! command -v cargo >/dev/null 2>&1; then
  echo "::error title=ci-remedy install::no prebuilt archive matches this runner and cargo is not installed"
  exit 1
fi
target_dir="$tmp/ci-remedy-target"
cargo build --release --locked --quiet --bins \
  --manifest-path "$action_path/Cargo.toml" --target-dir "$target_dir"
check_dir "$target_dir/release"
emit "$target_dir/release"
