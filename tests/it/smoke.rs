//! `ci-smoke` against the local test service (`smoke_support`): each of the reference design's
//! three production bugs is detected with the right evidence, and the health wait, a slow
//! answer, a 500, a redirect off the allowlist, a 50 MB body, secrets and checks-file errors
//! behave as documented. Every report is validated against `schemas/smoke-report.schema.json`.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{bin, read_json};
use crate::smoke_support::{self, Service, BIG_BYTES, DEPLOY_LOG, HEALTH_RED};

struct Run {
    code: Option<i32>,
    report: Value,
    stdout: String,
    stderr: String,
    report_text: String,
}

fn write_checks(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("ci-remedy-smoke.yml");
    std::fs::write(&p, yaml).expect("write checks");
    p
}

fn smoke_cmd(dir: &Path, svc: &Service, extra: &[&str]) -> Output {
    let mut cmd = bin(env!("CARGO_BIN_EXE_ci-smoke"));
    cmd.current_dir(dir)
        .env("APP_URL", &svc.base)
        .env("GITHUB_RUN_ID", "77")
        .env("SMOKE_TOKEN", "s3cr3t-Value-Never-Printed")
        .args([
            "--checks",
            "ci-remedy-smoke.yml",
            "--root",
            ".",
            "--out",
            "out",
        ])
        .args(extra);
    cmd.output().expect("run ci-smoke")
}

fn run_smoke(svc: &Service, yaml: &str, extra: &[&str]) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("deploy.log"), DEPLOY_LOG).expect("log");
    write_checks(dir.path(), yaml);
    let o = smoke_cmd(dir.path(), svc, extra);
    let path = dir.path().join("out/smoke/report-77.json");
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(path.exists(), "no report; stderr: {stderr}");
    crate::schemas::validate(&path);
    let run = Run {
        code: o.status.code(),
        report: read_json(&path),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr,
        report_text: std::fs::read_to_string(&path).expect("report"),
    };
    (dir, run)
}

fn check<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {r:#}"))
}

fn expectation<'a>(c: &'a Value, kind: &str) -> &'a Value {
    c["expectations"]
        .as_array()
        .expect("expectations")
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} expectation: {c:#}"))
}

const HEAD: &str = "hosts: [127.0.0.1]\nvariables: [APP_URL]\n";

