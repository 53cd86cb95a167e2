//! `self-heal-prepare --baseline-from-api` against a loopback GitHub: the last green run of the
//! same workflow and job becomes the baseline, found through the documented endpoints (runs,
//! jobs with pagination, the default branch, the job log's redirect), and every way of not
//! finding one is recorded in the context while the step goes on.

use crate::github_common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use github_common::{gh_bin, Req, Resp, Server};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_self-heal-prepare");

fn fixture(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cidiff")
        .join(case)
        .join(file)
}

/// What the stand-in knows: the failing run 900 on `feature/x` (workflow 42), no green run on
/// that branch, and on `main` a green run 801 whose `build` job failed and a green run 800
/// whose jobs come in two pages, `build` on the second.
struct World {
    /// The job log the download serves.
    log: Vec<u8>,
    /// How many 429 answers the runs listing gives first.
    rate_limits: usize,
    /// Whether `main` has the green runs.
    green_on_main: bool,
}

fn github(world: World) -> Server {
    let limited = Arc::new(AtomicUsize::new(0));
    Server::start(move |r: &Req, base: &str| {
        let route = r.route().to_string();
        let parts: Vec<&str> = route.split('/').collect();
        let query = r.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        match parts.as_slice() {
            ["", "repos", "o", "r", "actions", "runs", "900"] => Resp::json(
                200,
                json!({"id": 900, "workflow_id": 42, "head_branch": "feature/x",
                       "head_sha": "f".repeat(40), "run_attempt": 1}),
            ),
            ["", "repos", "o", "r", "actions", "runs", "900", "jobs"] => Resp::json(
                200,
                json!({"total_count": 2, "jobs": [
                    {"id": 9001, "run_id": 900, "name": "lint", "status": "completed",
                     "conclusion": "success", "runner_name": "r-0"},
                    {"id": 9002, "run_id": 900, "name": "build (ubuntu)", "status": "in_progress",
                     "conclusion": null, "runner_name": "r-1"}]}),
            ),
            ["", "repos", "o", "r"] => Resp::json(200, json!({"default_branch": "main"})),
            ["", "repos", "o", "r", "actions", "workflows", "42", "runs"] => {
                if limited.fetch_add(1, Ordering::SeqCst) < world.rate_limits {
                    return Resp::json(429, json!({"message": "rate limited"}))
                        .with("retry-after", "0");
                }
                let runs = if query.contains("branch=main") && world.green_on_main {
                    json!([
                        {"id": 801, "head_sha": "1".repeat(40), "conclusion": "success"},
                        {"id": 800, "head_sha": "0".repeat(40), "conclusion": "success", "run_attempt": 2}
                    ])
                } else {
                    json!([])
                };
                Resp::json(200, json!({"total_count": 2, "workflow_runs": runs}))
            }
            ["", "repos", "o", "r", "actions", "runs", "801", "jobs"] => Resp::json(
                200,
                json!({"total_count": 1, "jobs": [
                    {"id": 8011, "name": "build (ubuntu)", "status": "completed", "conclusion": "failure"}]}),
            ),
            ["", "repos", "o", "r", "actions", "runs", "800", "jobs"] if !query.contains("page=2") => {
                Resp::json(
                    200,
                    json!({"total_count": 2, "jobs": [
                        {"id": 8001, "name": "lint", "status": "completed", "conclusion": "success"}]}),
                )
                .with(
                    "link",
                    &format!(
                        "<{base}/repos/o/r/actions/runs/800/jobs?filter=latest&per_page=100&page=2>; rel=\"next\""
                    ),
                )
            }
            ["", "repos", "o", "r", "actions", "runs", "800", "jobs"] => Resp::json(
                200,
                json!({"total_count": 2, "jobs": [
                    {"id": 8002, "name": "build (ubuntu)", "status": "completed", "conclusion": "success",
                     "head_sha": "0".repeat(40), "run_attempt": 2}]}),
            ),
            ["", "repos", "o", "r", "actions", "jobs", "8002", "logs"] => {
                Resp::json(302, json!({})).with("location", &format!("{base}/storage/8002.txt"))
            }
            ["", "storage", "8002.txt"] => Resp::bytes(200, world.log.clone()),
            _ => Resp::not_found(),
        }
    })
}

