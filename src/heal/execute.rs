//! Running an allowed decision: the named actions from the policy, then the rerun.
//!
//! Rules:
//! - Nothing runs unless the decision is allowed and has no `error` (outcome `skipped`), and
//!   only when it was made for this run's repository and sha (else outcome `error`).
//! - Every action name and the rerun mode are looked up in the POLICY before anything runs; a
//!   name the policy does not define (a stale or forged decision) is outcome `error`.
//! - Each command runs with its own timeout (whole process group killed), its working
//!   directory (relative to the repository root, which it must stay inside after resolving
//!   symlinks), an environment holding only `PATH`, `HOME` and its allowlisted variables, stdin
//!   from `/dev/null`, and a redacted tail of its combined output.
//! - An action that cannot start (missing program, bad directory) is outcome `error`; one that
//!   exits non-zero or times out stops the sequence with outcome `still_failing` (the
//!   environment could not be reset, so the rerun would prove nothing).
//! - The rerun decides: exit 0 is `healed`, anything else `still_failing`. Without a rerun the
//!   outcome is `still_failing` too: nothing proved the failure gone.
//! - `escalate_to`: `none` when healed or when there was no failure; `fix-agent` for code
//!   kinds; `human` otherwise (infrastructure/environment still failing, attempts exhausted,
//!   errors).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::artifact::{
    ActionResult, CategoryKind, Context, Decision, Escalation, HealReport, Outcome, RerunMode,
    RerunResult, RunInfo, ToolInfo, HEAL_REPORT_SCHEMA,
};
use crate::policy::self_heal::{RunSettings, SelfHealPolicy};

use super::failed_test_ids;
use crate::process::{run_bounded, CommandRun, RunOutput};

/// Variables every command gets from the parent environment, besides its allowlist.
pub const BASE_ENV: &[&str] = &["PATH", "HOME"];

/// Everything execution needs.
pub struct ExecuteInput<'a> {
    /// The decision from `self-heal-decide`.
    pub decision: &'a Decision,
    /// The context (for the failed test ids).
    pub context: &'a Context,
    /// The policy's `self-heal` section: the only source of commands.
    pub policy: &'a SelfHealPolicy,
    /// The executing run (from the environment).
    pub run: RunInfo,
    /// This run's event when known (`--event`, else `GITHUB_EVENT_NAME`): the decision's must
    /// be the same.
    pub event: Option<String>,
    /// This run's attempt when known (`GITHUB_RUN_ATTEMPT`): the decision's may not be lower.
    pub run_attempt: Option<u32>,
    /// The repository root that working directories are relative to.
    pub repo_root: &'a Path,
    /// Reads a variable of the parent environment (for `PATH`, `HOME` and allowlists).
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
}

/// Who should look next; see the module documentation.
pub fn escalation(kind: CategoryKind, outcome: Outcome, failure_present: bool) -> Escalation {
    if outcome == Outcome::Healed || !failure_present {
        Escalation::None
    } else if kind == CategoryKind::Code {
        Escalation::FixAgent
    } else {
        Escalation::Human
    }
}

/// A report for a decision or context that could not be read: outcome `error`, escalated to a
/// person, nothing run.
pub fn error_report(run: RunInfo, error: String) -> HealReport {
    HealReport {
        schema: HEAL_REPORT_SCHEMA.to_string(),
        tool: ToolInfo::new("self-heal-execute"),
        run,
        category: crate::artifact::Category::Unknown,
        attempt: 0,
        actions: Vec::new(),
        rerun: None,
        github_rerun: None,
        outcome: Outcome::Error,
        escalate_to: Escalation::Human,
        detail: "self-heal could not run; nothing was executed".into(),
        error: Some(error),
    }
}

