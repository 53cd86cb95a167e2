//! The checked-in JSON Schemas (`schemas/`) describe what the binaries really write: every
//! artifact a short real pipeline produces, and every artifact in the dashboard fixtures, is
//! validated (jsonschema, draft 2020-12) against the schema its `schema` field names.

use std::path::{Path, PathBuf};

use crate::common::{bin, fixture, root};

/// `ci-remedy/<name>/v1` → the schema file that describes it.
fn schema_file(id: &str) -> Option<&'static str> {
    Some(match id {
        "ci-remedy/context/v1" => "context.schema.json",
        "ci-remedy/decision/v1" => "decision.schema.json",
        "ci-remedy/self-heal-report/v1" => "self-heal-report.schema.json",
        "ci-remedy/fix-input/v1" => "fix-input.schema.json",
        "ci-remedy/fix-metadata/v1" => "fix-metadata.schema.json",
        "ci-remedy/fix-pr-result/v1" => "fix-pr-result.schema.json",
        "ci-remedy/notify/v1" => "notify.schema.json",
        "ci-remedy/notify-state/v1" => "notify-state.schema.json",
        "ci-remedy/notification/v1" => "notification.schema.json",
        "ci-remedy/dashboard/v1" => "dashboard.schema.json",
        "ci-remedy/ci-logs/v1" => "ci-logs-payload.schema.json",
        "ci-remedy/ci-logs-ship/v1" => "ci-logs-ship-status.schema.json",
        "ci-remedy/smoke-report/v1" => "smoke-report.schema.json",
        _ => return None,
    })
}

/// Validates `file` against the schema its `schema` field names; returns that id.
pub(crate) fn validate(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("read artifact");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("artifact is JSON");
    let id = doc["schema"].as_str().expect("a schema field").to_string();
    let name =
        schema_file(&id).unwrap_or_else(|| panic!("{}: unknown schema {id}", file.display()));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas").join(name)).expect("schema file"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match schemas/{name}:\n{}",
        file.display(),
        errors.join("\n")
    );
    id
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn what_the_binaries_write_matches_the_checked_in_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8");
    let log = fixture("cidiff/cv_45/fail.log");
    let run = |name: &str, args: &[&str]| {
        let path = match name {
            "self-heal-prepare" => env!("CARGO_BIN_EXE_self-heal-prepare"),
            "self-heal-decide" => env!("CARGO_BIN_EXE_self-heal-decide"),
            "self-heal-execute" => env!("CARGO_BIN_EXE_self-heal-execute"),
            "ci-notify" => env!("CARGO_BIN_EXE_ci-notify"),
            "ci-dashboard" => env!("CARGO_BIN_EXE_ci-dashboard"),
            "ci-logs-ship" => env!("CARGO_BIN_EXE_ci-logs-ship"),
            _ => unreachable!("{name}"),
        };
        let o = bin(path)
            .env("GITHUB_RUN_ID", "4242")
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run");
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(
        "self-heal-prepare",
        &["--out", out, "--log", log.to_str().expect("utf8")],
    );
    run("self-heal-decide", &["--out", out]);
    run("self-heal-execute", &["--out", out]);
    let report = dir.path().join("self-heal/report-4242.json");
    run(
        "ci-notify",
        &["--out", out, "--report", report.to_str().expect("utf8")],
    );
    run(
        "ci-logs-ship",
        &["--out", out, "--log", log.to_str().expect("utf8")],
    );
    let site = dir.path().join("site");
    run(
        "ci-dashboard",
        &[
            "--artifacts",
            crate::dashboard_support::fixtures().to_str().expect("utf8"),
            "--out",
            site.to_str().expect("utf8"),
        ],
    );

    let mut files = Vec::new();
    json_files(dir.path(), &mut files);
    json_files(&crate::dashboard_support::fixtures(), &mut files);
    let mut seen: Vec<String> = files
        .iter()
        .filter(|f| {
            // Only ci-remedy's artifacts (a site's search index or the like has no schema field).
            std::fs::read_to_string(f)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| {
                    v["schema"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("ci-remedy/"))
                })
        })
        .map(|f| validate(f))
        .collect();
    seen.sort();
    seen.dedup();
    for id in [
        "ci-remedy/context/v1",
        "ci-remedy/decision/v1",
        "ci-remedy/self-heal-report/v1",
        "ci-remedy/fix-input/v1",
        "ci-remedy/fix-metadata/v1",
        "ci-remedy/notify/v1",
        "ci-remedy/dashboard/v1",
        "ci-remedy/ci-logs/v1",
        "ci-remedy/ci-logs-ship/v1",
    ] {
        assert!(
            seen.iter().any(|s| s == id),
            "no {id} artifact was validated: {seen:?}"
        );
    }
}

/// The check can fail: a context whose category is not one of the enum's values is refused.
#[test]
fn a_context_with_an_unknown_category_does_not_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ctx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::dashboard_support::fixtures().join("7001/self-heal-report/context.json"),
        )
        .expect("fixture"),
    )
    .expect("JSON");
    ctx["classification"]["category"] = "not_a_category".into();
    let bad = dir.path().join("context.json");
    std::fs::write(&bad, ctx.to_string()).expect("write");
    let refused = std::panic::catch_unwind(|| validate(&bad)).is_err();
    assert!(refused, "a wrong category passed the schema");
}
