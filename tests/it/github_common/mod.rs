//! A GitHub REST stand-in on 127.0.0.1 for the integration tests, and fixtures (a git
//! repository, a fix-agent patch with its metadata, artifact zips).
//!
//! The server is the tests' one stub server ([`crate::common::http::Server`]): each test passes
//! a routing closure that answers with the documented shapes, and every request (method, path
//! with query, headers, body) is recorded so tests assert what was sent, not only exit codes.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ci_remedy::artifact::{
    Caps, Category, FixMetadata, GuardDecision, Guardrails, RunInfo, ToolInfo, Validation,
    ValidationStatus, FIX_METADATA_SCHEMA,
};
use ci_remedy::fix::recheck::check_patch;
use ci_remedy::policy::fix_agent::FixAgentPolicy;

pub use crate::common::http::{Req, Resp, Server};

/// The real binary with a hermetic environment pointed at `server` (a token, fast retries).
pub fn gh_bin(path: &str, server: Option<&Server>) -> Command {
    let mut cmd = crate::common::bin(path);
    if let Some(s) = server {
        cmd.env("GITHUB_API_URL", &s.url)
            .env("GITHUB_TOKEN", "test-token-123")
            .env("CI_REMEDY_GITHUB_BACKOFF", "10ms")
            .env("CI_REMEDY_GITHUB_SECONDARY_WAIT", "50ms")
            .env("CI_REMEDY_GITHUB_RETRY_BUDGET", "3s")
            .env("CI_REMEDY_GITHUB_TIMEOUT", "5s");
    }
    cmd
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub const SPEC_BEFORE: &str = "import { test } from '@playwright/test';\n\ntest('login', async ({ page }) => {\n  await page.goto('/login');\n  await page.click('#login');\n});\n";
pub const SPEC_AFTER: &str = "import { test } from '@playwright/test';\n\ntest('login', async ({ page }) => {\n  await page.goto('/login');\n  await page.click('#sign-in');\n});\n";

/// A git repository with `tests/login.spec.ts` and `src/app.ts` committed; returns (dir, HEAD).
pub fn repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    git(d, &["init", "-q"]);
    std::fs::create_dir_all(d.join("tests")).expect("mkdir");
    std::fs::create_dir_all(d.join("src")).expect("mkdir");
    std::fs::write(d.join("tests/login.spec.ts"), SPEC_BEFORE).expect("write");
    std::fs::write(d.join("src/app.ts"), "export const x = 1;\n").expect("write");
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "init"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    (dir, head)
}

/// A guard-made patch of `path` from its committed content to `after`, with its plan counts.
pub fn make_patch(repo: &Path, path: &str, after: &str) -> (String, u32, u32, u32) {
    let before = std::fs::read_to_string(repo.join(path)).expect("read");
    std::fs::write(repo.join(path), after).expect("write");
    let diff = git(repo, &["diff"]) + "\n";
    std::fs::write(repo.join(path), before).expect("restore");
    let plan = check_patch(&diff, repo, &FixAgentPolicy::default());
    assert_eq!(plan.decision, GuardDecision::Accepted, "{:?}", plan.refused);
    (
        plan.patch,
        plan.files_changed,
        plan.lines_added,
        plan.lines_removed,
    )
}

/// Metadata for `patch` (as fix-agent-apply writes it) for run `run_id` at `base`.
pub fn metadata(
    patch: &str,
    counts: (u32, u32, u32),
    base: &str,
    run_id: &str,
    class: &str,
) -> FixMetadata {
    let risk: ci_remedy::artifact::Risk = serde_json::from_value(serde_json::json!({
        "class": class, "score": 14, "files": ["tests/login.spec.ts: test_only"]
    }))
    .expect("risk");
    FixMetadata {
        schema: FIX_METADATA_SCHEMA.into(),
        tool: ToolInfo::new("fix-agent-apply"),
        run: RunInfo::from_lookup(|k| (k == "GITHUB_RUN_ID").then(|| run_id.to_string())),
        base_sha: base.into(),
        category: Category::TestAssertion,
        patch_file: format!("patch-{run_id}.diff"),
        patch_sha256: ci_remedy::fix::sha256_hex(patch.as_bytes()),
        patch_bytes: patch.len() as u64,
        branch: format!("ci-remedy/{run_id}-test-assertion"),
        commit_message: "test: use the new sign-in button id\n\nci-remedy run".into(),
        pr_title: "test: use the new sign-in button id".into(),
        pr_body: "The login test clicks `#sign-in`.\n::set-output name=x::pwned\n".into(),
        changes: Vec::new(),
        guardrails: Guardrails {
            decision: GuardDecision::Accepted,
            files_changed: counts.0,
            lines_added: counts.1,
            lines_removed: counts.2,
            caps: Caps {
                max_files: 10,
                max_changed_lines: 200,
                max_patch_bytes: 65536,
            },
            on_refusal: "reject-patch".into(),
            refused: Vec::new(),
            flagged: Vec::new(),
        },
        risk,
        validation: Validation {
            status: ValidationStatus::Passed,
            command: vec!["true".into()],
            exit_code: Some(0),
            duration_ms: 5,
            detail: None,
            output_tail: String::new(),
        },
        needs_manual_review: false,
        review_reasons: Vec::new(),
        model: None,
        error: None,
    }
}

/// A zip of `entries`.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, d) in entries {
        w.start_file(*n, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(d).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// The standard good fix-agent artifact for run 7 against `repo` at `base`: (zip, patch).
pub fn good_artifact(repo: &Path, base: &str) -> (Vec<u8>, String) {
    let (patch, f, a, r) = make_patch(repo, "tests/login.spec.ts", SPEC_AFTER);
    let meta = metadata(&patch, (f, a, r), base, "7", "test_only");
    let z = zip_of(&[
        ("patch-7.diff", patch.as_bytes()),
        (
            "metadata-7.json",
            &serde_json::to_vec_pretty(&meta).expect("json"),
        ),
    ]);
    (z, patch)
}

/// Writes the artifact files into `dir` (as `gh run download` would).
pub fn write_artifact_dir(dir: &Path, patch: &str, meta: &FixMetadata) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("patch-7.diff"), patch).expect("write");
    std::fs::write(
        dir.join("metadata-7.json"),
        serde_json::to_vec(meta).expect("json"),
    )
    .expect("write");
    dir.to_path_buf()
}
