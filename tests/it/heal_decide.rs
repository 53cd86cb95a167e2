//! `self-heal-decide` run as a real binary with a hermetic environment.

use crate::heal_common;

use ci_remedy::artifact::{Category, HealReport, Outcome, RerunMode};
use heal_common::*;

const POLICY: &str = r#"
self-heal:
  max-attempts: 2
  actions:
    reseed-db:
      run: [sh, -c, "true"]
    restart-service:
      shell: "true"
  plan:
    service_unavailable: [reseed-db]
    default: [restart-service]
  rerun:
    failed: [sh, record.sh]
    full: [sh, -c, "true"]
"#;

fn gate<'a>(d: &'a ci_remedy::artifact::Decision, name: &str) -> &'a ci_remedy::artifact::Gate {
    d.gates
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("gate {name} missing: {:?}", d.gates))
}

#[test]
fn push_is_refused_and_workflow_dispatch_allowed() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(
        Category::ServiceUnavailable,
        0.9,
        vec![failed_test("a", Some("t.spec.ts:3"))],
    ));

    let out_file = s.root().join("gh_output");
    let summary_file = s.root().join("gh_summary");
    let o = decide_cmd(s.root())
        .args([
            "--out",
            &s.out().to_string_lossy(),
            "--policy",
            &s.policy().to_string_lossy(),
        ])
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_OUTPUT", &out_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d = s.decision();
    assert!(!d.allowed);
    let ev = gate(&d, "event");
    assert!(!ev.passed);
    assert!(
        ev.detail.contains("push") && ev.detail.contains("workflow_dispatch"),
        "{}",
        ev.detail
    );
    // Every other gate still evaluated and passing.
    for g in d.gates.iter().filter(|g| g.name != "event") {
        assert!(g.passed, "{g:?}");
    }
    let outputs = std::fs::read_to_string(&out_file).expect("outputs");
    assert!(
        outputs.contains("allowed<<") && outputs.contains("\nfalse\n"),
        "{outputs}"
    );
    assert!(
        outputs.contains("\nservice_unavailable\n") && outputs.contains("\n0.90\n"),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(&summary_file).expect("summary");
    assert!(summary.contains("| event | **fail** |"), "{summary}");
    assert!(stdout(&o).contains("FAIL event"), "{}", stdout(&o));

    let o = s.decide(&["--event", "workflow_dispatch"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d = s.decision();
    assert!(d.allowed, "{:?}", d.gates);
    assert_eq!(d.actions, vec!["reseed-db".to_string()]);
    assert_eq!(d.rerun, RerunMode::Failed);
    let names: Vec<&str> = d.gates.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "event",
            "failure_present",
            "category",
            "confidence",
            "attempts",
            "plan"
        ]
    );
    assert!(stdout(&o).contains("self-heal ALLOWED"), "{}", stdout(&o));
}

#[test]
fn code_category_low_confidence_and_no_failure_are_refused() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::TestAssertion, 0.9, vec![]));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(!d.allowed);
    assert!(!gate(&d, "category").passed, "{:?}", d.gates);
    assert!(gate(&d, "category")
        .detail
        .contains("test_assertion (code)"));

    s.write_context(&context(Category::Network, 0.4, vec![]));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(!d.allowed);
    assert_eq!(
        gate(&d, "confidence").detail,
        "confidence 0.40 < minimum 0.60"
    );

    let mut ctx = context(Category::Network, 0.9, vec![]);
    ctx.findings.clear();
    s.write_context(&ctx);
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(!d.allowed);
    assert!(!gate(&d, "failure_present").passed);
}

