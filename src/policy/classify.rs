//! The `classify` section of the policy: extra rules (same shape as the built-in ones in
//! `rules/builtin.yml`, see [`RuleSpec`]) and built-in rule ids to disable.
//!
//! ```yaml
//! classify:
//!   disable: [error-word]
//!   rules:
//!     - id: our-flaky-banner
//!       category: flaky_test
//!       pattern: 'FLAKY TEST DETECTED: \S+'
//!       keywords: [flaky test detected]
//!       confidence: 0.9
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;
use crate::classify::rules::{builtin_ids, check_spec, RuleSpec};

/// Classification settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClassifyRaw {
    /// Extra rules, checked after the built-in ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSpec>,
    /// Built-in rule ids to turn off (`--list-rules` shows them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
}

/// Classification settings, validated: every rule compiles, ids are unique and do not clash
/// with built-in ids, every `disable` entry names a built-in rule.
#[derive(Debug, Clone, Default)]
pub struct ClassifyPolicy {
    /// Extra rules.
    pub rules: Vec<RuleSpec>,
    /// Disabled built-in rule ids.
    pub disable: Vec<String>,
}

impl ClassifyRaw {
    /// Validates this section. Errors name the key: `classify.disable[1]`,
    /// `classify.rules[0].pattern`.
    pub fn validate(self) -> Result<ClassifyPolicy, KeyError> {
        let builtin = builtin_ids();
        for (i, id) in self.disable.iter().enumerate() {
            if !builtin.iter().any(|b| b == id) {
                return Err(KeyError::new(
                    format!("classify.disable[{i}]"),
                    format!("{id:?} is not a built-in rule id (see --list-rules)"),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            check_spec(rule)
                .map_err(|e| KeyError::new(format!("classify.rules[{i}].{}", e.key), e.message))?;
            if builtin.iter().any(|b| b == &rule.id) {
                return Err(KeyError::new(
                    format!("classify.rules[{i}].id"),
                    format!(
                        "{:?} is a built-in rule id; pick another id (and disable the built-in one if it should not apply)",
                        rule.id
                    ),
                ));
            }
            if !seen.insert(rule.id.clone()) {
                return Err(KeyError::new(
                    format!("classify.rules[{i}].id"),
                    format!("duplicate rule id {:?}", rule.id),
                ));
            }
        }
        Ok(ClassifyPolicy {
            rules: self.rules,
            disable: self.disable,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;
    use std::path::Path;

    #[test]
    fn unknown_disable_id_is_a_key_error() {
        let err = Policy::parse(
            b"classify:\n  disable: [no-such-rule]\n",
            Path::new("p.yml"),
        )
        .expect_err("unknown id");
        let msg = err.to_string();
        assert!(msg.contains("classify.disable[0]"), "{msg}");
        assert!(msg.contains("no-such-rule"), "{msg}");
    }

    #[test]
    fn policy_rules_are_validated() {
        let ok = Policy::parse(
            b"classify:\n  disable: [error-word]\n  rules:\n    - id: ours\n      category: flaky_test\n      pattern: 'FLAKY: \\S+'\n      keywords: [flaky]\n      confidence: 0.9\n",
            Path::new("p.yml"),
        )
        .expect("valid");
        assert_eq!(ok.classify.rules.len(), 1);
        assert_eq!(ok.classify.disable, vec!["error-word".to_string()]);
        let err = Policy::parse(
            b"classify:\n  rules:\n    - id: ours\n      category: flaky_test\n      pattern: '('\n      confidence: 0.9\n",
            Path::new("p.yml"),
        )
        .expect_err("bad regex");
        assert!(
            err.to_string().contains("classify.rules[0].pattern"),
            "{err}"
        );
        let err = Policy::parse(
            b"classify:\n  rules:\n    - id: ours\n      category: flaky_test\n      pattern: 'x'\n      confidence: 0.9\n      bogus: 1\n",
            Path::new("p.yml"),
        )
        .expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