/// Runs the real binary inside a simulated Actions job on runner `r-1`.
fn prepare(server: Option<&Server>, out: &Path, extra: &[&str]) -> (i32, String, Value) {
    let mut cmd = gh_bin(BIN, server);
    cmd.env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "900")
        .env("GITHUB_JOB", "build")
        .env("RUNNER_NAME", "r-1")
        .env("RUNNER_TEMP", out)
        .arg("--log")
        .arg(fixture("cv_45", "fail.log"))
        .arg("--out")
        .arg(out)
        .args(extra);
    let o = cmd.output().expect("run self-heal-prepare");
    let ctx: Value = serde_json::from_slice(
        &std::fs::read(out.join("self-heal/context.json")).expect("context written"),
    )
    .expect("context json");
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        ctx,
    )
}

fn findings(ctx: &Value) -> Vec<(String, u64, u64)> {
    ctx["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["line_start"].as_u64().unwrap_or(0),
                f["rank"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn the_last_green_run_of_the_same_job_is_the_baseline() {
    let pass = std::fs::read(fixture("cv_45", "pass.log")).expect("pass.log");
    let server = github(World {
        log: pass,
        rate_limits: 1,
        green_on_main: true,
    });
    let out = tempfile::tempdir().expect("tmp");
    let (code, printed, ctx) = prepare(Some(&server), out.path(), &["--baseline-from-api"]);
    assert_eq!(code, 0, "{printed}");

    let b = &ctx["baseline"];
    assert_eq!(b["source"], "api", "{b}");
    assert_eq!(b["used"], true, "{b}");
    assert_eq!(b["run_id"], 800);
    assert_eq!(b["run_attempt"], 2);
    assert_eq!(b["job"], "build (ubuntu)");
    assert_eq!(b["job_id"], 8002);
    assert_eq!(b["sha"], "0".repeat(40));
    assert_eq!(b["branch"], "main");
    assert_eq!(
        b["bytes"].as_u64(),
        Some(
            std::fs::metadata(fixture("cv_45", "pass.log"))
                .expect("test value")
                .len()
        )
    );
    assert!(
        b.get("path").is_none(),
        "no temporary path in the context: {b}"
    );
    assert!(printed.contains("baseline: the log of job"), "{printed}");

    let lines = server.lines();
    // The branch is percent-encoded; the run's own branch first, then the default branch.
    let runs: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/workflows/42/runs"))
        .collect();
    assert!(
        runs[0].contains("branch=feature%2Fx&status=success"),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .any(|l| l.contains("branch=main&status=success")),
        "{runs:?}"
    );
    // The 429 was retried, the jobs listing followed its Link to page 2, and the log came
    // from the storage host without the token.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/runs/800/jobs?") && l.contains("page=2")),
        "{lines:?}"
    );
    let dl: Vec<Req> = server
        .requests()
        .into_iter()
        .filter(|r| r.route() == "/storage/8002.txt")
        .collect();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0].header("authorization"), None);
    // The downloaded log is gone once the context is written.
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("test value")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ci-remedy-baseline-")
        })
        .collect();
    assert!(left.is_empty(), "temporary baseline left behind: {left:?}");

    // The ranking is the one a --baseline-log of the same file gives.
    let out2 = tempfile::tempdir().expect("tmp");
    let pass_path = fixture("cv_45", "pass.log");
    let (code2, _, file_ctx) = prepare(
        None,
        out2.path(),
        &["--baseline-log", pass_path.to_str().expect("test value")],
    );
    assert_eq!(code2, 0);
    assert_eq!(file_ctx["baseline"]["source"], "file");
    assert_eq!(file_ctx["baseline"]["used"], true);
    assert_eq!(findings(&ctx), findings(&file_ctx));
    // And it differs from no baseline at all (cv_45's passing log shares lines with the failure).
    let out3 = tempfile::tempdir().expect("tmp");
    let (_, _, none_ctx) = prepare(None, out3.path(), &[]);
    assert!(none_ctx.get("baseline").is_none());
    let scores = |c: &Value| -> Vec<f64> {
        c["findings"]
            .as_array()
            .expect("test value")
            .iter()
            .map(|f| f["score"].as_f64().unwrap_or(0.0))
            .collect()
    };
    assert_ne!(
        scores(&ctx),
        scores(&none_ctx),
        "the baseline changed no score"
    );
}

