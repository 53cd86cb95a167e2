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

/// The raw `fix-agent-pr` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FixAgentPrRaw {
    /// Whether fix-agent-pr may open PRs at all (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Risk classes allowed: `test_only`, `config`, `source`, `sensitive` (default `[test_only]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_risk: Option<Vec<String>>,
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
    fn default() -> Self {
        FixAgentPrRaw::default()
            .validate()
            .unwrap_or(FixAgentPrPolicy {
                enabled: false,
                allowed_risk: vec![RiskClass::TestOnly],
                max_changed_lines: 50,
                opt_in_label: None,
                agent_label: "ci-remedy".into(),
                max_open: 3,
                max_per_hour: 2,
                allow_fork: false,
            })
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
        for (i, name) in self
            .allowed_risk
            .unwrap_or_else(|| vec!["test_only".into()])
            .iter()
            .enumerate()
        {
            let c = match name.trim().replace('-', "_").as_str() {
                "test_only" => RiskClass::TestOnly,
                "config" => RiskClass::Config,
                "source" => RiskClass::Source,
                "sensitive" => RiskClass::Sensitive,
                _ => {
                    return Err(KeyError::new(
                        format!("fix-agent-pr.allowed-risk[{i}]"),
                        format!(
                        "unknown risk class {name:?}; one of test_only, config, source, sensitive"
                    ),
                    ))
                }
            };
            if !allowed_risk.contains(&c) {
                allowed_risk.push(c);
            }
        }
        let max_changed_lines = self.max_changed_lines.unwrap_or(50);
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
            self.agent_label.as_deref().unwrap_or("ci-remedy"),
        )?;
        Ok(FixAgentPrPolicy {
            enabled: self.enabled.unwrap_or(false),
            allowed_risk,
            max_changed_lines,
            opt_in_label,
            agent_label,
            max_open: self.max_open.unwrap_or(3),
            max_per_hour: self.max_per_hour.unwrap_or(2),
            allow_fork: self.allow_fork.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_and_test_only() {
        let p = FixAgentPrPolicy::default();
        assert!(!p.enabled);
        assert_eq!(p.allowed_risk, vec![RiskClass::TestOnly]);
        assert_eq!(p.agent_label, "ci-remedy");
    }

    #[test]
    fn bad_values_name_the_key() {
        let raw = FixAgentPrRaw {
            allowed_risk: Some(vec!["everything".into()]),
            ..FixAgentPrRaw::default()
        };
        assert_eq!(
            raw.validate().expect_err("bad").key,
            "fix-agent-pr.allowed-risk[0]"
        );
        let raw = FixAgentPrRaw {
            agent_label: Some("a\nb".into()),
            ..FixAgentPrRaw::default()
        };
        assert!(raw.validate().is_err());
    }
}