#[test]
fn a_streamed_answer_sent_twice_fails_single_answer_and_a_clean_one_passes() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: chat ok
    request: {{ method: POST, url: '${{APP_URL}}/chat/ok', body: '{{\"q\":\"price\"}}' }}
    expect:
      body-contains: ['26.000.000 IDR']
      sse: {{ single-answer: true, min-chunks: 3, data-json-path: '$.delta' }}
  - name: chat duplicated
    request: {{ method: POST, url: '${{APP_URL}}/chat/dup' }}
    expect:
      body-contains: ['26.000.000 IDR']
      sse: {{ single-answer: true, min-chunks: 3, data-json-path: '$.delta' }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.report["outcome"], "failed");
    let ok = check(&r.report, "chat ok");
    assert_eq!(ok["passed"], true, "{ok:#}");
    assert_eq!(ok["sse"]["chunks"], 4);
    assert_eq!(ok["sse"]["final_events"], 1);
    assert_eq!(
        ok["sse"]["answer"],
        "The plan costs 26.000.000 IDR per year."
    );
    let dup = check(&r.report, "chat duplicated");
    assert_eq!(dup["passed"], false);
    let single = expectation(dup, "single-answer");
    assert_eq!(single["passed"], false);
    let actual = single["actual"].as_str().expect("actual");
    assert!(actual.contains("2 final event(s)"), "{actual}");
    assert!(
        actual.contains("the same text 2 times: The plan costs 26.000.000 IDR per year."),
        "{actual}"
    );
    // The duplicate still contains the price: only single-answer catches it.
    assert_eq!(expectation(dup, "body-contains")["passed"], true);
    assert!(
        r.stdout.contains("FAILED check chat duplicated"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_empty_answer_fails_and_the_log_shows_loaded_0_tools() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: assistant answers
    request: {{ method: POST, url: '${{APP_URL}}/chat/empty' }}
    expect:
      non-empty: true
      body-contains: ['26.000.000 IDR']
      sse: {{ min-chunks: 1, data-json-path: '$.delta' }}
log-patterns:
  - name: tools loaded
    files: [deploy.log]
    must-not-match: ['Loaded 0 tools']
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let c = check(&r.report, "assistant answers");
    assert_eq!(expectation(c, "non-empty")["passed"], false);
    assert_eq!(expectation(c, "min-chunks")["actual"], "0");
    assert_eq!(expectation(c, "body-contains")["passed"], false);
    let p = &r.report["log_patterns"][0];
    assert_eq!(p["passed"], false);
    assert_eq!(p["kind"], "must-not-match");
    assert_eq!(p["matches"][0]["source"], "deploy.log");
    assert_eq!(p["matches"][0]["line"], 2);
    assert!(p["matches"][0]["text"]
        .as_str()
        .expect("text")
        .contains("Loaded 0 tools for AI"));
    assert_eq!(r.report["failed"], 2);
}

#[test]
fn an_answer_without_prices_fails_and_the_log_url_shows_the_missing_pricing_file() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: price shown
    request: {{ url: '${{APP_URL}}/price' }}
    expect:
      status: 200
      json-path:
        - {{ path: '$.price', contains: 'IDR' }}
        - {{ path: '$.product', equals: 'Premium plan' }}
        - {{ path: '$.discount', exists: false }}
      body-contains: ['26.000.000 IDR']
log-patterns:
  - name: pricing data
    url: '${{APP_URL}}/logs'
    must-not-match: ['Pricing file not found']
    must-match: ['ready']
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let c = check(&r.report, "price shown");
    let jp: Vec<&Value> = c["expectations"]
        .as_array()
        .expect("e")
        .iter()
        .filter(|e| e["kind"] == "json-path")
        .collect();
    assert_eq!(jp.len(), 3);
    assert_eq!(
        (jp[0]["passed"].clone(), jp[0]["actual"].clone()),
        (Value::Bool(false), Value::from("null"))
    );
    assert_eq!(jp[1]["passed"], true);
    assert_eq!(jp[2]["passed"], true);
    let pats = r.report["log_patterns"].as_array().expect("patterns");
    let missing = pats
        .iter()
        .find(|p| p["kind"] == "must-not-match")
        .expect("must-not-match");
    assert_eq!(missing["passed"], false);
    assert_eq!(missing["matches"][0]["line"], 3);
    assert!(missing["matches"][0]["text"]
        .as_str()
        .expect("text")
        .contains("Pricing file not found: /app/data/pricing.json"));
    assert!(missing["matches"][0]["source"]
        .as_str()
        .expect("s")
        .ends_with("/logs"));
    let ready = pats
        .iter()
        .find(|p| p["kind"] == "must-match")
        .expect("must-match");
    assert_eq!(ready["passed"], true);
}