/// Runs the decision; see the module documentation. Never panics on bad input; every problem
/// ends up in the report's `outcome`, `detail` and `error`.
pub fn execute(input: &ExecuteInput<'_>) -> HealReport {
    let d = input.decision;
    let failure_present = d
        .gates
        .iter()
        .find(|g| g.name == "failure_present")
        .is_none_or(|g| g.passed);
    let mut report = HealReport {
        schema: HEAL_REPORT_SCHEMA.to_string(),
        tool: ToolInfo::new("self-heal-execute"),
        run: input.run.clone(),
        category: d.category,
        attempt: d.attempt,
        actions: Vec::new(),
        rerun: None,
        github_rerun: None,
        outcome: Outcome::Skipped,
        escalate_to: Escalation::Human,
        detail: String::new(),
        error: None,
    };
    let finish = |mut r: HealReport, outcome: Outcome, detail: String, error: Option<String>| {
        r.outcome = outcome;
        r.escalate_to = escalation(d.category.kind(), outcome, failure_present);
        r.detail = detail;
        r.error = error;
        r
    };

    if let Some(e) = &d.error {
        return finish(
            report,
            Outcome::Skipped,
            format!("the decision carries an error ({e}); nothing ran"),
            None,
        );
    }
    if !d.allowed {
        let failed: Vec<&str> = d
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| g.name.as_str())
            .collect();
        return finish(
            report,
            Outcome::Skipped,
            format!(
                "the decision did not allow self-heal (failed gates: {}); nothing ran",
                failed.join(", ")
            ),
            None,
        );
    }

    // A decision is a file: it may be stale, downloaded from another run, or forged. What can
    // be checked again from the context, the policy and the environment is.
    if let Err(e) = recheck(input) {
        return finish(
            report,
            Outcome::Error,
            "the decision does not hold against the context, the policy and this run; nothing ran"
                .into(),
            Some(e),
        );
    }

    // Everything is checked against the policy before anything runs.
    let mut actions = Vec::new();
    for name in &d.actions {
        match input.policy.actions.get(name) {
            // A GitHub API action is made by `self-heal-execute --target-run`, never run here.
            Some(a) if a.command.github().is_some() => {
                let e = format!(
                    "action {name:?} is a GitHub API action; it is taken only with --target-run RUN_ID (the workflow_run flow)"
                );
                return finish(report, Outcome::Error, "nothing ran".into(), Some(e));
            }
            Some(a) => actions.push(a),
            None => {
                let e =
                    format!("the decision names action {name:?}, which the policy does not define");
                return finish(report, Outcome::Error, "nothing ran".into(), Some(e));
            }
        }
    }
    let rerun = &input.policy.rerun;
    let rerun_plan: Option<(RerunMode, Vec<String>, Vec<String>)> = match d.rerun {
        RerunMode::None => None,
        RerunMode::Full => {
            match &rerun.full {
                Some(argv) => Some((RerunMode::Full, argv.clone(), Vec::new())),
                None => {
                    let e = "the decision asks for a full rerun but the policy has no self-heal.rerun.full".to_string();
                    return finish(report, Outcome::Error, "nothing ran".into(), Some(e));
                }
            }
        }
        RerunMode::Failed => {
            let Some(prefix) = &rerun.failed else {
                let e = "the decision asks for a failed-only rerun but the policy has no self-heal.rerun.failed"
                    .to_string();
                return finish(report, Outcome::Error, "nothing ran".into(), Some(e));
            };
            match failed_test_ids(input.context) {
                Ok(ids) => {
                    let mut argv = prefix.clone();
                    argv.extend(ids.iter().cloned());
                    Some((RerunMode::Failed, argv, ids))
                }
                Err(why) => {
                    let e = format!("cannot rerun the failed tests: {why}");
                    return finish(report, Outcome::Error, "nothing ran".into(), Some(e));
                }
            }
        }
    };
    let root = match input.repo_root.canonicalize() {
        Ok(r) => r,
        Err(e) => {
            let err = format!(
                "cannot resolve the repository root {}: {e}",
                input.repo_root.display()
            );
            return finish(report, Outcome::Error, "nothing ran".into(), Some(err));
        }
    };
    let tail = input.policy.output_tail_bytes;

    for a in actions {
        let argv = a.command.argv();
        let (res, spawn_error) = run_one(&a.name, argv, &root, &a.settings, tail, input.env);
        let detail = if let Some(e) = spawn_error {
            Some((
                Outcome::Error,
                format!("action {} could not run", a.name),
                Some(e),
            ))
        } else if res.timed_out {
            Some((
                Outcome::StillFailing,
                format!(
                    "action {} timed out after {} ms and its process group was killed; later actions and the rerun did not run",
                    a.name, res.duration_ms
                ),
                None,
            ))
        } else if res.exit_code != Some(0) {
            Some((
                Outcome::StillFailing,
                format!(
                    "action {} failed ({}); later actions and the rerun did not run",
                    a.name,
                    exit_text(res.exit_code)
                ),
                None,
            ))
        } else {
            None
        };
        report.actions.push(res);
        if let Some((outcome, detail, error)) = detail {
            return finish(report, outcome, detail, error);
        }
    }

    let n = report.actions.len();
    let Some((mode, argv, tests)) = rerun_plan else {
        return finish(
            report,
            Outcome::StillFailing,
            format!("{n} action(s) succeeded but no rerun is configured, so nothing proved the failure gone"),
            None,
        );
    };
    let (res, spawn_error) = run_one("rerun", argv, &root, &rerun.settings, tail, input.env);
    let (outcome, detail) = if spawn_error.is_some() {
        (
            Outcome::Error,
            format!("the {} rerun could not run", mode.as_str()),
        )
    } else if res.timed_out {
        (
            Outcome::StillFailing,
            format!(
                "{n} action(s) succeeded; the {} rerun timed out after {} ms",
                mode.as_str(),
                res.duration_ms
            ),
        )
    } else if res.exit_code == Some(0) {
        (
            Outcome::Healed,
            format!(
                "{n} action(s) succeeded and the {} rerun passed",
                mode.as_str()
            ),
        )
    } else {
        (
            Outcome::StillFailing,
            format!(
                "{n} action(s) succeeded; the {} rerun failed ({})",
                mode.as_str(),
                exit_text(res.exit_code)
            ),
        )
    };
    report.rerun = Some(RerunResult {
        mode,
        tests,
        result: res,
    });
    finish(report, outcome, detail, spawn_error)
}

