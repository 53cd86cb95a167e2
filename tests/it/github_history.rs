//! `github::api::history::prior_attempts` against a loopback GitHub: the download cap ends
//! the whole scan, not only the current run's artifacts.

use crate::github_common;

use ci_remedy::artifact::RunInfo;
use ci_remedy::github::api::history::{prior_attempts, MAX_DOWNLOADS};
use ci_remedy::github::api::{ClientSettings, GitHub};
use ci_remedy::net::Token;
use github_common::{zip_of, Resp, Server};
use serde_json::json;

#[test]
fn the_download_cap_stops_the_scan_of_every_later_run() {
    let sha = "ab".repeat(20);
    let h = sha.clone();
    // 50 earlier runs with 3 self-heal artifacts each: the cap (100) is reached in run 34.
    let server = Server::start(move |r, base| {
        let route = r.route().to_string();
        let parts: Vec<&str> = route.split('/').collect();
        match parts.as_slice() {
            ["", "repos", "o", "r", "actions", "runs", "500"] => {
                Resp::json(200, json!({"id": 500, "workflow_id": 42, "head_sha": h}))
            }
            ["", "repos", "o", "r", "actions", "workflows", "42", "runs"] => {
                let mut runs = vec![json!({"id": 500, "head_sha": h})];
                runs.extend((1..=50).map(|id| json!({"id": id, "head_sha": h})));
                Resp::json(200, json!({"total_count": 51, "workflow_runs": runs}))
            }
            ["", "repos", "o", "r", "actions", "runs", id, "artifacts"] => {
                let id: u64 = id.parse().unwrap_or(0);
                let list: Vec<_> = (0..3)
                    .map(|k| {
                        json!({"id": id * 10 + k, "name": format!("self-heal-{k}"),
                            "size_in_bytes": 10, "expired": false})
                    })
                    .collect();
                Resp::json(200, json!({"total_count": 3, "artifacts": list}))
            }
            ["", "repos", "o", "r", "actions", "artifacts", id, "zip"] => {
                Resp::json(302, json!({})).with("location", &format!("{base}/dl/{id}"))
            }
            ["", "dl", _] => Resp::bytes(200, zip_of(&[("context.json", b"{}")])),
            _ => Resp::not_found(),
        }
    });
    let run = RunInfo::from_lookup(|k| match k {
        "GITHUB_REPOSITORY" => Some("o/r".into()),
        "GITHUB_RUN_ID" => Some("500".into()),
        "GITHUB_SHA" => Some(sha.clone()),
        "GITHUB_WORKFLOW" => Some("e2e".into()),
        _ => None,
    });
    let gh = GitHub::new(&server.url, Token::new("t"), ClientSettings::default()).expect("gh");
    let prior = prior_attempts(&gh, &run, "self-heal").expect("prior attempts");

    let cap_notes = prior
        .ignored
        .iter()
        .filter(|n| n.contains(&format!("more than {MAX_DOWNLOADS} artifacts")))
        .count();
    assert_eq!(cap_notes, 1, "{:?}", prior.ignored);
    let lines = server.lines();
    let listed = lines.iter().filter(|l| l.contains("/artifacts?")).count();
    let downloaded = lines.iter().filter(|l| l.starts_with("GET /dl/")).count();
    assert_eq!(downloaded, MAX_DOWNLOADS);
    assert_eq!(listed, 34, "no run is listed after the cap");
    assert!(
        prior
            .source
            .as_deref()
            .is_some_and(|s| s.contains("34 earlier run(s)")),
        "{:?}",
        prior.source
    );
}
