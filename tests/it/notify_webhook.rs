//! `ci-notify` against a loopback webhook receiver: one message per run and category, the
//! webhook URL never printed, best-effort on failure.

use crate::agent_support;
use crate::common;

use std::path::Path;

use agent_support::{Reply, Stub};
use common::read_json;

const NOTIFY: &str = env!("CARGO_BIN_EXE_ci-notify");
const SECRET: &str = "T0000/B0000/sEcReTwEbHoOk";

fn report(dir: &Path, category: &str, outcome: &str, escalate: &str) -> std::path::PathBuf {
    let p = dir.join(format!("report-{category}-{outcome}.json"));
    let run = serde_json::json!({"repository": "o/r", "run_id": "55", "run_attempt": 2, "event_name": "push",
        "sha": "abc", "ref": "refs/heads/main", "workflow": "ci", "job": "test"});
    let v = serde_json::json!({
        "schema": "ci-remedy/self-heal-report/v1",
        "tool": {"name": "self-heal-execute", "version": "0"},
        "run": run,
        "category": category,
        "attempt": 2,
        "actions": [{"name": "reseed-db", "command": ["sh", "-c", "x"], "exit_code": 0, "duration_ms": 5, "timed_out": false, "output_tail": ""}],
        "outcome": outcome,
        "escalate_to": escalate,
        "detail": "x"
    });
    std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
    p
}

fn notify(dir: &Path, url: &str, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let o = common::bin(NOTIFY)
        .env("CI_NOTIFY_WEBHOOK_URL", url)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "55")
        .env("GITHUB_SERVER_URL", "https://github.example")
        .args([
            "--out",
            dir.to_str().expect("utf8"),
            "--timeout",
            "2s",
            "--retry-delay",
            "50ms",
        ])
        .args(args)
        .output()
        .expect("run ci-notify");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    for text in [&*stdout, &*stderr] {
        assert!(
            !text.contains(SECRET) && !text.contains(url),
            "webhook URL printed:\n{text}"
        );
    }
    let status_path = dir.join("notify/notify-status.json");
    let status_text = std::fs::read_to_string(&status_path).expect("status");
    assert!(!status_text.contains(SECRET));
    (o, read_json(&status_path))
}

#[test]
fn one_message_per_run_and_category() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::json(200, "{}")]);
    let url = format!("{}/hooks/{SECRET}", stub.url);
    let net = report(dir.path(), "network", "still_failing", "human");
    let net = net.to_str().expect("utf8");

    let (_, s) = notify(dir.path(), &url, &["--report", net, "--kind", "slack"]);
    assert_eq!(s["status"], "sent", "{s}");
    assert_eq!(s["reason"], "self-heal-exhausted");
    assert_eq!(s["webhook"], "slack");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].request_line,
        format!("POST /hooks/{SECRET} HTTP/1.1")
    );
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).expect("json");
    let text = body["text"].as_str().expect("slack text");
    assert!(
        text.contains("<https://github.example/o/r/actions/runs/55|o/r run 55>"),
        "{text}"
    );
    assert!(
        text.contains("`network`")
            && text.contains("reseed-db")
            && text.contains("self-heal ran and the job still fails: x"),
        "{text}"
    );

    // Same run and category again (e.g. a rerun of the job): nothing sent.
    let (_, s) = notify(dir.path(), &url, &["--report", net, "--kind", "slack"]);
    assert_eq!(s["status"], "duplicate", "{s}");
    assert_eq!(stub.requests().len(), 1);

    // Another category of the same run is a new message.
    let other = report(dir.path(), "service_unavailable", "still_failing", "human");
    let (_, s) = notify(
        dir.path(),
        &url,
        &[
            "--report",
            other.to_str().expect("utf8"),
            "--kind",
            "generic",
        ],
    );
    assert_eq!(s["status"], "sent");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    let body: serde_json::Value = serde_json::from_slice(&reqs[1].body).expect("json");
    assert_eq!(body["schema"], "ci-remedy/notification/v1");
    assert_eq!(body["category"], "service_unavailable");
    assert_eq!(
        body["run_url"],
        "https://github.example/o/r/actions/runs/55"
    );

    let state = read_json(&dir.path().join("notify/sent.json"));
    assert_eq!(state["sent"].as_array().expect("sent").len(), 2);
}