/// The gates every allowed decision carries (see [`super::decide`]).
pub const REQUIRED_GATES: [&str; 6] = [
    "event",
    "failure_present",
    "category",
    "confidence",
    "attempts",
    "plan",
];

/// Checks an allowed decision again before anything runs; errors (a sentence) on the first
/// thing that does not hold:
/// - every gate passed, and each of [`REQUIRED_GATES`] is there;
/// - repository and sha are those of the context and of this run (`GITHUB_REPOSITORY`,
///   `GITHUB_SHA`; `local` outside Actions);
/// - the event is in `self-heal.events`, and is this run's event when one is known
///   ([`ExecuteInput::event`]);
/// - the category is the context's, its kind matches, and it is in `self-heal.categories`;
///   the context's confidence is at least `self-heal.min-confidence` and it shows a failure;
/// - the attempt is between this run's attempt (`GITHUB_RUN_ATTEMPT` when set) and
///   `self-heal.max-attempts`;
/// - each action is named at most once and is one the plan for this context picks
///   ([`super::plan`]).
pub fn recheck(input: &ExecuteInput<'_>) -> Result<(), String> {
    let d = input.decision;
    let ctx = input.context;
    let p = input.policy;
    let failed: Vec<&str> = d
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| g.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "the decision says allowed but gate(s) {} failed",
            failed.join(", ")
        ));
    }
    if let Some(missing) = REQUIRED_GATES
        .iter()
        .find(|n| !d.gates.iter().any(|g| g.name == **n))
    {
        return Err(format!(
            "the decision says allowed but has no {missing} gate"
        ));
    }
    for (what, run) in [("the context", &ctx.run), ("this run", &input.run)] {
        if d.run.repository != run.repository || d.run.sha != run.sha {
            return Err(format!(
                "the decision was made for {}@{}, not for {what}'s {}@{}",
                d.run.repository, d.run.sha, run.repository, run.sha
            ));
        }
    }
    let event = &d.run.event_name;
    if !p.events.iter().any(|e| e == event) {
        return Err(format!(
            "the decision was made for event {event}, which self-heal.events [{}] does not allow",
            p.events.join(", ")
        ));
    }
    if let Some(now) = input.event.as_deref() {
        if now != event {
            return Err(format!(
                "the decision was made for event {event}, but this run's event is {now}"
            ));
        }
    }
    let cat = ctx.classification.category;
    if d.category != cat || d.kind != cat.kind() {
        return Err(format!(
            "the decision is for category {} ({}), the context's is {cat} ({})",
            d.category,
            d.kind.as_str(),
            cat.kind().as_str()
        ));
    }
    if !p.categories.contains(&cat) {
        return Err(format!("category {cat} is not in self-heal.categories"));
    }
    let conf = ctx.classification.confidence;
    if !(conf.is_finite() && conf >= p.min_confidence) {
        return Err(format!(
            "the context's confidence {conf:.2} is below self-heal.min-confidence {:.2}",
            p.min_confidence
        ));
    }
    if ctx.findings.is_empty() && ctx.tests.failed.is_empty() {
        return Err("the context shows no failure".into());
    }
    if d.attempt > p.max_attempts {
        return Err(format!(
            "the decision's attempt {} is over self-heal.max-attempts {}",
            d.attempt, p.max_attempts
        ));
    }
    if let Some(run_attempt) = input.run_attempt {
        if d.attempt < run_attempt {
            return Err(format!(
                "the decision's attempt {} is below this run's attempt {run_attempt}",
                d.attempt
            ));
        }
    }
    let planned = super::plan(ctx, p);
    for (i, name) in d.actions.iter().enumerate() {
        if d.actions[..i].contains(name) {
            return Err(format!(
                "the decision names action {name:?} more than once; each action runs at most once"
            ));
        }
        if !p.actions.contains_key(name) {
            return Err(format!(
                "the decision names action {name:?}, which the policy does not define"
            ));
        }
        if !planned.actions.contains(name) {
            return Err(format!(
                "the decision names action {name:?}, which the {} [{}] does not pick",
                planned.source,
                planned.actions.join(", ")
            ));
        }
    }
    Ok(())
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".to_string(),
    }
}