#[test]
fn health_turns_green_after_a_few_polls_and_a_red_one_reports_its_last_answer() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}wait-for-healthy: {{ url: '${{APP_URL}}/health', json-path: '$.status', equals: ok, interval: 100ms, timeout: 10s }}
checks:
  - name: up
    request: {{ url: '${{APP_URL}}/price' }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let h = &r.report["health"];
    assert_eq!(h["healthy"], true, "{h:#}");
    assert_eq!(h["attempts"], HEALTH_RED + 1);
    assert_eq!(h["last_status"], 200);
    assert_eq!(r.report["outcome"], "passed");

    let yaml = format!(
        "{HEAD}wait-for-healthy: {{ url: '${{APP_URL}}/error', interval: 100ms, timeout: 500ms }}
checks:
  - name: never runs
    request: {{ url: '${{APP_URL}}/price' }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let h = &r.report["health"];
    assert_eq!(h["healthy"], false);
    assert_eq!(h["last_status"], 500);
    assert!(h["last_answer"]
        .as_str()
        .expect("answer")
        .contains("boom: upstream failed"));
    assert!(h["attempts"].as_u64().expect("n") >= 2);
    assert_eq!(
        r.report["checks"].as_array().expect("checks").len(),
        0,
        "checks wait for health"
    );
    assert_eq!(r.report["outcome"], "failed");
    assert!(r.stdout.contains("NOT healthy"), "{}", r.stdout);
}

#[test]
fn a_slow_answer_and_a_500_fail_with_their_numbers() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: slow
    request: {{ url: '${{APP_URL}}/slow' }}
    expect: {{ latency: {{ first-byte-ms: 500, total-ms: 5000 }} }}
  - name: broken
    request: {{ url: '${{APP_URL}}/error' }}
    expect: {{ body-not-contains: ['boom'] }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let slow = check(&r.report, "slow");
    let fb = expectation(slow, "first-byte-ms");
    assert_eq!(fb["passed"], false);
    assert!(
        fb["actual"]
            .as_str()
            .expect("ms")
            .parse::<u64>()
            .expect("number")
            >= 1500
    );
    assert_eq!(expectation(slow, "total-ms")["passed"], true);
    let broken = check(&r.report, "broken");
    let st = expectation(broken, "status");
    assert_eq!(
        (
            st["expected"].as_str(),
            st["actual"].as_str(),
            st["passed"].as_bool()
        ),
        (Some("2xx"), Some("500"), Some(false))
    );
    let nc = expectation(broken, "body-not-contains");
    assert_eq!(nc["passed"], false);
    assert!(nc["actual"]
        .as_str()
        .expect("a")
        .contains("boom: upstream failed"));
}

#[test]
fn a_redirect_to_a_host_outside_the_allowlist_is_refused() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: redirected
    request: {{ url: '${{APP_URL}}/redirect' }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let c = check(&r.report, "redirected");
    assert_eq!(c["passed"], false);
    let err = c["error"].as_str().expect("error");
    assert!(
        err.contains("\"localhost\", which is not in `hosts:`"),
        "{err}"
    );
    assert_eq!(svc.hits("/redirect"), 1);
    assert_eq!(
        svc.hits("/secret"),
        0,
        "the refused hop was never requested"
    );
}

#[test]
fn a_50_mb_body_is_read_only_up_to_the_cap() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: big
    request: {{ url: '${{APP_URL}}/big', max-body-bytes: 65536 }}
    expect: {{ body-contains: ['never there'] }}
  - name: big default cap
    request: {{ url: '${{APP_URL}}/big' }}
"
    );
    let started = std::time::Instant::now();
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let c = check(&r.report, "big");
    assert_eq!(c["body_bytes"], 65536);
    assert_eq!(c["body_truncated"], true);
    assert_eq!(expectation(c, "body-size")["passed"], false);
    let d = check(&r.report, "big default cap");
    assert_eq!(d["body_bytes"], 1024 * 1024);
    assert!((d["body_bytes"].as_u64().expect("n") as usize) < BIG_BYTES);
    // The report quotes at most the excerpt cap, not the body.
    assert!(
        r.report_text.len() < 64 * 1024,
        "report is {} bytes",
        r.report_text.len()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn header_secrets_come_from_the_environment_and_are_never_printed() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: authorized
    request:
      url: '${{APP_URL}}/echo-auth'
      headers: {{ Authorization: {{ env: SMOKE_TOKEN, prefix: 'Bearer ' }} }}
    expect: {{ body-contains: ['not echoed'] }}
"
    );
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    let c = check(&r.report, "authorized");
    assert_eq!(c["body_excerpt"], "you sent Bearer [REDACTED:header]");
    for text in [&r.report_text, &r.stdout, &r.stderr] {
        assert!(
            !text.contains("s3cr3t-Value-Never-Printed"),
            "secret leaked: {text}"
        );
    }
    assert!(
        r.report["redactions"]["by_rule"]["header"]
            .as_u64()
            .expect("count")
            >= 1
    );
}

