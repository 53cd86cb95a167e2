//! The `fix-agent-pr` section of the policy: when `fix-agent-pr` may open a draft pull request
//! from a patch (Stage 2 of the autonomy roadmap). Off by default; every key has a default.
//!
//! ```yaml
//! fix-agent-pr:
//!   enabled: true                 # default false: never opens a PR
//!   allowed-risk: [test_only]     # risk classes allowed (default test_only only)
//!   max-changed-lines: 50         # added + removed (default 50)
//!   opt-in-label: ci-remedy:autofix   # the source PR must carry it (default: none needed)
//!   agent-label: ci-remedy        # put on every PR it opens; used to count them
//!   max-open: 3                   # open PRs with the agent label, at most (default 3)
//!   max-per-hour: 2               # PRs with the agent label created in the last hour (default 2)
//!   allow-fork: false             # pull_request_target from a fork (default false)
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;
use crate::artifact::RiskClass;

/// Default `allowed-risk`: test-only patches.
pub const DEFAULT_ALLOWED_RISK: &[RiskClass] = &[RiskClass::TestOnly];
/// Default `max-changed-lines` (added + removed).
pub const DEFAULT_MAX_CHANGED_LINES: u32 = 50;
/// Default `agent-label`.
pub const DEFAULT_AGENT_LABEL: &str = "ci-remedy";
/// Default `max-open`.
pub const DEFAULT_MAX_OPEN: u32 = 3;
/// Default `max-per-hour`.
pub const DEFAULT_MAX_PER_HOUR: u32 = 2;

/// The raw `fix-agent-pr` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FixAgentPrRaw {
    /// Whether fix-agent-pr may open PRs at all (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Risk classes allowed: `test_only`, `config`, `source`, `sensitive` (default `[test_only]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_risk: Option<Vec<RiskClass>>,
    /// The most changed lines (added + removed), default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_changed_lines: Option<u32>,
    /// A label the source PR must carry; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_label: Option<String>,
    /// The label put on every PR fix-agent-pr opens (default `ci-remedy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_label: Option<String>,
    /// The most open PRs with the agent label (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open: Option<u32>,
    /// The most PRs with the agent label created in the last hour (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_hour: Option<u32>,
    /// Whether to run for `pull_request_target` events from a fork (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_fork: Option<bool>,
}

/// The validated `fix-agent-pr` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixAgentPrPolicy {
    /// Whether PRs may be opened.
    pub enabled: bool,
    /// Allowed risk classes.
    pub allowed_risk: Vec<RiskClass>,
    /// The most changed lines.
    pub max_changed_lines: u32,
    /// The label the source PR must carry, if any.
    pub opt_in_label: Option<String>,
    /// The agent's label.
    pub agent_label: String,
    /// The most open agent PRs.
    pub max_open: u32,
    /// The most agent PRs created per hour.
    pub max_per_hour: u32,
    /// Whether forks' `pull_request_target` events may run it.
    pub allow_fork: bool,
}

impl Default for FixAgentPrPolicy {
    /// The built-in defaults: off, and the `DEFAULT_*` values.
    fn default() -> Self {
        FixAgentPrPolicy {
            enabled: false,
            allowed_risk: DEFAULT_ALLOWED_RISK.to_vec(),
            max_changed_lines: DEFAULT_MAX_CHANGED_LINES,
            opt_in_label: None,
            agent_label: DEFAULT_AGENT_LABEL.to_string(),
            max_open: DEFAULT_MAX_OPEN,
            max_per_hour: DEFAULT_MAX_PER_HOUR,
            allow_fork: false,
        }
    }
}

fn check_label(key: &str, s: &str) -> Result<String, KeyError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 50 || t.chars().any(char::is_control) || t.contains(',')
    {
        return Err(KeyError::new(
            key,
            "a label is 1..=50 characters without control characters or commas",
        ));
    }
    Ok(t.to_string())
}

impl FixAgentPrRaw {
    /// Validates the section.
    pub fn validate(self) -> Result<FixAgentPrPolicy, KeyError> {
        let mut allowed_risk = Vec::new();
        let classes = self
            .allowed_risk
            .unwrap_or_else(|| DEFAULT_ALLOWED_RISK.to_vec());
        for (i, c) in classes.into_iter().enumerate() {
            if c == RiskClass::None {
                return Err(KeyError::new(
                    format!("fix-agent-pr.allowed-risk[{i}]"),
                    "`none` is the class of an empty patch, which never becomes a PR; one of test_only, config, source, sensitive",
                ));
            }
            if !allowed_risk.contains(&c) {
                allowed_risk.push(c);
            }
        }
        let max_changed_lines = self.max_changed_lines.unwrap_or(DEFAULT_MAX_CHANGED_LINES);
        if max_changed_lines == 0 {
            return Err(KeyError::new(
                "fix-agent-pr.max-changed-lines",
                "must be at least 1",
            ));
        }
        let opt_in_label = match &self.opt_in_label {
            Some(l) => Some(check_label("fix-agent-pr.opt-in-label", l)?),
            None => None,
        };
        let agent_label = check_label(
            "fix-agent-pr.agent-label",
            self.agent_label.as_deref().unwrap_or(DEFAULT_AGENT_LABEL),
        )?;
        Ok(FixAgentPrPolicy {
            enabled: self.enabled.unwrap_or(false),
            allowed_risk,
            max_changed_lines,
            opt_in_label,
            agent_label,
            max_open: self.max_open.unwrap_or(DEFAULT_MAX_OPEN),
            max_per_hour: self.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR),
            allow_fork: self.allow_fork.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::policy::{Policy, PolicyError};
    use std::path::Path;

    #[test]
    fn defaults_are_off_and_test_only() {
        let p = FixAgentPrPolicy::default();
        assert!(!p.enabled);
        assert_eq!(p.allowed_risk, vec![RiskClass::TestOnly]);
        assert_eq!(p.agent_label, "ci-remedy");
        // The validated empty section is the same policy.
        assert_eq!(FixAgentPrRaw::default().validate(), Ok(p));
    }

    #[test]
    fn allowed_risk_reads_the_risk_classes() {
        let p = Policy::parse(
            b"fix-agent-pr:\n  allowed-risk: [config, test_only, config]\n",
            Path::new("p.yml"),
        )
        .expect("valid")
        .fix_agent_pr;
        assert_eq!(p.allowed_risk, vec![RiskClass::Config, RiskClass::TestOnly]);
        // An unknown class is a parse error with its line.
        match Policy::parse(
            b"fix-agent-pr:\n  allowed-risk:\n    - everything\n",
            Path::new("p.yml"),
        ) {
            Err(PolicyError::Parse {
                line: Some(3),
                message,
                ..
            }) => assert!(message.contains("everything"), "{message}"),
            other => panic!("expected a parse error on line 3, got {other:?}"),
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let raw = FixAgentPrRaw {
            allowed_risk: Some(vec![RiskClass::Config, RiskClass::None]),
            ..FixAgentPrRaw::default()
        };
        assert_eq!(
            raw.validate().expect_err("bad").key,
            "fix-agent-pr.allowed-risk[1]"
        );
        let raw = FixAgentPrRaw {
            agent_label: Some("a\nb".into()),
            ..FixAgentPrRaw::default()
        };
        assert!(raw.validate().is_err());
    }
}
