//! `ci-logs-ship` end to end: against the real `developer-agent` (the answer then drives
//! `self-heal-prepare`) and against a fault-injecting loopback server. Whatever the service
//! does, the ship step exits 0 and writes its status artifact and the payload.

use crate::agent_support;
use crate::common;

use std::path::Path;
use std::time::Duration;

use agent_support::{Agent, Reply, Stub};
use common::read_json;

const SHIP: &str = env!("CARGO_BIN_EXE_ci-logs-ship");
const PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");
const TOKEN: &str = "ship-token-51c2";

const VALID_ANSWER: &str = r#"{"classification":{"category":"network","confidence":0.9,"summary":"registry reset"},"self_heal_plan":{"actions":["clear-cache"],"rerun":"failed"},"fix_agent_instructions":[],"triggers":[{"name":"self-heal"}]}"#;

fn ship(out: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let log = out.join("job.log");
    if !log.exists() {
        std::fs::write(
            &log,
            "Run npm ci\nnpm ERR! code ECONNRESET\nnpm ERR! network aborted\n",
        )
        .expect("write log");
    }
    let attempts: &[&str] = if extra.contains(&"--max-attempts") {
        &[]
    } else {
        &["--max-attempts", "3"]
    };
    common::bin(SHIP)
        .env("AGENT_URL", url)
        .env("AGENT_TOKEN", TOKEN)
        .env("GITHUB_RUN_ID", "9001")
        .env("GITHUB_REPOSITORY", "o/r")
        .args([
            "--out",
            out.to_str().expect("utf8"),
            "--repo",
            out.to_str().expect("utf8"),
            "--log",
            log.to_str().expect("utf8"),
        ])
        .args([
            "--connect-timeout",
            "500ms",
            "--timeout",
            "700ms",
            "--backoff",
            "20ms",
        ])
        .args(attempts)
        .args(extra)
        .output()
        .expect("run ci-logs-ship")
}

fn status(out: &Path) -> serde_json::Value {
    read_json(&out.join("agent/ship-status.json"))
}

/// Exit 0, status and payload written, token never printed.
fn assert_best_effort(out: &Path, o: &std::process::Output, expected: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    let s = status(out);
    assert_eq!(s["schema"], "ci-remedy/ci-logs-ship/v1");
    assert_eq!(s["status"], expected, "{s}");
    let payload = read_json(&out.join("agent/payload.json"));
    assert_eq!(payload["schema"], "ci-remedy/ci-logs/v1");
    assert_eq!(payload["run"]["run_id"], "9001");
    assert!(payload["logs"][0]["content"]
        .as_str()
        .expect("content")
        .contains("ECONNRESET"));
    if expected != "answered" {
        assert!(!out.join("agent/developer-agent-answer.json").exists());
    }
    s
}

#[test]
fn end_to_end_with_the_real_developer_agent_then_self_heal_prepare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = Agent::start(
        &[("AGENT_TOKEN", TOKEN)],
        &[
            "--data-dir",
            dir.path().join("data").to_str().expect("utf8"),
        ],
    );
    let o = ship(dir.path(), &agent.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "answered");
    assert_eq!(s["attempts"], 1);
    assert_eq!(s["http_status"], 200);
    let answer_path = dir.path().join("agent/developer-agent-answer.json");
    assert_eq!(s["answer_path"], answer_path.display().to_string());
    let answer = read_json(&answer_path);

    // The server stored the run under its id.
    assert!(dir.path().join("data/logs/9001").is_dir());

    // The answer drives self-heal-prepare.
    let run = |extra: &[&str]| {
        let o = common::bin(PREPARE)
            .args(["--out", dir.path().to_str().expect("utf8"), "--log"])
            .arg(dir.path().join("job.log"))
            .args(extra)
            .current_dir(dir.path())
            .output()
            .expect("run prepare");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        read_json(&dir.path().join("self-heal/context.json"))
    };
    let rules_only = run(&[]);
    let ctx = run(&[
        "--developer-agent-response",
        answer_path.to_str().expect("utf8"),
    ]);
    assert_eq!(
        ctx["developer_agent"]["status"], "valid",
        "{}",
        ctx["developer_agent"]
    );
    assert_eq!(ctx["classification"]["source"], "developer-agent");
    assert_eq!(
        ctx["classification"]["category"],
        answer["classification"]["category"]
    );
    // The server classifies with the same library and rule pack as the local rules.
    assert_eq!(
        answer["classification"]["category"],
        rules_only["classification"]["category"]
    );
    let payload = read_json(&dir.path().join("agent/payload.json"));
    assert_eq!(
        payload["classification"]["category"],
        rules_only["classification"]["category"]
    );
}

