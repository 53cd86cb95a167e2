//! Self-heal's GitHub actions (the `workflow_run` flow): the gates a `github:
//! rerun-failed-jobs` decision adds, the check made again before the request, and the report.
//!
//! This module decides only; `crate::github::api::rerun` talks to GitHub, and the binaries
//! (`self-heal-decide --target-run`, `self-heal-execute --target-run`) call both.
//!
//! The `github` gate (added by [`apply_target`]) passes only when:
//! - the decision's actions are exactly one GitHub action, and a target run was given
//!   (`--target-run RUN_ID`) and read from the API; with a target run, a plan of local commands
//!   fails (they would run in the self-heal workflow, not in the failed run);
//! - the target run is in the deciding repository, concluded `failure` or `timed_out`, and its
//!   head is not a fork's unless the action says `forks: true`;
//! - the attempt the rerun would start is at most `max-attempts`: the larger of the target's
//!   `run_attempt` + 1 and 1 + the earlier requested reruns of the same run found in the
//!   history reports + 1 ([`count_prior_reruns`]), so neither a lost report nor a stale API
//!   answer lets a run be rerun past the limit.

use std::io::Read;
use std::path::Path;

use crate::artifact::{
    Decision, Escalation, Gate, GitHubRerun, HealReport, Outcome, RunInfo, TargetRun, ToolInfo,
    HEAL_REPORT_SCHEMA,
};
use crate::policy::self_heal::{GitHubAction, SelfHealPolicy};

use super::decide::{MAX_HISTORY_DEPTH, MAX_HISTORY_FILES, MAX_HISTORY_REPORT_BYTES};

/// The conclusions of a run whose failed jobs may be rerun.
pub const RERUNNABLE_CONCLUSIONS: &[&str] = &["failure", "timed_out"];

/// Requested reruns of `run_id` recorded in `report-*.json` files under `dir` (at most
/// [`MAX_HISTORY_DEPTH`] deep, [`MAX_HISTORY_FILES`] files, each at most
/// [`MAX_HISTORY_REPORT_BYTES`]); unreadable or malformed files are skipped. A missing
/// directory counts 0.
pub fn count_prior_reruns(dir: &Path, repository: &str, run_id: u64) -> u32 {
    let mut n = 0u32;
    let walk = walkdir::WalkDir::new(dir)
        .max_depth(MAX_HISTORY_DEPTH)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walk
        .into_iter()
        .filter_map(Result::ok)
        .take(MAX_HISTORY_FILES * 4)
    {
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !name.starts_with("report-") || !name.ends_with(".json")
        {
            continue;
        }
        let mut bytes = Vec::new();
        let ok = std::fs::File::open(entry.path())
            .and_then(|f| f.take(MAX_HISTORY_REPORT_BYTES + 1).read_to_end(&mut bytes))
            .is_ok();
        if !ok || bytes.len() as u64 > MAX_HISTORY_REPORT_BYTES {
            continue;
        }
        let Ok(r) = crate::artifact::parse_artifact::<HealReport>(&bytes, entry.path()) else {
            continue;
        };
        if r.github_rerun
            .as_ref()
            .is_some_and(|g| g.requested && g.run_id == run_id)
            && r.run.repository == repository
        {
            n = n.saturating_add(1);
        }
    }
    n
}

/// The attempt a rerun of `target` would start, given `prior` requested reruns of it.
pub fn next_attempt(target: &TargetRun, prior: u32) -> u32 {
    target
        .run_attempt
        .saturating_add(1)
        .max(prior.saturating_add(2))
}

