//! `fix-agent/input.json` (`ci-remedy/fix-input/v1`), written by `fix-agent-prepare`, and
//! `fix-agent/metadata-<run_id>.json` (`ci-remedy/fix-metadata/v1`), written by
//! `fix-agent-apply`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Category, Classification, FailedTest, Instruction, RunInfo, ToolInfo};

/// The `schema` value of a fix input artifact.
pub const FIX_INPUT_SCHEMA: &str = "ci-remedy/fix-input/v1";
/// The `schema` value of a fix metadata artifact.
pub const FIX_METADATA_SCHEMA: &str = "ci-remedy/fix-metadata/v1";

/// What the fix-agent is given: the failure, the instructions (untrusted), code snippets and
/// the constraints the guard will enforce.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FixInput {
    /// Always [`FIX_INPUT_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The failed workflow run (from the context).
    pub run: RunInfo,
    /// The commit the instructions apply to (`git rev-parse HEAD`, else `GITHUB_SHA`, else `local`).
    pub base_sha: String,
    /// The classification from the context.
    pub classification: Classification,
    /// The evidence: the context's findings named by the classification, best first (at most 5).
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Failed tests from the context.
    #[serde(default)]
    pub failed_tests: Vec<FailedTest>,
    /// The self-heal outcome when a self-heal report was read (`healed`, `still_failing` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_heal_outcome: Option<String>,
    /// The instructions, merged in order: `--instructions` file, Developer-Agent answer,
    /// built-in recipes. Each carries its `source`.
    pub instructions: Vec<Instruction>,
    /// Source code around the files and lines the evidence names.
    #[serde(default)]
    pub snippets: Vec<Snippet>,
    /// The policy limits `fix-agent-apply` enforces.
    pub constraints: Constraints,
    /// Notes about sources that gave nothing (an unreadable instructions file, a recipe that
    /// was not sure), one sentence each.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The language model's run, when the policy's `fix-agent.model` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRun>,
    /// Set when the step could not do its whole job (exit code 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a language model run came to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// A proposal was kept: its instructions are in the input (source `model:<provider>`).
    Proposed,
    /// No usable proposal: the model declined or refused, its output stayed invalid after the
    /// repair request, or every candidate was refused by the guard or failed validation.
    NoFix,
    /// The model was not asked (no API key in the environment, another source already gave
    /// instructions, the token budget is spent).
    Skipped,
    /// The provider could not be reached or answered an error.
    Error,
}

impl ModelStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Proposed => "proposed",
            ModelStatus::NoFix => "no_fix",
            ModelStatus::Skipped => "skipped",
            ModelStatus::Error => "error",
        }
    }
}

/// One proposal (candidate) the model made and what the guard and validation said.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ModelCandidate {
    /// 1-based.
    pub index: u32,
    /// The proposal's first summary (untrusted text).
    pub summary: String,
    /// Instructions it held.
    pub instructions: u32,
    /// The guard's decision on it alone: `accepted`, `rejected` or `empty`.
    pub guard: String,
    /// Reason codes of the guard's refusals (`denied_builtin`, `find_count` …).
    #[serde(default)]
    pub refused: Vec<String>,
    /// The validation status on it alone (`passed`, `failed`, `timed_out`, `skipped`).
    pub validation: String,
    /// True for the proposal that was kept.
    pub kept: bool,
}

