//! `self-heal-execute` run as a real binary with a hermetic environment (Unix).
#![cfg(unix)]

use crate::heal_common;

use std::time::{Duration, Instant};

use ci_remedy::artifact::{Category, Escalation, Outcome, RerunMode};
use heal_common::*;

/// Writes the policy and context, runs self-heal-decide for `event`, and returns the setup.
fn prepared(policy: &str, ctx: ci_remedy::artifact::Context, event: &str) -> Setup {
    let s = Setup::new();
    s.write_policy(policy);
    s.write_context(&ctx);
    let o = s.decide(&["--event", event]);
    assert_eq!(o.status.code(), Some(0), "decide: {}", stderr(&o));
    s
}

fn network() -> ci_remedy::artifact::Context {
    context(Category::Network, 0.9, vec![])
}

/// True when `pid` no longer runs (gone, or a zombie waiting to be reaped).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

fn wait_gone(pid: i32) -> bool {
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_pid(path: &std::path::Path) -> i32 {
    std::fs::read_to_string(path)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

#[test]
fn timeout_kills_the_whole_process_group() {
    // The action's shell starts a grandchild `sleep`, records its pid and waits; the timeout must
    // kill the sleep too. The second variant ignores SIGTERM, so SIGKILL after the grace is needed.
    let policy = r#"
self-heal:
  actions:
    hang:
      run: [sh, -c, "sleep 30 & echo $! > sleep.pid; wait"]
      timeout: 700ms
    stubborn:
      shell: "trap '' TERM; sleep 30 & echo $! > stubborn.pid; wait; wait"
      timeout: 700ms
  plan:
    default: [hang]
  rerun:
    full: [sh, -c, "echo rerun > rerun-ran"]
"#;
    let s = prepared(policy, network(), "workflow_dispatch");
    let start = Instant::now();
    let o = s.execute(&[]);
    let elapsed = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::StillFailing, "{}", r.detail);
    assert_eq!(r.escalate_to, Escalation::Human);
    assert_eq!(r.actions.len(), 1);
    let a = &r.actions[0];
    assert!(a.timed_out && a.exit_code.is_none(), "{a:?}");
    assert!(
        a.duration_ms >= 700 && elapsed < Duration::from_secs(10),
        "{a:?} {elapsed:?}"
    );
    assert!(r.rerun.is_none());
    assert!(
        !s.repo().join("rerun-ran").exists(),
        "the rerun ran after a timed-out action"
    );
    let pid = read_pid(&s.repo().join("sleep.pid"));
    assert!(
        wait_gone(pid),
        "grandchild sleep {pid} survived the timeout"
    );

    // SIGTERM ignored: the group still dies (SIGKILL after the grace period).
    let ctx = with_plan(network(), &["stubborn"], Some(RerunMode::None));
    let s = prepared(policy, ctx, "workflow_dispatch");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = s.report("local");
    assert!(r.actions[0].timed_out);
    let pid = read_pid(&s.repo().join("stubborn.pid"));
    assert!(wait_gone(pid), "SIGTERM-ignoring sleep {pid} survived");
}

#[test]
fn hostile_test_names_arrive_as_separate_verbatim_arguments() {
    let policy = r#"
self-heal:
  actions:
    noop:
      run: ["true"]
  plan:
    default: [noop]
  rerun:
    failed: [sh, record.sh, --reporter=line]
"#;
    let hostile = [
        "x; touch pwned",
        "$(touch pwned2)",
        "`touch pwned3`",
        "a b  c", // whitespace stays inside one argument (a tab, a control character, is refused)
        "it's \"quoted\" | cat",
    ];
    let mut tests: Vec<_> = hostile[..4]
        .iter()
        .map(|n| failed_test("suite", Some(n)))
        .collect();
    tests.push(failed_test(hostile[4], None)); // no id: the name is used
    tests.push(failed_test("dup", Some(hostile[0]))); // duplicates are passed once
    let s = prepared(
        policy,
        context(Category::FlakyTest, 0.9, tests),
        "workflow_dispatch",
    );
    std::fs::write(
        s.repo().join("record.sh"),
        "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > argv.bin\n",
    )
    .expect("script");

    let gh_out = s.root().join("gh_output");
    let o = s.execute(&[("GITHUB_OUTPUT", gh_out.to_str().expect("utf8"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Healed, "{}", r.detail);
    assert_eq!(r.escalate_to, Escalation::None);

    let recorded = std::fs::read(s.repo().join("argv.bin")).expect("argv recorded");
    let args: Vec<String> = recorded
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8(a.to_vec()).expect("utf8"))
        .collect();
    let mut expected = vec!["--reporter=line".to_string()];
    expected.extend(hostile.iter().map(|s| s.to_string()));
    assert_eq!(args, expected);
    let rerun = r.rerun.expect("rerun");
    assert_eq!(rerun.mode, RerunMode::Failed);
    assert_eq!(rerun.tests, expected[1..].to_vec());
    for dir in [s.repo(), s.out(), s.root().to_path_buf()] {
        for f in ["pwned", "pwned2", "pwned3"] {
            assert!(!dir.join(f).exists(), "{f} created in {}", dir.display());
        }
    }
    let outputs = std::fs::read_to_string(&gh_out).expect("outputs");
    assert!(
        outputs.contains("outcome<<") && outputs.contains("\nhealed\n"),
        "{outputs}"
    );
}

#[test]
fn test_ids_that_look_like_options_are_never_passed() {
    let policy = r#"
self-heal:
  actions:
    noop:
      run: ["true"]
  plan:
    default: [noop]
  rerun:
    failed: [sh, record.sh]
"#;
    let s = prepared(
        policy,
        context(
            Category::FlakyTest,
            0.9,
            vec![failed_test("t", Some("--config=evil.js"))],
        ),
        "workflow_dispatch",
    );
    std::fs::write(s.repo().join("record.sh"), "echo \"$@\" > argv.txt\n").expect("script");
    // decide already refused a failed-only rerun (no full command: no rerun at all).
    assert_eq!(s.decision().rerun, RerunMode::None);
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!s.repo().join("argv.txt").exists());
    assert_eq!(s.report("local").outcome, Outcome::StillFailing);
}

#[test]
fn environment_is_cleared_except_the_allowlist() {
    let policy = r#"
self-heal:
  actions:
    dump-env:
      run: [sh, -c, "env > env.txt"]
      env: [ALLOWED_VAR, UNSET_VAR]
  plan:
    default: [dump-env]
"#;
    let s = prepared(policy, network(), "workflow_dispatch");
    let o = s.execute(&[
        ("ALLOWED_VAR", "visible"),
        ("SECRET_TOKEN", "hunter2-must-not-leak"),
        ("GITHUB_TOKEN", "ghs_shouldnotleak"),
        ("HOME", "/home/tester"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let env = std::fs::read_to_string(s.repo().join("env.txt")).expect("env");
    assert!(env.lines().any(|l| l == "ALLOWED_VAR=visible"), "{env}");
    assert!(env.lines().any(|l| l == "HOME=/home/tester"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(
        !env.contains("hunter2") && !env.contains("SECRET_TOKEN"),
        "{env}"
    );
    assert!(
        !env.contains("GITHUB_TOKEN") && !env.contains("ghs_"),
        "{env}"
    );
    assert!(!env.contains("UNSET_VAR"), "{env}");
    // No rerun configured: the actions alone prove nothing.
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::StillFailing);
}

#[test]
fn output_tail_is_bounded() {
    let policy = r#"
self-heal:
  output-tail-bytes: 100
  actions:
    chatty:
      shell: "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo '::set-output name=x::y'; echo END; exit 3"
  plan:
    default: [chatty]
"#;
    let s = prepared(policy, network(), "workflow_dispatch");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = s.report("local");
    let a = &r.actions[0];
    assert_eq!(a.exit_code, Some(3));
    assert!(a.output_tail.len() <= 100, "{} bytes", a.output_tail.len());
    assert!(
        a.output_tail.ends_with("::set-output name=x::y\nEND\n"),
        "{:?}",
        a.output_tail
    );
    assert!(a.output_tail.starts_with('a'));
    assert_eq!(r.outcome, Outcome::StillFailing);
    // The tail is echoed, but never as a workflow command.
    let out = stdout(&o);
    assert!(out.contains("set-output name=x::y"), "{out}");
    assert_no_workflow_commands(&out);
}

#[test]
fn a_failing_action_stops_the_sequence() {
    let policy = r#"
self-heal:
  actions:
    fail:
      run: [sh, -c, "echo boom >&2; exit 7"]
    after:
      run: [touch, after-ran]
  plan:
    default: [fail, after]
  rerun:
    full: [touch, rerun-ran]
"#;
    let s = prepared(policy, network(), "workflow_dispatch");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(0));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::StillFailing);
    assert_eq!(r.actions.len(), 1);
    assert_eq!(r.actions[0].exit_code, Some(7));
    assert_eq!(r.actions[0].output_tail, "boom\n");
    assert!(!s.repo().join("after-ran").exists() && !s.repo().join("rerun-ran").exists());
}

#[test]
fn working_directory_is_used() {
    let policy = r#"
self-heal:
  actions:
    here:
      run: [sh, -c, "pwd > where.txt"]
      working-directory: backend
  plan:
    default: [here]
  rerun:
    full: [sh, -c, "exit 1"]
"#;
    let s = prepared(policy, network(), "workflow_dispatch");
    std::fs::create_dir_all(s.repo().join("backend")).expect("mkdir");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pwd = std::fs::read_to_string(s.repo().join("backend/where.txt")).expect("ran in backend");
    assert!(pwd.trim_end().ends_with("/backend"), "{pwd}");
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::StillFailing);
    assert_eq!(r.rerun.expect("rerun").result.exit_code, Some(1));
}

#[test]
fn negative_decision_runs_nothing() {
    let policy = r#"
self-heal:
  actions:
    create:
      run: [touch, created]
  plan:
    default: [create]
  rerun:
    full: [touch, rerun-created]
"#;
    let s = prepared(policy, network(), "push");
    assert!(!s.decision().allowed);
    let summary = s.root().join("summary.md");
    let o = s.execute(&[("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf8"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Skipped);
    assert_eq!(r.escalate_to, Escalation::Human);
    assert!(r.actions.is_empty() && r.rerun.is_none());
    assert!(r.detail.contains("event"), "{}", r.detail);
    assert!(!s.repo().join("created").exists() && !s.repo().join("rerun-created").exists());
    let md = std::fs::read_to_string(summary).expect("summary");
    assert!(md.contains("**Self-heal outcome:** skipped"), "{md}");

    // A code failure is skipped and handed to the fix-agent.
    let s = prepared(
        policy,
        context(Category::CompileError, 0.9, vec![]),
        "workflow_dispatch",
    );
    let o = s.execute(&[("GITHUB_RUN_ID", "77")]);
    assert_eq!(o.status.code(), Some(0));
    let r = s.report("77");
    assert_eq!(
        (r.outcome, r.escalate_to),
        (Outcome::Skipped, Escalation::FixAgent)
    );
    assert!(!s.repo().join("created").exists());
}

#[test]
fn decision_naming_an_undefined_action_is_an_error() {
    let s = prepared(
        "self-heal:\n  actions:\n    ok:\n      run: [touch, ok-ran]\n  plan:\n    default: [ok]\n",
        network(),
        "workflow_dispatch",
    );
    // Forge the decision: add an action the policy does not define.
    let mut d = s.decision();
    assert!(d.allowed);
    d.actions.push("rm-everything".into());
    std::fs::write(
        s.out().join("self-heal/decision.json"),
        serde_json::to_vec(&d).expect("json"),
    )
    .expect("write");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(1));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("rm-everything")),
        "{:?}",
        r.error
    );
    assert!(
        !s.repo().join("ok-ran").exists(),
        "an action ran before the decision was checked"
    );
}

#[test]
fn missing_or_malformed_inputs_exit_1_with_a_clear_error() {
    let policy =
        "self-heal:\n  actions:\n    a:\n      run: [touch, ran]\n  plan:\n    default: [a]\n";
    // Missing decision.
    let s = Setup::new();
    s.write_policy(policy);
    s.write_context(&network());
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("error: ") && err.contains("decision.json") && err.contains("help: "),
        "{err}"
    );
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Error);
    assert!(r.error.is_some());

    // Truncated decision.
    let s = prepared(policy, network(), "workflow_dispatch");
    let full = std::fs::read(s.out().join("self-heal/decision.json")).expect("read");
    std::fs::write(
        s.out().join("self-heal/decision.json"),
        &full[..full.len() / 2],
    )
    .expect("write");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a valid artifact"),
        "{}",
        stderr(&o)
    );
    assert!(!s.repo().join("ran").exists());

    // Malformed context (binary) with a valid, allowed decision.
    let s = prepared(policy, network(), "workflow_dispatch");
    std::fs::write(
        s.out().join("self-heal/context.json"),
        [0u8, 0xff, 0xfe, 0x80],
    )
    .expect("write");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("context.json"), "{}", stderr(&o));
    assert!(!s.repo().join("ran").exists());
}

