//! `ci-remedy/smoke-report/v1`: what `ci-smoke` found when it validated a deployed service —
//! the health wait, every check with every expectation (expected and actual, redacted), the log
//! patterns with their matching lines, and how many validations of the same deployment sha have
//! failed so far.
//!
//! Every string that quotes the service (bodies, answers, log lines, headers it sent back) is
//! capped and redacted with the built-in redactor before it is stored here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Redactions, RunInfo, ToolInfo};

/// The `schema` value of a smoke report.
pub const SMOKE_REPORT_SCHEMA: &str = "ci-remedy/smoke-report/v1";

/// Bytes of a response body, an answer or a log line kept in the report (cut on a character
/// boundary, then redacted).
pub const MAX_SMOKE_EXCERPT_BYTES: usize = 2048;

/// Matching lines kept per log pattern (the rest are counted in `matches_omitted`).
pub const MAX_SMOKE_LOG_MATCHES: usize = 20;

/// The whole validation's result.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmokeOutcome {
    /// The service was healthy and every check and log pattern passed.
    Passed,
    /// The health wait, a check or a log pattern failed.
    Failed,
    /// The validation could not run (see `error`).
    Error,
}

/// The smoke report (`smoke/report-<run_id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SmokeReport {
    /// Always [`SMOKE_REPORT_SCHEMA`].
    pub schema: String,
    /// The writer.
    pub tool: ToolInfo,
    /// The workflow run that validated (from `GITHUB_*`).
    pub run: RunInfo,
    /// The checks file, as given on the command line.
    pub checks_file: String,
    /// The deployed commit (`--sha`, else `GITHUB_SHA`): failed validations are counted per sha.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_sha: Option<String>,
    /// passed | failed | error.
    pub outcome: SmokeOutcome,
    /// The `wait-for-healthy` poll, when the checks file has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthResult>,
    /// Every check, in file order.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// Every log pattern, in file order.
    #[serde(default)]
    pub log_patterns: Vec<LogPatternResult>,
    /// Failed checks plus failed log patterns (plus 1 for an unhealthy service).
    #[serde(default)]
    pub failed: u32,
    /// Failed validations of this deployment sha, this one included.
    pub iteration: SmokeIteration,
    /// Redactions applied to the strings above.
    #[serde(default)]
    pub redactions: Redactions,
    /// Why the validation could not run (exit 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counting failed validations of one deployment sha across runs (`--history DIR` of earlier
/// smoke reports).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SmokeIteration {
    /// Failed validations of `deployment_sha` in the history plus this one when it failed.
    pub failed_validations: u32,
    /// `max-iterations` of the checks file (default 3).
    pub max_iterations: u32,
    /// True when `failed_validations >= max_iterations`: a person is told (ci-notify) instead
    /// of another fix-agent round.
    pub escalate_to_human: bool,
    /// History files that could not be used, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// The `wait-for-healthy` poll.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HealthResult {
    /// The polled URL (after `${VAR}` expansion, redacted).
    pub url: String,
    /// True when an answer said healthy before the timeout.
    pub healthy: bool,
    /// Requests made.
    pub attempts: u32,
    /// From the first request to the last answer, in ms.
    pub elapsed_ms: u64,
    /// The last answer's status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The last answer's body (capped, redacted) or the last connection error.
    pub last_answer: String,
}

/// Time to first byte and total time of one request.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Timings {
    /// From sending the request to the first byte of the body (the headers when the body is
    /// empty), in ms.
    pub first_byte_ms: u64,
    /// From sending the request to the end of the body (or the cap), in ms.
    pub total_ms: u64,
}

/// What a `text/event-stream` response held (HTML living standard, server-sent events).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SseSummary {
    /// Events dispatched.
    pub events: u32,
    /// Events that carried a part of the answer (not the final marker).
    pub chunks: u32,
    /// Final events seen (`final-event` type, or data equal to `final-data`, e.g. `[DONE]`).
    pub final_events: u32,
    /// The assembled answer (capped, redacted).
    pub answer: String,
    /// The assembled answer's length in bytes, before the cap.
    pub answer_bytes: u64,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct CheckResult {
    /// The check's `name`.
    pub name: String,
    /// The HTTP method.
    pub method: String,
    /// The URL (after `${VAR}` expansion, redacted).
    pub url: String,
    /// True when the request was answered and every expectation passed.
    pub passed: bool,
    /// The response status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response's `content-type`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Timings, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
    /// Body bytes read (at most the check's cap).
    #[serde(default)]
    pub body_bytes: u64,
    /// True when the body was longer than the cap and reading stopped there.
    #[serde(default)]
    pub body_truncated: bool,
    /// The start of the body (capped, redacted).
    #[serde(default)]
    pub body_excerpt: String,
    /// The parsed event stream, for `text/event-stream` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseSummary>,
    /// Every expectation, in the order of the checks file.
    #[serde(default)]
    pub expectations: Vec<ExpectationResult>,
    /// Why the request did not get an answer (refused host, connection error, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One expectation's result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ExpectationResult {
    /// What was checked: `status`, `json-path`, `body-contains`, `body-not-contains`, `regex`,
    /// `non-empty`, `single-answer`, `min-chunks`, `first-byte-ms`, `total-ms`, `baseline`,
    /// `body-size`.
    pub kind: String,
    /// The expectation as written (e.g. `26.000.000 IDR`, `<= 2000`).
    pub expected: String,
    /// What the answer held (capped, redacted).
    pub actual: String,
    /// True when it held.
    pub passed: bool,
    /// For `baseline`: the unified diff approved → actual after dropping volatile parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One log pattern's result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct LogPatternResult {
    /// The pattern's `name`.
    pub name: String,
    /// `must-match` or `must-not-match`.
    pub kind: String,
    /// The regex.
    pub pattern: String,
    /// True when it held (`must-not-match`: no line matched; `must-match`: one did).
    pub passed: bool,
    /// The matching lines (at most [`MAX_SMOKE_LOG_MATCHES`]).
    #[serde(default)]
    pub matches: Vec<LogMatch>,
    /// Matching lines not kept.
    #[serde(default)]
    pub matches_omitted: u64,
    /// Sources that could not be read, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A log line that matched.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct LogMatch {
    /// The log file (as in the checks file) or the log URL (redacted).
    pub source: String,
    /// The 1-based line number.
    pub line: u64,
    /// The line (capped, redacted).
    pub text: String,
}

impl super::Artifact for SmokeReport {
    const SCHEMA: &'static str = SMOKE_REPORT_SCHEMA;
}
