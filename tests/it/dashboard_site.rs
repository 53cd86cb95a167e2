//! `ci-dashboard` on the fixture artifacts and on broken, partial and hostile ones: the real
//! binary, a hermetic environment, outputs checked by deserializing `dashboard.json` and by
//! reading the pages.

use crate::dashboard_support;

use ci_remedy::dashboard::Dashboard;
use dashboard_support::*;

const MARKER: &str = "<script>alert(1)</script>";

fn html_files(site: &std::path::Path) -> Vec<(String, String)> {
    walkdir::WalkDir::new(site)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
        .map(|e| (e.path().display().to_string(), read(e.path())))
        .collect()
}

#[test]
fn fixture_site_shows_every_run_with_history_and_escapes_log_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = build(dir.path(), &fixtures());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let site = dir.path().join("site");
    let d: Dashboard =
        serde_json::from_str(&read(&site.join("dashboard.json"))).expect("dashboard.json");
    assert_eq!(d.schema, "ci-remedy/dashboard/v1");
    let ids: Vec<&str> = d.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["7004", "7003", "7002", "7001"]);
    assert!(d.problems.is_empty(), "{:?}", d.problems);

    let h = &d.history;
    assert_eq!(h.runs, 4);
    assert_eq!((h.self_heal_healed, h.self_heal_attempted), (1, 1));
    assert_eq!((h.patches_accepted, h.patches_produced), (2, 2));
    assert_eq!(h.categories.len(), 4);
    assert!(h.categories.iter().all(|(_, n)| *n == 1));

    // Partial runs say what is missing; complete parts are there.
    let run = |id: &str| d.runs.iter().find(|r| r.run_id == id).expect("run");
    let r7004 = run("7004");
    assert!(r7004.context.is_some() && r7004.decision.is_none() && r7004.fix.is_none());
    assert_eq!(r7004.missing.len(), 3, "{:?}", r7004.missing);
    let r7001 = run("7001");
    assert!(r7001.report.is_some());
    assert!(
        r7001.missing.iter().any(|m| m.contains("healed")),
        "{:?}",
        r7001.missing
    );
    let r7002 = run("7002");
    assert!(r7002.decision.as_ref().is_some_and(|x| !x.allowed));
    assert!(
        r7002.missing.iter().any(|m| m.contains("did not allow")),
        "{:?}",
        r7002.missing
    );

    // 7003: the patch matches its sha256, the log gives context lines around the evidence, and
    // the <script> line is line 15 of the original log.
    let r7003 = run("7003");
    let fix = r7003.fix.as_ref().expect("fix");
    assert!(fix.patch_verified, "{:?}", fix.patch_note);
    assert!(fix
        .patch
        .as_deref()
        .is_some_and(|p| p.contains("+function escapeHtml(text) {")));
    let ctx = &r7003.evidence_context[0];
    assert_eq!(ctx.source, "7003/e2e-results/logs/test.log");
    assert_eq!(
        ctx.lines.first().map(|l| l.0),
        Some(7),
        "5 lines before line 12"
    );
    let hit = ctx
        .lines
        .iter()
        .find(|(_, t)| t.contains(MARKER))
        .expect("marker line");
    assert_eq!(hit.0, 15);
    assert!(
        !hit.1.starts_with("2025-"),
        "timestamps are stripped: {}",
        hit.1
    );

    // Pages: self-contained, strict CSP, no markup from the logs.
    let pages = html_files(&site);
    assert_eq!(pages.len(), 5, "index + 4 run pages");
    for (path, html) in &pages {
        assert!(
            html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
            "{path}"
        );
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{path} has a script element");
        for external in [
            "http://",
            "https://",
            "<link rel=\"stylesheet\"",
            "@import",
            "url(",
        ] {
            let ok = !lower.contains(external)
                // Log text and PR text may mention URLs; only as escaped text, never in a tag.
                || !lower.contains(&format!("=\"{external}"));
            assert!(ok, "{path} loads {external}");
        }
        assert!(lower.contains("prefers-color-scheme: dark"), "{path}");
        assert!(lower.contains("name=\"viewport\""), "{path}");
    }
    let page = read(&site.join("runs/7003/index.html"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("<pre class=\"diff\">"));
    assert!(page.contains("Guardrails") && page.contains("Pull request text"));
    let index = read(&site.join("index.html"));
    assert!(index.contains("<svg") && index.contains("class=\"bar\""));
    assert!(index.contains("href=\"runs/7001/index.html\""));

    // The job summary goes to GITHUB_STEP_SUMMARY and to summary.md, identical.
    let summary = read(&dir.path().join("step_summary"));
    assert_eq!(summary, read(&site.join("summary.md")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("4 run(s); self-heal healed 1 of 1; patches accepted 2 of 2"),
        "{stdout}"
    );
}

#[test]
fn broken_hostile_and_partial_artifacts_degrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("artifacts");
    // A run with only its self-heal report.
    let rep = a.join("self-heal-report");
    std::fs::create_dir_all(&rep).expect("mkdir");
    std::fs::copy(
        fixtures().join("7001/self-heal-report/report-7001.json"),
        rep.join("report-7001.json"),
    )
    .expect("copy");
    // Truncated JSON, binary garbage, invalid UTF-8, a future schema, a foreign file.
    let bad = a.join("broken");
    std::fs::create_dir_all(&bad).expect("mkdir");
    let ctx = read(&fixtures().join("7003/fix-agent/self-heal/context.json"));
    std::fs::write(bad.join("context.json"), &ctx[..ctx.len() / 2]).expect("write");
    std::fs::write(bad.join("decision.json"), [0u8, 159, 146, 150, 255, b'{']).expect("write");
    std::fs::write(
        bad.join("report-x.json"),
        b"{\"schema\": \"ci-remedy/self-heal-report/v1\", \"x\": \"\xff\"}",
    )
    .expect("write");
    std::fs::write(
        bad.join("metadata-9.json"),
        b"{\"schema\": \"ci-remedy/fix-metadata/v9\"}",
    )
    .expect("write");
    std::fs::write(a.join("package.json"), b"{}").expect("write");
    // A symlinked artifact is not followed.
    let link = a.join("linked");
    std::fs::create_dir_all(&link).expect("mkdir");
    std::os::unix::fs::symlink(
        fixtures().join("7002/self-heal-decision/context.json"),
        link.join("context.json"),
    )
    .expect("symlink");
    // Metadata whose patch_file tries to leave its directory; a patch that does not match.
    let fa = a.join("fix-agent/fix-agent");
    std::fs::create_dir_all(&fa).expect("mkdir");
    let mut meta: serde_json::Value = serde_json::from_str(&read(
        &fixtures().join("7002/fix-agent/fix-agent/metadata-7002.json"),
    ))
    .expect("json");
    meta["patch_file"] = "../../../../etc/passwd".into();
    std::fs::write(fa.join("metadata-7002.json"), meta.to_string()).expect("write");
    let fb = a.join("other/fix-agent");
    std::fs::create_dir_all(&fb).expect("mkdir");
    let mut meta: serde_json::Value = serde_json::from_str(&read(
        &fixtures().join("7003/fix-agent/fix-agent/metadata-7003.json"),
    ))
    .expect("json");
    meta["run"]["run_id"] = "8000".into();
    std::fs::write(fb.join("metadata-8000.json"), meta.to_string()).expect("write");
    std::fs::write(
        fb.join(meta["patch_file"].as_str().expect("name")),
        "tampered\n",
    )
    .expect("write");

    let out = build(dir.path(), &a);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let site = dir.path().join("site");
    let d: Dashboard =
        serde_json::from_str(&read(&site.join("dashboard.json"))).expect("dashboard.json");
    let problem_paths: Vec<&str> = d.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        problem_paths,
        [
            "broken/context.json",
            "broken/decision.json",
            "broken/metadata-9.json",
            "broken/report-x.json"
        ],
        "{:?}",
        d.problems
    );
    assert!(d
        .problems
        .iter()
        .all(|p| !p.reason.contains(&dir.path().display().to_string())));
    let ids: Vec<&str> = d.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(
        ids,
        ["8000", "7002", "7001"],
        "the symlinked context is not read"
    );

    let r7001 = &d.runs[2];
    assert!(r7001.context.is_none() && r7001.report.is_some());
    assert!(r7001
        .missing
        .iter()
        .any(|m| m.contains("no failure context")));
    let r7002 = &d.runs[1];
    let f = r7002.fix.as_ref().expect("fix");
    assert!(f.patch.is_none() && !f.patch_verified);
    assert!(f
        .patch_note
        .as_deref()
        .is_some_and(|n| n.contains("not a plain file name")));
    let r8000 = &d.runs[0];
    let f = r8000.fix.as_ref().expect("fix");
    assert_eq!(f.patch.as_deref(), Some("tampered\n"));
    assert!(!f.patch_verified);
    let page = read(&site.join("runs/8000/index.html"));
    assert!(
        page.contains("(NOT verified)"),
        "the page says the patch is not the checked one"
    );
    let index = read(&site.join("index.html"));
    assert!(index.contains("Files that could not be used"));
    assert!(index.contains("broken/decision.json"));
}

