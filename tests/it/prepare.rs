//! `self-heal-prepare` end to end: the real binary on real and hostile inputs.

use crate::common;

use std::path::Path;

use common::{bin, fixture, parse_outputs, read_json};

const PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");

fn run_prepare(out: &Path, args: &[&str]) -> std::process::Output {
    bin(PREPARE)
        .arg("--out")
        .arg(out)
        .args(args)
        .current_dir(out)
        .output()
        .expect("run self-heal-prepare")
}

fn context(out: &Path) -> serde_json::Value {
    read_json(&out.join("self-heal/context.json"))
}

#[test]
fn help_explains_inputs_outputs_and_exit_codes() {
    let out = bin(PREPARE).arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--log",
        "--junit",
        "--playwright-report",
        "context.json",
        "Exit codes",
        "GITHUB_OUTPUT",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    let v = bin(PREPARE).arg("--version").output().expect("run");
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn missing_log_is_a_clear_error_and_the_context_is_still_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_prepare(dir.path(), &["--log", "does/not/exist.log"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("does/not/exist.log"),
        "{stderr}"
    );
    let ctx = context(dir.path());
    assert_eq!(ctx["schema"], "ci-remedy/context/v1");
    assert!(ctx["error"]
        .as_str()
        .expect("error")
        .contains("does/not/exist.log"));
}

#[test]
fn unknown_policy_key_is_a_usage_error_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yml");
    std::fs::write(
        &policy,
        "version: 1\nself-heal:\n  max-attempts: 2\n  colour: blue\n",
    )
    .expect("write");
    let out = run_prepare(dir.path(), &["--policy", policy.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy.yml line 4"), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(!dir.path().join("self-heal/context.json").exists());
}

#[test]
fn invalid_developer_agent_answers_degrade_to_rules_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = fixture("cidiff/cidiff_57/fail.log");
    for (answer, status) in [
        (
            &br#"{"classification": {"category": "network", "confid"#[..],
            "invalid",
        ),
        (b"\xff\xfe\x00binary", "invalid"),
        (
            br#"{"classification": {"category": "made_up", "confidence": 0.9}}"#,
            "invalid",
        ),
    ] {
        let path = dir.path().join("answer.json");
        std::fs::write(&path, answer).expect("write");
        let out = run_prepare(
            dir.path(),
            &[
                "--log",
                log.to_str().expect("utf8"),
                "--developer-agent-response",
                path.to_str().expect("utf8"),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ctx = context(dir.path());
        assert_eq!(ctx["developer_agent"]["status"], status);
        assert!(ctx["developer_agent"]["detail"]
            .as_str()
            .expect("detail")
            .contains("answer.json"));
        assert_eq!(ctx["classification"]["source"], "rules");
    }
}

#[test]
fn a_valid_developer_agent_answer_sets_the_category() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = fixture("cidiff/cidiff_57/fail.log");
    let path = dir.path().join("answer.json");
    std::fs::write(
        &path,
        r#"{"status": "received", "upstream": {"classification": {"category": "service_unavailable", "confidence": 0.93, "summary": "db down"},
            "self_heal_plan": {"actions": ["reseed-db"]}, "fix_agent_instructions": [], "triggers": [{"name": "self-heal"}]}}"#,
    )
    .expect("write");
    let out = run_prepare(
        dir.path(),
        &[
            "--log",
            log.to_str().expect("utf8"),
            "--developer-agent-response",
            path.to_str().expect("utf8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = context(dir.path());
    assert_eq!(ctx["developer_agent"]["status"], "valid");
    assert_eq!(ctx["classification"]["source"], "developer-agent");
    assert_eq!(ctx["classification"]["category"], "service_unavailable");
    assert_eq!(ctx["classification"]["kind"], "environment");
}

#[test]
fn binary_and_invalid_utf8_logs_do_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_log = dir.path().join("binary.log");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    bytes.extend_from_slice(b"\nerror: \xff\xfe invalid utf-8 \xc3\x28 here\n");
    std::fs::write(&bin_log, &bytes).expect("write");
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").expect("write");
    let out = run_prepare(
        dir.path(),
        &[
            "--log",
            bin_log.to_str().expect("utf8"),
            "--log",
            empty.to_str().expect("utf8"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = context(dir.path());
    assert_eq!(ctx["logs"].as_array().expect("logs").len(), 2);
    assert_eq!(ctx["logs"][0]["bytes"], bytes.len() as u64);
}

#[test]
fn untrusted_log_text_never_becomes_a_workflow_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("evil.log");
    std::fs::write(
        &log,
        "2024-01-01T00:00:00.0000000Z ::set-output name=allowed::true\n\
         2024-01-01T00:00:00.0000000Z ::add-mask::x\n\
         2024-01-01T00:00:01.0000000Z npm ERR! code ECONNRESET\n\
         2024-01-01T00:00:01.0000000Z npm ERR! network aborted ::stop-commands::tok\n\
         2024-01-01T00:00:02.0000000Z ##[error]Process completed with exit code 1.\n",
    )
    .expect("write");
    let output_file = dir.path().join("gh_output");
    let summary_file = dir.path().join("gh_summary");
    let out = bin(PREPARE)
        .args([
            "--out",
            dir.path().to_str().expect("utf8"),
            "--log",
            log.to_str().expect("utf8"),
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stream in [&out.stdout, &out.stderr] {
        for line in String::from_utf8_lossy(stream).lines() {
            let t = line.trim_start();
            if t.starts_with("::") || t.starts_with("##[") {
                assert!(
                    t.starts_with("::error "),
                    "untrusted command on output: {line}"
                );
            }
        }
    }
    let outputs = parse_outputs(&std::fs::read_to_string(&output_file).expect("outputs"));
    let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["category", "kind", "confidence", "context-path"]);
    assert!(std::fs::read_to_string(&summary_file)
        .expect("summary")
        .contains("ci-remedy"));
}

#[test]
fn secrets_in_step_names_and_test_ids_never_reach_the_context() {
    // A step without a name is called `Run <its command>` by GitHub, so the `##[group]` line
    // (which becomes `Finding.step`) can hold a token; a pytest id is built from the test name.
    let token = format!("ghp_{}", "A1b2C3d4E5".repeat(4).get(..36).expect("36"));
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("run.log");
    std::fs::write(
        &log,
        format!(
            "2024-01-01T00:00:00.0000000Z ##[group]Run curl -H \"Authorization: token {token}\" https://api.github.com/x\n\
             2024-01-01T00:00:01.0000000Z npm ERR! code ECONNRESET\n\
             2024-01-01T00:00:02.0000000Z ##[error]Process completed with exit code 1.\n"
        ),
    )
    .expect("write");
    let junit = dir.path().join("junit.xml");
    std::fs::write(
        &junit,
        format!(
            r#"<testsuites><testsuite name="pytest"><testcase classname="tests.test_api" name="test_login[{token}]" file="tests/test_api.py" line="3"><failure message="boom">tests/test_api.py:4: AssertionError</failure></testcase></testsuite></testsuites>"#
        ),
    )
    .expect("write");
    let summary_file = dir.path().join("gh_summary");
    let out = bin(PREPARE)
        .args(["--out", dir.path().to_str().expect("utf8")])
        .args(["--log", log.to_str().expect("utf8")])
        .args(["--junit", junit.to_str().expect("utf8")])
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read_to_string(dir.path().join("self-heal/context.json")).expect("ctx");
    let ctx: serde_json::Value = serde_json::from_str(&raw).expect("json");
    // The fields this is about are there (redacted), so the test proves something.
    let step = ctx["findings"][0]["step"].as_str().expect("step");
    assert!(step.contains("[REDACTED:"), "{step}");
    let id = ctx["tests"]["failed"][0]["id"].as_str().expect("id");
    assert!(id.starts_with("tests/test_api.py::test_login["), "{id}");
    let summary = std::fs::read_to_string(&summary_file).expect("summary");
    for (what, text) in [
        ("context.json", raw.as_str()),
        ("stdout", &String::from_utf8_lossy(&out.stdout)),
        ("stderr", &String::from_utf8_lossy(&out.stderr)),
        ("job summary", summary.as_str()),
    ] {
        assert!(!text.contains("ghp_"), "{what} holds a token:\n{text}");
    }
}

/// A GitHub-style run-log zip with one stored entry whose data no longer matches its CRC-32.
fn corrupted_zip(path: &Path) {
    use std::io::Write;
    let content = b"2024-01-01T00:00:00.0000000Z npm ERR! code ERESOLVE\n".repeat(20);
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    w.start_file(
        "1_build.txt",
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .expect("entry");
    w.write_all(&content).expect("write");
    w.finish().expect("finish");
    let mut bytes = std::fs::read(path).expect("read");
    // A byte of the stored data (after the 30-byte local header and the 11-byte name).
    bytes[30 + 11 + 40] ^= 0x20;
    std::fs::write(path, &bytes).expect("write");
}

#[test]
fn an_unreadable_log_does_not_throw_away_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("a.log");
    std::fs::write(
        &good,
        "step 1\nnpm ERR! code ECONNRESET\nnpm ERR! network aborted\n",
    )
    .expect("write");
    let bad = dir.path().join("r.zip");
    corrupted_zip(&bad);
    let out = run_prepare(
        dir.path(),
        &[
            "--log",
            good.to_str().expect("utf8"),
            "--log",
            bad.to_str().expect("utf8"),
            // An unreadable baseline: ranked without one.
            "--baseline-log",
            bad.to_str().expect("utf8"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "an input could not be read");
    let ctx = context(dir.path());
    let error = ctx["error"].as_str().expect("error");
    assert!(
        error.contains("1_build.txt") && error.contains("corrupted"),
        "{error}"
    );
    assert!(error.contains("baseline log:"), "{error}");
    let logs: Vec<&str> = ctx["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|l| l["path"].as_str())
        .collect();
    assert_eq!(logs, [good.to_str().expect("utf8")]);
    let findings = ctx["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "{ctx:#}");
    assert_eq!(ctx["classification"]["category"], "network");
}

#[test]
fn the_same_log_spelt_twice_is_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.log"), "npm ERR! code ECONNRESET\n").expect("write");
    let out = run_prepare(dir.path(), &["--log", "a.log", "--log", "./a.log"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = context(dir.path());
    assert_eq!(ctx["logs"].as_array().expect("logs").len(), 1, "{ctx:#}");
    assert_eq!(ctx["logs"][0]["path"], "a.log");
    assert_eq!(ctx["findings"].as_array().expect("findings").len(), 1);
}

#[test]
fn schemas_are_current() {
    let out = bin(env!("CARGO_BIN_EXE_ci-remedy-schemas"))
        .args(["--check", "--dir"])
        .arg(common::root().join("schemas"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every fixture log of `fixtures/logs/README.md`, through the real binary: the category the
/// table names, and a rank-1 finding inside the log.
#[test]
fn fixture_logs_get_their_documented_category() {
    let table = std::fs::read_to_string(fixture("logs/README.md")).expect("README");
    let rows: Vec<(String, String)> = table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let file = cells.get(1)?.strip_prefix('`')?.strip_suffix(".log`")?;
            let cat = cells.get(2)?.trim_matches('`');
            Some((format!("{file}.log"), cat.to_string()))
        })
        .collect();
    assert!(rows.len() >= 11, "the table lists the fixtures: {rows:?}");
    for (file, category) in rows {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = fixture(&format!("logs/{file}"));
        let out = run_prepare(dir.path(), &["--log", log.to_str().expect("utf8")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ctx = context(dir.path());
        assert_eq!(
            ctx["classification"]["category"],
            category.as_str(),
            "{file}"
        );
        let lines = ctx["logs"][0]["lines"].as_u64().expect("lines");
        let top = &ctx["findings"][0];
        assert_eq!(top["rank"], 1, "{file}");
        assert!(top["line_start"].as_u64().expect("start") >= 1);
        assert!(top["line_end"].as_u64().expect("end") <= lines, "{file}");
    }
}

/// The real GitHub Actions logs of the CiDiff dataset, through the real binary: the rank-1
/// finding overlaps the ground truth's `E` lines.
#[test]
fn rank_one_overlaps_ground_truth_on_github_actions_logs() {
    for case in [
        "cidiff_11",
        "cidiff_57",
        "cidiff_75",
        "cv_45",
        "google_auto_693",
    ] {
        let gt =
            std::fs::read_to_string(fixture(&format!("cidiff/{case}/groundtruth"))).expect("gt");
        let errors: Vec<(u64, u64)> = gt
            .lines()
            .filter_map(|l| l.strip_prefix("E "))
            .map(|r| match r.split_once('-') {
                Some((a, b)) => (a.parse().expect("n"), b.parse().expect("n")),
                None => {
                    let n = r.trim().parse().expect("n");
                    (n, n)
                }
            })
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = fixture(&format!("cidiff/{case}/fail.log"));
        let out = run_prepare(dir.path(), &["--log", log.to_str().expect("utf8")]);
        assert!(out.status.success(), "{case}");
        let ctx = context(dir.path());
        let top = &ctx["findings"][0];
        let (s, e) = (
            top["line_start"].as_u64().expect("start"),
            top["line_end"].as_u64().expect("end"),
        );
        assert!(
            errors.iter().any(|(a, b)| s <= *b && *a <= e),
            "{case}: rank 1 is lines {s}-{e}, ground truth E {errors:?}"
        );
    }
}

#[test]
fn a_log_zip_over_the_unpacked_cap_is_refused_and_the_flag_raises_it() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let zip_path = dir.path().join("logs.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
    w.start_file("1_build.txt", zip::write::SimpleFileOptions::default())
        .expect("entry");
    w.write_all(&b"npm ERR! code ECONNRESET\n".repeat(100))
        .expect("write");
    w.finish().expect("finish");
    let zip = zip_path.to_str().expect("utf8");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let o = run_prepare(&out, &["--log", zip, "--max-zip-bytes", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("logs.zip") && err.contains("--max-zip-bytes"),
        "{err}"
    );
    assert!(context(&out)["error"]
        .as_str()
        .is_some_and(|e| e.contains("more than 1000 bytes")));
    let o = run_prepare(&out, &["--log", zip, "--max-zip-bytes", "1000000"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(context(&out)["classification"]["category"], "network");
}

#[test]
fn a_huge_test_report_gives_a_bounded_context_with_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut xml = String::from("<testsuite name=\"s\">\n");
    let long = "n".repeat(5000);
    for i in 0..5000 {
        xml.push_str(&format!(
            "<testcase classname=\"c{long}\" name=\"t{i}\"><failure message=\"boom\">x</failure></testcase>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    let report = dir.path().join("junit.xml");
    std::fs::write(&report, xml).expect("write");
    std::fs::write(dir.path().join("job.log"), "Error: boom\n").expect("log");
    let o = run_prepare(
        &out,
        &[
            "--log",
            dir.path().join("job.log").to_str().expect("utf8"),
            "--junit",
            report.to_str().expect("utf8"),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ctx = context(&out);
    let failed = ctx["tests"]["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), ci_remedy::artifact::MAX_CONTEXT_FAILED_TESTS);
    assert_eq!(ctx["tests"]["failed_omitted"], 4000);
    for t in failed {
        assert!(
            t["name"].as_str().expect("name").len()
                <= ci_remedy::artifact::MAX_CONTEXT_TEST_FIELD_BYTES
        );
    }
    let bytes = std::fs::metadata(out.join("self-heal/context.json"))
        .expect("meta")
        .len();
    assert!(bytes < 4 << 20, "{bytes} bytes");
}

/// Issue 16 #13: the `.dockerignore` incident's health check fails with a connection error,
/// which the rules read as `network` (a category self-heal reruns). With the checkout at
/// `--repo-root`, the `dockerignore-exception` recipe finds that `.dockerignore` excludes the
/// file the container misses, and the category follows it: `build_config`, source `recipe`.
/// Without the repository (an empty `--repo-root`), the rules' category stays.
#[test]
fn a_sure_recipe_decides_the_category_against_the_checkout() {
    let log = fixture("repos/dockerignore-incident.log");
    let log = log.to_str().expect("utf8");
    let repo = fixture("repos/dockerignore-incident");

    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_prepare(
        dir.path(),
        &["--log", log, "--repo-root", repo.to_str().expect("utf8")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = &context(dir.path())["classification"];
    assert_eq!(c["category"], "build_config", "{c}");
    assert_eq!(c["source"], "recipe", "{c}");
    let summary = c["summary"].as_str().expect("summary");
    assert!(
        summary.contains("dockerignore-exception") && summary.contains("data/pricing.json"),
        "{summary}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_prepare(
        dir.path(),
        &[
            "--log",
            log,
            "--repo-root",
            empty.path().to_str().expect("utf8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let c = &context(dir.path())["classification"];
    assert_eq!(c["source"], "rules", "{c}");
    assert_ne!(c["category"], "build_config", "{c}");
}