/// The message says what stopped self-heal (issue 16 #11): a decision whose plan gate
/// failed is "did not run" with the gate, not "attempts exhausted".
#[test]
fn the_message_says_what_stopped_self_heal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::json(200, "{}")]);
    let url = format!("{}/hooks/{SECRET}", stub.url);
    let p = report(dir.path(), "network", "skipped", "human");
    let mut v = read_json(&p);
    v["actions"] = serde_json::json!([]);
    v["detail"] = "the decision did not allow self-heal (failed gates: plan); nothing ran".into();
    std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
    let (_, s) = notify(
        dir.path(),
        &url,
        &["--report", p.to_str().expect("utf8"), "--kind", "generic"],
    );
    assert_eq!(s["status"], "sent", "{s}");
    let reqs = stub.requests();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).expect("json");
    assert_eq!(body["reason"], "self-heal-exhausted");
    assert_eq!(
        body["headline"],
        "self-heal did not run: the decision did not allow self-heal (failed gates: plan); nothing ran"
    );
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        !text.contains("exhausted") && text.contains("failed gates: plan"),
        "{body}"
    );
}

#[test]
fn nothing_is_sent_without_an_enabled_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::json(200, "{}")]);
    let url = format!("{}/hooks/{SECRET}", stub.url);
    let healed = report(dir.path(), "network", "healed", "none");
    let (_, s) = notify(
        dir.path(),
        &url,
        &["--report", healed.to_str().expect("utf8")],
    );
    assert_eq!(s["status"], "not_escalated");

    let exhausted = report(dir.path(), "network", "still_failing", "human");
    let (_, s) = notify(
        dir.path(),
        &url,
        &[
            "--report",
            exhausted.to_str().expect("utf8"),
            "--on",
            "patch-rejected",
        ],
    );
    assert_eq!(s["status"], "not_escalated");

    let meta = dir.path().join("metadata.json");
    let mut m: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/dashboard/artifacts/7002/fix-agent/fix-agent/metadata-7002.json"
    ))
    .expect("fixture");
    m["guardrails"]["decision"] = "rejected".into();
    m["validation"]["status"] = "skipped".into();
    std::fs::write(&meta, m.to_string()).expect("write");
    let (_, s) = notify(
        dir.path(),
        &url,
        &[
            "--fix-metadata",
            meta.to_str().expect("utf8"),
            "--on",
            "patch-rejected",
            "--kind",
            "discord",
        ],
    );
    assert_eq!(s["status"], "sent", "{s}");
    assert_eq!(s["reason"], "patch-rejected");
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).expect("json");
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert!(body["content"].as_str().expect("content").chars().count() <= 2000);
}

#[test]
fn a_failing_webhook_is_retried_once_and_reported_without_the_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::json(500, r#"{"error":"down"}"#)]);
    let url = format!("{}/hooks/{SECRET}", stub.url);
    let r = report(dir.path(), "network", "still_failing", "human");
    let (_, s) = notify(dir.path(), &url, &["--report", r.to_str().expect("utf8")]);
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["attempts"], 2);
    assert_eq!(s["http_status"], 500);
    assert_eq!(stub.connection_count(), 2);
    assert!(!dir.path().join("notify/sent.json").exists());

    // Unreachable: same, and no URL in the detail.
    let (_, s) = notify(
        dir.path(),
        &format!("http://127.0.0.1:1/hooks/{SECRET}"),
        &["--report", r.to_str().expect("utf8")],
    );
    assert_eq!(s["status"], "failed");
    assert!(
        s["detail"]
            .as_str()
            .expect("detail")
            .starts_with("the webhook unreachable"),
        "{s}"
    );

    // No webhook configured: skipped.
    let o = common::bin(NOTIFY)
        .env_remove("CI_NOTIFY_WEBHOOK_URL")
        .args([
            "--out",
            dir.path().to_str().expect("utf8"),
            "--report",
            r.to_str().expect("utf8"),
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        read_json(&dir.path().join("notify/notify-status.json"))["status"],
        "skipped"
    );
}

#[test]
fn a_webhook_that_times_out_is_not_posted_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The receiver reads the message, then answers after the client gave up: it may have
    // posted it, so a retry could post it twice.
    let stub = Stub::start(vec![
        Reply::Respond {
            status: 200,
            content_type: "application/json",
            extra_headers: vec![],
            body: b"ok".to_vec(),
            delay: std::time::Duration::from_secs(2),
        },
        Reply::json(200, "ok"),
    ]);
    let url = format!("{}/hooks/{SECRET}", stub.url);
    let r = report(dir.path(), "network", "still_failing", "human");
    let o = common::bin(NOTIFY)
        .env("CI_NOTIFY_WEBHOOK_URL", &url)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "55")
        .args([
            "--out",
            dir.path().to_str().expect("utf8"),
            "--timeout",
            "300ms",
            "--retry-delay",
            "10ms",
            "--report",
            r.to_str().expect("utf8"),
        ])
        .output()
        .expect("run ci-notify");
    assert_eq!(o.status.code(), Some(0));
    let s = read_json(&dir.path().join("notify/notify-status.json"));
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["attempts"], 1, "{s}");
    assert!(
        s["detail"].as_str().expect("detail").contains("timed out"),
        "{s}"
    );
    assert_eq!(stub.connection_count(), 1);
}
