//! Shared helpers for the dashboard tests: the real `ci-dashboard` binary in a hermetic
//! environment (everything cleared but PATH and HOME).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_ci-dashboard");

/// The committed fixture artifact tree.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/dashboard/artifacts")
}

/// `ci-dashboard` with only PATH and HOME from the host; GITHUB_STEP_SUMMARY points into `root`
/// when `summary` is true.
pub fn dashboard(root: &Path, summary: bool) -> Command {
    let mut c = crate::common::bin(BIN);
    c.env("HOME", root);
    if summary {
        c.env("GITHUB_STEP_SUMMARY", root.join("step_summary"));
    }
    c.current_dir(root);
    c
}

/// Builds the site from `artifacts` into `<root>/site`.
pub fn build(root: &Path, artifacts: &Path) -> Output {
    dashboard(root, true)
        .arg("--artifacts")
        .arg(artifacts)
        .arg("--out")
        .arg(root.join("site"))
        .output()
        .expect("ci-dashboard runs")
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let dest = to.join(e.path().strip_prefix(from).expect("rel"));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}
