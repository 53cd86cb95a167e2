//! `self-heal/context.json` (`ci-remedy/context/v1`), written by `self-heal-prepare`, and the
//! Developer-Agent answer it carries.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Category, CategoryKind, RunInfo, ToolInfo};

/// The `schema` value of a context artifact.
pub const CONTEXT_SCHEMA: &str = "ci-remedy/context/v1";

/// Everything `self-heal-prepare` learned about a failed run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Context {
    /// Always [`CONTEXT_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run.
    pub run: RunInfo,
    /// The logs that were read, in the order given.
    pub logs: Vec<LogInfo>,
    /// Failed tests from the test reports.
    pub tests: Tests,
    /// Findings, best first (`rank` 1 is the most likely failure reason).
    pub findings: Vec<Finding>,
    /// The failure category and the findings that support it.
    pub classification: Classification,
    /// What became of the Developer-Agent answer.
    pub developer_agent: DeveloperAgent,
    /// How many secrets were redacted from what this artifact quotes.
    pub redactions: Redactions,
    /// The passing log the ranking compared against (`--baseline-log` or
    /// `--baseline-from-api`), or why none was used; absent when no baseline was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineInfo>,
    /// Set when the step could not do its whole job (exit code 1); what is present is still valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a baseline came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BaselineSource {
    /// A file given with `--baseline-log`.
    File,
    /// The newest successful run of the same workflow and job, through the GitHub API
    /// (`--baseline-from-api`).
    Api,
}

/// The baseline of a context: the last passing log of the same job, whose lines rank lower
/// when they also appear in the failing log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct BaselineInfo {
    /// Where it came from; `None` when none could be found.
    #[serde(default)]
    pub source: Option<BaselineSource>,
    /// Whether the ranking used it.
    pub used: bool,
    /// The file (`--baseline-log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The successful workflow run (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    /// Its run attempt, 1-based (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<u32>,
    /// The job's display name (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The job id whose log was downloaded (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<u64>,
    /// The commit that run built (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// The branch the run was found on (API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The log's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// One sentence: what was used, or why no baseline was used.
    pub detail: String,
}

/// The log formats the reader recognises.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Plain text (Travis, Jenkins, a local build).
    Plain,
    /// A raw GitHub Actions log: `2023-09-21T17:21:40.2730746Z text` on every line.
    RawGithub,
    /// `gh run view --log` output: `job<TAB>step<TAB>timestamp text`.
    GhRunView,
}

/// One log that was read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct LogInfo {
    /// The log's name as findings refer to it: a path, or `archive.zip!entry` for a zip entry.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its number of lines (a last line without a newline counts).
    pub lines: u64,
    /// The sha256 of its bytes, lowercase hex.
    pub sha256: String,
    /// The format it was read as.
    pub format: LogFormat,
}

/// Failed tests from the reports given with `--junit` and `--playwright-report`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Tests {
    /// The report files that were read.
    #[serde(default)]
    pub reports: Vec<String>,
    /// Failed (or errored) tests, in report order; at most [`MAX_CONTEXT_FAILED_TESTS`].
    #[serde(default)]
    pub failed: Vec<FailedTest>,
    /// Failed tests the reports listed beyond [`MAX_CONTEXT_FAILED_TESTS`], left out of
    /// `failed` so the context stays readable (0: `failed` is complete).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_omitted: u64,
    /// Report paths beyond [`MAX_CONTEXT_REPORTS`], left out of `reports`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reports_omitted: u64,
    /// The attempts of the same commit whose reports were compared (`--attempt-reports`,
    /// `--attempt-reports-from-api`), oldest first; absent when none were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptInfo>,
    /// Tests that failed in at least one of those attempts and passed in another, at most
    /// [`MAX_CONTEXT_FLAKY_TESTS`]; absent when none were found or no attempts were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<FlakyTest>,
    /// Flaky tests beyond [`MAX_CONTEXT_FLAKY_TESTS`], left out of `flaky`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flaky_omitted: u64,
    /// Where the attempts' reports came from, or why there are none (the API could not list
    /// or download them); absent when no attempt reports were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_detail: Option<String>,
}

/// The most flaky tests a context lists (the rest are counted in [`Tests::flaky_omitted`]).
pub const MAX_CONTEXT_FLAKY_TESTS: usize = 1000;

/// What became of a test case in one attempt.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// It passed (Playwright: `expected`, or `flaky`: passed on a retry within the attempt).
    Passed,
    /// It failed or errored.
    Failed,
    /// It was skipped (or expected to fail and did).
    Skipped,
}

