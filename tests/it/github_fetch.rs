//! fix-agent-fetch against a loopback GitHub: listing with pagination, the 302 download,
//! retries, expired and tampered artifacts, and `--apply` with the real `git apply`.

use crate::github_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use github_common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_fix-agent-fetch");

/// A server for run 7 whose artifact 11 serves `zip`; the listing is two pages.
fn artifact_server(zip: Vec<u8>) -> Server {
    Server::start(move |r, base| {
        match (r.method.as_str(), r.route()) {
        ("GET", "/repos/o/r/actions/runs/7/artifacts") if !r.path.contains("page=2") => {
            Resp::json(200, json!({"total_count": 2, "artifacts": [
                {"id": 10, "name": "e2e-results", "size_in_bytes": 100, "expired": false}
            ]}))
            .with(
                "link",
                &format!("<{base}/repos/o/r/actions/runs/7/artifacts?per_page=100&page=2>; rel=\"next\", <{base}/repos/o/r/actions/runs/7/artifacts?per_page=100&page=2>; rel=\"last\""),
            )
        }
        ("GET", "/repos/o/r/actions/runs/7/artifacts") => Resp::json(200, json!({"total_count": 2, "artifacts": [
            {"id": 11, "name": "fix-agent", "size_in_bytes": zip.len(), "expired": false}
        ]})),
        ("GET", "/repos/o/r/actions/artifacts/11/zip") => Resp::json(302, json!({}))
            .with("location", &format!("{base}/storage/blob/11.zip?sig=abc")),
        ("GET", "/storage/blob/11.zip") => Resp::bytes(200, zip.clone()),
        _ => Resp::not_found(),
    }
    })
}

#[test]
fn fetches_checks_and_applies_with_git_apply() {
    let (repo, base) = repo();
    let (zip, patch) = good_artifact(repo.path(), &base);
    let server = artifact_server(zip);
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(BIN, Some(&server))
        .args(["--repo", "o/r", "--run", "7", "--apply", "--repo-dir"])
        .arg(repo.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The real git apply changed the checkout.
    let now = std::fs::read_to_string(repo.path().join("tests/login.spec.ts")).expect("read");
    assert_eq!(now, SPEC_AFTER);
    assert_eq!(
        std::fs::read_to_string(out.path().join("fix-agent/patch-7.diff")).expect("patch"),
        patch
    );
    // The PR body is printed quoted: its workflow command cannot start a line.
    assert!(
        stdout.contains("  | ::set-output name=x::pwned"),
        "{stdout}"
    );
    assert!(!stdout.lines().any(|l| l.starts_with("::")), "{stdout}");
    let reqs = server.requests();
    let lines = server.lines();
    assert_eq!(
        lines,
        vec![
            "GET /repos/o/r/actions/runs/7/artifacts?per_page=100",
            "GET /repos/o/r/actions/runs/7/artifacts?per_page=100&page=2",
            "GET /repos/o/r/actions/artifacts/11/zip",
            "GET /storage/blob/11.zip?sig=abc",
        ]
    );
    for r in &reqs[..3] {
        assert_eq!(r.header("authorization"), Some("Bearer test-token-123"));
        // octocrab always adds its own `octocrab` User-Agent line; ours is sent too.
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("user-agent") && v.starts_with("ci-remedy/")),
            "{:?}",
            r.headers
        );
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    }
    // The token never goes to the storage host's pre-signed URL... (same host here, but an
    // absolute Location: octocrab sends the token only for relative API paths).
    assert_eq!(reqs[3].header("authorization"), None);
}

fn run_fetch(
    server: &Server,
    repo: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    gh_bin(BIN, Some(server))
        .args(["--repo", "o/r", "--run", "7", "--repo-dir"])
        .arg(repo)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run")
}

fn assert_refused(
    o: &std::process::Output,
    needle: &str,
    out: &std::path::Path,
    repo: &std::path::Path,
) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
    assert!(!out.join("fix-agent").exists(), "nothing may be written");
    assert_eq!(
        std::fs::read_to_string(repo.join("tests/login.spec.ts")).expect("read"),
        SPEC_BEFORE
    );
}

