//! Issue 17 §2: flaky tests across attempts. The real `self-heal-prepare` on the fixture
//! reports of attempts of one commit (`fixtures/reports/attempts/`, see its README): flaky
//! detection, the `flaky_test` classification when every failed test is flaky and not when one
//! is a real failure, the API route (`--attempt-reports-from-api`) against the stub server,
//! `ci-quarantine add --from-context` with list and expire, a quarantined flaky failure that
//! does not rerun, and the dashboard's flaky-tests view.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::common::{bin, fixture, parse_outputs, read_json};
use crate::github_common::{gh_bin, git, zip_of, Resp, Server};
use crate::quarantine::{out as stdout, q as quarantine};

const PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");
const SHA: &str = "3f9c2b7e1d4a6c8b0e2f4a6c8e0b2d4f6a8c0e2b";
const COUPON: &str = "tests.test_checkout.test_applies_coupon";
const COUPON_ID: &str = "tests/test_checkout.py::test_applies_coupon";
const TOTAL: &str = "tests.test_orders.test_total_includes_tax";
const TOTAL_ID: &str = "tests/test_orders.py::test_total_includes_tax";
const LOGIN: &str = "auth/login.spec.ts › Login › rejects a wrong password";
const LOGIN_ID: &str = "e2e/auth/login.spec.ts:9";

fn attempts_dir() -> PathBuf {
    fixture("reports/attempts/run-7001")
}

/// The reports of attempt `n`: the current attempt 3, or one of the attempt directories.
fn reports(n: u32) -> (PathBuf, PathBuf) {
    let dir = match n {
        1 => attempts_dir().join("7001-1"),
        2 => attempts_dir().join("run-7001-attempt-2"),
        _ => fixture("reports/attempts/current-attempt-3"),
    };
    (dir.join("junit.xml"), dir.join("results.json"))
}

/// `self-heal-prepare` as attempt `attempt` of run 7001 of commit SHA, with that attempt's own
/// reports as `--junit` / `--playwright-report`, writing into `out`.
fn prepare(cmd: Command, out: &Path, attempt: u32, extra: &[&str]) -> Output {
    let mut cmd = cmd;
    let (junit, pw) = reports(attempt);
    cmd.env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "7001")
        .env("GITHUB_RUN_ATTEMPT", attempt.to_string())
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_WORKSPACE", "/home/runner/work/shop/shop")
        .env("GITHUB_OUTPUT", out.join("github_output"))
        .arg("--out")
        .arg(out)
        .arg("--repo-root")
        .arg(out)
        .arg("--junit")
        .arg(junit)
        .arg("--playwright-report")
        .arg(pw)
        .args(extra)
        .current_dir(out);
    cmd.output().expect("run self-heal-prepare")
}

fn context(out: &Path) -> Value {
    read_json(&out.join("self-heal/context.json"))
}