impl TestStatus {
    /// `passed`, `failed` or `skipped`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Skipped => "skipped",
        }
    }
}

/// One attempt of the commit whose test reports were read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct AttemptInfo {
    /// The workflow run id.
    pub run_id: String,
    /// The run attempt, 1-based.
    pub run_attempt: u32,
    /// The commit, when known (`attempt.json`, or the current run's `GITHUB_SHA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// Where its reports were read: the attempt's directory name, or `current` for the reports
    /// of this run given with `--junit` / `--playwright-report`.
    pub source: String,
    /// Report files read.
    pub reports: u64,
    /// Distinct tests seen.
    pub tests: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Of those, passed.
    pub passed: u64,
    /// Of those, skipped.
    pub skipped: u64,
}

/// What a test did in one attempt.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The workflow run id.
    pub run_id: String,
    /// The run attempt, 1-based.
    pub run_attempt: u32,
    /// Its outcome in that attempt (failed when any of its cases failed there).
    pub outcome: TestStatus,
}

/// A test that failed in one attempt of the commit and passed in another.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct FlakyTest {
    /// The test's name as the reports give it (the key the attempts are compared by).
    pub name: String,
    /// Its rerun id, when a report gave one (the id `tests.failed[]` and the quarantine use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attempts it failed in.
    pub failures: u32,
    /// Attempts it passed in.
    pub passes: u32,
    /// Its outcome per attempt, oldest first.
    pub runs: Vec<AttemptOutcome>,
    /// Its outcome in the current run's attempt, when that attempt's reports were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<TestStatus>,
    /// The first failure's message (redacted, at most [`MAX_FLAKY_MESSAGE_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The most bytes of a flaky test's message kept in a context.
pub const MAX_FLAKY_MESSAGE_BYTES: usize = 1024;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most failed tests a context lists (the rest are counted in
/// [`Tests::failed_omitted`]).
pub const MAX_CONTEXT_FAILED_TESTS: usize = 1000;
/// The most report paths a context lists (the rest are counted in [`Tests::reports_omitted`]).
pub const MAX_CONTEXT_REPORTS: usize = 1000;
/// The most bytes of a failed test's name, id, file or report path kept in a context.
pub const MAX_CONTEXT_TEST_FIELD_BYTES: usize = 1024;

/// The longest test id passed to a test runner, in bytes.
pub const MAX_TEST_ID_BYTES: usize = 512;

/// Checks that a test id (from a report: untrusted) can be passed to a test runner as one
/// argument, for the failed-only rerun of self-heal and the fix-agent's validation. Refused:
/// an empty id, one longer than [`MAX_TEST_ID_BYTES`], one with a control character, and one
/// starting with `-` (an option such as `--config=…`), `@` (pytest 8.2 and later reads
/// `@file` as a file of more arguments) or `+` (an option prefix of some tools).
///
/// Errors: why the id is refused, a phrase that follows the id (`is empty`).
pub fn check_test_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        Err("is empty")
    } else if id.len() > MAX_TEST_ID_BYTES {
        Err("is longer than 512 bytes")
    } else if id.chars().any(char::is_control) {
        Err("contains a control character")
    } else if id.starts_with('-') {
        Err("starts with `-` (the test runner would read an option)")
    } else if id.starts_with('@') {
        Err("starts with `@` (pytest would read a file of arguments)")
    } else if id.starts_with('+') {
        Err("starts with `+` (an option prefix of some tools)")
    } else {
        Ok(())
    }
}

/// One failed test case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct FailedTest {
    /// The test's full name as the report gives it (suite and case joined with ` › ` for
    /// Playwright, `classname.name` for JUnit).
    pub name: String,
    /// An id a test runner accepts to rerun only this test (e.g. `tests/login.spec.ts:12`,
    /// `tests/test_x.py::test_y`), when the report allows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The source file of the test, relative to the repository when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line of the test or of the failure in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The failure message (first lines, redacted, at most a few KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The report file this came from.
    pub report: String,
}