#[test]
fn without_a_green_run_or_api_access_the_context_says_why_and_the_step_goes_on() {
    // No green run anywhere.
    let server = github(World {
        log: Vec::new(),
        rate_limits: 0,
        green_on_main: false,
    });
    let out = tempfile::tempdir().expect("tmp");
    let (code, printed, ctx) = prepare(Some(&server), out.path(), &["--baseline-from-api"]);
    assert_eq!(code, 0, "{printed}");
    let b = &ctx["baseline"];
    assert_eq!(b["used"], false);
    let detail = b["detail"].as_str().expect("test value");
    assert!(
        detail.contains("no successful run") && detail.contains("\"build (ubuntu)\""),
        "{detail}"
    );
    assert!(!ctx["findings"].as_array().expect("test value").is_empty());

    // No token: said, not fatal.
    let out = tempfile::tempdir().expect("tmp");
    let mut cmd = gh_bin(BIN, None);
    cmd.env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "900")
        .arg("--log")
        .arg(fixture("cv_45", "fail.log"))
        .arg("--out")
        .arg(out.path())
        .arg("--baseline-from-api");
    let o = cmd.output().expect("run");
    assert_eq!(o.status.code(), Some(0));
    let ctx: Value = serde_json::from_slice(
        &std::fs::read(out.path().join("self-heal/context.json")).expect("test value"),
    )
    .expect("test value");
    assert_eq!(ctx["baseline"]["used"], false);
    assert!(
        ctx["baseline"]["detail"]
            .as_str()
            .expect("test value")
            .contains("no GitHub token"),
        "{}",
        ctx["baseline"]
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: no baseline"));
}

#[test]
fn a_log_over_the_cap_is_not_used() {
    let server = github(World {
        log: vec![b'x'; 4096],
        rate_limits: 0,
        green_on_main: true,
    });
    let out = tempfile::tempdir().expect("tmp");
    let (code, printed, ctx) = prepare(
        Some(&server),
        out.path(),
        &["--baseline-from-api", "--baseline-max-bytes", "1000"],
    );
    assert_eq!(code, 0, "{printed}");
    let detail = ctx["baseline"]["detail"].as_str().expect("test value");
    assert!(detail.contains("larger than 1000 bytes"), "{detail}");
    assert_eq!(ctx["baseline"]["used"], false);
}

#[test]
fn an_explicit_job_name_skips_the_job_lookup() {
    let pass = std::fs::read(fixture("cv_45", "pass.log")).expect("pass.log");
    let server = github(World {
        log: pass,
        rate_limits: 0,
        green_on_main: true,
    });
    let out = tempfile::tempdir().expect("tmp");
    let (code, printed, ctx) = prepare(
        Some(&server),
        out.path(),
        &["--baseline-from-api", "--baseline-job", "build (ubuntu)"],
    );
    assert_eq!(code, 0, "{printed}");
    assert_eq!(ctx["baseline"]["job_id"], 8002);
    assert!(
        !server.lines().iter().any(|l| l.contains("/runs/900/jobs")),
        "{:?}",
        server.lines()
    );
}