/// Adds the `github` gate to `d` (see the module documentation) when its actions name a
/// GitHub action or a target run was given, sets `target_run` and `attempt`, and recomputes
/// `allowed`. `target` is the API's answer (or why there is none); `prior` the requested
/// reruns of it in the history reports. A decision with neither is left as it is.
pub fn apply_target(
    d: &mut Decision,
    policy: &SelfHealPolicy,
    target: Option<Result<TargetRun, String>>,
    prior: u32,
) {
    let github = policy.github_actions(&d.actions);
    if github.is_empty() && target.is_none() {
        return;
    }
    let (passed, detail) = match (&target, github.as_slice()) {
        (None, _) => (
            false,
            "a github: action is taken only in the workflow_run flow (--target-run RUN_ID)"
                .to_string(),
        ),
        (Some(Err(why)), _) => (false, format!("the failed run could not be read: {why}")),
        (Some(Ok(_)), []) if d.actions.is_empty() => (
            false,
            "nothing to do for the failed run: the plan names no github: action".to_string(),
        ),
        (Some(Ok(_)), []) => (
            false,
            format!(
                "with --target-run only a github: action can be taken; the plan names local command(s) [{}], which would run here, not in the failed run",
                d.actions.join(", ")
            ),
        ),
        (Some(Ok(t)), [(name, action)]) if d.actions.len() == 1 => {
            let attempt = next_attempt(t, prior);
            d.attempt = attempt;
            target_check(d, t, name, action, attempt, prior)
        }
        (Some(Ok(_)), _) => (
            false,
            format!(
                "a github: action cannot be combined with other actions: [{}]",
                d.actions.join(", ")
            ),
        ),
    };
    if let Some(Ok(t)) = target {
        d.target_run = Some(t);
    }
    d.gates.push(Gate::new("github", passed, detail));
    d.allowed = d.gates.iter().all(|g| g.passed);
}

fn target_check(
    d: &Decision,
    t: &TargetRun,
    name: &str,
    action: &GitHubAction,
    attempt: u32,
    prior: u32,
) -> (bool, String) {
    let max = d.max_attempts;
    if !t.repository.eq_ignore_ascii_case(&d.run.repository) {
        return (
            false,
            format!(
                "run {} is in {}, not in this repository {}",
                t.run_id, t.repository, d.run.repository
            ),
        );
    }
    if t.fork && !action.forks {
        return (
            false,
            format!(
                "run {} is from a fork ({}); action {name} does not allow forks (forks: true opts in)",
                t.run_id,
                if t.head_repository.is_empty() { "a deleted repository" } else { &t.head_repository }
            ),
        );
    }
    let conclusion = t.conclusion.as_deref().unwrap_or("in progress");
    if !RERUNNABLE_CONCLUSIONS.contains(&conclusion) {
        return (
            false,
            format!(
                "run {} concluded {conclusion}; only failed runs ({}) are rerun",
                t.run_id,
                RERUNNABLE_CONCLUSIONS.join(", ")
            ),
        );
    }
    let ok = attempt <= max;
    (
        ok,
        format!(
            "{name} for run {} ({} event, head {}): the rerun would be attempt {attempt} (run attempt {} + 1; {prior} earlier requested rerun(s) in the history) {} max-attempts {max}",
            t.run_id,
            t.event,
            t.head_sha.chars().take(12).collect::<String>(),
            t.run_attempt,
            if ok { "<=" } else { ">" }
        ),
    )
}

/// What [`check_before_rerun`] approves: the action's name and settings, the run and the
/// attempt the request starts.
#[derive(Debug, Clone)]
pub struct ApprovedRerun<'a> {
    /// The policy action name.
    pub name: String,
    /// Its settings (delay, forks).
    pub action: &'a GitHubAction,
    /// The run, as the API describes it now.
    pub target: TargetRun,
    /// The attempt the rerun starts.
    pub attempt: u32,
}