#[test]
fn checks_file_errors_exit_2_with_file_and_line() {
    let svc = smoke_support::start();
    let cases = [
        (
            format!("{HEAD}checks:\n  - name: x\n    request: {{ url: '${{APP_URL}}/' }}\n    expext: {{}}\n"),
            "unknown field `expext`",
            Some(":6"),
        ),
        (
            "hosts: [127.0.0.1]\nchecks:\n  - name: x\n    request: { url: 'http://evil.example/' }\n".to_string(),
            "host \"evil.example\" is not in `hosts:`",
            None,
        ),
        (
            format!("{HEAD}checks:\n  - name: x\n    request: {{ url: '${{HOME}}/' }}\n"),
            "${HOME} is not in `variables:`",
            None,
        ),
        (
            format!("{HEAD}log-patterns:\n  - {{ name: l, files: [a.log], must-match: ['(unclosed'] }}\n"),
            "invalid regex",
            None,
        ),
    ];
    for (yaml, want, line) in cases {
        let (_d, r) = run_smoke(&svc, &yaml, &[]);
        assert_eq!(r.code, Some(2), "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains("ci-remedy-smoke.yml"), "{}", r.stderr);
        assert!(r.stderr.contains("help:"), "{}", r.stderr);
        if let Some(l) = line {
            assert!(
                r.stderr.contains(&format!("ci-remedy-smoke.yml{l}")),
                "{}",
                r.stderr
            );
        }
        assert_eq!(r.report["outcome"], "error");
    }
}

#[test]
fn fail_on_failure_makes_a_failed_check_fail_the_job() {
    let svc = smoke_support::start();
    let yaml =
        format!("{HEAD}checks:\n  - name: broken\n    request: {{ url: '${{APP_URL}}/error' }}\n");
    let (_d, r) = run_smoke(&svc, &yaml, &[]);
    assert_eq!(r.code, Some(0));
    let (_d, r) = run_smoke(&svc, &yaml, &["--fail-on-failure"]);
    assert_eq!(r.code, Some(3));
    let ok =
        format!("{HEAD}checks:\n  - name: fine\n    request: {{ url: '${{APP_URL}}/price' }}\n");
    let (_d, r) = run_smoke(&svc, &ok, &["--fail-on-failure"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.report["outcome"], "passed");
}

#[test]
fn a_baseline_ignores_volatile_parts_and_shows_the_diff() {
    let svc = smoke_support::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("smoke")).expect("mkdir");
    std::fs::write(
        dir.path().join("smoke/price.json"),
        r#"{"id":"r-1","product":"Premium plan","price":"26.000.000 IDR","currency":"IDR"}"#,
    )
    .expect("baseline");
    let yaml = format!(
        "{HEAD}checks:
  - name: price baseline
    request: {{ url: '${{APP_URL}}/price' }}
    expect: {{ baseline: {{ file: smoke/price.json, ignore-json-paths: ['$.id'] }} }}
"
    );
    write_checks(dir.path(), &yaml);
    let o = smoke_cmd(dir.path(), &svc, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = read_json(&dir.path().join("out/smoke/report-77.json"));
    let b = expectation(check(&r, "price baseline"), "baseline");
    assert_eq!(b["passed"], false);
    let diff = b["diff"].as_str().expect("diff");
    assert!(diff.contains("-  \"price\": \"26.000.000 IDR\""), "{diff}");
    assert!(diff.contains("+  \"price\": null"), "{diff}");
    assert!(
        !diff.contains("r-981") && !diff.contains("r-1"),
        "ids are ignored: {diff}"
    );
}

#[test]
fn failed_validations_of_one_sha_are_counted_and_escalate_after_max_iterations() {
    let svc = smoke_support::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = format!("{HEAD}max-iterations: 3\nchecks:\n  - name: broken\n    request: {{ url: '${{APP_URL}}/error' }}\n");
    write_checks(dir.path(), &yaml);
    let history = dir.path().join("history");
    std::fs::create_dir_all(&history).expect("mkdir");
    let mut seen = Vec::new();
    for run_id in ["101", "102", "103"] {
        let o = bin(env!("CARGO_BIN_EXE_ci-smoke"))
            .current_dir(dir.path())
            .env("APP_URL", &svc.base)
            .env("GITHUB_RUN_ID", run_id)
            .env("GITHUB_SHA", "abc123")
            .args([
                "--checks",
                "ci-remedy-smoke.yml",
                "--out",
                "out",
                "--history",
                "history",
            ])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0));
        let report = dir.path().join(format!("out/smoke/report-{run_id}.json"));
        let r = read_json(&report);
        seen.push((
            r["iteration"]["failed_validations"].as_u64(),
            r["iteration"]["escalate_to_human"].as_bool(),
        ));
        std::fs::copy(&report, history.join(format!("report-{run_id}.json"))).expect("copy");
    }
    assert_eq!(
        seen,
        vec![
            (Some(1), Some(false)),
            (Some(2), Some(false)),
            (Some(3), Some(true))
        ]
    );

    // ci-notify tells a person only for the third: the escalation after max-iterations.
    let stub =
        crate::agent_support::Stub::start(vec![crate::agent_support::Reply::json(200, "{}")]);
    let notify = |run_id: &str| {
        let out = dir.path().join(format!("notify-{run_id}"));
        let o = bin(env!("CARGO_BIN_EXE_ci-notify"))
            .env("CI_NOTIFY_WEBHOOK_URL", format!("{}/hook", stub.url))
            .env("GITHUB_RUN_ID", run_id)
            .arg("--smoke-report")
            .arg(dir.path().join(format!("out/smoke/report-{run_id}.json")))
            .args(["--kind", "generic", "--out"])
            .arg(&out)
            .output()
            .expect("ci-notify");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        read_json(&out.join("notify/notify-status.json"))
    };
    assert_eq!(notify("102")["status"], "not_escalated");
    assert!(stub.requests().is_empty());
    let s = notify("103");
    assert_eq!(
        (s["status"].as_str(), s["reason"].as_str()),
        (Some("sent"), Some("smoke-max-iterations")),
        "{s}"
    );
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let body: Value = serde_json::from_slice(&reqs[0].body).expect("json");
    assert_eq!(body["reason"], "smoke-max-iterations");
    let evidence = body["evidence"].to_string();
    assert!(
        evidence.contains("smoke check broken")
            && evidence.contains("status expected 2xx, got 500"),
        "{evidence}"
    );
    assert!(
        body["tried"]
            .to_string()
            .contains("smoke validation of abc123: failed 3 of 3"),
        "{body}"
    );
}

