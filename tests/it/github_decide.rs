//! self-heal-decide --history-from-api: earlier attempts counted from other runs' self-heal
//! report artifacts, and the fallback to --history without API access.

use crate::github_common;
use crate::heal_common;

use ci_remedy::artifact::{Category, Outcome};
use github_common::{zip_of, Resp, Server};
use heal_common::{context, prior_report, Setup};
use serde_json::json;

const POLICY: &str = "self-heal:\n  max-attempts: 2\n  actions:\n    restart-service:\n      shell: \"true\"\n  plan:\n    default: [restart-service]\n";

fn sha() -> String {
    "ab".repeat(20)
}

fn report(run_id: &str, sha: &str, outcome: Outcome) -> Vec<u8> {
    serde_json::to_vec(&prior_report(run_id, sha, outcome)).expect("json")
}

fn decide(s: &Setup, server: Option<&Server>, extra: &[&str]) -> ci_remedy::artifact::Decision {
    let o = github_common::gh_bin(env!("CARGO_BIN_EXE_self-heal-decide"), server)
        .current_dir(s.root())
        .arg("--out")
        .arg(s.out())
        .arg("--policy")
        .arg(s.policy())
        .arg("--history-from-api")
        .args(extra)
        .envs([
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_WORKFLOW", "e2e"),
            ("GITHUB_SHA", sha().as_str()),
            ("GITHUB_RUN_ID", "500"),
            ("GITHUB_RUN_ATTEMPT", "1"),
        ])
        .output()
        .expect("run");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    s.decision()
}

fn attempts(d: &ci_remedy::artifact::Decision) -> ci_remedy::artifact::Gate {
    d.gates
        .iter()
        .find(|g| g.name == "attempts")
        .cloned()
        .expect("attempts gate")
}

#[test]
fn counts_reports_from_other_runs_artifacts_across_workflow_dispatch_runs() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::Network, 0.9, vec![]));
    let h = sha();
    let server = Server::start(move |r, base| match r.route() {
        "/repos/o/r/actions/runs/500" => {
            Resp::json(200, json!({"id": 500, "workflow_id": 42, "head_sha": h}))
        }
        "/repos/o/r/actions/workflows/42/runs" => Resp::json(
            200,
            json!({"total_count": 3, "workflow_runs": [
                {"id": 500, "head_sha": h}, {"id": 401, "head_sha": h}, {"id": 402, "head_sha": h}
            ]}),
        ),
        "/repos/o/r/actions/runs/401/artifacts" => Resp::json(
            200,
            json!({"total_count": 2, "artifacts": [
                {"id": 1, "name": "self-heal-report", "size_in_bytes": 10, "expired": false},
                {"id": 2, "name": "e2e-results", "size_in_bytes": 10, "expired": false}
            ]}),
        ),
        "/repos/o/r/actions/runs/402/artifacts" => Resp::json(
            200,
            json!({"total_count": 1, "artifacts": [
                {"id": 3, "name": "self-heal-report", "size_in_bytes": 10, "expired": false}
            ]}),
        ),
        "/repos/o/r/actions/artifacts/1/zip" | "/repos/o/r/actions/artifacts/3/zip" => {
            let id = r.route().split('/').nth(6).unwrap_or("0").to_string();
            Resp::json(302, json!({})).with("location", &format!("{base}/dl/{id}"))
        }
        "/dl/1" => Resp::bytes(
            200,
            zip_of(&[
                ("context.json", b"{}"),
                ("report-401.json", &report("401", &h, Outcome::StillFailing)),
            ]),
        ),
        "/dl/3" => Resp::bytes(
            200,
            zip_of(&[("report-402.json", &report("402", &h, Outcome::Error))]),
        ),
        _ => Resp::not_found(),
    });
    let d = decide(&s, Some(&server), &[]);
    let g = attempts(&d);
    assert_eq!(d.attempt, 3, "{}", g.detail);
    assert!(!g.passed && !d.allowed);
    assert!(
        g.detail.contains("2 earlier run(s)") && g.detail.contains("GitHub API"),
        "{}",
        g.detail
    );
    let lines = server.lines();
    assert_eq!(lines[0], "GET /repos/o/r/actions/runs/500");
    assert_eq!(
        lines[1],
        format!(
            "GET /repos/o/r/actions/workflows/42/runs?head_sha={}&per_page=100",
            sha()
        )
    );
    // The run's own artifacts are never listed; only self-heal artifacts are downloaded.
    assert!(!lines.iter().any(|l| l.contains("/runs/500/artifacts")));
    assert!(!lines.iter().any(|l| l.contains("/artifacts/2/zip")));
}

#[test]
fn without_api_access_falls_back_to_history_dir_and_says_so() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::Network, 0.9, vec![]));
    let hist = s.root().join("history");
    std::fs::create_dir_all(&hist).expect("mkdir");
    std::fs::write(
        hist.join("report-1.json"),
        report("1", &sha(), Outcome::StillFailing),
    )
    .expect("write");
    // No token at all.
    let d = decide(&s, None, &["--history", &hist.to_string_lossy()]);
    let g = attempts(&d);
    assert_eq!(d.attempt, 2);
    assert!(g.passed, "{}", g.detail);
    assert!(
        g.detail.contains("GitHub API unavailable") && g.detail.contains("no GitHub token"),
        "{}",
        g.detail
    );

    // A server that refuses (403 without rate limit) also falls back.
    let server = Server::start(|_, _| {
        Resp::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        )
    });
    let d = decide(&s, Some(&server), &["--history", &hist.to_string_lossy()]);
    assert!(
        attempts(&d).detail.contains("403"),
        "{}",
        attempts(&d).detail
    );
    assert_eq!(server.requests().len(), 1, "403 is not retried");

    // No API and no directory: the gate fails closed.
    let d = decide(&s, None, &[]);
    assert!(!attempts(&d).passed);
    assert!(!d.allowed);
}