fn flaky_names(ctx: &Value) -> Vec<String> {
    ctx["tests"]["flaky"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn flaky<'a>(ctx: &'a Value, name: &str) -> &'a Value {
    ctx["tests"]["flaky"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not flaky: {:#}", ctx["tests"]))
}

fn runs(t: &Value) -> Vec<(u64, String)> {
    t["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            assert_eq!(r["run_id"], "7001");
            (
                r["run_attempt"].as_u64().expect("attempt"),
                r["outcome"].as_str().expect("outcome").to_string(),
            )
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Checks the context of attempt 3 against the fixture table (README): the three flaky tests
/// with their runs, and the `flaky_test` classification.
fn assert_attempt_3_is_flaky(ctx: &Value) {
    let attempts = ctx["tests"]["attempts"].as_array().expect("attempts");
    let seen: Vec<(u64, &str)> = attempts
        .iter()
        .map(|a| {
            (
                a["run_attempt"].as_u64().unwrap_or(0),
                a["source"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{attempts:?}");
    assert_eq!(seen[2], (3, "current"));
    // Attempt 1: 6 tests (4 pytest cases, 2 Playwright specs), 3 failed, 1 skipped.
    let a1 = &attempts[0];
    assert_eq!(
        (
            a1["tests"].as_u64(),
            a1["failed"].as_u64(),
            a1["passed"].as_u64()
        ),
        (Some(6), Some(3), Some(2))
    );
    assert_eq!(a1["skipped"], 1);
    assert_eq!(a1["reports"], 2);

    assert_eq!(flaky_names(ctx), vec![LOGIN, COUPON, TOTAL]);
    let coupon = flaky(ctx, COUPON);
    assert_eq!(
        runs(coupon),
        vec![
            (1, "failed".into()),
            (2, "passed".into()),
            (3, "failed".into())
        ]
    );
    assert_eq!(
        (coupon["failures"].as_u64(), coupon["passes"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(coupon["id"], COUPON_ID);
    assert_eq!(coupon["current"], "failed");
    assert!(
        coupon["message"]
            .as_str()
            .is_some_and(|m| m.contains("TimeoutError: payment sandbox")),
        "{coupon}"
    );
    let login = flaky(ctx, LOGIN);
    assert_eq!(login["id"], LOGIN_ID);
    assert_eq!(login["message"], "Test timeout of 30000ms exceeded.");
    // Failed in attempts 1 and 2, passed in 3: flaky, but not a failure of this attempt.
    let total = flaky(ctx, TOTAL);
    assert_eq!(total["current"], "passed");
    assert_eq!(
        (total["failures"].as_u64(), total["passes"].as_u64()),
        (Some(2), Some(1))
    );

    let c = &ctx["classification"];
    assert_eq!(c["category"], "flaky_test", "{c:#}");
    assert_eq!(c["source"], "attempts");
    assert_eq!(c["confidence"], 0.9);
    assert_eq!(c["evidence"], json!([0, 1]));
    let summary = c["summary"].as_str().expect("summary");
    assert!(
        summary.contains("all 2 failed test(s) passed in another attempt"),
        "{summary}"
    );
    let findings = ctx["findings"].as_array().expect("findings");
    let evidence: Vec<&str> = findings[..2]
        .iter()
        .map(|f| {
            assert_eq!(f["rule"], "attempts/flaky");
            assert_eq!(f["category"], "flaky_test");
            f["excerpt"].as_str().expect("excerpt")
        })
        .collect();
    let coupon_finding = evidence
        .iter()
        .find(|e| e.starts_with(COUPON))
        .expect("a finding for the coupon test");
    assert!(
        coupon_finding.contains(
            "run 7001 attempt 1 failed, run 7001 attempt 2 passed, run 7001 attempt 3 failed"
        ) && coupon_finding.contains("failure: TimeoutError: payment sandbox"),
        "{coupon_finding}"
    );
    assert_eq!(findings[0]["rank"], 1);
}

#[test]
fn every_failure_flaky_across_attempts_is_classified_flaky_test_with_its_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let dirs = attempts_dir().display().to_string();
    let o = prepare(bin(PREPARE), out, 3, &["--attempt-reports", &dirs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ctx = context(out);
    assert_eq!(ctx["error"], Value::Null);
    assert_attempt_3_is_flaky(&ctx);
    // run-7001-attempt-2 has an attempt.json: its sha is recorded.
    assert_eq!(ctx["tests"]["attempts"][1]["sha"], SHA);
    assert!(ctx["tests"]["attempts_detail"]
        .as_str()
        .is_some_and(|d| d.contains("3 attempt(s)") && d.contains("3 flaky test(s)")));
    let outputs =
        parse_outputs(&std::fs::read_to_string(out.join("github_output")).expect("GITHUB_OUTPUT"));
    assert!(
        outputs.contains(&("category".into(), "flaky_test".into())),
        "{outputs:?}"
    );
}

#[test]
fn one_real_failure_among_flaky_ones_keeps_the_normal_classification() {
    // As attempt 1: coupon and login are flaky (passed in attempt 2), but the tax total failed
    // in both attempts: a real failure.
    let with = tempfile::tempdir().expect("tempdir");
    let without = tempfile::tempdir().expect("tempdir");
    let dirs = attempts_dir().display().to_string();
    let o = prepare(bin(PREPARE), with.path(), 1, &["--attempt-reports", &dirs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = prepare(bin(PREPARE), without.path(), 1, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (ctx, plain) = (context(with.path()), context(without.path()));

    assert_eq!(flaky_names(&ctx), vec![LOGIN, COUPON]);
    // The directory has attempt 1 itself: it is read once, not twice.
    assert_eq!(ctx["tests"]["attempts"].as_array().map(Vec::len), Some(2));
    assert_eq!(flaky(&ctx, COUPON)["current"], "failed");
    assert_ne!(ctx["classification"]["category"], "flaky_test");
    assert_ne!(ctx["classification"]["source"], "attempts");
    // Exactly what it is without the attempts: classification and findings.
    assert_eq!(ctx["classification"], plain["classification"]);
    assert_eq!(ctx["findings"], plain["findings"]);
    assert_eq!(ctx["tests"]["failed"], plain["tests"]["failed"]);

    // Without --attempt-reports the context has none of the new fields.
    for k in ["attempts", "flaky", "flaky_omitted", "attempts_detail"] {
        assert!(
            plain["tests"].get(k).is_none(),
            "{k} in {:#}",
            plain["tests"]
        );
    }
}

#[test]
fn an_attempt_of_another_commit_and_an_unnamed_directory_are_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let attempts = dir.path().join("attempts");
    // Attempt 2 of another commit: its pass must not make anything flaky.
    let other = attempts.join("7001-2");
    std::fs::create_dir_all(&other).expect("mkdir");
    let (j2, p2) = reports(2);
    std::fs::copy(j2, other.join("junit.xml")).expect("copy");
    std::fs::copy(p2, other.join("results.json")).expect("copy");
    std::fs::write(
        other.join("attempt.json"),
        json!({"run_id": "7001", "run_attempt": 2, "sha": "0".repeat(40)}).to_string(),
    )
    .expect("write");
    // Other JSON in an attempt directory is not a report.
    std::fs::write(other.join("package.json"), "{\"name\": \"shop\"}").expect("write");
    std::fs::create_dir_all(attempts.join("reports")).expect("mkdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let a = attempts.display().to_string();
    let o = prepare(bin(PREPARE), &out, 1, &["--attempt-reports", &a]);
    // The unnamed directory is an input problem: exit 1, the context written and saying why.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let ctx = context(&out);
    assert!(
        ctx["error"]
            .as_str()
            .is_some_and(|e| e.contains("names no attempt") && e.contains("reports")),
        "{}",
        ctx["error"]
    );
    assert!(flaky_names(&ctx).is_empty(), "{:#}", ctx["tests"]);
    assert!(ctx["tests"]["attempts_detail"]
        .as_str()
        .is_some_and(|d| d.contains("left out, another commit: 7001-2")));
    assert_ne!(ctx["classification"]["category"], "flaky_test");
}

/// A zip of one attempt's reports, as `actions/upload-artifact` packs `path: reports/`; with an
/// `attempt.json` that lies about the run (the API says which attempt it is).
fn attempt_zip(n: u32) -> Vec<u8> {
    let (junit, pw) = reports(n);
    let junit = std::fs::read(junit).expect("junit");
    let pw = std::fs::read(pw).expect("pw");
    zip_of(&[
        ("pytest/junit.xml", &junit),
        ("playwright/results.json", &pw),
        ("attempt.json", br#"{"run_id": 999, "run_attempt": 9}"#),
        ("trace.zip", b"not read"),
    ])
}

#[test]
fn attempt_reports_come_from_the_runs_artifacts_through_the_api() {
    let server = Server::start(|r, base| {
        let route = r.route().to_string();
        let parts: Vec<&str> = route.split('/').collect();
        match parts.as_slice() {
            ["", "repos", "o", "r", "actions", "runs", "7001", "artifacts"] => Resp::json(
                200,
                json!({"total_count": 5, "artifacts": [
                    {"id": 11, "name": "test-reports-1", "size_in_bytes": 4000, "expired": false,
                     "workflow_run": {"id": 7001, "head_sha": SHA}},
                    {"id": 12, "name": "test-reports-2", "size_in_bytes": 4000, "expired": false,
                     "workflow_run": {"id": 7001, "head_sha": SHA}},
                    {"id": 13, "name": "coverage-1", "size_in_bytes": 10, "expired": false},
                    {"id": 14, "name": "test-reports-9", "size_in_bytes": 10, "expired": true},
                    {"id": 15, "name": "test-reports-8", "size_in_bytes": 999_999_999, "expired": false},
                ]}),
            ),
            ["", "repos", "o", "r", "actions", "artifacts", id, "zip"] => {
                Resp::json(302, json!({})).with("location", &format!("{base}/dl/{id}"))
            }
            ["", "dl", "11"] => Resp::bytes(200, attempt_zip(1)),
            ["", "dl", "12"] => Resp::bytes(200, attempt_zip(2)),
            _ => Resp::not_found(),
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let o = prepare(
        gh_bin(PREPARE, Some(&server)),
        out,
        3,
        &["--attempt-reports-from-api", "test-reports"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ctx = context(out);
    assert_attempt_3_is_flaky(&ctx);
    let attempts = ctx["tests"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts[0]["source"], "7001-1");
    assert_eq!(
        attempts[0]["run_attempt"], 1,
        "the zip's attempt.json is not read"
    );
    assert_eq!(attempts[1]["sha"], SHA);
    let detail = ctx["tests"]["attempts_detail"].as_str().expect("detail");
    assert!(
        detail.contains("`test-reports-<attempt>` artifacts of run 7001")
            && detail.contains("attempt(s) 1, 2")
            && detail.contains("test-reports-9: ")
            && detail.contains("expired")
            && detail.contains("test-reports-8: "),
        "{detail}"
    );
    let lines = server.lines();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("GET /repos/o/r/actions/runs/7001/artifacts")));
    let downloads: Vec<&String> = lines.iter().filter(|l| l.starts_with("GET /dl/")).collect();
    assert_eq!(downloads, vec!["GET /dl/11", "GET /dl/12"], "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("/artifacts/13/")
            || l.contains("/artifacts/14/")
            || l.contains("/artifacts/15/")),
        "other, expired and oversized artifacts are not downloaded: {lines:?}"
    );
    let auth = server.requests()[0]
        .header("authorization")
        .map(str::to_string);
    assert_eq!(auth.as_deref(), Some("Bearer test-token-123"));
}

#[test]
fn an_api_failure_is_said_in_the_context_and_does_not_fail_the_step() {
    let server = Server::start(|_, _| {
        Resp::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let o = prepare(
        gh_bin(PREPARE, Some(&server)),
        out,
        3,
        &["--attempt-reports-from-api", "test-reports"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ctx = context(out);
    let detail = ctx["tests"]["attempts_detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("no attempt reports from the GitHub API")
            && detail.contains("Resource not accessible"),
        "{detail}"
    );
    assert!(ctx["tests"].get("flaky").is_none());
    assert_ne!(ctx["classification"]["source"], "attempts");
    // Without a token at all: the same, and no request is made.
    let o = prepare(
        bin(PREPARE),
        out,
        3,
        &["--attempt-reports-from-api", "test-reports"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let detail = context(out)["tests"]["attempts_detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail.contains("GITHUB_TOKEN"), "{detail}");
}

/// Attempt 3 of run 7001, as the later steps of the same job see it.
fn run_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_RUN_ID", "7001"),
        ("GITHUB_RUN_ATTEMPT", "3"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_EVENT_NAME", "workflow_dispatch"),
    ]
}

#[test]
fn quarantine_from_context_round_trip_and_a_quarantined_flaky_failure_is_not_rerun() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let dirs = attempts_dir().display().to_string();
    let o = prepare(bin(PREPARE), &out, 3, &["--attempt-reports", &dirs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ctx_path = out.join("self-heal/context.json");
    let ctx_arg = ctx_path.display().to_string();

    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q"]);
    let qout = dir.path().join("qout");
    let q = qout.display().to_string();
    let add = quarantine(
        &repo,
        &[
            "add",
            "--from-context",
            &ctx_arg,
            "--owner",
            "@qa",
            "--today",
            "2026-12-07",
            "--out",
            &q,
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(
        stdout(&add).contains("3 flaky test(s) added"),
        "{}",
        stdout(&add)
    );
    assert!(
        !repo.join(".github/ci-remedy-quarantine.yml").exists(),
        "never the file itself"
    );
    let patch = qout
        .join("quarantine/patch-quarantine.diff")
        .display()
        .to_string();
    git(&repo, &["apply", "--check", &patch]);
    git(&repo, &["apply", &patch]);

    let list = stdout(&quarantine(&repo, &["list", "--today", "2026-12-08"]));
    // The id when the reports give one, else the name; 30 days by default; the runs as reason.
    for t in [COUPON_ID, LOGIN_ID, TOTAL_ID] {
        assert!(
            list.contains(&format!(
                "active  {t} (owner @qa, added 2026-12-07, expires 2027-01-06)"
            )),
            "{t}: {list}"
        );
    }
    assert!(
        list.contains("flaky across attempts of 3f9c2b7e1d4a: failed 2 time(s), passed 1 (run 7001 attempt 1 failed, run 7001 attempt 2 passed, run 7001 attempt 3 failed)"),
        "{list}"
    );

    // Again: everything is already quarantined, nothing to add, no new patch.
    std::fs::remove_file(&patch).expect("rm");
    let again = quarantine(
        &repo,
        &[
            "add",
            "--from-context",
            &ctx_arg,
            "--owner",
            "@qa",
            "--out",
            &q,
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("already quarantined, skipped: tests/test_checkout.py"));
    assert!(!Path::new(&patch).exists());

    // The quarantined flaky failure: decide says quarantined, execute reruns nothing.
    let policy = dir.path().join("policy.yml");
    std::fs::write(&policy, "self-heal:\n  categories: [flaky_test]\n  max-attempts: 5\n  rerun:\n    failed: [\"touch\", \"rerun-ran\"]\n    full: [\"touch\", \"rerun-ran\"]\n").expect("policy");
    let decide = |today: &str| {
        let o = bin(env!("CARGO_BIN_EXE_self-heal-decide"))
            .envs(run_env())
            .current_dir(&repo)
            .args(["--out", &out.display().to_string(), "--today", today])
            .arg("--policy")
            .arg(&policy)
            .output()
            .expect("decide");
        assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
        read_json(&out.join("self-heal/decision.json"))
    };
    let d = decide("2026-12-08");
    assert_eq!(d["quarantined"], true, "{d:#}");
    assert_eq!(d["allowed"], false);
    let execute = || {
        bin(env!("CARGO_BIN_EXE_self-heal-execute"))
            .envs(run_env())
            .current_dir(&repo)
            .args(["--out", &out.display().to_string()])
            .arg("--policy")
            .arg(&policy)
            .arg("--repo-root")
            .arg(&repo)
            .output()
            .expect("execute")
    };
    let exec = execute();
    assert!(
        exec.status.code().is_some_and(|c| c < 2),
        "{}",
        stderr(&exec)
    );
    let report = read_json(&out.join("self-heal/report-7001.json"));
    assert_eq!(report["outcome"], "skipped", "{report:#}");
    assert!(
        !repo.join("rerun-ran").exists(),
        "a quarantined failure is not rerun"
    );

    // After the expiry: the entries no longer count, and expire removes all three.
    let d = decide("2027-01-07");
    assert_ne!(d["quarantined"], true, "{d:#}");
    assert_eq!(
        d["allowed"], true,
        "only the quarantine held it back: {d:#}"
    );
    let _ = execute();
    assert!(
        repo.join("rerun-ran").exists(),
        "without the quarantine the rerun runs"
    );
    let exp = quarantine(&repo, &["expire", "--today", "2027-01-07", "--out", &q]);
    assert!(exp.status.success(), "{}", stderr(&exp));
    assert!(stdout(&exp).contains("3 expired"), "{}", stdout(&exp));
    git(&repo, &["apply", &patch]);
    let list = stdout(&quarantine(&repo, &["list", "--today", "2027-01-07"]));
    assert!(list.trim().is_empty(), "{list}");
}

#[test]
fn the_dashboard_lists_flaky_tests_with_failures_passes_runs_and_first_and_last_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let dirs = attempts_dir().display().to_string();
    let o = prepare(bin(PREPARE), &out, 3, &["--attempt-reports", &dirs]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let artifacts = dir.path().join("artifacts/self-heal-7001");
    std::fs::create_dir_all(&artifacts).expect("mkdir");
    std::fs::copy(
        out.join("self-heal/context.json"),
        artifacts.join("context.json"),
    )
    .expect("copy");

    let o = crate::dashboard_support::build(dir.path(), &dir.path().join("artifacts"));
    assert!(o.status.success(), "{}", stderr(&o));
    let site = dir.path().join("site");
    let d = read_json(&site.join("dashboard.json"));
    let flaky = d["flaky_tests"].as_array().expect("flaky_tests");
    assert_eq!(flaky.len(), 3, "{flaky:#?}");
    // Most failures first (all have 2), then by test.
    let tests: Vec<&str> = flaky
        .iter()
        .map(|t| t["test"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(tests, vec![LOGIN_ID, COUPON_ID, TOTAL_ID]);
    let coupon = &flaky[1];
    assert_eq!(coupon["name"], COUPON);
    assert_eq!(
        (coupon["failures"].as_u64(), coupon["passes"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(coupon["runs"], json!(["7001"]));
    assert_eq!(coupon["first_seen"], "7001#1");
    assert_eq!(coupon["last_seen"], "7001#3");

    let index = std::fs::read_to_string(site.join("index.html")).expect("index");
    let table = index
        .split("<table id=\"flaky-tests\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("a flaky-tests table");
    assert!(
        table.contains("<tr><td><code>tests/test_checkout.py::test_applies_coupon</code></td><td>2</td><td>1</td><td>7001</td><td>7001#1</td><td>7001#3</td>"),
        "{table}"
    );
    // The run's page lists them with their attempts.
    let page = std::fs::read_to_string(site.join("runs/7001/index.html")).expect("run page");
    assert!(
        page.contains("<h3>Flaky across attempts (3)</h3>")
            && page.contains("<td>run 7001 attempt 1 failed, run 7001 attempt 2 passed, run 7001 attempt 3 failed</td>"),
        "{page}"
    );
    let summary = std::fs::read_to_string(dir.path().join("step_summary")).expect("summary");
    assert!(summary.contains("**Flaky tests**"), "{summary}");
    assert!(
        summary.contains(
            "| tests/test\\_checkout.py::test\\_applies\\_coupon | 2 | 1 | 7001 | 7001#1 | 7001#3 |"
        ),
        "{summary}"
    );
}

#[test]
fn a_secret_in_an_attempts_failure_message_is_redacted_in_the_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    let attempt = dir.path().join("attempts/7001-1");
    std::fs::create_dir_all(&attempt).expect("mkdir");
    let token = format!(
        "ghp_{}",
        "a1B2c3D4e5".repeat(4).get(..36).unwrap_or_default()
    );
    std::fs::write(
        attempt.join("junit.xml"),
        format!(
            r#"<testsuites><testsuite name="pytest"><testcase classname="tests.test_checkout" name="test_applies_coupon"><failure message="401 for token {token}">tests/test_checkout.py:27: HTTPError</failure></testcase></testsuite></testsuites>"#
        ),
    )
    .expect("write");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let a = dir.path().join("attempts").display().to_string();
    // Attempt 2 (attempt-2's reports): the coupon test passed there.
    let o = prepare(bin(PREPARE), &out, 2, &["--attempt-reports", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("self-heal/context.json")).expect("context");
    assert!(!text.contains(&token), "the token leaked into the context");
    let ctx: Value = serde_json::from_str(&text).expect("json");
    let m = flaky(&ctx, COUPON)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(m.starts_with("401 for token [REDACTED"), "{m}");
    assert!(ctx["redactions"]["total"].as_u64().unwrap_or(0) >= 1);
}
