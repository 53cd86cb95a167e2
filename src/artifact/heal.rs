//! `self-heal/decision.json` (`ci-remedy/decision/v1`) and `self-heal/report-<run_id>.json`
//! (`ci-remedy/self-heal-report/v1`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Category, CategoryKind, RerunMode, RunInfo, ToolInfo};

/// The `schema` value of a decision artifact.
pub const DECISION_SCHEMA: &str = "ci-remedy/decision/v1";
/// The `schema` value of a self-heal report.
pub const HEAL_REPORT_SCHEMA: &str = "ci-remedy/self-heal-report/v1";

/// Whether self-heal may run, gate by gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// Always [`DECISION_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run deciding (from the environment, not from the context).
    pub run: RunInfo,
    /// True only when every gate passed.
    pub allowed: bool,
    /// The classified category.
    pub category: Category,
    /// Its kind.
    pub kind: CategoryKind,
    /// The classification's confidence in 0..=1.
    pub confidence: f64,
    /// This attempt, 1-based: the run attempt plus earlier self-heal reports found.
    pub attempt: u32,
    /// The policy's maximum.
    pub max_attempts: u32,
    /// Every gate, in evaluation order.
    pub gates: Vec<Gate>,
    /// The actions to run, in order (policy action names only).
    pub actions: Vec<String>,
    /// Which rerun follows the actions.
    pub rerun: RerunMode,
    /// Action names a Developer-Agent plan asked for that the policy does not define.
    #[serde(default)]
    pub refused_actions: Vec<String>,
    /// The failed run a GitHub action acts on (`self-heal-decide --target-run`), as the API
    /// described it when deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_run: Option<TargetRun>,
    /// True when every failed test is quarantined and not expired
    /// (`.github/ci-remedy-quarantine.yml`): nothing is done, the failures are information.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quarantined: bool,
    /// Set when the step could not do its whole job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The failed workflow run of the `workflow_run` flow, from `GET
/// /repos/{owner}/{repo}/actions/runs/{run_id}` (REST "Workflow runs").
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct TargetRun {
    /// `owner/repo` (the base repository, where the run lives).
    pub repository: String,
    /// The run id.
    pub run_id: u64,
    /// Its latest attempt, 1-based.
    pub run_attempt: u32,
    /// The event that started it (`push`, `pull_request`, …).
    pub event: String,
    /// Its head commit.
    pub head_sha: String,
    /// `owner/repo` of its head (differs from `repository` for a fork's pull request; empty
    /// when the fork was deleted).
    pub head_repository: String,
    /// Whether the head is in another repository (a fork).
    pub fork: bool,
    /// `failure`, `cancelled`, … (`None` while in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
}

/// One policy gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Gate {
    /// The gate's name (`event`, `failure_present`, `category`, `confidence`, `attempts`, `plan`).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why, in one sentence with the values compared.
    pub detail: String,
}

impl Gate {
    /// A gate named `name` that `passed` or not, and why (`detail`).
    pub fn new(name: &str, passed: bool, detail: String) -> Gate {
        Gate {
            name: name.to_string(),
            passed,
            detail,
        }
    }
}

/// What `self-heal-execute` did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HealReport {
    /// Always [`HEAL_REPORT_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run.
    pub run: RunInfo,
    /// The classified category.
    pub category: Category,
    /// The attempt this report records (from the decision).
    pub attempt: u32,
    /// The actions that ran, in order.
    pub actions: Vec<ActionResult>,
    /// The rerun, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunResult>,
    /// The GitHub rerun request, when a `github: rerun-failed-jobs` action was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_rerun: Option<GitHubRerun>,
    /// The outcome.
    pub outcome: Outcome,
    /// Who should look next.
    pub escalate_to: Escalation,
    /// One sentence on why this outcome.
    pub detail: String,
    /// Set when the step could not do its whole job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One executed action.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ActionResult {
    /// The policy action name.
    pub name: String,
    /// The argv that ran (for a shell action: the shell and its script).
    pub command: Vec<String>,
    /// The exit code; `None` when killed by a signal, timed out or not started.
    pub exit_code: Option<i32>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Whether the timeout killed its process group.
    pub timed_out: bool,
    /// The last bytes of combined stdout and stderr, redacted (at most the policy's
    /// `output-tail-bytes`).
    pub output_tail: String,
}

/// The rerun after the actions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RerunResult {
    /// Failed-only or full.
    pub mode: RerunMode,
    /// The test ids passed, for a failed-only rerun.
    #[serde(default)]
    pub tests: Vec<String>,
    /// The command and its result.
    pub result: ActionResult,
}

/// A `rerun-failed-jobs` request and GitHub's answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct GitHubRerun {
    /// The policy action name.
    pub action: String,
    /// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs`.
    pub request: String,
    /// The run rerun.
    pub run_id: u64,
    /// The attempt the rerun starts (the failed run's attempt + 1), 1-based.
    pub attempt: u32,
    /// The policy's `max-attempts`.
    pub max_attempts: u32,
    /// The wait before the request, in milliseconds.
    pub delay_ms: u64,
    /// The HTTP status of the answer (201 when GitHub accepted it); `None` when no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// GitHub's message or the error (one line, at most 200 characters of the answer).
    pub message: String,
    /// Whether GitHub accepted the request.
    pub requested: bool,
}

impl GitHubRerun {
    /// The line the job summary, the dashboard and the sticky comment show:
    /// `rerun requested (attempt 2 of 2)`, or `rerun not requested: <why>`.
    pub fn line(&self) -> String {
        if self.requested {
            format!(
                "rerun requested (attempt {} of {})",
                self.attempt, self.max_attempts
            )
        } else {
            format!("rerun not requested: {}", self.message)
        }
    }
}

/// The self-heal outcome.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rerun passed.
    Healed,
    /// Actions or rerun ran and it still fails.
    StillFailing,
    /// Nothing ran (the decision said no).
    Skipped,
    /// Self-heal itself could not run (bad input, a command that could not start).
    Error,
    /// GitHub accepted a request to rerun the failed jobs; the new attempt will tell.
    RerunRequested,
}

/// Who should look next.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Escalation {
    /// A code failure: the fix-agent may propose a patch.
    FixAgent,
    /// A person: attempts exhausted, or nothing else applies.
    Human,
    /// Nobody: healed.
    None,
}

impl Outcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healed => "healed",
            Outcome::StillFailing => "still_failing",
            Outcome::Skipped => "skipped",
            Outcome::Error => "error",
            Outcome::RerunRequested => "rerun_requested",
        }
    }
}

impl Escalation {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::FixAgent => "fix-agent",
            Escalation::Human => "human",
            Escalation::None => "none",
        }
    }
}
