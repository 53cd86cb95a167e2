//! Issue 17 §3: `ci-quarantine add|list|expire` round trip. add and expire write a patch made by
//! the fix-agent guard (never the file itself); the patch is proven with `git apply`.

use std::path::Path;
use std::process::Output;

use crate::common::bin;
use crate::github_common::git;

/// Runs `ci-quarantine --repo REPO ARGS…` (hermetic).
pub(crate) fn q(repo: &Path, args: &[&str]) -> Output {
    bin(env!("CARGO_BIN_EXE_ci-quarantine"))
        .arg("--repo")
        .arg(repo)
        .args(args)
        .output()
        .expect("ci-quarantine")
}

/// The standard output of `o`, lossily decoded.
pub(crate) fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn apply(repo: &Path, patch: &Path) {
    let p = patch.display().to_string();
    git(repo, &["apply", "--check", &p]);
    git(repo, &["apply", &p]);
}

#[test]
fn add_list_expire_round_trip_through_guarded_patches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q"]);
    let outdir = dir.path().join("out");
    let patch = outdir.join("quarantine/patch-quarantine.diff");
    let o = outdir.display().to_string();

    let add = q(
        &repo,
        &[
            "add",
            "--test",
            "checkout > coupon",
            "--reason",
            "flaky sandbox",
            "--owner",
            "@alice",
            "--expires",
            "2026-12-31",
            "--today",
            "2026-12-01",
            "--out",
            &o,
        ],
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    assert!(
        !repo.join(".github/ci-remedy-quarantine.yml").exists(),
        "add never writes the file"
    );
    apply(&repo, &patch);
    let list = q(&repo, &["list", "--today", "2026-12-07"]);
    assert!(list.status.success());
    assert!(
        out(&list).contains(
            "active  checkout > coupon (owner @alice, added 2026-12-01, expires 2026-12-31)"
        ),
        "{}",
        out(&list)
    );

    // A second entry, then time passes: expire removes only the expired one.
    let add = q(
        &repo,
        &[
            "add",
            "--test",
            "b",
            "--reason",
            "r",
            "--owner",
            "@bob",
            "--expires",
            "2027-06-30",
            "--today",
            "2026-12-02",
            "--out",
            &o,
        ],
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    apply(&repo, &patch);
    let list = q(&repo, &["list", "--today", "2027-01-05"]);
    assert!(
        out(&list).contains("expired checkout > coupon"),
        "{}",
        out(&list)
    );
    let exp = q(&repo, &["expire", "--today", "2027-01-05", "--out", &o]);
    assert!(
        exp.status.success(),
        "{}",
        String::from_utf8_lossy(&exp.stderr)
    );
    assert!(out(&exp).contains("1 expired"), "{}", out(&exp));
    apply(&repo, &patch);
    let list = out(&q(&repo, &["list", "--today", "2027-01-05"]));
    assert!(
        !list.contains("coupon") && list.contains("active  b "),
        "{list}"
    );

    // Adding a test twice is a usage error.
    let again = q(
        &repo,
        &[
            "add",
            "--test",
            "b",
            "--reason",
            "r",
            "--owner",
            "o",
            "--expires",
            "2027-01-01",
            "--out",
            &o,
        ],
    );
    assert_eq!(again.status.code(), Some(2));
}