/// A block of log lines that explains (part of) the failure.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Finding {
    /// The id of the rule that matched (see `--list-rules`).
    pub rule: String,
    /// The category the rule points at.
    pub category: Category,
    /// The log, as in [`LogInfo::path`].
    pub log: String,
    /// First line of the block, 1-based, in the ORIGINAL log file.
    pub line_start: u64,
    /// Last line of the block, 1-based, inclusive.
    pub line_end: u64,
    /// 1 = the most likely failure reason; ranks are dense and unique.
    pub rank: u32,
    /// The ranking score (higher is more likely the cause); only the order is meaningful.
    pub score: f64,
    /// The block's text with timestamps and colour codes removed, secrets redacted, at most
    /// 40 lines and 8 KiB.
    pub excerpt: String,
    /// A source location the block names (`src/app.ts:12` style), for annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_line: Option<u32>,
    /// The job and step the block belongs to, when the log says (zip entry names, `gh run view`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// Where a classification came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClassificationSource {
    /// The built-in and policy rules.
    Rules,
    /// A validated Developer-Agent answer.
    DeveloperAgent,
    /// A built-in recipe that checked the evidence against the checkout (self-heal-prepare
    /// `--repo-root`): e.g. the file the log misses is excluded by `.dockerignore`.
    Recipe,
    /// The test reports of the other attempts of the same commit (self-heal-prepare
    /// `--attempt-reports`): every failed test passed in another attempt (`flaky_test`).
    Attempts,
}

impl ClassificationSource {
    /// The kebab-case name (`rules`, `developer-agent`, `recipe`, `attempts`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassificationSource::Rules => "rules",
            ClassificationSource::DeveloperAgent => "developer-agent",
            ClassificationSource::Recipe => "recipe",
            ClassificationSource::Attempts => "attempts",
        }
    }
}

/// The failure category with its confidence and evidence.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Classification {
    /// The category.
    pub category: Category,
    /// Its kind.
    pub kind: CategoryKind,
    /// Confidence in 0..=1.
    pub confidence: f64,
    /// Where it came from.
    pub source: ClassificationSource,
    /// Indices into `findings` that support it, best first.
    pub evidence: Vec<usize>,
    /// One line a person reads first.
    pub summary: String,
}

/// What became of `--developer-agent-response`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DeveloperAgent {
    /// The status.
    pub status: DeveloperAgentStatus,
    /// Why, when not `valid` (names the file and the problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The validated answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<DeveloperAgentAnswer>,
}

/// The Developer-Agent answer's status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeveloperAgentStatus {
    /// No answer was given.
    NotProvided,
    /// The answer was valid and is used.
    Valid,
    /// The file could not be read.
    Unreadable,
    /// The file was read but is not a valid answer; rules-only classification is used.
    Invalid,
}

/// A classification service's answer (the Developer-Agent of the reference design).
///
/// Untrusted: it is validated strictly (unknown fields are errors, sizes are bounded) and may
/// pick self-heal actions only by the names the policy defines. A Cloud-Agent envelope
/// `{"status": "received", "upstream": {...}}` is unwrapped by the reader.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeveloperAgentAnswer {
    /// The service's classification.
    pub classification: AnswerClassification,
    /// Safe actions it suggests, by policy action name.
    #[serde(default)]
    pub self_heal_plan: SelfHealPlan,
    /// Code-fix instructions for the fix-agent.
    #[serde(default)]
    pub fix_agent_instructions: Vec<Instruction>,
    /// Downstream hooks it asks for.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// The language model run behind the answer, when the server asked one (its recipes
    /// proposed nothing and it has a model configured; docs/developer-agent.md). Absent when
    /// no model was asked. Never holds an API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<super::ModelRun>,
}

/// The service's classification.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnswerClassification {
    /// One of the fixed categories.
    pub category: Category,
    /// Confidence in 0..=1.
    pub confidence: f64,
    /// A one-line explanation (at most 1 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A suggested self-heal plan: action names from the policy, and which rerun.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelfHealPlan {
    /// Action names, in order (at most 16, each at most 64 bytes).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Which rerun, when the policy defines it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunMode>,
}

/// Which rerun self-heal performs after its actions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RerunMode {
    /// Only the failed tests (their ids as separate arguments).
    Failed,
    /// The whole test command.
    Full,
    /// No rerun.
    None,
}

impl RerunMode {
    /// The snake_case name (`failed`, `full`, `none`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RerunMode::Failed => "failed",
            RerunMode::Full => "full",
            RerunMode::None => "none",
        }
    }
}

/// A downstream hook the service asks for (informational; nothing runs from it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The hook's name, e.g. `fix-agent` or `notify`.
    pub name: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One fix instruction: what to change and why. The format a classification service or a model
/// produces for the fix-agent (`fix-agent-prepare --instructions`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Instruction {
    /// What the change does and the evidence for it (one line, at most 1 KiB).
    pub summary: String,
    /// Where it came from (`instructions-file`, `developer-agent`, `recipe:<id>`); set by the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The edits, applied in order.
    pub edits: Vec<Edit>,
}