#[test]
fn unknown_policy_key_exits_2() {
    let s = Setup::new();
    s.write_policy("self-heal:\n  actions:\n    a:\n      run: [touch, x]\n      timeout: 5m\n      shel: oops\n");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("policy.yml line 6") && err.contains("shel"),
        "{err}"
    );
}

#[test]
fn help_and_version() {
    let s = Setup::new();
    let o = execute_cmd(s.root()).arg("--help").output().expect("run");
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for needle in [
        "--decision",
        "--repo-root",
        "process group",
        "healed",
        "Exit codes:",
        "report-<run_id>.json",
    ] {
        assert!(h.contains(needle), "help lacks {needle}:\n{h}");
    }
    let o = execute_cmd(s.root())
        .arg("--version")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn decision_for_another_commit_is_refused() {
    let s = prepared(
        "self-heal:\n  actions:\n    ok:\n      run: [touch, ok-ran]\n  plan:\n    default: [ok]\n",
        network(),
        "workflow_dispatch",
    );
    let o = s.execute(&[("GITHUB_SHA", "0123abc"), ("GITHUB_REPOSITORY", "o/r")]);
    assert_eq!(o.status.code(), Some(1));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("0123abc")),
        "{:?}",
        r.error
    );
    assert!(!s.repo().join("ok-ran").exists());
}