/// Runs one command with its settings (directory under `root`, allowlisted variables read
/// through `env`, timeout) keeping `tail_bytes` of output; returns its result and, when it
/// could not start, why.
fn run_one(
    name: &str,
    argv: Vec<String>,
    root: &Path,
    settings: &RunSettings,
    tail_bytes: usize,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> (ActionResult, Option<String>) {
    let mut result = ActionResult {
        name: name.to_string(),
        command: argv.clone(),
        exit_code: None,
        duration_ms: 0,
        timed_out: false,
        output_tail: String::new(),
    };
    let cwd = match resolve_dir(root, settings.working_directory.as_deref()) {
        Ok(c) => c,
        Err(e) => return (result, Some(e)),
    };
    let mut vars = Vec::new();
    for k in BASE_ENV
        .iter()
        .copied()
        .chain(settings.env.iter().map(String::as_str))
    {
        if vars.iter().any(|(n, _): &(String, OsString)| n == k) {
            continue;
        }
        if let Some(v) = env(k) {
            vars.push((k.to_string(), v));
        }
    }
    let spec = CommandRun {
        argv,
        cwd,
        env: vars,
        timeout: settings.timeout,
        tail_bytes,
    };
    match run_bounded(&spec) {
        Ok(out) => {
            fill(&mut result, &out, tail_bytes);
            (result, None)
        }
        Err(e) => (result, Some(e.to_string())),
    }
}

fn fill(result: &mut ActionResult, out: &RunOutput, tail_bytes: usize) {
    result.exit_code = out.exit_code;
    result.duration_ms = out.duration_ms;
    result.timed_out = out.timed_out;
    result.output_tail = out.redacted_tail(tail_bytes);
}

/// `root/dir`, resolved, and required to stay inside `root` (symlinks included).
fn resolve_dir(root: &Path, dir: Option<&Path>) -> Result<PathBuf, String> {
    let Some(dir) = dir else {
        return Ok(root.to_path_buf());
    };
    let joined = root.join(dir);
    let real = joined
        .canonicalize()
        .map_err(|e| format!("working directory {} cannot be used: {e}", joined.display()))?;
    if !real.starts_with(root) {
        return Err(format!(
            "working directory {} resolves to {}, outside the repository {}",
            dir.display(),
            real.display(),
            root.display()
        ));
    }
    if !real.is_dir() {
        return Err(format!(
            "working directory {} is not a directory",
            real.display()
        ));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_rules() {
        use CategoryKind::*;
        assert_eq!(
            escalation(Environment, Outcome::Healed, true),
            Escalation::None
        );
        assert_eq!(
            escalation(Code, Outcome::Skipped, true),
            Escalation::FixAgent
        );
        assert_eq!(
            escalation(Infrastructure, Outcome::StillFailing, true),
            Escalation::Human
        );
        assert_eq!(
            escalation(Environment, Outcome::Skipped, false),
            Escalation::None
        );
    }

    #[test]
    fn working_directory_cannot_escape_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("/", root.join("out")).expect("symlink");
        let root = root.canonicalize().expect("canon");
        assert!(resolve_dir(&root, Some(Path::new("sub"))).is_ok());
        let err = resolve_dir(&root, Some(Path::new("out"))).expect_err("escapes");
        assert!(err.contains("outside the repository"), "{err}");
    }
}