#[test]
fn tampered_patch_sha_mismatch_is_refused() {
    let (repo, base) = repo();
    let (patch, f, a, r) = make_patch(repo.path(), "tests/login.spec.ts", SPEC_AFTER);
    let meta = metadata(&patch, (f, a, r), &base, "7", "test_only");
    // Someone swapped the patch after the metadata was written.
    let evil = patch.replace("#sign-in", "#evil");
    let zip = zip_of(&[
        ("patch-7.diff", evil.as_bytes()),
        ("metadata-7.json", &serde_json::to_vec(&meta).expect("json")),
    ]);
    let server = artifact_server(zip);
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &["--apply"]);
    assert_refused(&o, "sha256", out.path(), repo.path());
}

#[test]
fn traversal_and_extra_entries_are_refused() {
    let (repo, base) = repo();
    let (good, _) = good_artifact(repo.path(), &base);
    use ci_remedy::github::api::artifacts::{read_zip, EntryUse};
    let entries = read_zip(&good, |_| EntryUse::Read).expect("zip");
    let get = |n: &str| {
        entries
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .expect("entry")
    };
    let (p, m) = (get("patch-7.diff"), get("metadata-7.json"));
    for (extra, needle) in [
        ("../../.bashrc", "unsafe entry name"),
        ("run.sh", "unexpected entry"),
    ] {
        let zip = zip_of(&[
            ("patch-7.diff", &p),
            ("metadata-7.json", &m),
            (extra, b"echo pwned"),
        ]);
        let server = artifact_server(zip);
        let out = tempfile::tempdir().expect("out");
        let o = run_fetch(&server, repo.path(), out.path(), &["--apply"]);
        assert_refused(&o, needle, out.path(), repo.path());
    }
    // A corrupted (truncated) zip.
    let server = artifact_server(good[..good.len() / 2].to_vec());
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &[]);
    assert_refused(&o, "corrupted", out.path(), repo.path());
}

#[test]
fn metadata_that_disagrees_with_the_patch_is_refused() {
    let (repo, base) = repo();
    let (patch, f, a, r) = make_patch(repo.path(), "tests/login.spec.ts", SPEC_AFTER);
    // Counts and risk class that do not match what the patch does (sha is right).
    let mut meta = metadata(&patch, (f, a + 5, r), &base, "7", "test_only");
    meta.guardrails.files_changed = 3;
    let zip = zip_of(&[
        ("patch-7.diff", patch.as_bytes()),
        ("metadata-7.json", &serde_json::to_vec(&meta).expect("json")),
    ]);
    let server = artifact_server(zip);
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &["--apply"]);
    assert_refused(&o, "counts:", out.path(), repo.path());
}

#[test]
fn a_patch_the_guard_refuses_is_refused_even_with_matching_metadata() {
    let (repo, base) = repo();
    // A workflow file change, with metadata that claims all is well and a matching sha.
    let patch = "diff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml\nnew file mode 100644\n--- /dev/null\n+++ b/.github/workflows/ci.yml\n@@ -0,0 +1 @@\n+on: push\n";
    let meta = metadata(patch, (1, 1, 0), &base, "7", "test_only");
    let zip = zip_of(&[
        ("patch-7.diff", patch.as_bytes()),
        ("metadata-7.json", &serde_json::to_vec(&meta).expect("json")),
    ]);
    let server = artifact_server(zip);
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &["--apply"]);
    assert_refused(&o, "denied_builtin", out.path(), repo.path());
    assert!(!repo.path().join(".github/workflows/ci.yml").exists());
}

#[test]
fn expired_artifact_410_and_missing_run_404() {
    let (repo, _) = repo();
    let server = Server::start(|r, _| match r.route() {
        "/repos/o/r/actions/runs/7/artifacts" => Resp::json(
            200,
            json!({"total_count": 1, "artifacts": [
                {"id": 11, "name": "fix-agent", "size_in_bytes": 10, "expired": false}
            ]}),
        ),
        "/repos/o/r/actions/artifacts/11/zip" => {
            Resp::json(410, json!({"message": "Artifact has expired"}))
        }
        _ => Resp::not_found(),
    });
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &[]);
    assert_refused(&o, "has expired", out.path(), repo.path());
    // 410 is not retried.
    assert_eq!(
        server.lines().iter().filter(|l| l.contains("/zip")).count(),
        1
    );
    let o = gh_bin(BIN, Some(&server))
        .args(["--repo", "o/r", "--run", "8", "--repo-dir"])
        .arg(repo.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    assert_refused(&o, "run 8 not found", out.path(), repo.path());
}

