//! Issue 17 §1: the workflow_run flow against a GitHub-shaped server on 127.0.0.1:
//! `self-heal-decide --target-run` / `self-heal-execute --target-run` send exactly one
//! `POST …/rerun-failed-jobs` per allowed decision, none for a fork's run, past max-attempts
//! or for a code failure; 403 and 429 answers end in a clear report without a loop; and
//! `self-heal-prepare --run-logs-from-api` downloads the run's log zip under its size cap.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use ci_remedy::artifact::{Category, Context, Decision, HealReport, Outcome, RunInfo};
use serde_json::json;

use crate::github_common::{gh_bin, zip_of, Resp, Server};
use crate::heal_common::{context, failed_test};

const SHA: &str = "1111111111111111111111111111111111111111";
const FAILED_SHA: &str = "2222222222222222222222222222222222222222";
const RERUN: &str = "/repos/o/r/actions/runs/42/rerun-failed-jobs";

/// The self-heal workflow's own run (event workflow_run), as the environment gives it.
fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_EVENT_NAME", "workflow_run"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_RUN_ID", "900"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_WORKFLOW", "self-heal"),
    ]
}

fn this_run() -> RunInfo {
    let e = env();
    RunInfo::from_lookup(|k| e.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
}

/// The failed run 42 as `GET /repos/o/r/actions/runs/42` answers it.
fn run_json(attempt: u32, head_repo: &str) -> serde_json::Value {
    json!({
        "id": 42, "run_attempt": attempt, "event": "pull_request", "head_sha": FAILED_SHA,
        "conclusion": "failure", "workflow_id": 7,
        "repository": {"full_name": "o/r", "fork": false},
        "head_repository": {"full_name": head_repo, "fork": head_repo != "o/r"},
    })
}

/// A server where run 42 is at `attempt` with its head in `head_repo`; the rerun POST gets
/// `post` (a closure so a test can vary it).
fn server(
    attempt: u32,
    head_repo: &'static str,
    post: impl Fn() -> Resp + Send + Sync + 'static,
) -> Server {
    let current = Arc::new(Mutex::new(attempt));
    Server::start(move |req, _| match (req.method.as_str(), req.route()) {
        ("GET", "/repos/o/r/actions/runs/42") => {
            Resp::json(200, run_json(*current.lock().expect("lock"), head_repo))
        }
        ("POST", RERUN) => post(),
        _ => Resp::not_found(),
    })
}

struct Flow {
    dir: tempfile::TempDir,
}

impl Flow {
    fn new(ctx: &Context, policy: Option<&str>) -> Flow {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("out/self-heal")).expect("mkdir");
        let mut ctx = ctx.clone();
        ctx.run = this_run();
        std::fs::write(
            dir.path().join("out/self-heal/context.json"),
            serde_json::to_vec_pretty(&ctx).expect("json"),
        )
        .expect("write context");
        if let Some(p) = policy {
            std::fs::create_dir_all(dir.path().join(".github")).expect("mkdir");
            std::fs::write(dir.path().join(".github/ci-remedy.yml"), p).expect("policy");
        }
        Flow { dir }
    }
    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("out")
    }
    fn cmd(&self, exe: &str, server: &Server) -> Command {
        let mut c = gh_bin(exe, Some(server));
        c.current_dir(self.dir.path()).envs(env());
        c.env("GITHUB_STEP_SUMMARY", self.dir.path().join("summary.md"));
        c
    }
    fn decide(&self, server: &Server) -> (Output, Decision) {
        let o = self
            .cmd(env!("CARGO_BIN_EXE_self-heal-decide"), server)
            .arg("--out")
            .arg(self.out())
            .args(["--target-run", "42"])
            .output()
            .expect("decide");
        let d = serde_json::from_slice(
            &std::fs::read(self.out().join("self-heal/decision.json")).expect("decision"),
        )
        .expect("a decision");
        (o, d)
    }
    fn execute(&self, server: &Server) -> (Output, HealReport) {
        let o = self
            .cmd(env!("CARGO_BIN_EXE_self-heal-execute"), server)
            .arg("--out")
            .arg(self.out())
            .arg("--repo-root")
            .arg(self.dir.path())
            .args(["--target-run", "42"])
            .output()
            .expect("execute");
        let r = serde_json::from_slice(
            &std::fs::read(self.out().join("self-heal/report-900.json")).expect("report"),
        )
        .expect("a report");
        (o, r)
    }
    fn summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary.md")).unwrap_or_default()
    }
}

