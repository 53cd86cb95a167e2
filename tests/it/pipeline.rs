//! The whole self-heal chain with one `--out`: prepare → decide → execute, on a raw GitHub log,
//! with a policy whose actions are real commands.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{bin, read_json};

const PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");
const DECIDE: &str = env!("CARGO_BIN_EXE_self-heal-decide");
const EXECUTE: &str = env!("CARGO_BIN_EXE_self-heal-execute");

const POSTGRES_LOG: &str = "\
2024-03-01T10:00:00.0000000Z ##[group]Run npm run test:e2e
2024-03-01T10:00:00.0100000Z \u{1b}[36;1mnpm run test:e2e\u{1b}[0m
2024-03-01T10:00:00.0200000Z shell: /usr/bin/bash -e {0}
2024-03-01T10:00:00.0300000Z ##[endgroup]
2024-03-01T10:00:01.0000000Z > app@1.0.0 test:e2e
2024-03-01T10:00:02.0000000Z Running 12 tests using 2 workers
2024-03-01T10:00:03.0000000Z Error: connect ECONNREFUSED 127.0.0.1:5432
2024-03-01T10:00:03.0000000Z psql: error: connection to server at \"localhost\" (127.0.0.1), port 5432 failed: Connection refused
2024-03-01T10:00:03.0000000Z \tIs the server running on that host and accepting TCP/IP connections?
2024-03-01T10:00:04.0000000Z ##[error]Process completed with exit code 1.
";

fn hermetic(path: &str, dir: &Path) -> Command {
    let mut cmd = bin(path);
    cmd.current_dir(dir)
        .env("GITHUB_RUN_ID", "777")
        .env("GITHUB_REPOSITORY", "octo/app")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_WORKFLOW", "e2e");
    cmd
}

fn write_policy(dir: &Path) {
    std::fs::write(
        dir.join("policy.yml"),
        r#"version: 1
self-heal:
  max-attempts: 2
  actions:
    reseed-db:
      run: [sh, -c, 'echo seeded > seeded.txt']
      timeout: 10s
  plan:
    service_unavailable: [reseed-db]
  rerun:
    mode: failed
    failed: [sh, -c, 'echo "$@" > rerun-args.txt', rerun]
    full: [sh, -c, 'echo full > rerun-args.txt']
    timeout: 10s
"#,
    )
    .expect("policy");
}

#[test]
fn workflow_dispatch_heals_a_refused_database_with_the_named_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("e2e.log"), POSTGRES_LOG).expect("log");
    write_policy(d);

    let out = hermetic(PREPARE, d)
        .args(["--out", ".", "--policy", "policy.yml", "--log", "e2e.log"])
        .output()
        .expect("prepare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = read_json(&d.join("self-heal/context.json"));
    assert_eq!(
        ctx["classification"]["category"], "service_unavailable",
        "{ctx:#}"
    );
    let top = &ctx["findings"][0];
    assert_eq!(top["rank"], 1);
    assert!(
        (7..=9).contains(&top["line_start"].as_u64().expect("line")),
        "rank-1 finding should point at the refused connection: {top:#}"
    );

    let out = hermetic(DECIDE, d)
        .args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .output()
        .expect("decide");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decision = read_json(&d.join("self-heal/decision.json"));
    assert_eq!(decision["allowed"], true, "{decision:#}");
    assert_eq!(decision["actions"], serde_json::json!(["reseed-db"]));

    let out = hermetic(EXECUTE, d)
        .args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .output()
        .expect("execute");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = read_json(&d.join("self-heal/report-777.json"));
    assert_eq!(report["actions"][0]["name"], "reseed-db");
    assert_eq!(report["actions"][0]["exit_code"], 0);
    assert_eq!(
        std::fs::read_to_string(d.join("seeded.txt")).expect("action ran"),
        "seeded\n"
    );
    assert_eq!(report["outcome"], "healed", "{report:#}");
    assert_eq!(report["escalate_to"], "none");
}

#[test]
fn push_event_decides_no_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("e2e.log"), POSTGRES_LOG).expect("log");
    write_policy(d);
    for (exe, args) in [
        (
            PREPARE,
            vec!["--out", ".", "--policy", "policy.yml", "--log", "e2e.log"],
        ),
        (DECIDE, vec!["--out", ".", "--policy", "policy.yml"]),
        (EXECUTE, vec!["--out", ".", "--policy", "policy.yml"]),
    ] {
        let out = hermetic(exe, d)
            .args(&args)
            .env("GITHUB_EVENT_NAME", "push")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let decision = read_json(&d.join("self-heal/decision.json"));
    assert_eq!(decision["allowed"], false);
    let event_gate = decision["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "event")
        .expect("event gate");
    assert_eq!(event_gate["passed"], false);
    assert!(event_gate["detail"]
        .as_str()
        .expect("detail")
        .contains("push"));
    let report = read_json(&d.join("self-heal/report-777.json"));
    assert_eq!(report["outcome"], "skipped");
    assert!(
        !d.join("seeded.txt").exists(),
        "an action ran on a negative decision"
    );
}

fn prepared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("e2e.log"), POSTGRES_LOG).expect("log");
    write_policy(d);
    dir
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn a_closed_stdout_keeps_the_artifacts_and_the_exit_codes() {
    let dir = prepared_dir();
    let d = dir.path();
    let mut cmd = hermetic(PREPARE, d);
    cmd.args(["--out", ".", "--policy", "policy.yml", "--log", "e2e.log"]);
    let o = common::output_with_closed_stdout(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert!(!stderr_of(&o).contains("panicked"), "{}", stderr_of(&o));
    assert!(d.join("self-heal/context.json").is_file());

    let mut cmd = hermetic(DECIDE, d);
    cmd.args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch");
    let o = common::output_with_closed_stdout(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(
        read_json(&d.join("self-heal/decision.json"))["allowed"],
        true
    );

    let mut cmd = hermetic(EXECUTE, d);
    cmd.args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch");
    let o = common::output_with_closed_stdout(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(
        read_json(&d.join("self-heal/report-777.json"))["outcome"],
        "healed"
    );

    // A step that fails keeps its own exit code (1) with stdout closed.
    let mut cmd = hermetic(PREPARE, d);
    cmd.args(["--out", "missing", "--log", "no-such.log"]);
    let o = common::output_with_closed_stdout(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    assert!(d.join("missing/self-heal/context.json").is_file());
}

#[test]
fn an_artifact_with_another_schema_is_refused_naming_both() {
    let dir = prepared_dir();
    let d = dir.path();
    let o = hermetic(PREPARE, d)
        .args(["--out", ".", "--policy", "policy.yml", "--log", "e2e.log"])
        .output()
        .expect("prepare");
    assert_eq!(o.status.code(), Some(0));
    let ctx_path = d.join("self-heal/context.json");
    let mut ctx = read_json(&ctx_path);
    let good = ctx.clone();
    ctx["schema"] = "ci-remedy/context/v99".into();
    std::fs::write(&ctx_path, serde_json::to_vec(&ctx).expect("json")).expect("write");
    let o = hermetic(DECIDE, d)
        .args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .output()
        .expect("decide");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert!(
        err.contains("context.json")
            && err.contains("ci-remedy/context/v99")
            && err.contains("ci-remedy/context/v1"),
        "{err}"
    );
    assert_eq!(
        read_json(&d.join("self-heal/decision.json"))["allowed"],
        false
    );

    // A decision whose schema says it is a context.
    std::fs::write(&ctx_path, serde_json::to_vec(&good).expect("json")).expect("write");
    let o = hermetic(DECIDE, d)
        .args(["--out", ".", "--policy", "policy.yml"])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .output()
        .expect("decide");
    assert_eq!(o.status.code(), Some(0));
    let dec_path = d.join("self-heal/decision.json");
    let mut dec = read_json(&dec_path);
    dec["schema"] = "ci-remedy/context/v1".into();
    std::fs::write(&dec_path, serde_json::to_vec(&dec).expect("json")).expect("write");
    let o = hermetic(EXECUTE, d)
        .args(["--out", ".", "--policy", "policy.yml"])
        .output()
        .expect("execute");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert!(
        err.contains("decision.json")
            && err.contains("\"ci-remedy/context/v1\"")
            && err.contains("ci-remedy/decision/v1"),
        "{err}"
    );
    assert!(!d.join("seeded.txt").exists());
}

#[test]
fn fifos_are_refused_up_front_instead_of_blocking() {
    let dir = prepared_dir();
    let d = dir.path();
    let fifo = d.join("fifo");
    common::mkfifo(&fifo);
    let f = fifo.to_str().expect("utf8");
    for (exe, args, code) in [
        (PREPARE, vec!["--log", f], 1),
        (PREPARE, vec!["--log", "e2e.log", "--junit", f], 1),
        (
            PREPARE,
            vec!["--log", "e2e.log", "--playwright-report", f],
            1,
        ),
        (PREPARE, vec!["--log", "e2e.log", "--policy", f], 2),
        (DECIDE, vec!["--context", f], 1),
        (EXECUTE, vec!["--decision", f], 1),
    ] {
        let mut cmd = hermetic(exe, d);
        cmd.args(["--out", "."]).args(&args);
        let o = common::output_within(cmd);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr_of(&o));
        let err = stderr_of(&o);
        assert!(
            err.contains("FIFO") && err.contains("fifo"),
            "{args:?}: {err}"
        );
    }
    // A Developer-Agent answer that is a FIFO: rules-only, and the status says why.
    let mut cmd = hermetic(PREPARE, d);
    cmd.args([
        "--out",
        ".",
        "--log",
        "e2e.log",
        "--developer-agent-response",
        f,
    ]);
    let o = common::output_within(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let ctx = read_json(&d.join("self-heal/context.json"));
    assert_eq!(ctx["developer_agent"]["status"], "unreadable", "{ctx:#}");
    assert!(ctx["developer_agent"]["detail"]
        .as_str()
        .is_some_and(|s| s.contains("FIFO")));
}