#[test]
fn credentials_are_redacted_and_workflow_commands_never_reach_stdout() {
    let svc = smoke_support::start();
    let yaml = format!(
        "{HEAD}checks:
  - name: leaky
    request: {{ url: '${{APP_URL}}/leak' }}
    expect: {{ body-contains: ['absent'] }}
log-patterns:
  - name: hostile log
    url: '${{APP_URL}}/leak'
    must-not-match: ['set-output', 'ghp_']
"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write_checks(dir.path(), &yaml);
    let o = smoke_cmd(dir.path(), &svc, &[]);
    let path = dir.path().join("out/smoke/report-77.json");
    let report = std::fs::read_to_string(&path).expect("report");
    let stdout = String::from_utf8_lossy(&o.stdout);
    for text in [&*report, &*stdout] {
        assert!(
            !text.contains("ghp_0123456789abcdefghij"),
            "token leaked: {text}"
        );
    }
    assert!(report.contains("[REDACTED:"), "{report}");
    for line in stdout.lines() {
        let t = line.trim_start();
        assert!(
            !t.starts_with("::set-output") && !t.starts_with("::add-mask"),
            "{stdout}"
        );
    }
    // The hostile line is shown as data after its location, never at the start of a line.
    assert!(
        stdout.contains("/leak:2: ::set-output name=pwned::yes"),
        "{stdout}"
    );
    let r = read_json(&path);
    assert_eq!(r["log_patterns"][0]["matches"][0]["line"], 2);
}
