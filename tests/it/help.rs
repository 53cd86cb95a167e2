//! Every binary's `--help` starts with what that binary does (not the crate's tagline), and
//! ends with its exit codes.

use crate::common::bin;

const BINS: &[(&str, &str)] = &[
    ("self-heal-prepare", env!("CARGO_BIN_EXE_self-heal-prepare")),
    ("self-heal-decide", env!("CARGO_BIN_EXE_self-heal-decide")),
    ("self-heal-execute", env!("CARGO_BIN_EXE_self-heal-execute")),
    ("fix-agent-prepare", env!("CARGO_BIN_EXE_fix-agent-prepare")),
    ("fix-agent-apply", env!("CARGO_BIN_EXE_fix-agent-apply")),
    ("fix-agent-fetch", env!("CARGO_BIN_EXE_fix-agent-fetch")),
    ("fix-agent-pr", env!("CARGO_BIN_EXE_fix-agent-pr")),
    ("ci-logs-ship", env!("CARGO_BIN_EXE_ci-logs-ship")),
    ("developer-agent", env!("CARGO_BIN_EXE_developer-agent")),
    ("ci-notify", env!("CARGO_BIN_EXE_ci-notify")),
    ("ci-comment", env!("CARGO_BIN_EXE_ci-comment")),
    ("ci-dashboard", env!("CARGO_BIN_EXE_ci-dashboard")),
    ("ci-remedy-eval", env!("CARGO_BIN_EXE_ci-remedy-eval")),
    ("ci-remedy-bench", env!("CARGO_BIN_EXE_ci-remedy-bench")),
    ("ci-remedy-schemas", env!("CARGO_BIN_EXE_ci-remedy-schemas")),
];

#[test]
fn every_help_starts_with_what_the_binary_does() {
    let tagline = env!("CARGO_PKG_DESCRIPTION");
    let mut firsts = std::collections::BTreeMap::new();
    for (name, path) in BINS {
        let out = bin(path).arg("--help").output().expect("run --help");
        assert!(out.status.success(), "{name} --help");
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or_default().to_string();
        assert!(!first.is_empty(), "{name}: empty first line");
        assert!(
            !tagline.starts_with(first.trim_end_matches('.')),
            "{name} --help starts with the crate's tagline: {first}"
        );
        assert!(
            text.contains("Exit codes") || text.contains("exit code"),
            "{name} --help does not explain its exit codes"
        );
        if let Some(other) = firsts.insert(first.clone(), name) {
            panic!("{name} and {other} start their --help the same way: {first}");
        }
    }
}