#[test]
fn no_artifacts_is_a_normal_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("artifacts");
    std::fs::create_dir_all(a.join("e2e-results/logs")).expect("mkdir");
    std::fs::write(a.join("e2e-results/logs/build.log"), "ok\n").expect("write");
    let out = build(dir.path(), &a);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let index = read(&dir.path().join("site/index.html"));
    assert!(index.contains("No ci-remedy artifacts were found"));
    let summary = read(&dir.path().join("step_summary"));
    assert!(
        summary.contains("No ci-remedy artifacts were found"),
        "{summary}"
    );
}

#[test]
fn a_missing_artifacts_directory_is_an_error_but_still_writes_a_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = build(dir.path(), &dir.path().join("nope"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: artifacts directory "),
        "{stderr}"
    );
    assert!(stderr.contains("\nhelp: pass --artifacts DIR"), "{stderr}");
    assert!(dir.path().join("site/index.html").is_file());

    // Usage errors exit 2.
    let out = dashboard(dir.path(), false)
        .arg("--no-such-flag")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_ids_cannot_choose_page_paths_or_print_workflow_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("artifacts/x");
    std::fs::create_dir_all(&a).expect("mkdir");
    let mut ctx: serde_json::Value = serde_json::from_str(&read(
        &fixtures().join("7004/fix-agent/self-heal/context.json"),
    ))
    .expect("json");
    ctx["run"]["run_id"] = "../../../escaped\n::set-output name=x::y".into();
    std::fs::write(a.join("context.json"), ctx.to_string()).expect("write");
    let out = build(dir.path(), &dir.path().join("artifacts"));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().all(|l| !l.trim_start().starts_with("::")),
        "{stdout}"
    );
    assert!(!dir.path().join("escaped").exists());
    let pages: Vec<_> = walkdir::WalkDir::new(dir.path().join("site/runs"))
        .min_depth(1)
        .max_depth(1)
        .into_iter()
        .map(|e| e.expect("walk").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(pages, ["_________escaped___set-output_name_x__y"]);
}

