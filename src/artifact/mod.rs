//! The versioned JSON contracts between the binaries, and atomic writes.
//!
//! Every artifact carries a `schema` field (`ci-remedy/<name>/v1`). Readers accept unknown fields
//! (a newer writer may add some); writers are deterministic: struct fields serialize in
//! declaration order and maps are `BTreeMap`s. The JSON Schemas in `schemas/` are generated from
//! these types by `ci-remedy-schemas` and a test fails when they drift.

mod answer;
mod context;
mod fix;
mod heal;
mod read;
mod smoke;
mod write;

pub use answer::{parse_answer, read_developer_agent_answer};
pub use context::*;
pub use fix::*;
pub use heal::*;
pub use read::{open_input, parse_artifact, read_artifact, read_at_most, Artifact};
pub use smoke::*;
pub use write::{
    read_capped, read_json, read_json_capped, write_atomic, write_json_atomic, ArtifactError,
    MAX_ARTIFACT_BYTES,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The sha256 of a file's bytes, lowercase hex, read as a stream (logs can be GiBs): what
/// [`LogInfo::sha256`] records.
///
/// Errors: the file cannot be opened or read.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut open_input(path)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Which program wrote an artifact.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ToolInfo {
    /// The binary's name, e.g. `self-heal-prepare`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl ToolInfo {
    /// The tool info for binary `name` at this crate's version.
    pub fn new(name: &str) -> Self {
        ToolInfo {
            name: name.to_string(),
            version: crate::VERSION.to_string(),
        }
    }
}

/// The fixed list of failure categories. Policies and reports key on these names.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A test or step ran past its time limit (Playwright `Timeout 30000ms exceeded`, Go `test timed out`).
    TestTimeout,
    /// A test that passes and fails on the same code.
    FlakyTest,
    /// Network errors: connection reset, DNS failures, registry timeouts.
    Network,
    /// A service the job needs is not reachable (database refused, health check failing).
    ServiceUnavailable,
    /// Out of memory (exit 137, `Killed`), out of disk.
    ResourceExhausted,
    /// An API or registry refused for rate limits (HTTP 429, Docker Hub pull limit).
    RateLimited,
    /// The runner itself failed (shutdown signal, lost communication, cancelled).
    RunnerInfra,
    /// Package resolution failed (npm ERESOLVE, Maven could not resolve dependencies).
    DependencyResolution,
    /// Build or container configuration (missing file in the build context, unsafe repository).
    BuildConfig,
    /// The code does not compile.
    CompileError,
    /// A test ran and its assertion failed.
    TestAssertion,
    /// A linter or formatter check failed.
    Lint,
    /// Nothing recognised.
    Unknown,
}

/// What a category says about where the fix lies.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// The CI platform or runner: retrying may help.
    Infrastructure,
    /// Services, data, network and credentials around the code: resetting them may help.
    Environment,
    /// The code or the tests: only a code change helps.
    Code,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 13] = [
        Category::TestTimeout,
        Category::FlakyTest,
        Category::Network,
        Category::ServiceUnavailable,
        Category::ResourceExhausted,
        Category::RateLimited,
        Category::RunnerInfra,
        Category::DependencyResolution,
        Category::BuildConfig,
        Category::CompileError,
        Category::TestAssertion,
        Category::Lint,
        Category::Unknown,
    ];

    /// The kind of a category: infrastructure, environment or code.
    ///
    /// `unknown` counts as code so that nothing is retried on a guess.
    pub fn kind(self) -> CategoryKind {
        use Category::*;
        match self {
            RunnerInfra | ResourceExhausted | RateLimited => CategoryKind::Infrastructure,
            TestTimeout | FlakyTest | Network | ServiceUnavailable => CategoryKind::Environment,
            DependencyResolution | BuildConfig | CompileError | TestAssertion | Lint | Unknown => {
                CategoryKind::Code
            }
        }
    }

    /// The snake_case name used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        use Category::*;
        match self {
            TestTimeout => "test_timeout",
            FlakyTest => "flaky_test",
            Network => "network",
            ServiceUnavailable => "service_unavailable",
            ResourceExhausted => "resource_exhausted",
            RateLimited => "rate_limited",
            RunnerInfra => "runner_infra",
            DependencyResolution => "dependency_resolution",
            BuildConfig => "build_config",
            CompileError => "compile_error",
            TestAssertion => "test_assertion",
            Lint => "lint",
            Unknown => "unknown",
        }
    }

    /// Parses a snake_case category name.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CategoryKind {
    /// The snake_case name used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryKind::Infrastructure => "infrastructure",
            CategoryKind::Environment => "environment",
            CategoryKind::Code => "code",
        }
    }
}

/// The workflow run an artifact belongs to, from the `GITHUB_*` environment
/// (see [`crate::github::env::RunInfo::from_env`]); `local` values outside Actions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct RunInfo {
    /// `owner/repo` (`GITHUB_REPOSITORY`), or `local`.
    pub repository: String,
    /// The workflow run id (`GITHUB_RUN_ID`), or `local`.
    pub run_id: String,
    /// The run attempt, 1-based (`GITHUB_RUN_ATTEMPT`), 1 outside Actions.
    pub run_attempt: u32,
    /// The triggering event (`GITHUB_EVENT_NAME`), or `local`.
    pub event_name: String,
    /// The commit (`GITHUB_SHA`), or `local`.
    pub sha: String,
    /// The ref (`GITHUB_REF`), or `local`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The workflow name (`GITHUB_WORKFLOW`), or `local`.
    pub workflow: String,
    /// The job id (`GITHUB_JOB`), or `local`.
    pub job: String,
}