#[test]
fn retries_5xx_and_secondary_rate_limit_then_succeeds() {
    let (repo, base) = repo();
    let (zip, _) = good_artifact(repo.path(), &base);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(move |r, base_url| match r.route() {
        "/repos/o/r/actions/runs/7/artifacts" => match c.fetch_add(1, Ordering::SeqCst) {
            0 => Resp::json(502, json!({"message": "Bad Gateway"})),
            1 => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("time")
                    .as_secs();
                Resp::json(
                    403,
                    json!({"message": "You have exceeded a secondary rate limit."}),
                )
                .with("x-ratelimit-remaining", "0")
                .with("x-ratelimit-reset", &now.to_string())
            }
            _ => Resp::json(
                200,
                json!({"total_count": 1, "artifacts": [
                    {"id": 11, "name": "fix-agent", "size_in_bytes": 10, "expired": false}
                ]}),
            ),
        },
        "/repos/o/r/actions/artifacts/11/zip" => {
            Resp::json(302, json!({})).with("location", &format!("{base_url}/dl/11"))
        }
        "/dl/11" => Resp::bytes(200, zip.clone()),
        _ => Resp::not_found(),
    });
    let out = tempfile::tempdir().expect("out");
    let start = std::time::Instant::now();
    let o = run_fetch(&server, repo.path(), out.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "502, 403, then 200");
    assert!(out.path().join("fix-agent/metadata-7.json").exists());
}

#[test]
fn the_storage_download_is_retried_like_any_request() {
    let (repo, base) = repo();
    let (zip, _) = good_artifact(repo.path(), &base);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(move |r, base_url| match r.route() {
        "/repos/o/r/actions/runs/7/artifacts" => Resp::json(
            200,
            json!({"total_count": 1, "artifacts": [
                {"id": 11, "name": "fix-agent", "size_in_bytes": 10, "expired": false}
            ]}),
        ),
        "/repos/o/r/actions/artifacts/11/zip" => {
            Resp::json(302, json!({})).with("location", &format!("{base_url}/dl/11"))
        }
        "/dl/11" => match c.fetch_add(1, Ordering::SeqCst) {
            0 => Resp::json(429, json!({"message": "slow down"})).with("retry-after", "0"),
            1 => Resp::json(503, json!({"message": "unavailable"})),
            _ => Resp::bytes(200, zip.clone()),
        },
        _ => Resp::not_found(),
    });
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "429, 503, then 200");
    for r in server.requests().iter().filter(|r| r.route() == "/dl/11") {
        assert_eq!(r.header("authorization"), None);
    }
}

#[test]
fn rate_limit_beyond_the_budget_fails_at_once_with_a_clear_error() {
    let (repo, _) = repo();
    let server = Server::start(|_, _| {
        Resp::json(429, json!({"message": "API rate limit exceeded"})).with("retry-after", "3600")
    });
    let out = tempfile::tempdir().expect("out");
    let start = std::time::Instant::now();
    let o = run_fetch(&server, repo.path(), out.path(), &[]);
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    assert_refused(&o, "rate limited (429)", out.path(), repo.path());
    assert_eq!(server.requests().len(), 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("test-token-123"), "{err}");
}

