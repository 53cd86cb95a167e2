//! The `fix-agent` section of the policy. (Skeleton: to be completed.)

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;

/// Fix-agent settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FixAgentRaw {}

/// Fix-agent settings, validated.
#[derive(Debug, Clone, Default)]
pub struct FixAgentPolicy {}

impl FixAgentRaw {
    /// Validates this section.
    pub fn validate(self) -> Result<FixAgentPolicy, KeyError> {
        Ok(FixAgentPolicy {})
    }
}