#[test]
fn slow_answers_past_the_timeout_are_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::Respond {
        status: 200,
        content_type: "application/json",
        extra_headers: vec![],
        body: VALID_ANSWER.as_bytes().to_vec(),
        delay: Duration::from_secs(3),
    }]);
    let started = std::time::Instant::now();
    let o = ship(dir.path(), &stub.url, &["--max-attempts", "2"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let s = assert_best_effort(dir.path(), &o, "unreachable");
    assert_eq!(s["attempts"], 2);
    assert!(
        s["detail"].as_str().expect("detail").contains("timed out"),
        "{s}"
    );
}

#[test]
fn a_500_then_a_200_is_retried_and_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![
        Reply::json(500, r#"{"error":"boom"}"#),
        Reply::json(200, VALID_ANSWER),
    ]);
    let o = ship(dir.path(), &stub.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "answered");
    assert_eq!(s["attempts"], 2);
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].request_line, "POST /api/ci/logs HTTP/1.1");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(reqs[0].body, reqs[1].body);
    let a = read_json(&dir.path().join("agent/developer-agent-answer.json"));
    assert_eq!(a["self_heal_plan"]["actions"][0], "clear-cache");
}

#[test]
fn a_429_with_retry_after_is_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![
        Reply::Respond {
            status: 429,
            content_type: "application/json",
            extra_headers: vec![("Retry-After", "1".into())],
            body: b"{}".to_vec(),
            delay: Duration::ZERO,
        },
        Reply::json(
            200,
            &format!(r#"{{"status":"received","upstream":{VALID_ANSWER}}}"#),
        ),
    ]);
    let started = std::time::Instant::now();
    let o = ship(dir.path(), &stub.url, &[]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let s = assert_best_effort(dir.path(), &o, "answered");
    assert_eq!(s["attempts"], 2);
    assert!(s["duration_ms"].as_u64().expect("ms") >= 1000, "{s}");

    // A Retry-After longer than allowed ends the retries at once.
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::Respond {
        status: 429,
        content_type: "application/json",
        extra_headers: vec![("Retry-After", "3600".into())],
        body: b"{}".to_vec(),
        delay: Duration::ZERO,
    }]);
    let o = ship(dir.path(), &stub.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "unreachable");
    assert_eq!(s["attempts"], 1);
    assert_eq!(s["http_status"], 429);
    assert!(
        s["detail"]
            .as_str()
            .expect("detail")
            .contains("Retry-After"),
        "{s}"
    );
}

#[test]
fn connection_resets_are_retried_then_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::Reset, Reply::json(200, VALID_ANSWER)]);
    let o = ship(dir.path(), &stub.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "answered");
    assert_eq!(s["attempts"], 2);

    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::Reset]);
    let o = ship(dir.path(), &stub.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "unreachable");
    assert_eq!(s["attempts"], 3);
    assert_eq!(stub.connection_count(), 3);
}

