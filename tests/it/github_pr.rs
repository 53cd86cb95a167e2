//! fix-agent-pr against a loopback GitHub: gates, Git Data API calls, the draft PR.

use crate::github_common;

use github_common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_fix-agent-pr");

const POLICY_ON: &str =
    "fix-agent-pr:\n  enabled: true\n  opt-in-label: autofix\n  max-open: 2\n  max-per-hour: 2\n";

fn now_iso(offset_secs: i64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
        + offset_secs;
    // Format Unix seconds as YYYY-MM-DDTHH:MM:SSZ (civil from days).
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

struct Setup {
    repo: tempfile::TempDir,
    base: String,
    patch_dir: tempfile::TempDir,
    policy: std::path::PathBuf,
    out: tempfile::TempDir,
}

fn setup(policy: &str, class: &str) -> Setup {
    let (repo, base) = repo();
    let (patch, f, a, r) = make_patch(repo.path(), "tests/login.spec.ts", SPEC_AFTER);
    let meta = metadata(&patch, (f, a, r), &base, "7", class);
    let patch_dir = tempfile::tempdir().expect("dir");
    write_artifact_dir(patch_dir.path(), &patch, &meta);
    let out = tempfile::tempdir().expect("out");
    let pol = out.path().join("policy.yml");
    std::fs::write(&pol, policy).expect("policy");
    Setup {
        repo,
        base,
        patch_dir,
        policy: pol,
        out,
    }
}

fn cmd(s: &Setup, server: Option<&Server>) -> std::process::Command {
    let mut c = gh_bin(BIN, server);
    c.args(["--repo", "o/r", "--source-pr", "5", "--patch-dir"])
        .arg(s.patch_dir.path())
        .arg("--repo-dir")
        .arg(s.repo.path())
        .arg("--policy")
        .arg(&s.policy)
        .arg("--out")
        .arg(s.out.path())
        .env("GITHUB_RUN_ID", "99")
        .env("GITHUB_EVENT_NAME", "pull_request");
    c
}

fn result(s: &Setup) -> serde_json::Value {
    let p = s.out.path().join("fix-agent/pr-result-99.json");
    serde_json::from_slice(&std::fs::read(p).expect("result")).expect("json")
}

fn failed_gates(v: &serde_json::Value) -> Vec<String> {
    v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .filter(|g| g["passed"] == false)
        .map(|g| g["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A GitHub with PR #5 (from this repo, labelled autofix), `open_agent` open agent PRs and
/// one agent PR created 2 hours ago.
fn github(open_agent: usize, fork: bool) -> Server {
    Server::start(move |r, _| match (r.method.as_str(), r.route()) {
        ("GET", "/repos/o/r/pulls/5") => Resp::json(
            200,
            json!({
                "number": 5, "html_url": "https://github.example/o/r/pull/5", "state": "open",
                "labels": [{"name": "autofix"}],
                "head": {"ref": "feature", "sha": "b".repeat(40), "repo": {"full_name": if fork { "mallory/r" } else { "o/r" }, "fork": fork}},
                "base": {"ref": "main", "sha": "c".repeat(40), "repo": {"full_name": "o/r"}}
            }),
        ),
        ("GET", "/repos/o/r/pulls") if r.path.contains("state=open") => {
            let list: Vec<_> = (0..open_agent)
                .map(|i| json!({"number": 100 + i, "labels": [{"name": "ci-remedy"}], "created_at": "2020-01-01T00:00:00Z"}))
                .chain(std::iter::once(json!({"number": 3, "labels": [], "created_at": "2020-01-01T00:00:00Z"})))
                .collect();
            Resp::json(200, json!(list))
        }
        ("GET", "/repos/o/r/pulls") => Resp::json(
            200,
            json!([
                {"number": 4, "labels": [{"name": "ci-remedy"}], "created_at": now_iso(-7200)},
                {"number": 2, "labels": [], "created_at": now_iso(-60)}
            ]),
        ),
        ("GET", p) if p.starts_with("/repos/o/r/git/commits/") => Resp::json(
            200,
            json!({"sha": p.rsplit('/').next(), "tree": {"sha": "t".repeat(40)}}),
        ),
        ("POST", "/repos/o/r/git/blobs") => {
            Resp::json(201, json!({"sha": "1".repeat(40), "url": "x"}))
        }
        ("POST", "/repos/o/r/git/trees") => Resp::json(201, json!({"sha": "2".repeat(40)})),
        ("POST", "/repos/o/r/git/commits") => Resp::json(
            201,
            json!({"sha": "3".repeat(40), "tree": {"sha": "2".repeat(40)}}),
        ),
        ("POST", "/repos/o/r/git/refs") => Resp::json(
            201,
            json!({"ref": "refs/heads/x", "object": {"sha": "3".repeat(40)}}),
        ),
        ("POST", "/repos/o/r/pulls") => Resp::json(
            201,
            json!({"number": 42, "html_url": "https://github.example/o/r/pull/42", "state": "open"}),
        ),
        ("POST", "/repos/o/r/issues/42/labels") => Resp::json(200, json!([{"name": "ci-remedy"}])),
        ("POST", "/repos/o/r/actions/workflows/ci.yml/dispatches") => Resp {
            status: 204,
            headers: vec![],
            body: vec![],
        },
        _ => Resp::not_found(),
    })
}

#[test]
fn opens_a_draft_pr_through_the_git_data_api_when_every_gate_passes() {
    let s = setup(POLICY_ON, "test_only");
    let server = github(1, false);
    let o = cmd(&s, Some(&server))
        .args(["--dispatch", "ci.yml"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = result(&s);
    assert_eq!(v["opened"], true, "{v}");
    assert_eq!(v["pr_number"], 42);
    assert_eq!(v["branch"], "ci-remedy/7-test-assertion");
    assert!(failed_gates(&v).is_empty());
    let reqs = server.requests();
    let lines: Vec<String> = reqs
        .iter()
        .map(|r| format!("{} {}", r.method, r.route()))
        .collect();
    assert_eq!(
        lines,
        vec![
            "GET /repos/o/r/pulls/5".to_string(),
            "GET /repos/o/r/pulls".into(),
            "GET /repos/o/r/pulls".into(),
            format!("GET /repos/o/r/git/commits/{}", s.base),
            "POST /repos/o/r/git/blobs".into(),
            "POST /repos/o/r/git/trees".into(),
            "POST /repos/o/r/git/commits".into(),
            "POST /repos/o/r/git/refs".into(),
            "POST /repos/o/r/pulls".into(),
            "POST /repos/o/r/issues/42/labels".into(),
            "POST /repos/o/r/actions/workflows/ci.yml/dispatches".into(),
        ]
    );
    let body = |i: usize| reqs[i].json();
    // The blob is the patched file.
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(body(4)["content"].as_str().expect("content"))
        .expect("b64");
    assert_eq!(String::from_utf8(blob).expect("utf8"), SPEC_AFTER);
    assert_eq!(body(5)["base_tree"], "t".repeat(40));
    assert_eq!(
        body(5)["tree"][0],
        json!({"path": "tests/login.spec.ts", "mode": "100644", "type": "blob", "sha": "1".repeat(40)})
    );
    assert_eq!(body(6)["parents"], json!([s.base]));
    assert_eq!(body(6)["tree"], "2".repeat(40));
    assert_eq!(
        body(7),
        json!({"ref": "refs/heads/ci-remedy/7-test-assertion", "sha": "3".repeat(40)})
    );
    assert_eq!(body(8)["draft"], true);
    assert_eq!(body(8)["head"], "ci-remedy/7-test-assertion");
    assert_eq!(body(8)["base"], "feature", "into the source PR's branch");
    assert_eq!(body(8)["title"], "test: use the new sign-in button id");
    assert_eq!(body(9), json!({"labels": ["ci-remedy"]}));
    assert_eq!(body(10), json!({"ref": "ci-remedy/7-test-assertion"}));
    assert!(!stdout.lines().any(|l| l.starts_with("::")));
}

#[test]
fn disabled_by_default_makes_no_request() {
    let s = setup("", "test_only");
    let server = github(0, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = result(&s);
    assert_eq!(v["opened"], false);
    assert_eq!(failed_gates(&v), vec!["enabled"]);
    assert!(server.requests().is_empty());
}

#[test]
fn local_gates_fail_together_without_asking_the_api() {
    // Risk: the metadata claims test_only but the patch is recomputed; here a source patch.
    let s = setup(POLICY_ON, "test_only");
    let (patch, f, a, r) = make_patch(s.repo.path(), "src/app.ts", "export const x = 3;\n");
    let mut meta = metadata(&patch, (f, a, r), &s.base, "7", "source");
    meta.validation.status = ci_remedy::artifact::ValidationStatus::Failed;
    write_artifact_dir(s.patch_dir.path(), &patch, &meta);
    let server = github(0, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = result(&s);
    assert_eq!(failed_gates(&v), vec!["risk", "validation"]);
    assert!(server.requests().is_empty());
}

#[test]
fn fork_on_pull_request_target_and_limits_are_refused() {
    let s = setup(POLICY_ON, "test_only");
    let server = github(0, true);
    let o = cmd(&s, Some(&server))
        .env("GITHUB_EVENT_NAME", "pull_request_target")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = result(&s);
    assert_eq!(failed_gates(&v), vec!["fork"]);
    let detail = v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "fork")
        .expect("fork")["detail"]
        .as_str()
        .expect("s")
        .to_string();
    assert!(
        detail.contains("mallory/r") && detail.contains("allow-fork"),
        "{detail}"
    );
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "nothing created"
    );

    // Two open agent PRs reach max-open 2.
    let s = setup(POLICY_ON, "test_only");
    let server = github(2, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    assert!(o.status.success());
    assert_eq!(failed_gates(&result(&s)), vec!["open_limit"]);
    assert!(server.requests().iter().all(|r| r.method == "GET"));

    // The source PR lacks the opt-in label.
    let s = setup(&POLICY_ON.replace("autofix", "please-fix"), "test_only");
    let server = github(0, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    assert!(o.status.success());
    assert_eq!(failed_gates(&result(&s)), vec!["opt_in_label"]);
}

#[test]
fn tampered_patch_fails_the_guard_gate() {
    let s = setup(POLICY_ON, "test_only");
    let p = s.patch_dir.path().join("patch-7.diff");
    let text = std::fs::read_to_string(&p).expect("read");
    std::fs::write(&p, text.replace("#sign-in", "#sign-on")).expect("write");
    let server = github(0, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    assert!(o.status.success());
    let v = result(&s);
    assert_eq!(failed_gates(&v), vec!["guard"]);
    assert!(server.requests().is_empty());
}

#[test]
fn a_patch_dir_with_other_files_is_refused_like_a_downloaded_artifact() {
    let s = setup(POLICY_ON, "test_only");
    // A second patch (an older run's) is refused, not picked by name.
    std::fs::write(s.patch_dir.path().join("patch-10.diff"), "x").expect("write");
    let server = github(0, false);
    let o = cmd(&s, Some(&server)).output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("unexpected entry \"patch-7.diff\""), "{err}");
    assert!(server.requests().is_empty());
}