/// One edit operation. Paths are relative to the repository root, `/`-separated.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Replace exact text: `find` must occur exactly `count` times (default 1), else the edit
    /// is refused.
    Replace {
        /// The file.
        path: String,
        /// The exact text to find.
        find: String,
        /// Its replacement.
        replace: String,
        /// How many times `find` must occur.
        #[serde(default = "one")]
        count: u32,
    },
    /// Replace lines `start_line..=end_line` (1-based) whose current text must equal `expected`.
    ReplaceLines {
        /// The file.
        path: String,
        /// First line, 1-based.
        start_line: u32,
        /// Last line, 1-based, inclusive.
        end_line: u32,
        /// The lines' current text, joined with `\n` (no trailing newline).
        expected: String,
        /// The new text for those lines, joined with `\n`.
        replacement: String,
    },
    /// Create a new file (refused when it exists).
    Create {
        /// The file.
        path: String,
        /// Its content.
        content: String,
    },
    /// Delete a file.
    Delete {
        /// The file.
        path: String,
    },
    /// A unified diff (one or more files, `---`/`+++` headers and hunks).
    Patch {
        /// The diff text.
        diff: String,
    },
}

fn one() -> u32 {
    1
}

/// Counts of redacted secrets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Redactions {
    /// All redactions.
    pub total: u64,
    /// Per redaction rule id (e.g. `github-pat`).
    pub by_rule: BTreeMap<String, u64>,
}

impl Redactions {
    /// Adds `n` redactions by `rule`.
    pub fn add(&mut self, rule: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.total += n;
        *self.by_rule.entry(rule.to_string()).or_default() += n;
    }

    /// Adds all counts of `other`.
    pub fn merge(&mut self, other: &Redactions) {
        for (rule, n) in &other.by_rule {
            self.add(rule, *n);
        }
    }
}
/// At most this many instructions.
pub const MAX_INSTRUCTIONS: usize = 64;
/// At most this many edits per instruction.
pub const MAX_EDITS_PER_INSTRUCTION: usize = 256;
/// At most this many edits in all.
pub const MAX_EDITS_TOTAL: usize = 1024;
/// The longest summary, bytes.
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// The longest string in an edit (find, replace, content, diff), bytes.
pub const MAX_EDIT_STRING_BYTES: usize = 1024 * 1024;

/// Checks instruction counts and sizes. The message names the first problem
/// (`instructions[3].edits[7].content is 2000000 bytes …`).
pub fn validate_instructions(list: &[Instruction]) -> Result<(), String> {
    if list.len() > MAX_INSTRUCTIONS {
        return Err(format!(
            "{} instructions, at most {MAX_INSTRUCTIONS} are accepted",
            list.len()
        ));
    }
    let total: usize = list.iter().map(|i| i.edits.len()).sum();
    if total > MAX_EDITS_TOTAL {
        return Err(format!(
            "{total} edits in all, at most {MAX_EDITS_TOTAL} are accepted"
        ));
    }
    for (i, ins) in list.iter().enumerate() {
        if ins.summary.trim().is_empty() {
            return Err(format!("instructions[{i}].summary is empty"));
        }
        if ins.summary.len() > MAX_SUMMARY_BYTES {
            return Err(format!(
                "instructions[{i}].summary is {} bytes, at most {MAX_SUMMARY_BYTES}",
                ins.summary.len()
            ));
        }
        if ins.edits.len() > MAX_EDITS_PER_INSTRUCTION {
            return Err(format!(
                "instructions[{i}] has {} edits, at most {MAX_EDITS_PER_INSTRUCTION}",
                ins.edits.len()
            ));
        }
        for (e, edit) in ins.edits.iter().enumerate() {
            let strings: Vec<(&str, &String)> = match edit {
                Edit::Replace {
                    path,
                    find,
                    replace,
                    ..
                } => vec![("path", path), ("find", find), ("replace", replace)],
                Edit::ReplaceLines {
                    path,
                    expected,
                    replacement,
                    ..
                } => vec![
                    ("path", path),
                    ("expected", expected),
                    ("replacement", replacement),
                ],
                Edit::Create { path, content } => vec![("path", path), ("content", content)],
                Edit::Delete { path } => vec![("path", path)],
                Edit::Patch { diff } => vec![("diff", diff)],
            };
            for (name, s) in strings {
                let limit = if name == "path" {
                    4096
                } else {
                    MAX_EDIT_STRING_BYTES
                };
                if s.len() > limit {
                    return Err(format!(
                        "instructions[{i}].edits[{e}].{name} is {} bytes, at most {limit}",
                        s.len()
                    ));
                }
            }
        }
    }
    Ok(())
}