const ONE_ACTION: &str = "self-heal:\n  actions:\n    ok:\n      run: [sh, -c, 'echo x >> ok-ran']\n  plan:\n    default: [ok]\n";

/// An allowed decision, forged by `forge`, then executed with `env`: the report must be an
/// error naming `needle`, exit 1, and the action must not have run.
fn refused(
    forge: impl FnOnce(&mut ci_remedy::artifact::Decision),
    env: &[(&str, &str)],
    needle: &str,
) {
    let s = prepared(ONE_ACTION, network(), "workflow_dispatch");
    let mut d = s.decision();
    assert!(d.allowed, "the unforged decision is allowed");
    forge(&mut d);
    std::fs::write(
        s.out().join("self-heal/decision.json"),
        serde_json::to_vec(&d).expect("json"),
    )
    .expect("write");
    let o = s.execute(env);
    assert_eq!(o.status.code(), Some(1), "{needle}: {}", stderr(&o));
    let r = s.report("local");
    assert_eq!(r.outcome, Outcome::Error, "{needle}");
    let e = r.error.unwrap_or_default();
    assert!(e.contains(needle), "{needle}: {e}");
    assert!(
        !s.repo().join("ok-ran").exists(),
        "{needle}: an action ran for a forged decision"
    );
}

#[test]
fn an_unforged_decision_still_runs_its_action_once() {
    let s = prepared(ONE_ACTION, network(), "workflow_dispatch");
    let o = s.execute(&[("GITHUB_EVENT_NAME", "workflow_dispatch")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(s.repo().join("ok-ran")).expect("ran"),
        "x\n"
    );
}

#[test]
fn forged_allowed_with_a_failed_gate_is_refused() {
    refused(
        |d| {
            d.gates
                .iter_mut()
                .for_each(|g| g.passed = g.name != "attempts")
        },
        &[],
        "gate(s) attempts failed",
    );
    refused(
        |d| d.gates.retain(|g| g.name != "event"),
        &[],
        "no event gate",
    );
}

#[test]
fn forged_event_is_refused() {
    refused(
        |d| d.run.event_name = "pull_request".into(),
        &[],
        "event pull_request",
    );
    // The decision's event is allowed, but this run was started by another one.
    refused(
        |_| {},
        &[("GITHUB_EVENT_NAME", "push")],
        "this run's event is push",
    );
}

#[test]
fn an_action_listed_fifty_times_is_refused() {
    refused(
        |d| d.actions = vec!["ok".to_string(); 50],
        &[],
        "more than once",
    );
}

#[test]
fn an_action_the_plan_does_not_pick_is_refused() {
    let policy = "self-heal:\n  actions:\n    ok:\n      run: [touch, ok-ran]\n    other:\n      run: [touch, other-ran]\n  plan:\n    default: [ok]\n";
    let s = prepared(policy, network(), "workflow_dispatch");
    let mut d = s.decision();
    d.actions = vec!["other".into()];
    std::fs::write(
        s.out().join("self-heal/decision.json"),
        serde_json::to_vec(&d).expect("json"),
    )
    .expect("write");
    let o = s.execute(&[]);
    assert_eq!(o.status.code(), Some(1));
    let e = s.report("local").error.unwrap_or_default();
    assert!(
        e.contains("\"other\"") && e.contains("does not pick"),
        "{e}"
    );
    assert!(!s.repo().join("other-ran").exists());
    // And an unknown name, as before.
    refused(
        |d| d.actions = vec!["rm-rf".into()],
        &[],
        "\"rm-rf\", which the policy does not define",
    );
}

#[test]
fn forged_attempt_and_category_are_refused() {
    refused(
        |d| d.attempt = 3,
        &[],
        "attempt 3 is over self-heal.max-attempts 2",
    );
    refused(
        |_| {},
        &[("GITHUB_RUN_ATTEMPT", "2")],
        "below this run's attempt 2",
    );
    refused(
        |d| {
            d.category = Category::RunnerInfra;
            d.kind = Category::RunnerInfra.kind();
        },
        &[],
        "the context's is network",
    );
}

#[test]
fn forged_repository_or_sha_is_refused() {
    // Against the context (both run outside Actions: `local`).
    refused(
        |d| d.run.sha = "feedface".into(),
        &[],
        "not for the context's",
    );
    refused(
        |d| d.run.repository = "evil/fork".into(),
        &[],
        "evil/fork@local",
    );
    // Against this run's GITHUB_REPOSITORY / GITHUB_SHA.
    refused(
        |_| {},
        &[("GITHUB_SHA", "0123abc")],
        "this run's local@0123abc",
    );
    refused(
        |_| {},
        &[("GITHUB_REPOSITORY", "o/r")],
        "this run's o/r@local",
    );
}

#[test]
fn a_relative_policy_is_read_from_the_repo_root() {
    let s = Setup::new();
    std::fs::create_dir_all(s.repo().join(".github")).expect("mkdir");
    std::fs::write(s.repo().join("heal.yml"), ONE_ACTION).expect("policy");
    s.write_context(&network());
    let o = decide_cmd(&s.repo())
        .args(["--out"])
        .arg(s.out())
        .args(["--policy", "heal.yml", "--event", "workflow_dispatch"])
        .output()
        .expect("decide");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Run from another directory: `heal.yml` is the repository's, not the working directory's.
    let elsewhere = s.root().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("heal.yml"), "self-heal:\n  bogus: 1\n").expect("decoy");
    let o = execute_cmd(&elsewhere)
        .arg("--out")
        .arg(s.out())
        .args(["--policy", "heal.yml", "--repo-root"])
        .arg(s.repo())
        .output()
        .expect("execute");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(s.repo().join("ok-ran").exists());
    // The default path too: .github/ci-remedy.yml under --repo-root.
    std::fs::rename(
        s.repo().join("heal.yml"),
        s.repo().join(".github/ci-remedy.yml"),
    )
    .expect("mv");
    std::fs::remove_file(s.repo().join("ok-ran")).expect("rm");
    let o = execute_cmd(&elsewhere)
        .arg("--out")
        .arg(s.out())
        .arg("--repo-root")
        .arg(s.repo())
        .output()
        .expect("execute");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(s.repo().join("ok-ran").exists(), "{}", stderr(&o));
}