fn posts(s: &Server) -> usize {
    s.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.route() == RERUN)
        .count()
}

fn network() -> Context {
    context(Category::Network, 0.9, vec![])
}

fn gate<'a>(d: &'a Decision, name: &str) -> &'a ci_remedy::artifact::Gate {
    d.gates
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no {name} gate in {:?}", d.gates))
}

#[test]
fn builtin_default_reruns_a_network_failure_with_exactly_one_post() {
    let s = server(1, "o/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), None);
    let (o, d) = f.decide(&s);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.allowed, "{:?}", d.gates);
    assert_eq!(d.actions, vec!["rerun-failed-jobs".to_string()]);
    assert_eq!((d.attempt, d.max_attempts), (2, 2));
    assert_eq!(d.target_run.as_ref().map(|t| t.run_id), Some(42));
    assert_eq!(posts(&s), 0, "deciding sends nothing");

    let (o, r) = f.execute(&s);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(posts(&s), 1, "{:?}", s.lines());
    assert_eq!(r.outcome, Outcome::RerunRequested);
    let g = r.github_rerun.expect("the request is recorded");
    assert_eq!(g.request, format!("POST {RERUN}"));
    assert_eq!((g.status, g.requested, g.attempt), (Some(201), true, 2));
    assert_eq!(g.line(), "rerun requested (attempt 2 of 2)");
    assert!(
        f.summary().contains("rerun requested (attempt 2 of 2)"),
        "{}",
        f.summary()
    );
    let post = s
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("post");
    assert_eq!(post.header("authorization"), Some("Bearer test-token-123"));
}