/// Provider, model, usage, cost and prompt digest of a language model run
/// (`fix-agent.model`, docs/fix-agent-models.md). Never holds the API key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ModelRun {
    /// `openai` or `anthropic` (the API shape).
    pub provider: String,
    /// The model name from the policy.
    pub model: String,
    /// The outcome.
    pub status: ModelStatus,
    /// Why there is no proposal, or what went wrong, one sentence (may quote the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// HTTP requests answered (repair requests included; transport retries not counted).
    pub requests: u32,
    /// Input (prompt) tokens as the provider counted them, all requests.
    pub tokens_in: u64,
    /// Output (completion) tokens, all requests.
    pub tokens_out: u64,
    /// `tokens_in * input + tokens_out * output` prices per million tokens from the policy's
    /// `price-per-mtok`; `None` without prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_estimate: Option<f64>,
    /// The sha256 (lowercase hex) of the first prompt: the system text, a blank line, the
    /// user text.
    pub prompt_sha256: String,
    /// Wall time of the whole run (requests and candidate validations), milliseconds.
    pub duration_ms: u64,
    /// Every proposal tried, in order.
    #[serde(default)]
    pub candidates: Vec<ModelCandidate>,
    /// Where the model was asked: `developer-agent` when this is the record of a
    /// Developer-Agent answer (the server asked it); absent when `fix-agent-prepare` asked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_by: Option<String>,
}

/// One evidence block quoted from the context.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Evidence {
    /// The rule id.
    pub rule: String,
    /// The log name.
    pub log: String,
    /// First line, 1-based, in the original log.
    pub line_start: u64,
    /// Last line, 1-based, inclusive.
    pub line_end: u64,
    /// The excerpt (already redacted by `self-heal-prepare`).
    pub excerpt: String,
    /// A source file the block names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_line: Option<u32>,
}

/// Lines of a source file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Snippet {
    /// The file, relative to the repository, `/`-separated.
    pub path: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
    /// The line the evidence named, 1-based.
    pub focus_line: u32,
    /// The text of those lines (lossy UTF-8, at most the snippet byte cap).
    pub text: String,
}

/// The limits the guard enforces, copied from the policy so the input is self-explanatory.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Constraints {
    /// Allowlist globs (`None` = everything not denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Policy denylist globs.
    pub deny: Vec<String>,
    /// Built-in denylist entries still in force, by name.
    pub builtin_deny: Vec<String>,
    /// Caps.
    pub caps: Caps,
    /// `refuse` or `flag`.
    pub test_weakening: String,
    /// `reject-patch` or `drop-edit`.
    pub on_refusal: String,
}

/// Size caps.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Caps {
    /// Most files.
    pub max_files: u32,
    /// Most changed lines (added + removed).
    pub max_changed_lines: u32,
    /// Largest patch in bytes.
    pub max_patch_bytes: u64,
}

/// What `fix-agent-apply` produced: everything a maintainer needs to review and apply the patch.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FixMetadata {
    /// Always [`FIX_METADATA_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run that produced the patch.
    pub run: RunInfo,
    /// The commit the patch applies to.
    pub base_sha: String,
    /// The failure category the patch addresses.
    pub category: Category,
    /// The patch file name (`patch-<run_id>.diff`, next to this file).
    pub patch_file: String,
    /// The sha256 of the patch file's bytes, lowercase hex.
    pub patch_sha256: String,
    /// The patch size in bytes (0 when rejected or empty).
    pub patch_bytes: u64,
    /// Suggested branch: `ci-remedy/<run_id>-<category>`.
    pub branch: String,
    /// A conventional commit message.
    pub commit_message: String,
    /// The PR title.
    pub pr_title: String,
    /// The PR body, Markdown.
    pub pr_body: String,
    /// What changed, instruction by instruction (applied ones only).
    pub changes: Vec<AppliedInstruction>,
    /// The guard's decision and its details.
    pub guardrails: Guardrails,
    /// How risky the change is.
    pub risk: Risk,
    /// The validation run.
    pub validation: Validation,
    /// True when a person must look closely: validation failed or timed out, test weakening
    /// was flagged, or the risk class is `sensitive`.
    pub needs_manual_review: bool,
    /// Why `needs_manual_review` is set, one reason each.
    #[serde(default)]
    pub review_reasons: Vec<String>,
    /// The language model run that proposed the instructions (copied from the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRun>,
    /// Set when the step could not do its job (exit code 1); the patch is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An instruction that contributed to the patch.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct AppliedInstruction {
    /// Its source (`instructions-file`, `developer-agent`, `recipe:<id>`).
    pub source: String,
    /// Its summary (untrusted text, shown quoted).
    pub summary: String,
    /// The files its applied edits touched.
    pub files: Vec<String>,
}