#[test]
fn the_action_script_runs_the_dashboard_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bins = std::path::Path::new(BIN).parent().expect("bin dir");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/action/run.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("CI_REMEDY_BIN", bins)
        .env("INPUT_MODE", "dashboard")
        .env("INPUT_ARTIFACTS", fixtures())
        .env("INPUT_OUT", dir.path().join("o"))
        .env("GITHUB_STEP_SUMMARY", dir.path().join("step_summary"))
        .current_dir(dir.path())
        .output()
        .expect("bash");
    assert!(out.status.success(), "{out:?}");
    assert!(dir
        .path()
        .join("o/dashboard/runs/7003/index.html")
        .is_file());
    assert!(read(&dir.path().join("step_summary")).starts_with("# ci-remedy dashboard\n"));
}

#[test]
fn a_fix_agent_run_without_instructions_is_not_counted_as_a_patch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let arts = dir.path().join("artifacts");
    copy_dir(&fixtures(), &arts);
    // Run 7003's fix-agent had nothing to apply: the guard's decision is `empty`.
    let meta = arts.join("7003/fix-agent/fix-agent/metadata-7003.json");
    let mut m: serde_json::Value = serde_json::from_str(&read(&meta)).expect("metadata");
    m["guardrails"]["decision"] = "empty".into();
    std::fs::write(&meta, serde_json::to_vec_pretty(&m).expect("json")).expect("write");
    let out = build(dir.path(), &arts);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let d: Dashboard = serde_json::from_str(&read(&dir.path().join("site/dashboard.json")))
        .expect("dashboard.json");
    assert_eq!(
        (d.history.patches_accepted, d.history.patches_produced),
        (1, 1),
        "an `empty` decision is no patch"
    );
    let md = read(&dir.path().join("step_summary"));
    assert!(md.contains("patches accepted 1 of 1"), "{md}");
}