/// Checks an allowed decision with a GitHub action again, against the POLICY and the run as
/// the API describes it NOW (`now`), before the request: the decision's `github` gate passed
/// and names `now`'s run; the run has not been rerun since (same `run_attempt`), is still
/// failed, and is no fork (unless allowed); the attempt it would start is at most
/// `max-attempts`. Errors with a sentence.
pub fn check_before_rerun<'a>(
    d: &Decision,
    policy: &'a SelfHealPolicy,
    now: TargetRun,
    prior: u32,
) -> Result<ApprovedRerun<'a>, String> {
    let github = policy.github_actions(&d.actions);
    let [(name, action)] = github.as_slice() else {
        return Err(format!(
            "the decision's actions [{}] are not exactly one github: action of the policy",
            d.actions.join(", ")
        ));
    };
    if d.actions.len() != 1 {
        return Err("a github: action cannot be combined with other actions".into());
    }
    if !d.gates.iter().any(|g| g.name == "github" && g.passed) {
        return Err("the decision has no passed github gate (decide with --target-run)".into());
    }
    let Some(decided) = &d.target_run else {
        return Err("the decision names no target run".into());
    };
    if decided.run_id != now.run_id || !decided.repository.eq_ignore_ascii_case(&now.repository) {
        return Err(format!(
            "the decision is for run {} of {}, not run {} of {}",
            decided.run_id, decided.repository, now.run_id, now.repository
        ));
    }
    if now.run_attempt != decided.run_attempt {
        return Err(format!(
            "run {} is at attempt {} now, not {} as when deciding: it was rerun since",
            now.run_id, now.run_attempt, decided.run_attempt
        ));
    }
    let attempt = next_attempt(&now, prior);
    let (ok, why) = target_check(d, &now, name, action, attempt, prior);
    if !ok {
        return Err(why);
    }
    if attempt > policy.max_attempts {
        return Err(format!(
            "the rerun would be attempt {attempt}, over self-heal.max-attempts {}",
            policy.max_attempts
        ));
    }
    let action: &'a GitHubAction = policy
        .actions
        .get(*name)
        .and_then(|a| a.command.github())
        .ok_or("the github: action vanished from the policy")?;
    Ok(ApprovedRerun {
        name: name.to_string(),
        action,
        target: now,
        attempt,
    })
}

/// The request record before it is sent (not yet requested).
pub fn rerun_record(
    approved: &ApprovedRerun<'_>,
    request: String,
    max_attempts: u32,
) -> GitHubRerun {
    GitHubRerun {
        action: approved.name.clone(),
        request,
        run_id: approved.target.run_id,
        attempt: approved.attempt,
        max_attempts,
        delay_ms: u64::try_from(approved.action.delay.as_millis()).unwrap_or(u64::MAX),
        status: None,
        message: "not sent".into(),
        requested: false,
    }
}

/// The report of a GitHub rerun: outcome `rerun_requested` (escalate to none: the new attempt
/// will tell) when GitHub accepted it, else `error` (escalate to a person) with `error` set;
/// `record` may be `None` when the request was never made (`error` says why).
pub fn rerun_report(
    d: &Decision,
    run: RunInfo,
    record: Option<GitHubRerun>,
    error: Option<String>,
) -> HealReport {
    let requested = record.as_ref().is_some_and(|r| r.requested) && error.is_none();
    let detail = match (&record, requested) {
        (Some(r), true) => format!("{} for run {}", r.line(), r.run_id),
        (Some(r), false) => format!(
            "the rerun of run {} was not requested: {}",
            r.run_id, r.message
        ),
        (None, _) => "the rerun was not requested; nothing was sent".to_string(),
    };
    HealReport {
        schema: HEAL_REPORT_SCHEMA.to_string(),
        tool: ToolInfo::new("self-heal-execute"),
        run,
        category: d.category,
        attempt: record.as_ref().map_or(d.attempt, |r| r.attempt),
        actions: Vec::new(),
        rerun: None,
        github_rerun: record,
        outcome: if requested {
            Outcome::RerunRequested
        } else {
            Outcome::Error
        },
        escalate_to: if requested {
            Escalation::None
        } else {
            Escalation::Human
        },
        detail,
        error: if requested {
            None
        } else {
            error.or_else(|| Some("the rerun was not requested".into()))
        },
    }
}