/// The guard's overall decision.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GuardDecision {
    /// The patch is emitted.
    Accepted,
    /// The patch was rejected; the `.diff` is empty.
    Rejected,
    /// There was nothing to apply (no instructions, or every edit dropped); the `.diff` is empty.
    Empty,
}

/// The guard's decision, counts, caps and refusals.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Guardrails {
    /// The decision.
    pub decision: GuardDecision,
    /// Files the (accepted or would-be) patch changes.
    pub files_changed: u32,
    /// Lines added.
    pub lines_added: u32,
    /// Lines removed.
    pub lines_removed: u32,
    /// The caps in force.
    pub caps: Caps,
    /// `reject-patch` or `drop-edit`.
    pub on_refusal: String,
    /// Every refusal: which edit, which path, why.
    pub refused: Vec<Refusal>,
    /// Edits that were applied but flagged (test weakening under `test-weakening: flag`).
    #[serde(default)]
    pub flagged: Vec<Refusal>,
}

/// One refused (or flagged) edit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Refusal {
    /// 0-based index of the instruction, when the refusal is about one edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<usize>,
    /// 0-based index of the edit inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<usize>,
    /// The path concerned, as given (control characters escaped); `*` for patch-wide caps.
    pub path: String,
    /// A stable machine-readable reason code (`path_traversal`, `denied_builtin`, `find_count` …).
    pub code: String,
    /// The reason in one sentence.
    pub reason: String,
}

/// Risk class of a patch.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    /// Nothing changes.
    None,
    /// Only test files change.
    TestOnly,
    /// Only configuration (build, container, CI-adjacent config, docs) changes.
    Config,
    /// Application source changes.
    Source,
    /// A sensitive path (auth, security, payment — per policy) changes.
    Sensitive,
}

/// The patch's risk.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Risk {
    /// The class: the highest class among the changed files.
    pub class: RiskClass,
    /// 0..=100; class base plus size (files and lines).
    pub score: u32,
    /// The class of each changed file, `path: class`.
    pub files: Vec<String>,
}

/// A validation status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ValidationStatus {
    /// The command exited 0.
    Passed,
    /// It exited non-zero (or could not start).
    Failed,
    /// It ran past its timeout and its process group was killed.
    TimedOut,
    /// Nothing ran (no command in the policy, or no accepted patch).
    Skipped,
}

/// The validation run on the patched tree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Validation {
    /// The status.
    pub status: ValidationStatus,
    /// The argv that ran (program first; test ids appended as separate arguments).
    #[serde(default)]
    pub command: Vec<String>,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Why it was skipped, or why it failed to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The last bytes of its combined output (at most 4 KiB, lossy UTF-8).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_tail: String,
}

impl Validation {
    /// A `skipped` validation with a reason.
    pub fn skipped(detail: &str) -> Validation {
        Validation {
            status: ValidationStatus::Skipped,
            command: Vec::new(),
            exit_code: None,
            duration_ms: 0,
            detail: Some(detail.to_string()),
            output_tail: String::new(),
        }
    }
}

impl RiskClass {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskClass::None => "none",
            RiskClass::TestOnly => "test_only",
            RiskClass::Config => "config",
            RiskClass::Source => "source",
            RiskClass::Sensitive => "sensitive",
        }
    }
}

impl ValidationStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Passed => "passed",
            ValidationStatus::Failed => "failed",
            ValidationStatus::TimedOut => "timed_out",
            ValidationStatus::Skipped => "skipped",
        }
    }
}

impl GuardDecision {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardDecision::Accepted => "accepted",
            GuardDecision::Rejected => "rejected",
            GuardDecision::Empty => "empty",
        }
    }
}