#[test]
fn apply_refuses_another_head_unless_3way() {
    let (repo, base) = repo();
    let (zip, _) = good_artifact(repo.path(), &base);
    // Move HEAD on with an unrelated commit.
    std::fs::write(repo.path().join("src/app.ts"), "export const x = 2;\n").expect("write");
    git(repo.path(), &["commit", "-qam", "later"]);
    let server = artifact_server(zip);
    let out = tempfile::tempdir().expect("out");
    let o = run_fetch(&server, repo.path(), out.path(), &["--apply"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not the patch's base"), "{err}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("tests/login.spec.ts")).expect("read"),
        SPEC_BEFORE
    );
    let o = run_fetch(&server, repo.path(), out.path(), &["--apply", "--3way"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(repo.path().join("tests/login.spec.ts")).expect("read"),
        SPEC_AFTER
    );
}

#[test]
fn pr_mode_picks_the_newest_run_with_an_artifact_and_from_dir_works_offline() {
    let (repo, base) = repo();
    let (zip, patch) = good_artifact(repo.path(), &base);
    let head = "a".repeat(40);
    let h2 = head.clone();
    let server = Server::start(move |r, base_url| match r.route() {
        "/repos/o/r/pulls/5" => Resp::json(
            200,
            json!({"number": 5, "head": {"ref": "feature", "sha": h2}}),
        ),
        "/repos/o/r/actions/runs" => Resp::json(
            200,
            json!({"total_count": 2, "workflow_runs": [
                {"id": 9, "head_sha": h2}, {"id": 7, "head_sha": h2}
            ]}),
        ),
        "/repos/o/r/actions/runs/9/artifacts" => {
            Resp::json(200, json!({"total_count": 0, "artifacts": []}))
        }
        "/repos/o/r/actions/runs/7/artifacts" => Resp::json(
            200,
            json!({"total_count": 1, "artifacts": [
                {"id": 11, "name": "fix-agent-7", "size_in_bytes": 10, "expired": false}
            ]}),
        ),
        "/repos/o/r/actions/artifacts/11/zip" => {
            Resp::json(302, json!({})).with("location", &format!("{base_url}/dl/11"))
        }
        "/dl/11" => Resp::bytes(200, zip.clone()),
        _ => Resp::not_found(),
    });
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(BIN, Some(&server))
        .args(["--repo", "o/r", "--pr", "5", "--repo-dir"])
        .arg(repo.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = server.lines();
    assert_eq!(lines[0], "GET /repos/o/r/pulls/5");
    assert_eq!(
        lines[1],
        format!("GET /repos/o/r/actions/runs?head_sha={head}&per_page=100")
    );
    assert!(lines.contains(&"GET /repos/o/r/actions/artifacts/11/zip".to_string()));

    // Offline: the directory gh run download wrote; no server, no token.
    let dir = out.path().join("fix-agent");
    let o = gh_bin(BIN, None)
        .arg("--from-dir")
        .arg(&dir)
        .arg("--repo-dir")
        .arg(repo.path())
        .arg("--out")
        .arg(tempfile::tempdir().expect("o2").path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        dir.join("patch-7.diff"),
        patch.replace("sign-in", "sign-out"),
    )
    .expect("write");
    let o = gh_bin(BIN, None)
        .arg("--from-dir")
        .arg(&dir)
        .arg("--repo-dir")
        .arg(repo.path())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn from_dir_refuses_a_file_name_that_would_print_a_workflow_command() {
    let (repo, base) = repo();
    let (patch, f, a, r) = make_patch(repo.path(), "tests/login.spec.ts", SPEC_AFTER);
    // A downloaded directory whose patch file name carries a newline and a workflow command;
    // the metadata names it, so every other check agrees.
    let name = "patch-7\n::warning::pwned.diff";
    let mut meta = metadata(&patch, (f, a, r), &base, "7", "test_only");
    meta.patch_file = name.into();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join(name), &patch).expect("write");
    std::fs::write(
        dir.path().join("metadata-7.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("write");
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(BIN, None)
        .arg("--from-dir")
        .arg(dir.path())
        .arg("--repo-dir")
        .arg(repo.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stdout.lines().any(|l| l.trim_start().starts_with("::")),
        "{stdout}"
    );
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("unsafe entry name"), "{stderr}");
    assert!(!out.path().join("fix-agent").exists());
}

#[test]
fn a_bad_client_setting_names_its_variable_not_the_api_url() {
    let (repo, _) = repo();
    let server = Server::start(|_, _| Resp::not_found());
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(BIN, Some(&server))
        .env("CI_REMEDY_GITHUB_RETRIES", "many")
        .args(["--repo", "o/r", "--run", "7", "--repo-dir"])
        .arg(repo.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("CI_REMEDY_GITHUB_RETRIES"), "{err}");
    assert!(!err.contains("GITHUB_API_URL"), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn no_token_is_a_clear_error() {
    let (repo, _) = repo();
    let o = gh_bin(BIN, None)
        .args(["--repo", "o/r", "--run", "7", "--repo-dir"])
        .arg(repo.path())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: no GitHub token") && err.contains("help:"),
        "{err}"
    );
}