#[test]
fn run_attempt_counts_against_max_attempts() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::Network, 0.9, vec![]));
    for (attempt, allowed) in [("1", true), ("2", true), ("3", false)] {
        let o = decide_cmd(s.root())
            .args([
                "--out",
                &s.out().to_string_lossy(),
                "--policy",
                &s.policy().to_string_lossy(),
            ])
            .env("GITHUB_EVENT_NAME", "workflow_dispatch")
            .env("GITHUB_RUN_ATTEMPT", attempt)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0));
        let d = s.decision();
        assert_eq!(d.allowed, allowed, "attempt {attempt}: {:?}", d.gates);
        assert_eq!(d.attempt.to_string(), attempt);
        assert_eq!(d.max_attempts, 2);
    }
    // --attempt overrides the environment.
    s.decide(&["--event", "workflow_dispatch", "--attempt", "5"]);
    let d = s.decision();
    assert_eq!(d.attempt, 5);
    assert!(!gate(&d, "attempts").passed);
    assert!(
        gate(&d, "attempts").detail.contains("> max-attempts 2"),
        "{}",
        gate(&d, "attempts").detail
    );
}

#[test]
fn history_reports_count_as_earlier_attempts() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::Network, 0.9, vec![]));
    let hist = s.root().join("history");
    std::fs::create_dir_all(hist.join("artifact-a")).expect("mkdir");
    let put = |name: &str, r: &HealReport| {
        std::fs::write(hist.join(name), serde_json::to_vec(r).expect("json")).expect("write");
    };
    // Counted: same repository/workflow/sha, another run, not skipped.
    put(
        "artifact-a/report-100.json",
        &prior_report("100", "abc", Outcome::StillFailing),
    );
    // Not counted: other sha, skipped, this very run.
    put(
        "report-101.json",
        &prior_report("101", "def", Outcome::StillFailing),
    );
    put(
        "report-102.json",
        &prior_report("102", "abc", Outcome::Skipped),
    );
    put(
        "report-500.json",
        &prior_report("500", "abc", Outcome::StillFailing),
    );
    // Malformed: ignored and mentioned.
    std::fs::write(
        hist.join("report-bad.json"),
        b"{\"schema\": \"ci-remedy/self-heal-rep",
    )
    .expect("write");

    let run = |s: &Setup| {
        let o = decide_cmd(s.root())
            .args([
                "--out",
                &s.out().to_string_lossy(),
                "--policy",
                &s.policy().to_string_lossy(),
            ])
            .arg("--history")
            .arg(&hist)
            .envs([
                ("GITHUB_EVENT_NAME", "workflow_dispatch"),
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_WORKFLOW", "e2e"),
                ("GITHUB_SHA", "abc"),
                ("GITHUB_RUN_ID", "500"),
                ("GITHUB_RUN_ATTEMPT", "1"),
            ])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        s.decision()
    };
    let d = run(&s);
    let g = gate(&d, "attempts");
    assert!(d.allowed, "{:?}", d.gates);
    assert_eq!(d.attempt, 2, "{}", g.detail);
    assert!(
        g.detail.contains("1 malformed file(s) ignored") && g.detail.contains("report-bad.json"),
        "{}",
        g.detail
    );
    assert!(g.detail.contains("3 report(s) not counted"), "{}", g.detail);

    put(
        "report-103.json",
        &prior_report("103", "abc", Outcome::Error),
    );
    let d = run(&s);
    assert_eq!(d.attempt, 3);
    assert!(!d.allowed);
    assert!(!gate(&d, "attempts").passed);

    // A history directory that cannot be read fails closed.
    let o = s.decide(&[
        "--event",
        "workflow_dispatch",
        "--history",
        "/nonexistent/history",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let d = s.decision();
    assert!(!gate(&d, "attempts").passed);
    assert!(gate(&d, "attempts").detail.contains("/nonexistent/history"));
}

#[test]
fn developer_agent_plan_may_only_name_policy_actions() {
    let s = Setup::new();
    s.write_policy(POLICY);
    let ctx = context(Category::Network, 0.9, vec![failed_test("t", None)]);
    s.write_context(&with_plan(
        ctx.clone(),
        &["reseed-db", "drop-database", "restart-service"],
        Some(RerunMode::Full),
    ));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(!d.allowed);
    assert_eq!(d.refused_actions, vec!["drop-database".to_string()]);
    assert_eq!(
        d.actions,
        vec!["reseed-db".to_string(), "restart-service".to_string()]
    );
    let g = gate(&d, "plan");
    assert!(
        !g.passed && g.detail.contains("drop-database"),
        "{}",
        g.detail
    );

    // A plan of known names is used instead of the policy plan.
    s.write_context(&with_plan(
        ctx,
        &["restart-service", "reseed-db"],
        Some(RerunMode::Full),
    ));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(d.allowed, "{:?}", d.gates);
    assert_eq!(
        d.actions,
        vec!["restart-service".to_string(), "reseed-db".to_string()]
    );
    assert_eq!(d.rerun, RerunMode::Full);
    assert!(d.refused_actions.is_empty());
}

#[test]
fn nothing_to_do_without_actions_or_rerun() {
    let s = Setup::new();
    s.write_policy("version: 1\n");
    s.write_context(&context(Category::Network, 0.9, vec![]));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert!(!d.allowed);
    let g = gate(&d, "plan");
    assert!(
        !g.passed && g.detail.starts_with("nothing to do"),
        "{}",
        g.detail
    );
}

#[test]
fn failed_rerun_without_failed_tests_falls_back_to_full() {
    let s = Setup::new();
    s.write_policy(POLICY);
    s.write_context(&context(Category::Network, 0.9, vec![]));
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert_eq!(d.rerun, RerunMode::Full, "{:?}", d.gates);
    assert!(gate(&d, "plan").detail.contains("no failed tests"));
}

#[test]
fn unreadable_context_exits_1_and_still_writes_a_decision() {
    let s = Setup::new();
    s.write_policy(POLICY);
    // Missing.
    let o = s.decide(&["--event", "workflow_dispatch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("context.json") && stderr(&o).contains("help:"),
        "{}",
        stderr(&o)
    );
    let d = s.decision();
    assert!(!d.allowed && d.error.is_some());

    // Truncated JSON and hostile text that would be a workflow command.
    std::fs::write(
        s.out().join("self-heal/context.json"),
        b"{\"schema\":\"ci-remedy/context/v1\",\"classification\":{\"category\":\"::set-output name=x::y\"",
    )
    .expect("write");
    let o = s.decide(&["--event", "workflow_dispatch"]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_workflow_commands(&stdout(&o));
    assert_no_workflow_commands(&stderr(&o));
    let d = s.decision();
    assert!(!d.allowed);
    assert!(d
        .error
        .as_deref()
        .is_some_and(|e| e.contains("context.json")));

    // Binary garbage.
    std::fs::write(
        s.out().join("self-heal/context.json"),
        [0xff, 0xfe, 0x00, 0x9f],
    )
    .expect("write");
    let o = s.decide(&[]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn unknown_policy_key_exits_2_with_file_and_line() {
    let s = Setup::new();
    s.write_policy("self-heal:\n  max-attempts: 2\n  max-attempt: 3\n");
    s.write_context(&context(Category::Network, 0.9, vec![]));
    let o = s.decide(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("policy.yml line 3") && err.contains("max-attempt"),
        "{err}"
    );

    s.write_policy("self-heal:\n  plan:\n    network: [undefined-action]\n");
    let o = s.decide(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("self-heal.plan.network"),
        "{}",
        stderr(&o)
    );

    let o = s.decide(&["--attempt", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let s = Setup::new();
    let o = decide_cmd(s.root()).arg("--help").output().expect("run");
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for needle in [
        "--context",
        "--history",
        "--attempt",
        "failure_present",
        "max-attempts",
        "Exit codes:",
        "decision.json",
    ] {
        assert!(h.contains(needle), "help lacks {needle}:\n{h}");
    }
    let o = decide_cmd(s.root()).arg("--version").output().expect("run");
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(ci_remedy::VERSION));
}

#[test]
fn a_context_that_left_failed_tests_out_is_not_rerun_failed_only() {
    let s = Setup::new();
    s.write_policy(POLICY);
    let mut ctx = context(Category::Network, 0.9, vec![failed_test("a", Some("t1"))]);
    ctx.tests.failed_omitted = 4000;
    s.write_context(&ctx);
    s.decide(&["--event", "workflow_dispatch"]);
    let d = s.decision();
    assert_eq!(d.rerun, RerunMode::Full, "{:?}", d.gates);
    assert!(
        gate(&d, "plan")
            .detail
            .contains("left out 4000 failed test(s)"),
        "{:?}",
        d.gates
    );
}
