//! ci-comment against a loopback GitHub: one sticky comment, found by its marker across pages.

use crate::github_common;
use crate::heal_common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use ci_remedy::artifact::Category;
use github_common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_ci-comment");
const MARKER: &str = "<!-- ci-remedy:sticky-comment default -->";

fn artifacts_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(d.path().join("self-heal")).expect("mkdir");
    std::fs::create_dir_all(d.path().join("fix-agent")).expect("mkdir");
    let mut ctx = heal_common::context(Category::Network, 0.9, vec![]);
    ctx.findings[0].excerpt = "connect ECONNRESET\n```\n::set-output name=x::y\n<script>".into();
    std::fs::write(
        d.path().join("self-heal/context.json"),
        serde_json::to_vec(&ctx).expect("json"),
    )
    .expect("write");
    let meta = metadata("x", (1, 1, 1), &"c".repeat(40), "7", "test_only");
    std::fs::write(
        d.path().join("fix-agent/metadata-7.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("write");
    d
}

fn run(server: &Server, dir: &Path, extra: &[&str]) -> std::process::Output {
    gh_bin(BIN, Some(server))
        .arg("--dir")
        .arg(dir)
        .args(["--repo", "o/r", "--run", "7"])
        .args(extra)
        .output()
        .expect("run")
}

/// Comments on PR 5: page 1 has two unrelated comments, page 2 has `existing` (if any).
fn comments_server(existing: Option<&'static str>) -> Server {
    Server::start(move |r, base| {
        match (r.method.as_str(), r.route()) {
        ("GET", "/repos/o/r/issues/5/comments") if !r.path.contains("page=2") => Resp::json(200, json!([
            {"id": 1, "body": "LGTM", "html_url": "u1", "user": {"login": "alice", "type": "User"}},
            {"id": 2, "body": format!("quoting: {MARKER}"), "html_url": "u2", "user": {"login": "bob", "type": "User"}}
        ]))
        .with("link", &format!("<{base}/repos/o/r/issues/5/comments?per_page=100&page=2>; rel=\"next\"")),
        ("GET", "/repos/o/r/issues/5/comments") => Resp::json(200, match existing {
            Some(body) => json!([{"id": 77, "body": body, "html_url": "u77", "user": {"login": "github-actions[bot]", "type": "Bot"}}]),
            None => json!([]),
        }),
        ("PATCH", "/repos/o/r/issues/comments/77") => Resp::json(200, json!({"id": 77, "html_url": "u77", "body": "x"})),
        ("POST", "/repos/o/r/issues/5/comments") => Resp::json(201, json!({"id": 78, "html_url": "u78", "body": "x"})),
        _ => Resp::not_found(),
    }
    })
}

#[test]
fn creates_one_comment_when_there_is_none() {
    let dir = artifacts_dir();
    let server = comments_server(None);
    let out = tempfile::tempdir().expect("o");
    let gh_out = out.path().join("out.txt");
    let o = gh_bin(BIN, Some(&server))
        .arg("--dir")
        .arg(dir.path())
        .args(["--repo", "o/r", "--run", "7", "--pr", "5"])
        .env("GITHUB_OUTPUT", &gh_out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reqs = server.requests();
    let lines = server.lines();
    assert_eq!(
        lines,
        vec![
            "GET /repos/o/r/issues/5/comments?per_page=100",
            "GET /repos/o/r/issues/5/comments?per_page=100&page=2",
            "POST /repos/o/r/issues/5/comments",
        ]
    );
    let body = reqs[2].json()["body"].as_str().expect("body").to_string();
    assert!(body.starts_with(MARKER), "{body}");
    assert!(body.contains("network"), "{body}");
    // The evidence cannot close its code block or inject HTML.
    assert!(body.contains("````text"), "{body}");
    assert!(
        body.contains("gh run download 7 -R o/r -n fix-agent"),
        "{body}"
    );
    assert!(
        body.contains("fix-agent-fetch --repo o/r --run 7 --apply"),
        "{body}"
    );
    let outputs = std::fs::read_to_string(&gh_out).expect("outputs");
    let parsed = heal_like_outputs(&outputs);
    assert!(
        parsed.contains(&("comment-action".into(), "created".into())),
        "{outputs}"
    );
}

fn heal_like_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.push((name.to_string(), v.join("\n")));
        }
    }
    out
}

#[test]
fn updates_the_marked_comment_instead_of_adding_a_second() {
    let dir = artifacts_dir();
    let server = comments_server(Some("<!-- ci-remedy:sticky-comment default -->\nold"));
    let o = run(&server, dir.path(), &["--pr", "5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reqs = server.requests();
    assert!(
        !reqs.iter().any(|r| r.method == "POST"),
        "{:?}",
        server.lines()
    );
    let patch = reqs.iter().find(|r| r.method == "PATCH").expect("patch");
    assert_eq!(patch.route(), "/repos/o/r/issues/comments/77");
    assert!(patch.json()["body"]
        .as_str()
        .expect("b")
        .starts_with(MARKER));
    // Bob's comment that merely quotes the marker is never touched.
    assert!(!reqs.iter().any(|r| r.route().ends_with("/comments/2")));
}

#[test]
fn skips_without_a_pr_or_without_permission() {
    let dir = artifacts_dir();
    let seen = Arc::new(Mutex::new(0));
    let s2 = seen.clone();
    let server = Server::start(move |_, _| {
        *s2.lock().expect("lock") += 1;
        Resp::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        )
    });
    // No PR: nothing is asked.
    let o = run(&server, dir.path(), &[]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("skipped: this run is not for a pull request")
    );
    assert_eq!(*seen.lock().expect("lock"), 0);
    // The PR from GITHUB_REF, and a token without permission: skipped, exit 0.
    let o = gh_bin(BIN, Some(&server))
        .arg("--dir")
        .arg(dir.path())
        .args(["--repo", "o/r"])
        .env("GITHUB_REF", "refs/pull/5/merge")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no permission"));
    assert_eq!(
        server.lines(),
        vec!["GET /repos/o/r/issues/5/comments?per_page=100"]
    );
}
