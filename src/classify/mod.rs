//! Classification: the rule pack, the streaming scanner and evidence ranking.
//! (Skeleton: to be completed.)

use crate::artifact::{
    Category, Classification, ClassificationSource, FailedTest, Finding, LogInfo,
};
use crate::logs::source::LogSource;
use crate::policy::classify::ClassifyPolicy;

/// Errors building the rule pack or reading logs.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// A log could not be read.
    #[error(transparent)]
    Log(#[from] crate::logs::source::LogError),
}

/// The active rules.
#[derive(Debug, Clone, Default)]
pub struct RulePack {}

impl RulePack {
    /// The built-in rules with the policy's additions and removals.
    pub fn new(policy: &ClassifyPolicy) -> Result<RulePack, ClassifyError> {
        let _ = policy;
        Ok(RulePack {})
    }

    /// The active rules as JSON (for `--list-rules`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!([])
    }
}

/// Analysis options.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions<'a> {
    /// The last passing log of the same job.
    pub baseline: Option<&'a LogSource>,
}

/// The result of reading the logs.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The logs read.
    pub logs: Vec<LogInfo>,
    /// Ranked findings, rank 1 first (excerpts not yet redacted).
    pub findings: Vec<Finding>,
    /// The rules-only classification.
    pub classification: Classification,
}

/// Reads every log once and returns ranked findings and a classification.
pub fn analyze(
    pack: &RulePack,
    logs: &[LogSource],
    tests: &[FailedTest],
    opts: &AnalyzeOptions<'_>,
) -> Result<Analysis, ClassifyError> {
    let _ = (pack, logs, tests, opts);
    Ok(Analysis {
        logs: Vec::new(),
        findings: Vec::new(),
        classification: Classification {
            category: Category::Unknown,
            kind: Category::Unknown.kind(),
            confidence: 0.0,
            source: ClassificationSource::Rules,
            evidence: Vec::new(),
            summary: "no failure recognised".into(),
        },
    })
}