#[test]
fn a_forks_run_is_not_rerun_unless_the_policy_opts_in() {
    let s = server(1, "stranger/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), None);
    let (_, d) = f.decide(&s);
    assert!(!d.allowed);
    assert!(gate(&d, "github").detail.contains("fork"), "{:?}", d.gates);
    let (o, r) = f.execute(&s);
    assert!(o.status.success());
    assert_eq!(r.outcome, Outcome::Skipped);
    assert_eq!(posts(&s), 0);

    // A policy that opts in (and asks for a delay) reruns it, once, after the delay.
    let policy = "self-heal:\n  events: [workflow_run]\n  plan:\n    network: [rerun]\n  actions:\n    rerun: { github: rerun-failed-jobs, delay: 1s, forks: true }\n";
    let s = server(1, "stranger/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), Some(policy));
    let (_, d) = f.decide(&s);
    assert!(d.allowed, "{:?}", d.gates);
    let start = std::time::Instant::now();
    let (_, r) = f.execute(&s);
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(posts(&s), 1);
    assert_eq!(r.github_rerun.expect("record").delay_ms, 1000);
}

#[test]
fn no_rerun_past_max_attempts() {
    // Run 42 is already at attempt 2 of 2: deciding refuses.
    let s = server(2, "o/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), None);
    let (_, d) = f.decide(&s);
    assert!(!d.allowed);
    assert_eq!(d.attempt, 3);
    assert!(
        gate(&d, "github").detail.contains("> max-attempts 2"),
        "{:?}",
        d.gates
    );
    let _ = f.execute(&s);
    assert_eq!(posts(&s), 0);

    // Decided at attempt 1, but the run was rerun meanwhile: execute reads it again and refuses.
    let s = server(1, "o/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), None);
    let (_, d) = f.decide(&s);
    assert!(d.allowed);
    let s2 = server(2, "o/r", || Resp::json(201, json!({})));
    let (o, r) = f.execute(&s2);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        r.error.as_deref().unwrap_or("").contains("rerun since"),
        "{r:?}"
    );
    assert_eq!(posts(&s2), 0);

    // Earlier requested reruns of run 42 in the history count too.
    let s = server(1, "o/r", || Resp::json(201, json!({})));
    let f = Flow::new(&network(), None);
    let (_, d) = f.decide(&s);
    let _ = f.execute(&s);
    assert_eq!(posts(&s), 1);
    let hist = f.dir.path().join("history");
    std::fs::create_dir_all(&hist).expect("mkdir");
    std::fs::copy(
        f.out().join("self-heal/report-900.json"),
        hist.join("report-899.json"),
    )
    .expect("copy");
    let o = f
        .cmd(env!("CARGO_BIN_EXE_self-heal-decide"), &s)
        .arg("--out")
        .arg(f.out())
        .args(["--target-run", "42", "--history"])
        .arg(&hist)
        .output()
        .expect("decide");
    assert!(o.status.success());
    let d2: Decision = serde_json::from_slice(
        &std::fs::read(f.out().join("self-heal/decision.json")).expect("decision"),
    )
    .expect("decision");
    assert!(d.allowed && !d2.allowed, "{:?}", d2.gates);
    assert_eq!(d2.attempt, 3);
}

#[test]
fn a_code_failure_is_not_rerun_and_goes_to_the_fix_agent() {
    let s = server(1, "o/r", || Resp::json(201, json!({})));
    let ctx = context(Category::TestAssertion, 0.95, vec![failed_test("t", None)]);
    let f = Flow::new(&ctx, None);
    let (_, d) = f.decide(&s);
    assert!(!d.allowed);
    assert!(!gate(&d, "category").passed);
    let (_, r) = f.execute(&s);
    assert_eq!(r.outcome, Outcome::Skipped);
    assert_eq!(r.escalate_to.as_str(), "fix-agent");
    assert_eq!(posts(&s), 0);
}

#[test]
fn forbidden_ends_in_a_clear_report_after_one_request() {
    let s = server(1, "o/r", || {
        Resp::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        )
    });
    let f = Flow::new(&network(), None);
    let (_, d) = f.decide(&s);
    assert!(d.allowed);
    let (o, r) = f.execute(&s);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(posts(&s), 1, "a 403 is not retried");
    assert_eq!(r.outcome, Outcome::Error);
    assert_eq!(r.escalate_to.as_str(), "human");
    let g = r.github_rerun.expect("record");
    assert_eq!((g.status, g.requested), (Some(403), false));
    let err = r.error.expect("error");
    assert!(
        err.contains("Resource not accessible") && err.contains("actions: write"),
        "{err}"
    );
    assert!(
        f.summary().contains("rerun not requested"),
        "{}",
        f.summary()
    );
}

#[test]
fn rate_limited_waits_within_the_budget_and_then_reports() {
    // GitHub asks for a minute; the retry budget (3 s in tests) is shorter: one request, a
    // clear report, no loop.
    let s = server(1, "o/r", || {
        Resp::json(429, json!({"message": "API rate limit exceeded"})).with("retry-after", "60")
    });
    let f = Flow::new(&network(), None);
    let _ = f.decide(&s);
    let start = std::time::Instant::now();
    let (o, r) = f.execute(&s);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(posts(&s), 1);
    let g = r.github_rerun.expect("record");
    assert_eq!((g.status, g.requested), (Some(429), false));
    assert!(g.message.contains("rate limited"), "{}", g.message);

    // A short Retry-After is waited, then the request goes through.
    let n = Arc::new(Mutex::new(0));
    let n2 = n.clone();
    let s = server(1, "o/r", move || {
        let mut k = n2.lock().expect("lock");
        *k += 1;
        if *k == 1 {
            Resp::json(429, json!({"message": "slow down"})).with("retry-after", "1")
        } else {
            Resp::json(201, json!({}))
        }
    });
    let f = Flow::new(&network(), None);
    let _ = f.decide(&s);
    let (o, r) = f.execute(&s);
    assert!(o.status.success());
    assert_eq!(
        posts(&s),
        2,
        "the rate-limited request (not processed) and one more"
    );
    assert_eq!(r.outcome, Outcome::RerunRequested);
}

fn prepare(dir: &Path, server: &Server, extra: &[&str]) -> Output {
    gh_bin(env!("CARGO_BIN_EXE_self-heal-prepare"), Some(server))
        .current_dir(dir)
        .envs(env())
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--run-logs-from-api", "42"])
        .args(extra)
        .output()
        .expect("prepare")
}

#[test]
fn run_logs_come_from_the_api_zip_with_step_names_and_a_size_cap() {
    let zip = zip_of(&[(
        "build/3_Install dependencies.txt",
        b"2026-01-01T00:00:00.0000000Z npm ci\n2026-01-01T00:00:01.0000000Z npm ERR! code ECONNRESET\n2026-01-01T00:00:01.0000000Z npm ERR! network request to https://registry.npmjs.org/x failed, reason: socket hang up\n",
    )]);
    let len = zip.len();
    let s = Server::start(move |req, base| match req.route() {
        "/repos/o/r/actions/runs/42/logs" => {
            Resp::json(302, json!({})).with("location", &format!("{base}/storage/logs.zip"))
        }
        "/storage/logs.zip" => Resp::bytes(200, zip.clone()),
        _ => Resp::not_found(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let o = prepare(dir.path(), &s, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ctx: Context = serde_json::from_slice(
        &std::fs::read(dir.path().join("out/self-heal/context.json")).expect("context"),
    )
    .expect("context");
    assert!(dir.path().join("out/self-heal/run-42-logs.zip").is_file());
    assert!(!ctx.logs.is_empty(), "{ctx:?}");
    assert!(
        ctx.logs
            .iter()
            .any(|l| l.path.contains("Install dependencies")),
        "the step's name is kept: {:?}",
        ctx.logs
    );
    assert_eq!(
        ctx.classification.category,
        Category::Network,
        "{:?}",
        ctx.findings
    );
    let storage = s
        .requests()
        .into_iter()
        .find(|r| r.route() == "/storage/logs.zip")
        .expect("dl");
    assert_eq!(
        storage.header("authorization"),
        None,
        "the token never goes to storage"
    );

    // Under the cap: refused, nothing left behind, the context says why, exit 1.
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = (len - 1).to_string();
    let o = prepare(dir.path(), &s, &["--run-logs-max-bytes", &cap]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.path().join("out/self-heal/run-42-logs.zip").exists());
    let ctx: Context = serde_json::from_slice(
        &std::fs::read(dir.path().join("out/self-heal/context.json")).expect("context"),
    )
    .expect("context");
    let err = ctx.error.expect("error");
    assert!(err.contains("run 42") && err.contains(&cap), "{err}");
}

#[test]
fn a_quarantined_failure_triggers_no_rerun_and_an_expired_entry_no_longer_counts() {
    let ctx = context(
        Category::Network,
        0.9,
        vec![failed_test("coupon", Some("checkout > coupon"))],
    );
    let quarantine = |expires: &str| {
        format!(
            "quarantine:\n  - test: \"checkout > coupon\"\n    reason: flaky sandbox\n    owner: \"@alice\"\n    added: 2026-11-01\n    expires: {expires}\n"
        )
    };
    let decide = |f: &Flow, s: &Server| {
        let o = f
            .cmd(env!("CARGO_BIN_EXE_self-heal-decide"), s)
            .arg("--out")
            .arg(f.out())
            .args(["--target-run", "42", "--today", "2026-12-07"])
            .output()
            .expect("decide");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Decision>(
            &std::fs::read(f.out().join("self-heal/decision.json")).expect("decision"),
        )
        .expect("decision")
    };

    let s = server(1, "o/r", || Resp::json(201, json!({})));
    let f = Flow::new(&ctx, None);
    std::fs::create_dir_all(f.dir.path().join(".github")).expect("mkdir");
    std::fs::write(
        f.dir.path().join(".github/ci-remedy-quarantine.yml"),
        quarantine("2026-12-31"),
    )
    .expect("write");
    let d = decide(&f, &s);
    assert!(!d.allowed && d.quarantined, "{:?}", d.gates);
    let g = gate(&d, "quarantine");
    assert!(
        g.detail.contains("@alice") && g.detail.contains("checkout > coupon"),
        "{}",
        g.detail
    );
    let (_, r) = f.execute(&s);
    assert_eq!(r.outcome, Outcome::Skipped);
    assert_eq!(posts(&s), 0, "a quarantined failure is not rerun");
    assert!(f.summary().contains("quarantined"), "{}", f.summary());

    // Expired yesterday: it no longer counts, says so, and the rerun goes ahead.
    std::fs::write(
        f.dir.path().join(".github/ci-remedy-quarantine.yml"),
        quarantine("2026-12-06"),
    )
    .expect("write");
    let d = decide(&f, &s);
    assert!(d.allowed && !d.quarantined, "{:?}", d.gates);
    assert!(gate(&d, "quarantine").detail.contains("expired 2026-12-06"));
    let _ = f.execute(&s);
    assert_eq!(posts(&s), 1);

    // A malformed quarantine file is a usage error naming the file.
    std::fs::write(
        f.dir.path().join(".github/ci-remedy-quarantine.yml"),
        "quarantine: [{test: 1}]\n",
    )
    .expect("write");
    let o = f
        .cmd(env!("CARGO_BIN_EXE_self-heal-decide"), &s)
        .arg("--out")
        .arg(f.out())
        .output()
        .expect("decide");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ci-remedy-quarantine.yml"));
}
