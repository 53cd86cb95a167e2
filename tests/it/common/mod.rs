//! Shared helpers for integration tests: hermetic commands for the real binaries.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (where fixtures live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Variables a hermetic child keeps from the test process: how to find programs, where a home
/// and temporary files are, and the locale. Everything else (`GITHUB_*`, `RUNNER_*`,
/// `ACTIONS_*`, `CI`, tokens, model keys, `CI_REMEDY_*` overrides, `DEVELOPER_AGENT_*`) is
/// dropped, so neither the host's CI nor a developer's shell can leak into a test.
pub const KEPT_ENV: [&str; 5] = ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"];

/// The one hermetic command builder of the integration tests: `path` with an environment
/// cleared down to [`KEPT_ENV`]. Every other helper (`heal_common::hermetic`,
/// `fix_support::hermetic`, `github_common::gh_bin`, `dashboard_support::dashboard`, …) starts
/// from this and only adds what its area needs.
pub fn bin(path: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(path);
    cmd.env_clear();
    for k in KEPT_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Parses `GITHUB_OUTPUT` heredoc entries into (name, value) pairs.
pub fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// Runs `cmd` with its stdout connected to a pipe whose read end is already closed, so its
/// first write to stdout fails with EPIPE (what `cmd | true` does, without the race). Stderr
/// is captured.
pub fn output_with_closed_stdout(mut cmd: Command) -> std::process::Output {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    cmd.stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped());
    cmd.output().expect("run")
}

/// Makes a FIFO at `path` (with `mkfifo`, no writer ever opens it).
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Runs `cmd` and kills it after 20 s (a step blocked on a FIFO must fail the test, not hang).
pub fn output_within(cmd: Command) -> std::process::Output {
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.timeout(std::time::Duration::from_secs(20));
    cmd.output().expect("run")
}
