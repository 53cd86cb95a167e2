//! Snapshot of the job summary `ci-dashboard` writes for the fixture artifacts
//! (`fixtures/dashboard/summary.snap.md`; `UPDATE_SNAPSHOTS=1` rewrites it after a deliberate
//! change — review the diff).

use crate::dashboard_support;

use dashboard_support::*;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/dashboard/summary.snap.md"
);

#[test]
fn job_summary_matches_the_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = build(dir.path(), &fixtures());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary = read(&dir.path().join("step_summary"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &summary).expect("write snapshot");
    }
    let expected = read(std::path::Path::new(SNAPSHOT));
    if summary != expected {
        let diff = similar::TextDiff::from_lines(&expected, &summary)
            .unified_diff()
            .header("snapshot", "actual")
            .to_string();
        panic!("the job summary differs from {SNAPSHOT}:\n{diff}");
    }
}

#[test]
fn job_summary_has_the_parts_the_issue_names_and_no_live_html_from_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dashboard(dir.path(), false)
        .arg("--artifacts")
        .arg(fixtures())
        .arg("--out")
        .arg(dir.path().join("site"))
        .arg("--summary-file")
        .arg(dir.path().join("summary.md"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!dir.path().join("site/summary.md").exists());
    let md = read(&dir.path().join("summary.md"));
    // Classification with confidence, evidence with file:line, gates and outcome, guardrails
    // and a collapsed diff.
    assert!(md.contains("**Category:** `test_assertion` (code) · **confidence** 0.85"));
    assert!(md.contains("**#1 `logs/test.log:12-29`**"));
    assert!(md.contains("source `test/render.test.js:4`"));
    assert!(md.contains("| category | **fail** |"));
    assert!(md.contains("| decision | accepted | |"));
    assert!(md.contains("<details><summary>patch-7003.diff (+7 −1, sha256 verified)</summary>"));
    // `<script>` from the log appears only inside fenced code blocks (rendered as text).
    let mut fence: Option<String> = None;
    let mut inside = 0;
    for line in md.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if line.trim_end() == f.as_str() => fence = None,
            None if ticks.len() >= 3 => fence = Some(ticks),
            _ => {}
        }
        if line.contains("<script>") {
            assert!(fence.is_some(), "live HTML outside a code block: {line}");
            inside += 1;
        }
    }
    assert!(inside >= 1, "the <script> line is quoted in the evidence");
}
