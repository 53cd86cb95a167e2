//! The `self-heal` section of the policy. (Skeleton: to be completed.)

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;

/// Self-heal settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SelfHealRaw {}

/// Self-heal settings, validated.
#[derive(Debug, Clone, Default)]
pub struct SelfHealPolicy {}

impl SelfHealRaw {
    /// Validates this section.
    pub fn validate(self) -> Result<SelfHealPolicy, KeyError> {
        Ok(SelfHealPolicy {})
    }
}
