//! A GitHub REST stand-in on 127.0.0.1 for the integration tests, and fixtures (a git
//! repository, a fix-agent patch with its metadata, artifact zips).
//!
//! The server is a small std `TcpListener` loop (no extra crate): each test passes a routing
//! closure that answers with the documented shapes, and every request (method, path with
//! query, headers, body) is recorded so tests assert what was sent, not only exit codes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use ci_remedy::artifact::{
    Caps, Category, FixMetadata, GuardDecision, Guardrails, RunInfo, ToolInfo, Validation,
    ValidationStatus, FIX_METADATA_SCHEMA,
};
use ci_remedy::fix::recheck::check_patch;
use ci_remedy::policy::fix_agent::FixAgentPolicy;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path with query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// An answer.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(status: u16, v: serde_json::Value) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&v).expect("json"),
        }
    }
    pub fn bytes(status: u16, body: Vec<u8>) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), "application/zip".into())],
            body,
        }
    }
    pub fn with(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn not_found() -> Resp {
        Resp::json(
            404,
            serde_json::json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        )
    }
}

type Handler = dyn Fn(&Req, &str) -> Resp + Send + Sync;

/// The server: its base URL and the requests it saw.
pub struct Server {
    pub url: String,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Starts a server; `handler(request, base_url)` answers each request.
    pub fn start(handler: impl Fn(&Req, &str) -> Resp + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let (log2, url2) = (log.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let req = Req {
                    method,
                    path,
                    headers,
                    body,
                };
                log2.lock().expect("lock").push(req.clone());
                let resp = handler(&req, &url2);
                let mut out = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    resp.status,
                    resp.body.len()
                );
                for (k, v) in &resp.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let _ = stream.write_all(out.as_bytes());
                let _ = stream.write_all(&resp.body);
                let _ = stream.flush();
            }
        });
        Server { url, log }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().expect("lock").clone()
    }

    /// `METHOD path` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

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