#[test]
fn malformed_oversized_and_wrongly_typed_answers_are_invalid() {
    for (reply, needle) in [
        (Reply::json(200, r#"{"classification": "#), "not valid JSON"),
        (
            Reply::json(
                200,
                r#"{"classification":{"category":"network","confidence":0.5},"self_heal_plan":{"actions":["rm -rf /"]}}"#,
            ),
            "invalid action name",
        ),
        (
            Reply::json(200, &"x".repeat(4 * 1024 * 1024 + 1)),
            "more than",
        ),
        (
            Reply::Respond {
                status: 200,
                content_type: "text/html",
                extra_headers: vec![],
                body: VALID_ANSWER.as_bytes().to_vec(),
                delay: Duration::ZERO,
            },
            "Content-Type",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let stub = Stub::start(vec![reply]);
        let o = ship(dir.path(), &stub.url, &[]);
        let s = assert_best_effort(dir.path(), &o, "invalid_answer");
        assert_eq!(s["attempts"], 1, "{s}");
        assert!(
            s["detail"].as_str().expect("detail").contains(needle),
            "{needle}: {s}"
        );
    }
}

#[test]
fn a_4xx_is_rejected_without_retry_and_no_config_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = Stub::start(vec![Reply::json(
        400,
        r#"{"error":"missing or invalid fields","fields":["run.run_id"]}"#,
    )]);
    let o = ship(dir.path(), &stub.url, &[]);
    let s = assert_best_effort(dir.path(), &o, "rejected");
    assert_eq!(s["attempts"], 1);
    assert_eq!(s["http_status"], 400);
    assert!(s["detail"].as_str().expect("detail").contains("run.run_id"));

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("job.log"), "npm ERR! code ECONNRESET\n").expect("write");
    let out_file = dir.path().join("gh_output");
    let o = common::bin(SHIP)
        .env_remove("AGENT_URL")
        .env("GITHUB_OUTPUT", &out_file)
        .env("GITHUB_RUN_ID", "9001")
        .env("GITHUB_WORKSPACE", dir.path())
        .args(["--out", dir.path().to_str().expect("utf8"), "--log"])
        .arg(dir.path().join("job.log"))
        .output()
        .expect("run");
    let s = assert_best_effort(dir.path(), &o, "skipped");
    // Without --repo the repository section describes GITHUB_WORKSPACE.
    assert_eq!(s["repository"]["dir"], dir.path().display().to_string());
    let payload = read_json(&dir.path().join("agent/payload.json"));
    assert_eq!(
        payload["repository"]["paths"],
        serde_json::json!(["job.log"])
    );
    let outputs = common::parse_outputs(&std::fs::read_to_string(&out_file).expect("outputs"));
    assert_eq!(outputs, vec![("status".to_string(), "skipped".to_string())]);
}

#[test]
fn logs_are_capped_to_the_policy_tail_at_a_line_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log: String = (1..=2000)
        .map(|i| format!("line {i} of the build\n"))
        .collect::<String>()
        + "npm ERR! code ECONNRESET\n";
    std::fs::write(dir.path().join("job.log"), &log).expect("write");
    let policy = dir.path().join("policy.yml");
    std::fs::write(&policy, "version: 1\nship:\n  max-log-bytes: 2048\n").expect("write");
    let stub = Stub::start(vec![Reply::json(200, VALID_ANSWER)]);
    let o = ship(
        dir.path(),
        &stub.url,
        &["--policy", policy.to_str().expect("utf8")],
    );
    let s = assert_best_effort(dir.path(), &o, "answered");
    assert_eq!(s["logs"][0]["truncated"], true);
    assert_eq!(s["logs"][0]["bytes"], log.len());
    assert!(s["logs"][0]["sent_bytes"].as_u64().expect("n") <= 2048);
    let sent: serde_json::Value =
        serde_json::from_slice(&stub.requests()[0].body).expect("payload");
    let content = sent["logs"][0]["content"].as_str().expect("content");
    assert!(content.len() <= 2048 && content.ends_with("ECONNRESET\n"));
    let first = sent["logs"][0]["first_line"].as_u64().expect("first_line");
    assert!(
        content.starts_with(&format!("line {first} of the build\n")),
        "{first}: {}",
        &content[..40]
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "ship:\n  max-log-bytes: 5\n").expect("write");
    let o = ship(
        dir.path(),
        &stub.url,
        &["--policy", bad.to_str().expect("utf8")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ship.max-log-bytes"));
}

/// Issue 16 #14: with no `--repo` and no `GITHUB_WORKSPACE`, a working directory that is not
/// inside a git repository is never listed (no repository section, and a warning says why);
/// inside a repository, the repository's root is described, not the subdirectory.
#[test]
fn without_repo_the_checkout_is_the_git_repository_or_nothing() {
    let ship_from = |cwd: &Path, out: &Path| {
        let o = common::bin(SHIP)
            .env_remove("AGENT_URL")
            .env("GITHUB_RUN_ID", "9002")
            .current_dir(cwd)
            .args(["--out", out.to_str().expect("utf8"), "--log"])
            .arg(out.join("job.log"))
            .output()
            .expect("run");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        (o, read_json(&out.join("agent/payload.json")))
    };

    let plain = tempfile::tempdir().expect("tempdir");
    std::fs::write(plain.path().join("job.log"), "npm ERR! code ECONNRESET\n").expect("write");
    std::fs::write(plain.path().join("private-notes.txt"), "x").expect("write");
    let (o, payload) = ship_from(plain.path(), plain.path());
    assert!(
        payload.get("repository").is_none_or(|r| r.is_null()),
        "{payload}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("not inside a git repository"), "{stderr}");

    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(repo.path().join(".git")).expect("git dir");
    std::fs::create_dir_all(repo.path().join("sub")).expect("sub");
    std::fs::write(repo.path().join("top.txt"), "x").expect("write");
    std::fs::write(repo.path().join("job.log"), "npm ERR! code ECONNRESET\n").expect("write");
    let (_, payload) = ship_from(&repo.path().join("sub"), repo.path());
    let paths = payload["repository"]["paths"].as_array().expect("paths");
    assert!(paths.iter().any(|p| p == "top.txt"), "{payload}");
}

/// Issue 15 #11: log file names and JUnit test names (pytest's parametrised ids) are
/// redacted before they are sent and written, like `self-heal-prepare` does.
#[test]
fn log_names_and_test_names_are_redacted_before_they_are_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Made-up tokens of the documented shapes.
    let aws = "AKIAQ2W3E4R5T6Y7U2I3";
    let ghp = "ghp_Zq3Xw9Lk2Vb7Nm4Pq8Rs1Tu6Vw0Xy5Za2Bc3";
    let log = dir.path().join(format!("deploy-{ghp}.log"));
    std::fs::write(&log, "Run npm ci\nnpm ERR! code ECONNRESET\n").expect("write log");
    let junit = dir.path().join("junit.xml");
    std::fs::write(
        &junit,
        format!(
            r#"<testsuites><testsuite name="pytest"><testcase classname="tests.test_api" name="test_login[{aws}]" file="tests/test_api.py" line="3"><failure message="login with {aws} failed">AssertionError</failure></testcase></testsuite></testsuites>"#
        ),
    )
    .expect("write junit");
    let stub = Stub::start(vec![Reply::json(200, VALID_ANSWER)]);
    let o = common::bin(SHIP)
        .env("AGENT_URL", &stub.url)
        .env("AGENT_TOKEN", TOKEN)
        .env("GITHUB_RUN_ID", "9001")
        .args(["--out", dir.path().to_str().expect("utf8")])
        .arg("--log")
        .arg(&log)
        .arg("--junit")
        .arg(&junit)
        .args(["--timeout", "2s", "--max-attempts", "1"])
        .output()
        .expect("run ci-logs-ship");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sent = String::from_utf8_lossy(&stub.requests()[0].body).into_owned();
    let written = std::fs::read_to_string(dir.path().join("agent/payload.json")).expect("payload");
    for (what, text) in [("sent", &sent), ("written", &written)] {
        assert!(!text.contains(aws) && !text.contains(ghp), "{what}: {text}");
        let p: serde_json::Value = serde_json::from_str(text).expect("json");
        let name = p["logs"][0]["name"].as_str().expect("log name");
        assert!(name.contains("[REDACTED:github-pat]"), "{what}: {name}");
        let test = &p["failed_tests"][0];
        assert_eq!(
            test["name"], "tests.test_api.test_login[[REDACTED:aws-access-key-id]]",
            "{what}: {test}"
        );
        assert!(test["message"]
            .as_str()
            .expect("message")
            .contains("[REDACTED:aws-access-key-id]"));
    }
}
